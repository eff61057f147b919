/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "device.h"

/* Resource groups (pools of same or similar devices) and the rules that
 * fill them. Pure C: the bus layer turns a{sv} into RuleValue and back. */

typedef enum ResourceType {
        RESOURCE_PCI,           /* "pci": PCI functions */
        RESOURCE_USB,           /* "usb": USB devices */
        RESOURCE_SRIOV_NIC,     /* "sriov-nic": SR-IOV virtual functions */
        RESOURCE_VGPU,          /* "vgpu": mediated devices (none are published yet) */
        _RESOURCE_TYPE_MAX,
        _RESOURCE_TYPE_INVALID = -EINVAL,
} ResourceType;

const char *resource_type_to_string(ResourceType t);
ResourceType resource_type_from_string(const char *s);

/* Rule fields, by their a{sv} key and D-Bus type:
 *   vendor-id q, product-id q            PCI vendor/device id, USB idVendor/idProduct
 *   subsystem-vendor-id q, subsystem-id q  PCI only
 *   class u (+ class-mask u, default 0xffffff)  PCI only
 *   vendor-name s, product-name s        fnmatch(3) globs, case-insensitive
 *   address s                            PCI address glob, e.g. "0000:0[12]:00.*" (PCI, sriov-nic)
 *   slot s                               physical slot name (PCI)
 *   serial s                             exact
 *   driver s                             exact
 *   numa-node i                          PCI
 *   physical-function s                  PF address (sriov-nic only)
 *   port-path s                          USB "bus-port.port" glob, e.g. "1-3.*" (usb only) */
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
/* The D-Bus type of a field: 'q', 'u', 'i' or 's'. */
char rule_field_type(RuleField f);

/* Longest string a rule field may hold. */
#define RULE_STRING_MAX 256

/* One rule: every field present must match. */
typedef struct Rule {
        unsigned fields;        /* 1u << RuleField for each field present */
        uint16_t vendor_id;
        uint16_t product_id;
        uint16_t subsystem_vendor_id;
        uint16_t subsystem_id;
        uint32_t class;
        uint32_t class_mask;
        int32_t numa_node;
        char *strings[_RULE_FIELD_MAX];  /* for 's' fields, indexed by RuleField */
} Rule;

typedef struct RuleValue {
        char type;              /* 'q', 'u', 'i', 's' */
        union {
                uint32_t u;     /* 'q' and 'u' */
                int32_t i;
                const char *s;
        };
} RuleValue;

void rule_done(Rule *r);
void rules_free(Rule *rules, size_t n);
int rule_copy(Rule *dst, const Rule *src);
bool rule_has(const Rule *r, RuleField f);
/* Same fields with the same values. */
bool rule_equal(const Rule *a, const Rule *b);

/* Sets one field of a rule for a group of the given type. -EINVAL with
 * *ret_error (a sentence naming the field) when the key is unknown, not
 * allowed for this type, of the wrong D-Bus type, set twice, or malformed
 * (strings empty, longer than RULE_STRING_MAX, with control characters;
 * physical-function not a PCI address; class-mask without class is caught
 * by rule_validate). */
int rule_set(Rule *r, ResourceType type, const char *key, const RuleValue *v, char **ret_error);
/* A complete rule: at least one field, class-mask only with class. */
int rule_validate(const Rule *r, char **ret_error);
RuleValue rule_get(const Rule *r, RuleField f);

bool rule_matches(const Rule *r, const Device *d);

/* Whether a device can be in a group of this type at all: pci → PCI
 * functions that are not bridges; sriov-nic → PCI VFs; usb → USB devices;
 * vgpu → none yet. */
bool resource_type_accepts(ResourceType t, const Device *d);
