/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-id128.h>

#include "bus.h"
#include "claim.h"
#include "tenant.h"
#include "emit.h"
#include "model/sriov-pool.h"
#include "options.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

#define RG_PREFIX BUS_PATH "/resource_group"

/* The objects' userdata is the Bus; the group is looked up by path so
 * that a getter always sees the current group set. */
/* Queues a signal about the group, named by its path. */
static void emit_group(Bus *b, const ResourceGroup *g, int kind, unsigned fields, const char *const *ifaces) {
        _cleanup_free_ char *path = bus_resource_group_path(g);

        if (!path)
                return;
        if (kind > 0)
                (void) emitter_added(b->emitter, path);
        else if (kind < 0)
                (void) emitter_removed(b->emitter, path, ifaces);
        else
                (void) emitter_changed(b->emitter, path, OBJECT_RESOURCE_GROUP, fields);
}

static ResourceGroup *group_from_path(Bus *b, const char *path) {
        _cleanup_free_ char *id = NULL;

        if (sd_bus_path_decode(path, RG_PREFIX, &id) <= 0)
                return NULL;
        return resource_set_find_id(&b->daemon->resources, id);
}

ResourceGroup *bus_resource_group_from_path(Bus *b, const char *path) {
        return group_from_path(b, path);
}

#define RG_GETTER(name, type, expr)                                                              \
        static int name(sd_bus *bus, const char *path, const char *interface, const char *property, \
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {            \
                const ResourceGroup *g = group_from_path(userdata, path);                        \
                if (!g)                                                                          \
                        return -ENOENT;                                                          \
                return sd_bus_message_append(reply, type, (expr));                               \
        }

RG_GETTER(get_id, "s", g->id);
RG_GETTER(get_name, "s", g->name);
RG_GETTER(get_description, "s", strempty(g->description));
RG_GETTER(get_type, "s", resource_type_to_string(g->type));
RG_GETTER(get_class, "s", strempty(g->class_hint));
RG_GETTER(get_tenant, "s", strempty(g->tenant));
RG_GETTER(get_return_to_host, "b", (int) !g->keep_prepared);

static int get_parent(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const ResourceGroup *g = group_from_path(userdata, path);

        if (!g)
                return -ENOENT;
        return bus_append_parent(reply, userdata, g);
}

static int get_rules(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const ResourceGroup *g = group_from_path(userdata, path);

        if (!g)
                return -ENOENT;
        return bus_append_rules(reply, g->rules, g->n_rules);
}

/* Rules that match no device now, numbered from 1: a typo in a rule
 * shows as that rather than as a pool that stays empty. */
static int get_unmatched_rules(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const ResourceGroup *g = group_from_path(b, path);
        _cleanup_free_ unsigned *l = NULL;
        size_t n = 0;
        int r;

        if (!g)
                return -ENOENT;
        r = resource_group_unmatched_rules(g, &b->daemon->inventory, &l, &n);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "u");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "u", (uint32_t) l[i]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* Members as the daemon keeps them (Device.resource_group), sorted by
 * address: no rule is evaluated to answer a property read. */
static int members(Bus *b, const char *path, const Device ***ret, size_t *ret_n) {
        Daemon *d = b->daemon;
        const ResourceGroup *g = group_from_path(b, path);
        const Device **devs;
        size_t n = 0;

        if (!g)
                return -ENOENT;
        devs = calloc(inventory_n_devices(&d->inventory) + 1, sizeof(Device *));
        if (!devs)
                return -ENOMEM;
        /* A tenant's group holds devices its parent owns. In address
         * order, as the inventory keeps them. */
        for (Device *const *dev = inventory_sorted(&d->inventory); *dev; dev++)
                if (resource_group_is_tenant(g) ? resource_set_holder(&d->resources, *dev) == g
                                                : (*dev)->resource_group == g)
                        devs[n++] = *dev;
        *ret = devs;
        *ret_n = n;
        return 0;
}

static int get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ const Device **devs = NULL;
        char p[BUS_DEVICE_PATH_MAX];
        size_t n = 0;
        int r;

        r = members(userdata, path, &devs, &n);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "o");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "o", bus_device_path(devs[i], p));
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* Total: the devices; Available and Claimed: members (a whole IOMMU
 * group's worth each), free or in a claim. */
static int get_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ const Device **devs = NULL;
        const ResourceGroup *g;
        unsigned total = 0, available = 0, claimed = 0;
        size_t n = 0;
        int r;

        g = group_from_path(userdata, path);
        /* A vgpu group's members are instances, not devices. */
        if (streq(property, "Total") && !(g && g->type == RESOURCE_VGPU)) {
                r = members(userdata, path, &devs, &n);
                if (r < 0)
                        return r;
                return sd_bus_message_append(reply, "u", (uint32_t) n);
        }
        if (!g)
                return -ENOENT;
        r = bus_group_claim_counts(userdata, g, &total, &available, &claimed);
        if (r < 0)
                return r;
        return sd_bus_message_append(reply, "u", (uint32_t) (streq(property, "Claimed") ? claimed
                                                             : streq(property, "Total") ? total : available));
}

