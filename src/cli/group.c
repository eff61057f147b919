/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* "group ..." and "make-resource": resource groups, the pools of devices hostdevd keeps. */

#include <inttypes.h>

#include "hostdevctl.h"
#include "rules.h"

static const char * const group_types[] = { "pci", "usb", "sriov-nic", "vgpu" };

static bool is_tenant_group(const HdResourceGroup *g) {
        return !isempty(g->tenant);
}

/* The tenant groups taken from g: "NAME (tenant TENANT, N total)" lines. */
static int add_tenant_groups(KeyValue *kv, const HdHost *h, const HdResourceGroup *g) {
        bool first = true;
        int r;

        for (size_t i = 0; i < h->n_resource_groups; i++) {
                const HdResourceGroup *t = h->resource_groups[i];

                if (!is_tenant_group(t) || !streq_ptr(t->parent, g->path))
                        continue;
                r = first ? kv_add(kv, "Tenant Groups", "%s (tenant %s, %" PRIu32 " total)", strdash(t->name),
                                   t->tenant, t->total)
                          : kv_add_more(kv, "%s (tenant %s, %" PRIu32 " total)", strdash(t->name), t->tenant,
                                        t->total);
                if (r < 0)
                        return r;
                first = false;
        }
        return 0;
}

void json_write_resource_group(JsonWriter *w, const HdHost *h, const HdResourceGroup *g) {
        json_begin_object(w);
        json_kv_string(w, "name", g->name);
        json_kv_string(w, "id", g->id);
        json_kv_string(w, "object_path", g->path);
        json_kv_string(w, "type", g->type);
        json_kv_string_or_null(w, "description", g->description);
        json_kv_string_or_null(w, "class", g->class_hint);
        json_kv_uint(w, "total", g->total);
        json_kv_uint(w, "available", g->available);
        json_kv_uint(w, "claimed", g->claimed);
        json_kv_string_or_null(w, "tenant", g->tenant);
        json_key(w, "parent");
        if (is_tenant_group(g))
                json_string(w, hd_host_resource_group_name(h, g->parent));
        else
                json_null(w);

        json_key(w, "rules");
        json_begin_array(w);
        for (size_t i = 0; i < g->n_rules; i++)
                json_write_rule(w, g->rules + i);
        json_end_array(w);

        json_key(w, "devices");
        json_write_members(w, h, g->devices);
        json_end_object(w);
}

static int add_resource_group(KeyValue *kv, const HdHost *h, const HdResourceGroup *g) {
        int r;

        if ((r = kv_add(kv, "Name", "%s", strdash(g->name))) < 0 ||
            (r = kv_add(kv, "Id", "%s", strdash(g->id))) < 0 ||
            (r = kv_add(kv, "Object", "%s", g->path)) < 0 ||
            (r = kv_add(kv, "Type", "%s", strdash(g->type))) < 0)
                return r;
        if (!isempty(g->description) && (r = kv_add(kv, "Description", "%s", g->description)) < 0)
                return r;
        if (!isempty(g->class_hint) && (r = kv_add(kv, "Class", "%s", g->class_hint)) < 0)
                return r;
        if ((r = kv_add(kv, "Devices", "%" PRIu32 " total, %" PRIu32 " available", g->total, g->available)) < 0)
                return r;
        if ((r = kv_add(kv, "Claimed", "%" PRIu32, g->claimed)) < 0)
                return r;
        if (is_tenant_group(g) &&
            ((r = kv_add(kv, "Tenant", "%s", g->tenant)) < 0 ||
             (r = kv_add(kv, "Parent", "%s", hd_host_resource_group_name(h, g->parent))) < 0))
                return r;
        if ((r = add_tenant_groups(kv, h, g)) < 0)
                return r;

        if (g->n_rules == 0 && (r = kv_add(kv, "Rules", "none")) < 0)
                return r;
        for (size_t i = 0; i < g->n_rules; i++) {
                _cleanup_free_ char *text = rule_to_string(g->rules + i);

                if (!text)
                        return -ENOMEM;
                /* Numbered from 1, as "group rule remove" takes them. */
                r = i == 0 ? kv_add(kv, "Rules", "%zu. %s", i + 1, text) : kv_add_more(kv, "%zu. %s", i + 1, text);
                if (r < 0)
                        return r;
        }

        if (strv_isempty(g->devices))
                return kv_add(kv, "Members", "none");
        for (char **p = g->devices; *p; p++) {
                _cleanup_free_ char *line = group_member_line(h, *p);

                if (!line)
                        return -ENOMEM;
                r = p == g->devices ? kv_add(kv, "Members", "%s", line) : kv_add_more(kv, "%s", line);
                if (r < 0)
                        return r;
        }
        return 0;
}

