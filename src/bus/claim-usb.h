/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bus.h"

/* USB members of claims on the bus (see model/usb-member.h): Claim.Missing,
 * and the signals Claim.ClaimDegraded and Claim.DeviceMoved when a claimed
 * USB device is unplugged and comes back, maybe at another port. */

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
