/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>

/* The fields of a resource group rule (org.hostdev1.ResourceGroup.Rules),
 * by their a{sv} key and D-Bus type, in the contract's order. Shared by
 * the daemon, which matches rules, and hostdevctl, which reads and writes
 * them:
 *   vendor-id q, product-id q            PCI vendor/device id, USB idVendor/idProduct
 *   subsystem-vendor-id q, subsystem-id q  PCI only
 *   class u (+ class-mask u, default 0xffffff)  PCI class code; in a usb
 *                                        group a USB class 0x00..0xff matching
 *                                        bDeviceClass or any bInterfaceClass
 *                                        (no class-mask)
 *   vendor-name s, product-name s        fnmatch(3) globs, case-insensitive
 *   address s                            PCI address glob, e.g. "0000:0[12]:00.*" (PCI, sriov-nic)
 *   slot s                               physical slot name (PCI)
 *   serial s                             exact
 *   driver s                             exact
 *   numa-node i                          PCI
 *   physical-function s                  PF address (sriov-nic only)
 *   port-path s                          USB port path as the kernel names the device,
 *                                        "bus-port.port", e.g. "1-3.2", or a glob
 *                                        such as "1-3.*" (usb only) */
typedef enum RuleField {
        RULE_VENDOR_ID,
        RULE_PRODUCT_ID,
        RULE_SUBSYSTEM_VENDOR_ID,
        RULE_SUBSYSTEM_ID,
        RULE_CLASS,
        RULE_CLASS_MASK,
        RULE_VENDOR_NAME,
        RULE_PRODUCT_NAME,
        RULE_ADDRESS,
        RULE_SLOT,
        RULE_SERIAL,
        RULE_DRIVER,
        RULE_NUMA_NODE,
        RULE_PHYSICAL_FUNCTION,
        RULE_PORT_PATH,
        _RULE_FIELD_MAX,
        _RULE_FIELD_INVALID = -EINVAL,  /* makes the enum signed */
} RuleField;

const char *rule_field_to_string(RuleField f);
RuleField rule_field_from_string(const char *s);   /* -EINVAL when unknown */
/* The D-Bus type of a field: 'q', 'u', 'i' or 's'; 0 when f is out of range. */
char rule_field_type(RuleField f);
