/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "daemon/daemon.h"
#include "model/sriov-pool.h"

/* VF settings of ResourceGroup.Claim on a sriov-nic group. The options:
 *   mac s, vlan u        settings of the one VF of a claim with count 1
 *   vf-settings aa{sv}   one dict per member, in the order the claim
 *                        lists its members (address order; with devices,
 *                        the order of the members named), each with
 *                        mac s and/or vlan u
 * Giving both forms, mac/vlan with count > 1, or settings on a group of
 * another type is InvalidArgument. The settings are applied to the VFs
 * before the claim prepares them and put back to what is stored for the
 * VFs when the claim fails or is released. */

/* Reads vf-settings (the variant's contents, aa{sv}). */
int bus_read_vf_settings(sd_bus_message *m, ClaimVfRequests *ret, sd_bus_error *error);

/* Checks the VF options against the group and the count asked, before
 * anything is picked; merges mac/vlan into *list as its one entry.
 * vlan < 0: not given. */
int bus_claim_vf_check(const ResourceGroup *g, unsigned count, const char *mac, int64_t vlan,
                       ClaimVfRequests *list, sd_bus_error *error);

/* Binds the checked requests to the VFs c picked (c->vf_settings). */
int bus_claim_vf_bind(Daemon *d, Claim *c, const ClaimVfRequests *list, sd_bus_error *error);

/* Applies c->vf_settings to the VFs (not stored: a claim's settings last
 * as long as the claim). On failure puts back what is stored for the VFs
 * set so far and sets error (InvalidArgument, Busy, NotSupported, Failed). */
int bus_claim_vf_apply(Daemon *d, const Claim *c, sd_bus_error *error);
/* Puts back what is stored for the first n VFs c set (a claim that is not
 * made after all), but for a VF another claim holds by now. */
void bus_claim_vf_undo(Daemon *d, const Claim *c, size_t n);
