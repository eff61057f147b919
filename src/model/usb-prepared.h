/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "device.h"
#include "plan.h"

/* USB devices hostdev prepared: their interfaces detached from the host's
 * drivers (usb-storage, usbhid…), so that the host leaves the device to the
 * VM's QEMU. Pure C. The steps move interfaces ("2-1:1.0"), not the device:
 * the device itself stays on the "usb" driver, which QEMU needs. */

typedef struct UsbPrepared {
        char *address;          /* "2-1" */
        char *serial;           /* NULL when the device has none */
        uint16_t vendor_id;
        uint16_t product_id;
        /* interface name, the driver it had ("" none), …: what Release
         * gives back. Interfaces that appear later are added. */
        char **interfaces;
} UsbPrepared;

typedef struct UsbPreparedSet {
        UsbPrepared *items;
        size_t n_items;
} UsbPreparedSet;

void usb_prepared_set_done(UsbPreparedSet *s);
UsbPrepared *usb_prepared_find(const UsbPreparedSet *s, const char *address);
/* The record of an interface's device ("2-1:1.0" → the record of "2-1"). */
UsbPrepared *usb_prepared_find_interface(const UsbPreparedSet *s, const char *interface);
/* Records d with its interfaces' drivers now. -EEXIST when recorded. */
int usb_prepared_add(UsbPreparedSet *s, const Device *d);
/* Adds a record as the store has it (interfaces: name, driver, …, copied). */
int usb_prepared_add_record(UsbPreparedSet *s, const UsbPrepared *p);
int usb_prepared_remove(UsbPreparedSet *s, const char *address);
/* Notes the driver of an interface that appeared while prepared, unless
 * the record has the interface already. */
int usb_prepared_note_interface(UsbPrepared *p, const char *interface, const char *driver);
/* The driver the record says an interface had ("" none; NULL: not recorded). */
const char *usb_prepared_driver(const UsbPrepared *p, const char *interface);
/* The present device a record names: by serial and ids where it has a
 * serial (a stick on another port is that stick), else by address and ids. */
Device *usb_prepared_locate(const UsbPrepared *p, const Inventory *inv);


/* Prepare: one step per interface bound to a driver, to no driver.
 * -EINVAL (with *ret_error) for a hub or a device that is not USB. */
int usb_plan_detach(const Device *d, Plan *ret, char **ret_error);
/* The same for one interface (that appeared while the device is prepared). */
int usb_plan_detach_interface(const Device *d, const char *interface, Plan *ret);
/* Release: each interface back to the driver the record names (probed);
 * interfaces that had none stay as they are. */
int usb_plan_attach(const Device *d, const UsbPrepared *p, Plan *ret);
