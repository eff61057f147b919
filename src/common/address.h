/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

typedef enum DeviceKind {
        DEVICE_PCI,
        DEVICE_USB,
        _DEVICE_KIND_MAX,
} DeviceKind;

const char *device_kind_to_string(DeviceKind k);

/* Longest address we ever accept; anything longer is refused before parsing. */
#define ADDRESS_MAX 64

/* Parse a device address as a user types it and return it in the kernel's
 * form:
 *   PCI  "0000:01:00.0", "01:00.0", any case  → "0000:01:00.0"
 *   USB  "3-1.2" (bus, then ports from the root hub down) → "3-1.2"
 * Returns -EINVAL for anything else. */
int address_parse(const char *s, DeviceKind *ret_kind, char **ret_address);
int pci_address_parse(const char *s, char **ret_address);
int usb_address_parse(const char *s, char **ret_address);
/* A USB interface as the kernel names it, "<device>:<config>.<interface>"
 * ("2-1:1.0"): its device's port path in *ret_device (may be NULL).
 * -EINVAL for anything else. */
int usb_interface_parse(const char *s, char **ret_device);
/* A PCI slot, every function of it, as admins type it: "01:00",
 * "0000:01:00", "01:00.*" → "0000:01:00". -EINVAL for anything else,
 * a single function ("01:00.0") included. */
int pci_slot_parse(const char *s, char **ret_slot);

/* The address an object path's last element spells ("0000_01_00_0" for
 * PCI, "3_1_2" for USB: every ':', '.' and '-' as '_'), in the kernel's
 * form; NULL for any other spelling. address_from_object_path() takes
 * the whole path, "/org/hostdev1/pci/…" or "…/usb/…". */
char *address_from_path_component(DeviceKind kind, const char *component);
char *address_from_object_path(const char *path);

/* Orders addresses as people read them: PCI by domain, bus, device and
 * function; USB by bus, then port by port ("1-3" < "1-3.2" < "1-10");
 * PCI before USB. For qsort over Device pointers: device_address_compare. */
int address_compare(const char *a, const char *b);

