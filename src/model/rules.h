/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/rule-fields.h"
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
        /* Numeric fields stay between fields and strings: the store
         * hashes that span to tell a changed group (src/store/record.c). */
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
 * functions that are not bridges; sriov-nic → PCI VFs; usb → USB devices
 * that are not hubs (root hubs are no devices here); vgpu → none yet. */
bool resource_type_accepts(ResourceType t, const Device *d);
