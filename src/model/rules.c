/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fnmatch.h>
#include <stddef.h>

#include "rules.h"
#include "shared/macro.h"
#include "shared/text.h"

static const char *const type_names[_RESOURCE_TYPE_MAX] = {
        [RESOURCE_PCI] = "pci",
        [RESOURCE_USB] = "usb",
        [RESOURCE_SRIOV_NIC] = "sriov-nic",
        [RESOURCE_VGPU] = "vgpu",
};

const char *resource_type_to_string(ResourceType t) {
        return t >= 0 && t < _RESOURCE_TYPE_MAX ? type_names[t] : NULL;
}

ResourceType resource_type_from_string(const char *s) {
        for (ResourceType t = 0; t < _RESOURCE_TYPE_MAX; t++)
                if (streq(type_names[t], s))
                        return t;
        return _RESOURCE_TYPE_INVALID;
}

#define T(t) (1u << (t))
/* An mdev is described by its parent PCI function: vgpu groups take the
 * fields of pci groups. */
#define PCI_TYPES (T(RESOURCE_PCI) | T(RESOURCE_SRIOV_NIC) | T(RESOURCE_VGPU))
#define ALL_TYPES (PCI_TYPES | T(RESOURCE_USB))

/* Which group types a field is valid for, and where its value is kept;
 * names and D-Bus types are in common/rule-fields.c. */
static const struct {
        unsigned types;         /* group types the field is valid for, T(ResourceType) */
        size_t offset;          /* of the value in Rule, for numeric fields */
} fields[_RULE_FIELD_MAX] = {
        [RULE_VENDOR_ID]           = { ALL_TYPES, offsetof(Rule, vendor_id) },
        [RULE_PRODUCT_ID]          = { ALL_TYPES, offsetof(Rule, product_id) },
        [RULE_SUBSYSTEM_VENDOR_ID] = { PCI_TYPES, offsetof(Rule, subsystem_vendor_id) },
        [RULE_SUBSYSTEM_ID]        = { PCI_TYPES, offsetof(Rule, subsystem_id) },
        [RULE_CLASS]               = { ALL_TYPES, offsetof(Rule, class) },
        [RULE_CLASS_MASK]          = { PCI_TYPES, offsetof(Rule, class_mask) },
        [RULE_VENDOR_NAME]         = { ALL_TYPES },
        [RULE_PRODUCT_NAME]        = { ALL_TYPES },
        [RULE_ADDRESS]             = { PCI_TYPES },
        [RULE_SLOT]                = { PCI_TYPES },
        [RULE_SERIAL]              = { ALL_TYPES },
        [RULE_DRIVER]              = { ALL_TYPES },
        [RULE_NUMA_NODE]           = { PCI_TYPES, offsetof(Rule, numa_node) },
        [RULE_PHYSICAL_FUNCTION]   = { T(RESOURCE_SRIOV_NIC) },
        [RULE_PORT_PATH]           = { T(RESOURCE_USB) },
};

/* Linux numbers NUMA nodes below 1 << CONFIG_NODES_SHIFT (at most 10);
 * -1 is what sysfs shows for a device without a node. */
#define NUMA_NODE_MAX 1023
#define CLASS_MAX 0xffffffu

bool rule_has(const Rule *r, RuleField f) {
        return f >= 0 && f < _RULE_FIELD_MAX && (r->fields & (1u << f));
}

static void *numeric(const Rule *r, RuleField f) {
        return (char *) r + fields[f].offset;
}

void rule_done(Rule *r) {
        for (RuleField f = 0; f < _RULE_FIELD_MAX; f++)
                free(r->strings[f]);
        *r = (Rule) {};
}

void rules_free(Rule *rules, size_t n) {
        for (size_t i = 0; i < n; i++)
                rule_done(rules + i);
        free(rules);
}

int rule_copy(Rule *dst, const Rule *src) {
        *dst = *src;
        memset(dst->strings, 0, sizeof dst->strings);
        for (RuleField f = 0; f < _RULE_FIELD_MAX; f++)
                if (src->strings[f] && !(dst->strings[f] = strdup(src->strings[f]))) {
                        rule_done(dst);
                        return -ENOMEM;
                }
        return 0;
}

RuleValue rule_get(const Rule *r, RuleField f) {
        RuleValue v = { .type = rule_field_type(f) };

        switch (v.type) {
        case 'q':
                v.u = *(const uint16_t *) numeric(r, f);
                break;
        case 'u':
                v.u = *(const uint32_t *) numeric(r, f);
                break;
        case 'i':
                v.i = *(const int32_t *) numeric(r, f);
                break;
        case 's':
                v.s = r->strings[f];
                break;
        }
        return v;
}

