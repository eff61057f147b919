/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * "monitor": one line per signal of hostdevd, as text or as JSON. Values
 * are printed as D-Bus carries them, under their D-Bus property names, so
 * that the monitor shows exactly what a bus client sees. monitor.c
 * subscribes and prints; one formatter per format turns a signal into a line.
 */

#include <stdint.h>
#include <stdio.h>

#include <systemd/sd-bus.h>

typedef union BasicValue {
        uint8_t y;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        int b;
        int h;
        const char *s;
} BasicValue;

/*
 * Reads the next value into v when it is basic (returns 0), or enters it
 * when it is a container (returns 1); type and contents say what it is.
 */
int monitor_read_or_enter(sd_bus_message *m, char *type, const char **contents, BasicValue *v);

/*
 * One InterfacesAdded, InterfacesRemoved or PropertiesChanged signal as a
 * line to f (without the newline). Return 1 when written, 0 for a signal
 * the monitor does not show, negative when the message is malformed (f
 * then holds a partial line the caller drops).
 */
int monitor_format_text(sd_bus_message *m, FILE *f, const char *timestamp);
int monitor_format_json(sd_bus_message *m, FILE *f, const char *timestamp);
