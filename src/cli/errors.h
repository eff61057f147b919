/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Errors in hostdevctl's words. The daemon's error name says what went
 * wrong; what the command sent (its devices, its group, its options) and
 * the host's published state say the rest. The daemon's message is used
 * only as the detail of an invalid argument or a failed step, never for
 * what to do, since it speaks of D-Bus options rather than flags. The
 * texts are listed under MESSAGES in hostdevctl(1); keep the two equal.
 */

#include <systemd/sd-bus.h>

/* The command being run, "prepare" or "group create", set by dispatch. */
void error_set_command(const char *prefix, const char *name);
const char *error_command(void);

/* The polkit action a method needs, as polkit/org.hostdev1.policy names it; NULL for reads. */
const char *method_action(const char *interface, const char *member);

/* A change m failed with error (or r): says why and what to do, on stderr. */
void log_call_error(sd_bus *bus, sd_bus_message *m, const sd_bus_error *error, int r);
/* A query failed ("Failed to query hostdevd"): the daemon is down, or why. */
void log_bus_error(const sd_bus_error *error, int r, const char *what);
/* GetDevice failed for what the user typed. */
void log_lookup_error(const sd_bus_error *error, int r, const char *address);