int print_resource_group(const HdHost *h, const HdResourceGroup *g) {
        _cleanup_kv_free_ KeyValue *kv = kv_new();
        int r;

        if (!kv)
                return -ENOMEM;
        r = add_resource_group(kv, h, g);
        if (r < 0)
                return r;
        kv_print(kv, stdout);
        if (fflush(stdout) != 0 || ferror(stdout))
                return -EIO;
        return 0;
}

static int print_one(const HdHost *h, const HdResourceGroup *g) {
        JsonWriter w;

        if (!arg_json)
                return print_resource_group(h, g);
        json_init(&w, stdout, true);
        json_write_resource_group(&w, h, g);
        return json_finish(&w);
}

/* Connects and fetches everything, and finds the group the user named. */
int fetch_resource_group(const char *what, sd_bus **ret_bus, HdHost **ret_host, HdResourceGroup **ret_group) {
        HdResourceGroup *g;

        if (hd_bus_open(ret_bus) < 0 || hd_host_fetch(*ret_bus, ret_host) < 0)
                return -EIO;
        g = hd_host_lookup_resource_group(*ret_host, what);
        if (!g) {
                log_error("No resource group %s. 'hostdevctl group list' shows them.", what);
                return -ENOENT;
        }
        *ret_group = g;
        return 0;
}

/* After a change: fetches everything again and finds the group at path. */
static int refetch_group(sd_bus *bus, const char *path, HdHost **ret_host, const HdResourceGroup **ret_group) {
        if (hd_host_fetch(bus, ret_host) < 0)
                return -EIO;
        *ret_group = hd_host_find_resource_group(*ret_host, path);
        if (!*ret_group) {
                log_error("The resource group %s disappeared.", path);
                return -ENOENT;
        }
        return 0;
}

int show_resource_group_path(sd_bus *bus, const char *path) {
        _cleanup_host_free_ HdHost *h = NULL;
        const HdResourceGroup *g;

        if (refetch_group(bus, path, &h, &g) < 0)
                return EXIT_FAILURE;
        return output_result(print_one(h, g));
}

