/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "inventory.h"

/* What Prepare and Release would do, before anything is done: pure C,
 * so a dry run and the real run share one plan. */

#define DRIVER_VFIO "vfio-pci"

typedef struct PlanStep {
        char *address;
        char *from;     /* the driver now, "" when none */
        char *to;       /* "vfio-pci"; a host driver; "" for whatever the kernel picks */
        char *reason;
} PlanStep;

typedef struct Plan {
        PlanStep *steps;
        size_t n_steps;
} Plan;

void plan_done(Plan *p);

/* A device hostdev bound to vfio-pci, with what it needs to be found and
 * given back after a restart or a reboot. */
typedef struct Prepared {
        char *address;
        char *serial;           /* NULL when the device has none */
        uint16_t vendor_id;
        uint16_t product_id;
        char *original_driver;  /* "" when it had none */
        bool releasing;         /* a Release was under way: finish it */
} Prepared;

typedef struct PreparedSet {
        Prepared *items;
        size_t n_items;
} PreparedSet;

void prepared_set_done(PreparedSet *s);
Prepared *prepared_find(const PreparedSet *s, const char *address);
/* Records d with original_driver (copied). -EEXIST when recorded already. */
int prepared_add(PreparedSet *s, const Device *d, const char *original_driver);
int prepared_remove(PreparedSet *s, const char *address);
int prepared_set_copy(PreparedSet *dst, const PreparedSet *src);
/* The present device that a record names: by serial (and ids) where it has
 * one, so that a card moved to another slot is found; else by address and ids. */
Device *prepared_locate(const Prepared *p, const Inventory *inv);

/* Why the host needs a reboot: (object or subject, reason) pairs, and the
 * boot they were recorded in. A new boot that converges clears them. */
typedef struct RebootState {
        char *boot_id;
        char **reasons;         /* subject, reason, subject, reason, …, NULL */
} RebootState;

void reboot_state_done(RebootState *s);
/* Adds a pair unless the subject has it already; true when added. */
int reboot_state_add(RebootState *s, const char *boot_id, const char *subject, const char *reason);

/* Prepare: the devices and the members of their IOMMU groups, in address
 * order; bridges stay with their port driver, devices on vfio-pci already
 * need nothing. -EINVAL (with *ret_error) for a USB device (see daemon_usb_plan). */
int plan_prepare(const Inventory *inv, const Device *const *devices, size_t n, Plan *ret, char **ret_error);

/* Release: the devices and the members of their IOMMU groups that hostdev
 * prepared, back to the driver each had. */
int plan_release(const Inventory *inv, const PreparedSet *prepared, const Device *const *devices, size_t n,
                 Plan *ret, char **ret_error);
