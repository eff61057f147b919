/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "client.h"
#include "output.h"

/* Exit statuses, see hostdevctl(1). */
#define EXIT_USAGE 2

/* Global options, set by main(). */
extern bool arg_json;
extern bool arg_legend;

/* Verbs: argv[0] is the verb's name; they return an exit status. */
int verb_list(int argc, char *argv[]);
int verb_show(int argc, char *argv[]);
int verb_groups(int argc, char *argv[]);
int verb_monitor(int argc, char *argv[]);

/*
 * Shared between list and show: one device as a JSON object (keys in
 * hostdevctl(1)); with_group adds the "group" member that show prints.
 */
void json_write_device(JsonWriter *w, const HdHost *h, const HdDevice *d, bool with_group);
/* Shared between groups and show: one IOMMU group as a JSON object. */
void json_write_group(JsonWriter *w, const HdHost *h, const HdGroup *g);

/* The vendor and product columns: names, or the hex ids when there are none. */
const char *device_vendor(const HdDevice *d, char buf[static 8]);
const char *device_product(const HdDevice *d, char buf[static 8]);

/* "0000:01:00.0  Vendor Product  (driver)", for group member lists; NULL on OOM. */
char *group_member_line(const HdHost *h, const char *path);

/* Tells the user about a missing IOMMU, on stderr. */
void note_iommu(const HdHost *h);
