/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "kernel.h"
#include "model/plan.h"

/* The pieces of moving a PCI function between drivers the way the kernel
 * wants it: driver_override, then unbind from the old driver, then
 * drivers_probe (never new_id, which would grab every device with those
 * ids). The same calls move a USB interface ("2-1:1.0", through
 * /sys/bus/usb), which has no driver_override. Nothing here waits: the kernel acts asynchronously, and the caller
 * (the change engine in src/daemon) advances on uevents, on the completion
 * of the writes and on its own timers. */

typedef enum BindFailure {
        BIND_OK,
        BIND_WRITE_FAILED,      /* a sysfs write was refused */
        BIND_UNBIND_TIMEOUT,    /* the old driver did not let go */
        BIND_PROBE_TIMEOUT,     /* the new driver did not take it */
} BindFailure;

/* A write to "unbind" returns only once the driver's remove() has, and one
 * to "drivers_probe" once probe() has: a driver that hangs there must not
 * hang the daemon. Such a write runs in a thread of its own and its result
 * (0 or -errno) is delivered on the event loop through a pipe. A write in
 * the kernel cannot be interrupted: a caller that stops caring hands the
 * write on (kernel_write_set_callback) or drops its callback. */
typedef struct KernelWrite KernelWrite;
typedef void (*KernelWriteDone)(KernelWrite *w, int result, void *userdata);

/* The callback runs once, then w is freed. */
void kernel_write_set_callback(KernelWrite *w, KernelWriteDone done, void *userdata);

/* Writes value to the sysfs attribute at path in a thread of its own. */
int kernel_write_async(sd_event *e, const char *path, const char *value, KernelWriteDone done, void *userdata,
                       KernelWrite **ret);

/* Writes driver_override: "vfio-pci" when to is vfio-pci, else clears it
 * (the kernel matches by ids again). */
int kernel_set_override(Kernel *k, const char *address, const char *to, char **ret_error);
/* Starts the unbind of address from driver. */
int kernel_unbind_async(Kernel *k, sd_event *e, const char *address, const char *driver, KernelWriteDone done,
                        void *userdata, KernelWrite **ret);
/* Starts drivers_probe for address. ENODEV and EINVAL come back when no
 * driver took the device. */
int kernel_probe_async(Kernel *k, sd_event *e, const char *address, KernelWriteDone done, void *userdata,
                       KernelWrite **ret);

/* The driver a device is bound to now (NULL: none). */
int kernel_current_driver(Kernel *k, const char *address, char **ret);