static int group_list(int argc, char *argv[]) {
        static const char * const headers[] = {
                "NAME", "TYPE", "TOTAL", "AVAILABLE", "CLAIMED", "TENANT", "CLASS", "RULES",
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        _cleanup_table_free_ Table *t = NULL;
        JsonWriter w;

        if (hd_bus_open(&bus) < 0 || hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;

        if (arg_json) {
                json_init(&w, stdout, true);
                json_begin_array(&w);
                for (size_t i = 0; i < h->n_resource_groups; i++)
                        json_write_resource_group(&w, h, h->resource_groups[i]);
                json_end_array(&w);
                return output_result(json_finish(&w));
        }

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return output_result(-ENOMEM);
        table_set_shrinkable(t, 0, true);
        for (size_t i = 0; i < h->n_resource_groups; i++) {
                const HdResourceGroup *g = h->resource_groups[i];
                char total[16], available[16], claimed[16], rules[24];
                int r;

                snprintf(total, sizeof(total), "%" PRIu32, g->total);
                snprintf(available, sizeof(available), "%" PRIu32, g->available);
                snprintf(claimed, sizeof(claimed), "%" PRIu32, g->claimed);
                snprintf(rules, sizeof(rules), "%zu", g->n_rules);
                r = table_add_row(t, (const char * const[]) {
                        g->name, g->type, total, available, claimed, strdash(g->tenant), strdash(g->class_hint),
                        rules,
                });
                if (r < 0)
                        return output_result(r);
        }
        if (table_rows(t) == 0) {
                /* An empty table says nothing; the header alone would look like an error. */
                if (arg_legend)
                        printf("No resource groups.\n");
                return output_result(fflush(stdout) == 0 ? 0 : -EIO);
        }
        return output_result(table_print(t, stdout, arg_legend, on_tty() ? terminal_columns() : 0));
}

static int group_show(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        HdResourceGroup *g;

        if (fetch_resource_group(argv[1], &bus, &h, &g) < 0)
                return EXIT_FAILURE;
        return output_result(print_one(h, g));
}

static bool valid_type(const char *type) {
        for (size_t i = 0; i < ELEMENTSOF(group_types); i++)
                if (streq(type, group_types[i]))
                        return true;
        return false;
}

/* The rules of --rule, checked before anything is sent: a bad rule is a usage error. */
static int check_rules(void) {
        for (char **r = arg_rules; r && *r; r++)
                if (rule_append_parsed(NULL, *r) < 0)
                        return -EINVAL;
        return 0;
}

static int append_string_option(sd_bus_message *m, const char *key, const char *value) {
        if (!value)
                return 0;
        return sd_bus_message_append(m, "{sv}", key, "s", value);
}

static int group_create(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        const char *p;
        int r;

        if (argc > 2) {
                /* Of devices: the daemon makes the type and rules from them. */
                if (arg_type || arg_rules) {
                        log_error("group create: option '%s' does not apply to a group made of devices.",
                                  arg_type ? "--type" : "--rule");
                        return EXIT_USAGE;
                }
                return group_create_of_devices(argc, argv);
        }
        if (arg_include_companions) {
                log_error("group create: option '--include-companions' needs devices.");
                return EXIT_USAGE;
        }
        if (!arg_type) {
                log_error("group create: missing option --type=pci|usb|sriov-nic|vgpu.");
                return EXIT_USAGE;
        }
        if (!valid_type(arg_type)) {
                log_error("Unknown resource group type '%s': expected pci, usb, sriov-nic or vgpu.", arg_type);
                return EXIT_USAGE;
        }
        if (check_rules() < 0)
                return EXIT_USAGE;

        if (hd_bus_open(&bus) < 0)
                return EXIT_FAILURE;
        if (hd_new_call(bus, &m, HOSTDEV_MANAGER_PATH, HOSTDEV_MANAGER_INTERFACE, "CreateResourceGroup",
                        arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_append(m, "ss", argv[1], arg_type);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = append_string_option(m, "description", arg_description);
        if (r >= 0)
                r = append_string_option(m, "class", arg_class);
        if (r >= 0 && arg_rules) {
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "rules");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "aa{sv}");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "a{sv}");
                for (char **rule = arg_rules; r >= 0 && *rule; rule++)
                        r = rule_append_parsed(m, *rule);
                for (int i = 0; r >= 0 && i < 3; i++)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);

        if (hd_call(bus, m, &reply) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0 || !(path = strdup(p)))
                return exit_message_error(r < 0 ? r : -ENOMEM);

        return show_resource_group_path(bus, path);
}

/* A method of the group taking only options: Delete, or Update with the options given. */
static int group_call_options(const char *what, const char *method) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        HdResourceGroup *g;
        int r;

        if (fetch_resource_group(what, &bus, &h, &g) < 0)
                return EXIT_FAILURE;
        if (hd_new_call(bus, &m, g->path, HOSTDEV_RESOURCE_GROUP_INTERFACE, method, arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && streq(method, "Update")) {
                r = append_string_option(m, "name", arg_name);
                if (r >= 0)
                        r = append_string_option(m, "description", arg_description);
                if (r >= 0)
                        r = append_string_option(m, "class", arg_class);
        }
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);

        return hd_call(bus, m, NULL) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int group_delete(int argc, char *argv[]) {
        return group_call_options(argv[1], "Delete");
}

static int group_update(int argc, char *argv[]) {
        if (!arg_name && !arg_description && !arg_class) {
                log_error("group update: nothing to change; give --name, --description or --class.");
                return EXIT_USAGE;
        }
        return group_call_options(argv[1], "Update");
}

/*
 * Rules are changed as a whole (SetRules): the current ones are read as
 * the daemon has them and copied unchanged, with one added or one left out.
 */
static int change_rules(const char *what, const char *add, size_t remove_index) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *rules = NULL, *m = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        HdResourceGroup *g;
        size_t i = 0;
        int r;

        if (fetch_resource_group(what, &bus, &h, &g) < 0)
                return EXIT_FAILURE;

        r = sd_bus_get_property(bus, HOSTDEV_SERVICE, g->path, HOSTDEV_RESOURCE_GROUP_INTERFACE, "Rules",
                                &error, &rules, "aa{sv}");
        if (r < 0) {
                log_bus_error(&error, r, "Failed to read the rules");
                return EXIT_FAILURE;
        }
        if (hd_new_call(bus, &m, g->path, HOSTDEV_RESOURCE_GROUP_INTERFACE, "SetRules", arg_ask_password) < 0)
                return EXIT_FAILURE;

        r = sd_bus_message_enter_container(rules, 'a', "a{sv}");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_at_end(rules, false)) == 0) {
                i++;
                r = i == remove_index ? sd_bus_message_skip(rules, "a{sv}") : sd_bus_message_copy(m, rules, false);
        }
        if (r >= 0 && remove_index > i) {
                if (i == 0)
                        log_error("Resource group '%s' has no rules.", g->name);
                else
                        log_error("Resource group '%s' has %zu rule%s; there is no rule %zu.", g->name, i,
                                  i == 1 ? "" : "s", remove_index);
                return EXIT_FAILURE;
        }
        if (r >= 0 && add)
                r = rule_append_parsed(m, add);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return exit_message_error(r);

        return hd_call(bus, m, NULL) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int rule_add(int argc, char *argv[]) {
        if (rule_append_parsed(NULL, argv[2]) < 0)
                return EXIT_USAGE;
        return change_rules(argv[1], argv[2], 0);
}

