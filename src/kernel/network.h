/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "model/vf.h"

/* NetworkManager and SR-IOV VF settings (network.c). When NetworkManager
 * manages a PF, its connection's "sriov" setting holds the VFs' settings
 * and NetworkManager applies them on every activation: hostdev then writes
 * that setting instead of rtnetlink, so that the two do not fight. */

/* Whether NetworkManager has an active connection on the interface (as
 * its last answer says; false when it is not on the bus). */
bool nm_manages_interface(sd_bus *bus, const char *ifname);

/* Merges s into the VF s->index of the sriov setting of the connection
 * active on ifname (a new sriov setting gets total-vfs = num_vfs, since
 * NetworkManager enforces the count whenever the setting is there), saves
 * the connection (Update2) and reapplies it to the device. libnm runs in a
 * thread of its own; this waits for it (at most a few seconds). Errors,
 * with *ret_error: -EOPNOTSUPP (libnm missing, or a link state, which
 * NetworkManager's VFs do not have), -ENXIO (no connection active on
 * ifname), -EIO (NetworkManager refused or did not answer), -ETIMEDOUT. */
int nm_sriov_set_vf(sd_bus *bus, const char *ifname, const VfSettings *s, unsigned num_vfs, char **ret_error);
