/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "claim.h"
#include "inventory.h"

/* USB members of claims. A USB device is a member of its own, and its
 * address (the port path, "1-3.2") and device number change when it is
 * replugged: a claim keeps each USB member by its identity too, so that
 * the device is found again.
 *
 * An identity is "vvvv:pppp:SERIAL" (idVendor, idProduct, serial) for a
 * device with a serial: the device is the same wherever it is plugged in.
 * Without a serial it is "vvvv:pppp": the device is the one with these ids
 * at the member's port path, and it can only come back there.
 *
 * While the device is gone the member keeps its last address (and the
 * claim its devices); the member is missing. When a device with the
 * identity shows up at another address, the member moves there. */

/* The identity of a USB device (NULL for PCI or on ENOMEM); a serial that
 * usb_identity_valid would refuse counts as none. */
char *usb_identity(const Device *d);
/* "vvvv:pppp" or "vvvv:pppp:SERIAL", lower-case hex, a serial of 1..256
 * bytes of UTF-8 without control characters: what usb_identity makes. */
bool usb_identity_valid(const char *identity);
/* Does d, found at its address, have the identity of a member at address? */
bool usb_identity_matches(const char *identity, const char *address, const Device *d);
/* How people know the member: "vvvv:pppp:SERIAL", or the port path when
 * there is no serial (NULL on ENOMEM). */
char *usb_identity_display(const char *identity, const char *address);

/* Notes the identity of every USB member of c from the inventory (members
 * whose device is absent keep none). */
int claim_note_identities(Claim *c, const Inventory *inv);

/* The device of a single-device member as it is now, NULL when it is
 * missing: gone, or another device at its address. */
const Device *claim_member_device(const ClaimMember *m, const Inventory *inv);
/* Is d, at an address c lists, the device c holds there? Not when it is
 * another device at a missing USB member's port. */
bool claim_holds_device(const Claim *c, const Device *d);
/* The claim holding d (claim_set_find_device, less such a stranger). */
Claim *claim_set_find_holder(const ClaimSet *s, const Device *d);
/* Members of c whose device is missing, in member order (caller frees the
 * array; NULL-terminated). */
int claim_missing(const Claim *c, const Inventory *inv, const ClaimMember ***ret, size_t *ret_n);

/* The claim and member a USB device with a serial belongs to although it
 * is at another address: the member's device is missing and d has its
 * identity. NULL when there is none. */
Claim *claim_set_find_moved(const ClaimSet *s, const Inventory *inv, const Device *d, size_t *ret_member);
/* Moves member i of c (one device) to address, keeping the set's index.
 * -EBUSY when another claim holds that address; nothing changes then. */
int claim_set_move(ClaimSet *s, Claim *c, size_t i, const char *address);