static int rule_remove(int argc, char *argv[]) {
        char *end;
        unsigned long index;

        errno = 0;
        index = strtoul(argv[2], &end, 10);
        /* Digits only: strtoul() would take "+1" and " 1" too. */
        if (errno != 0 || end == argv[2] || *end != '\0' || argv[2][0] < '0' || argv[2][0] > '9' ||
            index == 0 || index > 1000000) {
                log_error("group rule remove: '%s' is not a rule number; rules are numbered from 1 "
                          "(see 'hostdevctl group show').", argv[2]);
                return EXIT_USAGE;
        }
        return change_rules(argv[1], NULL, (size_t) index);
}

const Verb group_rule_verbs[] = {
        { "add",    "NAME|ID RULE", 2, 2, 0, rule_add,    "Add a rule to a resource group" },
        { "remove", "NAME|ID INDEX",             2, 2, 0, rule_remove, "Remove a rule, by its number" },
};

const size_t n_group_rule_verbs = ELEMENTSOF(group_rule_verbs);

static int group_rule(int argc, char *argv[]) {
        return dispatch_verb(group_rule_verbs, n_group_rule_verbs, "group rule ", argc - 1, argv + 1);
}

/* ResourceGroup.Prepare and Release. */
static int group_prepare_or_release(const char *what, const char *method) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        HdResourceGroup *g;

        if (fetch_resource_group(what, &bus, &h, &g) < 0)
                return EXIT_FAILURE;
        if (hd_new_call(bus, &m, g->path, HOSTDEV_RESOURCE_GROUP_INTERFACE, method, arg_ask_password) < 0)
                return EXIT_FAILURE;
        return call_with_plan(bus, m);
}

static int group_prepare(int argc, char *argv[]) {
        return group_prepare_or_release(argv[1], "Prepare");
}

static int group_release(int argc, char *argv[]) {
        return group_prepare_or_release(argv[1], "Release");
}

const Verb group_verbs[] = {
        { "list",    NULL,             0, 0,        0, group_list,    "List resource groups" },
        { "show",    "NAME|ID",        1, 1,        0, group_show,    "Show a resource group, its rules and members" },
        { "create",  "NAME [DEVICE...]", 1, ARGS_MAX,
          OPT_TYPE | OPT_DESCRIPTION | OPT_CLASS | OPT_RULE | OPT_INCLUDE_COMPANIONS, group_create,
          "Create a resource group, by rules or of the given devices" },
        { "update",  "NAME|ID",        1, 1,        OPT_NAME | OPT_DESCRIPTION | OPT_CLASS, group_update,
          "Change name, description or class" },
        { "delete",  "NAME|ID",        1, 1,        0, group_delete,  "Delete a resource group" },
        { "prepare", "NAME|ID",        1, 1,        OPT_DRY_RUN | OPT_OVERRIDE_CRITICAL, group_prepare,
          "Prepare all members of a resource group" },
        { "release", "NAME|ID",        1, 1,        OPT_DRY_RUN, group_release,
          "Release all members of a resource group" },
        /* No description: the help lists group_rule_verbs instead. */
        { "rule",    "add|remove", 1, ARGS_MAX, 0, group_rule,    NULL },
};
const size_t n_group_verbs = ELEMENTSOF(group_verbs);

int verb_group(int argc, char *argv[]) {
        static char *list_argv[] = { (char *) "list", NULL };

        if (argc <= 1)
                return dispatch_verb(group_verbs, n_group_verbs, "group ", 1, list_argv);
        return dispatch_verb(group_verbs, n_group_verbs, "group ", argc - 1, argv + 1);
}