bool rule_equal(const Rule *a, const Rule *b) {
        if (a->fields != b->fields)
                return false;
        for (RuleField f = 0; f < _RULE_FIELD_MAX; f++) {
                RuleValue va, vb;

                if (!rule_has(a, f))
                        continue;
                va = rule_get(a, f);
                vb = rule_get(b, f);
                if (va.type == 's' ? !streq(va.s, vb.s) : va.type == 'i' ? va.i != vb.i : va.u != vb.u)
                        return false;
        }
        return true;
}

/* "pci, sriov-nic or vgpu" */
static void type_list(unsigned types, char *buf, size_t size) {
        size_t n = 0, left = (size_t) __builtin_popcount(types);

        buf[0] = 0;
        for (ResourceType t = 0; t < _RESOURCE_TYPE_MAX; t++) {
                if (!(types & T(t)))
                        continue;
                left--;
                n += (size_t) snprintf(buf + n, size - n, "%s%s", type_names[t],
                                       left > 1 ? ", " : left == 1 ? " or " : "");
        }
}

static int check_string(RuleField f, const char *s, char **ret_error) {
        const char *name = rule_field_to_string(f);

        if (isempty(s))
                return error_setf(ret_error, "Rule field '%s' must not be empty.", name);
        if (strnlen(s, RULE_STRING_MAX + 1) > RULE_STRING_MAX)
                return error_setf(ret_error, "Rule field '%s' is longer than %d bytes.", name, RULE_STRING_MAX);
        if (!utf8_is_valid(s))
                return error_setf(ret_error, "Rule field '%s' is not valid UTF-8.", name);
        if (text_has_control(s))
                return error_setf(ret_error, "Rule field '%s' contains control characters.", name);
        return 0;
}

/* An address or port-path pattern: a plain address is stored as the
 * kernel spells it, so that "01:00.0" finds "0000:01:00.0"; a glob may
 * hold only what an address and fnmatch(3) can, in the kernel's case. */
static int address_pattern(DeviceKind kind, const char *s, char **ret) {
        const char *allowed = kind == DEVICE_PCI ? "0123456789abcdefABCDEF:.*?[]!^-" : "0123456789-.*?[]!^";
        char *p;

        if (!strpbrk(s, "*?["))
                return kind == DEVICE_PCI ? pci_address_parse(s, ret) : usb_address_parse(s, ret);
        if (s[strspn(s, allowed)] != 0)
                return -EINVAL;
        p = strdup(s);
        if (!p)
                return -ENOMEM;
        for (char *c = p; *c; c++)
                *c = (char) tolower((unsigned char) *c);
        *ret = p;
        return 0;
}

/* Checks a string value and returns the form to store. */
static int string_value(RuleField f, const char *s, char **ret, char **ret_error) {
        int r;

        r = check_string(f, s, ret_error);
        if (r < 0)
                return r;

        switch (f) {
        case RULE_ADDRESS:
                r = address_pattern(DEVICE_PCI, s, ret);
                if (r == -EINVAL)
                        return error_setf(ret_error, "Rule field 'address' must be a PCI address such as "
                                          "0000:01:00.0, or a glob such as 0000:0[12]:00.*.");
                return r;
        case RULE_PORT_PATH:
                r = address_pattern(DEVICE_USB, s, ret);
                if (r == -EINVAL)
                        return error_setf(ret_error, "Rule field 'port-path' must be a USB port path such as "
                                          "3-1.2, or a glob such as 1-3.*.");
                return r;
        case RULE_PHYSICAL_FUNCTION:
                r = pci_address_parse(s, ret);
                if (r == -EINVAL)
                        return error_setf(ret_error, "Rule field 'physical-function' must be the PCI address "
                                          "of a physical function, such as 0000:03:00.0.");
                return r;
        default:
                *ret = strdup(s);
                return *ret ? 0 : -ENOMEM;
        }
}

static int numeric_value(Rule *r, RuleField f, const RuleValue *v, char **ret_error) {
        const char *name = rule_field_to_string(f);

        switch (v->type) {
        case 'q':
                if (v->u > UINT16_MAX)
                        return error_setf(ret_error, "Rule field '%s' must be at most 0xffff.", name);
                *(uint16_t *) numeric(r, f) = (uint16_t) v->u;
                return 0;
        case 'u':
                if (v->u > CLASS_MAX)
                        return error_setf(ret_error, "Rule field '%s' must be at most 0xffffff "
                                          "(base class, subclass, programming interface).", name);
                if (f == RULE_CLASS_MASK && v->u == 0)
                        return error_setf(ret_error, "Rule field 'class-mask' must not be 0: "
                                          "it would match every class.");
                *(uint32_t *) numeric(r, f) = v->u;
                return 0;
        case 'i':
                if (v->i < -1 || v->i > NUMA_NODE_MAX)
                        return error_setf(ret_error, "Rule field '%s' must be -1 (no node) to %d.",
                                          name, NUMA_NODE_MAX);
                *(int32_t *) numeric(r, f) = v->i;
                return 0;
        }
        return -EINVAL;
}

