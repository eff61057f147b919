/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "bind.h"

/* The SR-IOV attributes of a PF. Writing sriov_numvfs blocks in the
 * kernel while the PF's driver creates or destroys the VFs, so it runs in
 * a thread (bind.h); the caller waits for the VFs' add/remove uevents. */

/* Starts writing count to the PF's sriov_numvfs. The kernel answers
 * EBUSY for a non-zero → non-zero change, ENOMEM/ERANGE when the bus
 * numbers or the BAR space for the VFs are missing. */
int kernel_sriov_set_numvfs_async(Kernel *k, sd_event *e, const char *pf, unsigned count, KernelWriteDone done,
                                  void *userdata, KernelWrite **ret);
/* Writes sriov_drivers_autoprobe: whether new VFs get their driver. */
int kernel_sriov_set_autoprobe(Kernel *k, const char *pf, bool on);
/* Reads sriov_numvfs now. */
int kernel_sriov_num_vfs(Kernel *k, const char *pf, unsigned *ret);