static int check_name(Daemon *d, const char *name, const ResourceGroup *self, sd_bus_error *error) {
        _cleanup_free_ char *msg = NULL;
        const ResourceGroup *other;

        if (resource_name_validate(name, &msg) < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", msg ?: "Invalid name.");
        other = resource_set_find_name(&d->resources, name);
        if (other && other != self)
                return sd_bus_error_setf(error, BUS_ERROR_EXISTS, "A resource group named '%s' exists already.",
                                         name);
        return 0;
}

static int check_conflicts(Daemon *d, const ResourceGroup *self, ResourceType type, const Rule *rules, size_t n,
                           sd_bus_error *error) {
        const Device *dev = NULL;
        const ResourceGroup *owner = NULL;
        _cleanup_free_ char *msg = NULL;
        int r;

        /* sriov-nic rules name a PF: one the host has, described consistently. */
        r = sriov_rules_check(&d->inventory, type, rules, n, &msg);
        if (r < 0)
                return r == -ENOMEM ? r : sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", strempty(msg));
        if (resource_set_check_conflicts(&d->resources, &d->inventory, self, type, rules, n, &dev, &owner) == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "%s belongs to the resource group '%s' already; a device can be "
                                         "in one group only.", dev->address, owner->name);
        return 0;
}

static int check_text(const char *what, const char *s, sd_bus_error *error) {
        _cleanup_free_ char *msg = NULL;

        if (s && resource_description_validate(s, &msg) < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s: %s", what, msg ?: "invalid.");
        return 0;
}

int bus_resource_group_create(Bus *b, const char *name, ResourceType type, const char *description,
                              const char *class_hint, RuleList *rules, ResourceGroup **ret,
                              sd_bus_error *error) {
        Daemon *d = b->daemon;
        char hex[SD_ID128_STRING_MAX], id[SD_ID128_STRING_MAX + 1];
        sd_id128_t rnd;
        ResourceGroup *g;
        int r;

        r = sd_id128_randomize(&rnd);
        if (r < 0)
                return r;
        /* A letter first: object path elements may not start with a digit,
         * and the id is meant to be its path's last element as it is. */
        snprintf(id, sizeof id, "g%s", sd_id128_to_string(rnd, hex));
        g = resource_group_new(id, name, type);
        if (!g || free_and_strdup(&g->description, strempty(description)) < 0 ||
            free_and_strdup(&g->class_hint, strempty(class_hint)) < 0) {
                resource_group_free(g);
                return -ENOMEM;
        }
        g->rules = TAKE_PTR(rules->rules);
        g->n_rules = rules->n_rules;
        rules->n_rules = 0;

        r = resource_set_add(&d->resources, g);
        if (r < 0) {
                resource_group_free(g);
                return r;
        }
        r = daemon_save(d);
        if (r < 0) {
                resource_group_free(resource_set_take(&d->resources, g->id));
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "Cannot save the state: %s", strerror(-r));
        }
        emit_group(b, g, 1, 0, NULL);
        daemon_update_memberships(d);
        log_info("Resource group '%s' (%s) created.", g->name, g->id);
        *ret = g;
        return 0;
}

static void swap_str(char **a, char **b) {
        char *t = *a;

        *a = *b;
        *b = t;
}

/* A rename is asked about under the old name and under the new one: a
 * rule that allows one group name only cannot be walked around by
 * renaming another group to it, or it away. */
static int update_checks(PolkitChecks *c, const ResourceGroup *g, const char *new_name) {
        _cleanup_free_ char *msg = NULL;
        int r;

        if (new_name ? asprintf(&msg, "Authentication is required to rename the resource group '%s' to '%s'.",
                                g->name, new_name) < 0
                     : asprintf(&msg, "Authentication is required to change the resource group '%s'.",
                                g->name) < 0)
                return -ENOMEM;
        for (int i = 0; i < (new_name ? 2 : 1); i++) {
                char **extra = polkit_details_new("resource-group-new-name", new_name, NULL);

                if (!extra)
                        return -ENOMEM;
                r = polkit_checks_for_group(c, g, extra, msg);
                if (r < 0)
                        return r;
        }
        if (!new_name)
                return 0;
        /* The second check is about the new name. */
        return polkit_details_add(&c->details[c->n - 1], "resource-group-name", new_name);
}

static int method_update(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        ResourceGroup *g = group_from_path(b, sd_bus_message_get_path(m));
        _cleanup_free_ char *name = NULL, *description = NULL, *class_hint = NULL;
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        bool no_interaction = false, return_to_host = g ? !g->keep_prepared : true;
        unsigned fields = 0;
        const OptionSpec spec[] = {
                { "name", OPTION_STRING, &name },
                { "return-to-host", OPTION_BOOLEAN, &return_to_host },
                { "description", OPTION_STRING, &description },
                { "class", OPTION_STRING, &class_hint },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        int r;

        if (!g)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The resource group is gone.");
        r = bus_read_options(m, spec, ELEMENTSOF(spec), g->type, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if ((name && check_name(d, name, g, error) < 0) || check_text("description", description, error) < 0 ||
            check_text("class", class_hint, error) < 0)
                return -EINVAL;

        if (name && !streq(name, g->name))
                fields |= RG_FIELD_NAME;
        if (description && !streq(description, strempty(g->description)))
                fields |= RG_FIELD_DESCRIPTION;
        if (class_hint && !streq(class_hint, strempty(g->class_hint)))
                fields |= RG_FIELD_CLASS;
        if (return_to_host == g->keep_prepared)
                fields |= RG_FIELD_RETURN_TO_HOST;
        if (fields == 0)
                return sd_bus_reply_method_return(m, NULL);

        r = update_checks(&checks, g, fields & RG_FIELD_NAME ? name : NULL);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        /* Swap the new values in; the old ones come back if the save fails. */
        if (fields & RG_FIELD_NAME)
                swap_str(&g->name, &name);
        if (fields & RG_FIELD_DESCRIPTION)
                swap_str(&g->description, &description);
        if (fields & RG_FIELD_CLASS)
                swap_str(&g->class_hint, &class_hint);
        if (fields & RG_FIELD_RETURN_TO_HOST)
                g->keep_prepared = !return_to_host;
        r = daemon_save(d);
        if (r < 0) {
                if (fields & RG_FIELD_RETURN_TO_HOST)
                        g->keep_prepared = return_to_host;
                if (fields & RG_FIELD_NAME)
                        swap_str(&g->name, &name);
                if (fields & RG_FIELD_DESCRIPTION)
                        swap_str(&g->description, &description);
                if (fields & RG_FIELD_CLASS)
                        swap_str(&g->class_hint, &class_hint);
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "Cannot save the state: %s", strerror(-r));
        }
        emit_group(b, g, 0, fields, NULL);
        daemon_schedule_flush(d);
        return sd_bus_reply_method_return(m, NULL);
}

static bool rules_equal(const Rule *a, size_t na, const Rule *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++) {
                if (a[i].fields != b[i].fields)
                        return false;
                for (RuleField f = 0; f < _RULE_FIELD_MAX; f++) {
                        RuleValue x, y;

                        if (!rule_has(&a[i], f))
                                continue;
                        x = rule_get(&a[i], f), y = rule_get(&b[i], f);
                        if (x.type == 's' ? !streq(x.s, y.s) : x.type == 'i' ? x.i != y.i : x.u != y.u)
                                return false;
                }
        }
        return true;
}

static int set_rules_checks(PolkitChecks *c, Daemon *d, const ResourceGroup *g, const RuleList *rules) {
        _cleanup_strv_free_ char **extra = NULL;
        _cleanup_free_ char *msg = NULL;

        if (asprintf(&msg, "Authentication is required to change which devices the resource group '%s' "
                     "holds.", g->name) < 0 ||
            polkit_details_for_rules(&extra, &d->inventory, g->type, rules->rules, rules->n_rules) < 0)
                return -ENOMEM;
        return polkit_checks_for_group(c, g, TAKE_PTR(extra), msg);
}

static int method_set_rules(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        ResourceGroup *g = group_from_path(b, sd_bus_message_get_path(m));
        _cleanup_(rule_list_done) RuleList rules = {};
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        Rule *old_rules;
        size_t old_n;
        int r;

        if (!g)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The resource group is gone.");
        r = bus_read_rules(m, g->type, &rules, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (check_conflicts(d, g, g->type, rules.rules, rules.n_rules, error) < 0)
                return -EBUSY;
        if (rules_equal(g->rules, g->n_rules, rules.rules, rules.n_rules))
                return sd_bus_reply_method_return(m, NULL);

        /* SetRules takes no options: the call's header alone says whether
         * polkit may ask. */
        r = set_rules_checks(&checks, d, g, &rules);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, false, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        old_rules = g->rules, old_n = g->n_rules;
        g->rules = rules.rules, g->n_rules = rules.n_rules;
        r = daemon_save(d);
        if (r < 0) {
                g->rules = old_rules, g->n_rules = old_n;
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "Cannot save the state: %s", strerror(-r));
        }
        rules.rules = old_rules, rules.n_rules = old_n;
        emit_group(b, g, 0, RG_FIELD_RULES, NULL);
        daemon_update_memberships(d);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_delete(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        ResourceGroup *g = group_from_path(b, sd_bus_message_get_path(m));
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ char *msg = NULL;
        bool no_interaction = false;
        const OptionSpec spec[] = {
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        const char *ifaces[8];
        size_t position = 0;
        int r;

        if (!g)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The resource group is gone.");
        r = bus_read_options(m, spec, ELEMENTSOF(spec), g->type, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        /* Claims and tenant groups hold on to it. */
        r = resource_group_delete_check(&d->resources, &d->claims, g, &msg);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "%s", strempty(msg));
        free(msg);
        msg = NULL;

        if (asprintf(&msg, "Authentication is required to delete the resource group '%s'.", g->name) < 0)
                return -ENOMEM;
        r = polkit_checks_for_group(&checks, g, NULL, msg);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        while (position < d->resources.n_groups && d->resources.groups[position] != g)
                position++;
        g = resource_set_take(&d->resources, g->id);
        r = daemon_save(d);
        if (r < 0) {
                /* Back where it was: order decides membership. */
                resource_set_insert(&d->resources, g, position);
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "Cannot save the state: %s", strerror(-r));
        }
        daemon_forget_group(d, g);
        bus_object_interfaces(ifaces, BUS_INTERFACES("org.hostdev1.ResourceGroup"));
        emit_group(b, g, -1, 0, ifaces);
        log_info("Resource group '%s' (%s) deleted.", g->name, g->id);
        resource_group_free(g);
        daemon_update_memberships(d);
        return sd_bus_reply_method_return(m, NULL);
}

static int group_prepare_or_release(sd_bus_message *m, void *userdata, sd_bus_error *error, bool prepare) {
        _cleanup_free_ const Device **devs = NULL;
        size_t n = 0;
        int r;

        r = members(userdata, sd_bus_message_get_path(m), &devs, &n);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The resource group is gone.");
        if (r < 0)
                return r;
        if (n == 0)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The resource group has no devices now.");
        return bus_prepare_release(userdata, m, devs, n, prepare, error);
}

static int method_group_prepare(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return group_prepare_or_release(m, userdata, error, true);
}

static int method_group_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return group_prepare_or_release(m, userdata, error, false);
}

#define CONST SD_BUS_VTABLE_PROPERTY_CONST
#define CHANGE SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

const sd_bus_vtable resource_group_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", get_id, 0, CONST),
        SD_BUS_PROPERTY("Name", "s", get_name, 0, CHANGE),
        SD_BUS_PROPERTY("Description", "s", get_description, 0, CHANGE),
        SD_BUS_PROPERTY("Type", "s", get_type, 0, CONST),
        SD_BUS_PROPERTY("Class", "s", get_class, 0, CHANGE),
        SD_BUS_PROPERTY("Rules", "aa{sv}", get_rules, 0, CHANGE),
        SD_BUS_PROPERTY("UnmatchedRules", "au", get_unmatched_rules, 0, 0),
        SD_BUS_PROPERTY("ReturnToHost", "b", get_return_to_host, 0, CHANGE),
        SD_BUS_PROPERTY("Devices", "ao", get_devices, 0, CHANGE),
        SD_BUS_PROPERTY("Total", "u", get_count, 0, CHANGE),
        SD_BUS_PROPERTY("Available", "u", get_count, 0, CHANGE),
        SD_BUS_PROPERTY("Claimed", "u", get_count, 0, CHANGE),
        SD_BUS_PROPERTY("Tenant", "s", get_tenant, 0, CONST),
        SD_BUS_PROPERTY("Parent", "o", get_parent, 0, CONST),
        SD_BUS_METHOD_WITH_ARGS("Update", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_update, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetRules", SD_BUS_ARGS("aa{sv}", rules), SD_BUS_NO_RESULT,
                                method_set_rules, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Prepare", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("a(ssss)", plan),
                                method_group_prepare, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Release", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("a(ssss)", plan),
                                method_group_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Claim", SD_BUS_ARGS("s", consumer, "u", count, "a{sv}", options),
                                SD_BUS_RESULT("o", claim), bus_method_claim, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AssignToTenant", SD_BUS_ARGS("s", tenant, "u", count, "a{sv}", options),
                                SD_BUS_RESULT("o", group), bus_method_assign_to_tenant, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReturnToParent", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                bus_method_return_to_parent, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int group_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                      sd_bus_error *error) {
        if (!group_from_path(userdata, path))
                return 0;
        *found = userdata;
        return 1;
}

static int group_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < d->resources.n_groups; i++) {
                _cleanup_free_ char *p = bus_resource_group_path(d->resources.groups[i]);

                if (!p || strv_extend(&l, p) < 0)
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 0;
}

int bus_resource_group_register(Bus *b) {
        int r;

        r = sd_bus_add_fallback_vtable(b->bus, NULL, RG_PREFIX, "org.hostdev1.ResourceGroup", resource_group_vtable,
                                       group_find, b);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(b->bus, NULL, RG_PREFIX, group_enumerate, b);
}

int bus_resource_group_check_new(Daemon *d, const char *name, ResourceType type, const char *description,
                                 const char *class_hint, const RuleList *rules, sd_bus_error *error) {
        if (check_name(d, name, NULL, error) < 0 || check_text("description", description, error) < 0 ||
            check_text("class", class_hint, error) < 0)
                return -EINVAL;
        return check_conflicts(d, NULL, type, rules->rules, rules->n_rules, error);
}