/* The selected devices of the same IOMMU group as a companion, "0000:01:00.0, 0000:01:00.2". */
static char *companion_peers(const HdHost *h, const HdDevice *companion, char **selected) {
        _cleanup_strv_free_ char **peers = NULL;
        size_t n = 0;

        peers = calloc(strv_length(selected) + 1, sizeof(char *));
        if (!peers)
                return NULL;
        for (char **p = selected; p && *p; p++) {
                const HdDevice *d = hd_host_find_device(h, *p);

                if (d && companion && streq_ptr(d->iommu_group, companion->iommu_group) &&
                    !(peers[n++] = strdup(hd_host_path_to_address(h, *p))))
                        return NULL;
        }
        return strv_join(peers, ", ");
}

static int print_companions(const HdHost *h, char **companions, char **selected) {
        for (char **c = companions; c && *c; c++) {
                const HdDevice *d = hd_host_find_device(h, *c);
                int64_t group = d ? hd_device_group_number(h, d) : -1;
                _cleanup_free_ char *peers = companion_peers(h, d, selected);

                if (!peers)
                        return -ENOMEM;
                if (group >= 0 && !isempty(peers))
                        printf("%s shares IOMMU group %" PRIi64 " with %s; add --include-companions to include it\n",
                               hd_host_path_to_address(h, *c), group, peers);
                else
                        printf("%s shares an IOMMU group with the selected devices; "
                               "add --include-companions to include it\n", hd_host_path_to_address(h, *c));
        }
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
}

static void json_write_companions(JsonWriter *w, const HdHost *h, char **companions, char **selected) {
        json_begin_array(w);
        for (char **c = companions; c && *c; c++) {
                const HdDevice *d = hd_host_find_device(h, *c);
                int64_t group = d ? hd_device_group_number(h, d) : -1;

                json_begin_object(w);
                json_kv_string(w, "address", hd_host_path_to_address(h, *c));
                json_kv_string(w, "object_path", *c);
                json_key(w, "iommu_group");
                if (group >= 0)
                        json_int(w, group);
                else
                        json_null(w);
                json_key(w, "shares_with");
                json_begin_array(w);
                for (char **p = selected; d && p && *p; p++) {
                        const HdDevice *s = hd_host_find_device(h, *p);

                        if (s && streq_ptr(s->iommu_group, d->iommu_group))
                                json_string(w, hd_host_path_to_address(h, *p));
                }
                json_end_array(w);
                json_end_object(w);
        }
        json_end_array(w);
}

int group_create_of_devices(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        _cleanup_strv_free_ char **devices = NULL, **companions = NULL;
        _cleanup_free_ char *path = NULL;
        const HdResourceGroup *g;
        const char *p;
        int r;

        if (resolve_devices(argv + 2, (size_t) argc - 2, &bus, &devices) < 0)
                return EXIT_FAILURE;

        if (hd_new_call(bus, &m, HOSTDEV_MANAGER_PATH, HOSTDEV_MANAGER_INTERFACE, "MakeResource",
                        arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = hd_append_object_paths(m, devices);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", argv[1]);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = append_string_option(m, "description", arg_description);
        if (r >= 0)
                r = append_string_option(m, "class", arg_class);
        if (r >= 0 && arg_include_companions)
                r = sd_bus_message_append(m, "{sv}", "include-companions", "b", 1);
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);

        if (hd_call(bus, m, &reply) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_read(reply, "o", &p);
        if (r >= 0 && !(path = strdup(p)))
                r = -ENOMEM;
        if (r >= 0)
                r = sd_bus_message_read_strv(reply, &companions);
        if (r < 0)
                return exit_message_error(r);

        if (refetch_group(bus, path, &h, &g) < 0)
                return EXIT_FAILURE;

        if (arg_json) {
                JsonWriter w;

                json_init(&w, stdout, true);
                json_begin_object(&w);
                json_key(&w, "group");
                json_write_resource_group(&w, h, g);
                json_key(&w, "companions");
                json_write_companions(&w, h, companions, devices);
                json_end_object(&w);
                return output_result(json_finish(&w));
        }

        r = print_resource_group(h, g);
        if (r >= 0 && !strv_isempty(companions)) {
                putchar('\n');
                r = print_companions(h, companions, devices);
        }
        return output_result(r);
}