int rule_set(Rule *r, ResourceType type, const char *key, const RuleValue *v, char **ret_error) {
        char buf[TEXT_EXCERPT_MAX], types[64];
        RuleField f;
        int k;

        if (type < 0 || type >= _RESOURCE_TYPE_MAX)
                return error_setf(ret_error, "Unknown resource group type.");
        f = rule_field_from_string(key);
        if (f < 0)
                return error_setf(ret_error, "Unknown rule field '%s'.", text_excerpt(key, buf));
        if (!(fields[f].types & T(type))) {
                type_list(fields[f].types, types, sizeof types);
                return error_setf(ret_error, "Rule field '%s' is only valid for groups of type %s.",
                                  rule_field_to_string(f), types);
        }
        if (v->type != rule_field_type(f))
                return error_setf(ret_error, "Rule field '%s' must be of type '%c', not '%c'.", rule_field_to_string(f),
                                  rule_field_type(f), isgraph((unsigned char) v->type) ? v->type : '?');
        if (rule_has(r, f))
                return error_setf(ret_error, "Rule field '%s' is given twice.", rule_field_to_string(f));

        if (v->type == 's')
                k = string_value(f, v->s, &r->strings[f], ret_error);
        else
                k = numeric_value(r, f, v, ret_error);
        if (k < 0)
                return k;
        if (f == RULE_CLASS && type == RESOURCE_USB && r->class > 0xff)
                return error_setf(ret_error, "Rule field 'class' of a usb group is a USB class code, "
                                  "0x00 to 0xff (e.g. 0x03 for HID, 0x0b for smart cards).");
        r->fields |= 1u << f;
        return 0;
}

int rule_validate(const Rule *r, char **ret_error) {
        if (r->fields == 0)
                return error_setf(ret_error, "A rule needs at least one field.");
        if (rule_has(r, RULE_CLASS_MASK) && !rule_has(r, RULE_CLASS))
                return error_setf(ret_error, "Rule field 'class-mask' needs the field 'class'.");
        return 0;
}

static bool glob_matches(const char *pattern, const char *s, int flags) {
        return s && fnmatch(pattern, s, flags) == 0;
}

/* A field that does not apply to the device's kind never matches. */
static bool field_matches(const Rule *r, RuleField f, const Device *d) {
        bool pci = d->kind == DEVICE_PCI;
        const char *s = r->strings[f];

        switch (f) {
        case RULE_VENDOR_ID:
                return d->vendor_id == r->vendor_id;
        case RULE_PRODUCT_ID:
                return d->product_id == r->product_id;
        case RULE_SUBSYSTEM_VENDOR_ID:
                return pci && d->pci.subsystem_vendor_id == r->subsystem_vendor_id;
        case RULE_SUBSYSTEM_ID:
                return pci && d->pci.subsystem_id == r->subsystem_id;
        case RULE_CLASS: {
                uint32_t mask = rule_has(r, RULE_CLASS_MASK) ? r->class_mask : CLASS_MAX;
                if (!pci)
                        return device_usb_has_class(d, r->class);
                return (d->pci.class & mask) == (r->class & mask);
        }
        case RULE_CLASS_MASK:
                /* Applied with the class; alone it means nothing. */
                return rule_has(r, RULE_CLASS);
        case RULE_VENDOR_NAME:
                return glob_matches(s, d->vendor_name, FNM_CASEFOLD);
        case RULE_PRODUCT_NAME:
                return glob_matches(s, d->product_name, FNM_CASEFOLD);
        case RULE_ADDRESS:
                return pci && glob_matches(s, d->address, 0);
        case RULE_SLOT:
                return pci && streq_ptr(d->pci.slot, s);
        case RULE_SERIAL:
                return streq_ptr(d->serial, s);
        case RULE_DRIVER:
                return streq_ptr(d->driver, s);
        case RULE_NUMA_NODE:
                return pci && d->numa_node == r->numa_node;
        case RULE_PHYSICAL_FUNCTION:
                return pci && streq_ptr(d->pci.physfn, s);
        case RULE_PORT_PATH:
                /* The USB address is "bus-port.port", the port path. */
                return !pci && glob_matches(s, d->address, 0);
        default:
                return false;
        }
}

bool rule_matches(const Rule *r, const Device *d) {
        if (r->fields == 0)
                return false;
        for (unsigned b = r->fields; b; b &= b - 1) {
                RuleField f = (RuleField) __builtin_ctz(b);

                if (!field_matches(r, f, d))
                        return false;
        }
        return true;
}

bool resource_type_accepts(ResourceType t, const Device *d) {
        switch (t) {
        case RESOURCE_PCI:
                return d->kind == DEVICE_PCI && !device_is_bridge(d);
        case RESOURCE_SRIOV_NIC:
                return d->kind == DEVICE_PCI && d->pci.physfn;
        case RESOURCE_USB:
                return d->kind == DEVICE_USB && !device_is_usb_hub(d);
        default:
                return false;
        }
}
