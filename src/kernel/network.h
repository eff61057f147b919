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
 * active on ifname, saves the connection and asks NetworkManager to apply
 * it to the device. Waits for NetworkManager (at most a few seconds).
 * -EOPNOTSUPP when libnm is missing, -ENXIO when no connection is active on
 * ifname, -EIO (with *ret_error) when NetworkManager refused. */
int nm_sriov_set_vf(sd_bus *bus, const char *ifname, const VfSettings *s, char **ret_error);
