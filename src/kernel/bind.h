/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "kernel.h"
#include "model/plan.h"

/* Moving a PCI function between drivers the way the kernel wants it:
 * driver_override, then unbind from the old driver, then drivers_probe
 * (never new_id, which would grab every device with those ids). Each
 * write is followed by a wait for its effect: the kernel (and udev) act
 * asynchronously. */

typedef enum BindFailure {
        BIND_OK,
        BIND_WRITE_FAILED,      /* a sysfs write was refused */
        BIND_UNBIND_TIMEOUT,    /* the old driver did not let go */
        BIND_PROBE_TIMEOUT,     /* the new driver did not take it */
} BindFailure;

/* Carries out one plan step, waiting up to timeout_usec for each effect.
 * On failure *ret_failure says which part and *ret_error says it for
 * people; the device is left as the failed write found it. */
int kernel_bind_step(Kernel *k, const PlanStep *step, uint64_t timeout_usec, BindFailure *ret_failure,
                     char **ret_error);

/* The undo of a step that was carried out: back to step->from. */
int kernel_bind_undo(Kernel *k, const PlanStep *step, uint64_t timeout_usec, char **ret_error);

/* The driver a device is bound to now (NULL: none). */
int kernel_current_driver(Kernel *k, const char *address, char **ret);
