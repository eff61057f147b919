/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "rule-fields.h"
#include "shared/macro.h"

static const struct {
        const char *name;
        char type;              /* D-Bus type */
} fields[_RULE_FIELD_MAX] = {
        [RULE_VENDOR_ID]           = { "vendor-id",           'q' },
        [RULE_PRODUCT_ID]          = { "product-id",          'q' },
        [RULE_SUBSYSTEM_VENDOR_ID] = { "subsystem-vendor-id", 'q' },
        [RULE_SUBSYSTEM_ID]        = { "subsystem-id",        'q' },
        [RULE_CLASS]               = { "class",               'u' },
        [RULE_CLASS_MASK]          = { "class-mask",          'u' },
        [RULE_VENDOR_NAME]         = { "vendor-name",         's' },
        [RULE_PRODUCT_NAME]        = { "product-name",        's' },
        [RULE_ADDRESS]             = { "address",             's' },
        [RULE_SLOT]                = { "slot",                's' },
        [RULE_SERIAL]              = { "serial",              's' },
        [RULE_DRIVER]              = { "driver",              's' },
        [RULE_NUMA_NODE]           = { "numa-node",           'i' },
        [RULE_PHYSICAL_FUNCTION]   = { "physical-function",   's' },
        [RULE_PORT_PATH]           = { "port-path",           's' },
        [RULE_VF_INDEX]            = { "vf-index",            's' },
        [RULE_PF_SERIAL]           = { "pf-serial",           's' },
        [RULE_PF_NETDEV]           = { "pf-netdev",           's' },
        [RULE_LINK_TYPE]           = { "link-type",           's' },
        [RULE_MDEV_TYPE]           = { "mdev-type",           's' },
        [RULE_MDEV_TYPE_NAME]      = { "mdev-type-name",      's' },
};

const char *rule_field_to_string(RuleField f) {
        return f >= 0 && f < _RULE_FIELD_MAX ? fields[f].name : NULL;
}

RuleField rule_field_from_string(const char *s) {
        for (RuleField f = 0; f < _RULE_FIELD_MAX; f++)
                if (streq(fields[f].name, s))
                        return f;
        return _RULE_FIELD_INVALID;
}

char rule_field_type(RuleField f) {
        return f >= 0 && f < _RULE_FIELD_MAX ? fields[f].type : 0;
}
