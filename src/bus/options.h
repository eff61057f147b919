/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "daemon/daemon.h"
#include "model/rules.h"

/* Reading a{sv} options: each known key with its D-Bus type and where to
 * put the value. An unknown key or a wrong type is an
 * org.hostdev1.Error.InvalidArgument naming it. Strings are duplicated. */
typedef enum OptionType {
        OPTION_STRING,          /* "s" → char ** */
        OPTION_BOOLEAN,         /* "b" → bool *  */
        OPTION_RULES,           /* "aa{sv}" → RuleList * (needs the group type) */
        OPTION_INT32,           /* "i" → int32_t * */
        OPTION_OBJECTS,         /* "ao" → char *** (NULL-terminated, copied) */
        OPTION_UINT32,          /* "u" → uint32_t * */
        OPTION_VF_SETTINGS,     /* "aa{sv}" → ClaimVfRequests * (claim-vf.h) */
} OptionType;

typedef struct RuleList {
        Rule *rules;
        size_t n_rules;
        bool set;
} RuleList;

void rule_list_done(RuleList *l);

typedef struct OptionSpec {
        const char *key;
        OptionType type;
        void *ret;
        bool *ret_set;          /* optional: whether the key was given */
} OptionSpec;

#define RULES_MAX 256

int bus_read_options(sd_bus_message *m, const OptionSpec *spec, size_t n_spec, ResourceType type,
                     sd_bus_error *error);
/* aa{sv} → rules for a group of this type. */
int bus_read_rules(sd_bus_message *m, ResourceType type, RuleList *ret, sd_bus_error *error);
int bus_append_rules(sd_bus_message *reply, const Rule *rules, size_t n);

/* Printable excerpt of user input for messages: long or binary input is
 * not echoed back verbatim. */
const char *bus_excerpt(const char *s, char buf[static 48]);

/* "ao" of device objects → the devices; NotFound for one that is not
 * there, InvalidArgument for none or one named twice. */
int bus_read_devices(Daemon *d, sd_bus_message *m, const Device ***ret, size_t *ret_n, sd_bus_error *error);
char *bus_join_addresses(const Device *const *devs, size_t n);
