/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bus.h"

/* USB members of claims on the bus (see model/usb-member.h): Claim.Missing,
 * and the signals Claim.ClaimDegraded and Claim.DeviceMoved when a claimed
 * USB device is unplugged and comes back, maybe at another port. */

/* The plan of a claim's Prepare (prepare) or Release of devs, for PCI
 * functions (plan_prepare, plan_release) or USB devices (their interfaces,
 * through the daemon's USB side). *ret_usb: they are USB devices, which
 * need no IOMMU; *ret_records: even a plan without steps must be carried
 * out (a USB device is recorded as prepared, or its record dropped). */
int bus_claim_plan(Bus *b, const Device *const *devs, size_t n, bool prepare, Plan *ret, bool *ret_usb,
                   bool *ret_records, char **ret_error);
/* Starts that plan as daemon_change_start does. */
int bus_claim_change_start(Bus *b, const Device *const *devs, size_t n, bool usb, bool prepare, Plan *plan,
                           const char *requester, ChangeDone done, void *userdata, char **ret_error);
/* Release of c: its USB devices that are missing are not detached when
 * they come back. */
void bus_claim_usb_forget_missing(Bus *b, const Claim *c);

/* Claim.Missing: ao. */
int bus_claim_get_missing(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error);
/* A device is gone (dev: its last reading): a claim holding it is degraded. */
void bus_claim_usb_removed(Bus *b, const Device *dev);
/* A device showed up: a claim missing it takes it back, at its old port
 * or, by its serial, at a new one. */
void bus_claim_usb_added(Bus *b, const Device *dev);
/* Start-up: claimed USB devices that came back elsewhere while hostdevd
 * was not running move, and claims still missing one say so. */
void bus_claim_usb_reconcile(Bus *b);
