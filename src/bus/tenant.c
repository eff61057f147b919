/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-id128.h>

#include "claim.h"
#include "emit.h"
#include "options.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "tenant.h"

/* ResourceGroup.AssignToTenant and ReturnToParent: members moved out of a
 * pool into a tenant's own group (the model's tenant_assign) and back. */

static int map_error(int r, const char *msg, sd_bus_error *error) {
        const char *name = r == -ENOSPC ? BUS_ERROR_INSUFFICIENT_DEVICES
                         : r == -ENOENT ? BUS_ERROR_NOT_FOUND
                         : r == -EBUSY  ? BUS_ERROR_BUSY
                         : r == -EINVAL ? BUS_ERROR_INVALID_ARGUMENT
                         : r == -EEXIST ? BUS_ERROR_EXISTS : BUS_ERROR_FAILED;

        if (r == -ENOMEM)
                return r;
        return sd_bus_error_setf(error, name, "%s", msg ?: "Cannot do this.");
}

static void emit_group(Bus *b, const ResourceGroup *g, int kind) {
        _cleanup_free_ char *path = bus_resource_group_path(g);
        const char *ifaces[8];

        if (!path)
                return;
        if (kind > 0)
                (void) emitter_added(b->emitter, path);
        else if (kind < 0) {
                bus_object_interfaces(ifaces, BUS_INTERFACES("org.hostdev1.ResourceGroup"));
                (void) emitter_removed(b->emitter, path, ifaces);
        } else
                (void) emitter_changed(b->emitter, path, OBJECT_RESOURCE_GROUP, RG_FIELD_DEVICES);
}

/* count: AssignToTenant's, 0 for ReturnToParent. Like a claim by count,
 * an assignment is asked about by "count": the members are picked once it
 * is authorized, from what is free then. */
static int tenant_checks(PolkitChecks *c, const ResourceGroup *g, const char *tenant, unsigned count,
                         const char *message) {
        char **extra = polkit_details_new("tenant", tenant, NULL), n[16];

        snprintf(n, sizeof n, "%u", count);
        if (!extra || polkit_details_add(&extra, "count", count > 0 ? n : NULL) < 0) {
                strv_free(extra);
                return -ENOMEM;
        }
        return polkit_checks_for_group(c, g, extra, message);
}

/* Are there enough free members now? Refused input never reaches polkit. */
static int selection_check(Daemon *d, const ResourceGroup *g, const ClaimRequest *q, char **ret_error) {
        _cleanup_(member_list_done) MemberList l = {};
        _cleanup_free_ const Member **picked = NULL;
        size_t n = 0;
        int r;

        r = resource_group_members(&d->resources, &d->inventory, &d->claims, g, &l);
        if (r >= 0)
                r = claim_select(&l, &d->inventory, q, &picked, &n, ret_error);
        return r;
}

int bus_method_assign_to_tenant(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        const ResourceGroup *parent = bus_resource_group_from_path(b, sd_bus_message_get_path(m));
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ char *msg = NULL, *name = NULL, *path = NULL;
        _cleanup_strv_free_ char **device_paths = NULL, **addresses = NULL;
        ClaimRequest request = CLAIM_REQUEST_INIT;
        bool no_interaction = false;
        const OptionSpec spec[] = {
                { "devices", OPTION_OBJECTS, &device_paths },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        char hex[SD_ID128_STRING_MAX], id[SD_ID128_STRING_MAX + 1];
        sd_id128_t rnd;
        ResourceGroup *g = NULL;
        const char *tenant;
        uint32_t count;
        int r;

        if (!parent)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The resource group is gone.");
        if (parent->type == RESOURCE_VGPU)
                /* Its instances are made when claimed: nothing to set aside. */
                return sd_bus_error_setf(error, BUS_ERROR_NOT_SUPPORTED, "%s is a vgpu group: its instances are "
                                         "made when claimed, so there are no members to move to a tenant. "
                                         "Make the tenant a vgpu group of its own.", parent->name);
        r = sd_bus_message_read(m, "su", &tenant, &count);
        if (r < 0)
                return r;
        r = bus_read_options(m, spec, ELEMENTSOF(spec), parent->type, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if ((r = tenant_validate(tenant, &msg)) < 0 || (r = claim_count_validate(count, &msg)) < 0)
                return map_error(r, msg, error);
        if (device_paths) {
                r = bus_devices_option(d, device_paths, &addresses, error);
                if (r < 0 || sd_bus_error_is_set(error))
                        return r;
                request.devices = (const char *const *) addresses;
                request.n_devices = strv_length(addresses);
        }
        request.count = count;
        r = selection_check(d, parent, &request, &msg);
        if (r < 0)
                return map_error(r, msg, error);
        free(msg);
        if (asprintf(&msg, "Authentication is required to assign %u devices of '%s' to the tenant '%s'.", count,
                     parent->name, tenant) < 0)
                return -ENOMEM;
        r = tenant_checks(&checks, parent, tenant, count, msg);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = sd_id128_randomize(&rnd);
        if (r < 0)
                return r;
        snprintf(id, sizeof id, "g%s", sd_id128_to_string(rnd, hex));
        name = tenant_group_name(&d->resources, parent, tenant);
        if (!name)
                return -ENOMEM;
        free(msg);
        msg = NULL;
        r = tenant_assign(&d->resources, &d->inventory, &d->claims, parent, tenant, id, name, &request, &g, &msg);
        if (r < 0)
                return map_error(r, msg, error);
        r = daemon_save(d);
        if (r < 0) {
                resource_group_free(resource_set_take(&d->resources, g->id));
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "Cannot save the state: %s", strerror(-r));
        }
        path = bus_resource_group_path(g);
        if (!path)
                return -ENOMEM;
        log_info("Resource group '%s' (%s) made for tenant '%s' from '%s'.", g->name, g->id, tenant, parent->name);
        emit_group(b, g, 1);
        emit_group(b, parent, 0);
        daemon_update_memberships(d);
        return sd_bus_reply_method_return(m, "o", path);
}

int bus_method_return_to_parent(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        ResourceGroup *g = bus_resource_group_from_path(b, sd_bus_message_get_path(m));
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_(resource_group_freep) ResourceGroup *taken = NULL;
        _cleanup_free_ char *msg = NULL;
        bool no_interaction = false;
        const OptionSpec spec[] = {
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        const ResourceGroup *parent;
        size_t position = 0;
        int r;

        if (!g)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The resource group is gone.");
        r = bus_read_options(m, spec, ELEMENTSOF(spec), g->type, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (!resource_group_is_tenant(g))
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "'%s' is no tenant's group: there is no parent to return to.", g->name);
        if (asprintf(&msg, "Authentication is required to take the devices of '%s' back from the tenant '%s'.",
                     g->name, g->tenant) < 0)
                return -ENOMEM;
        r = tenant_checks(&checks, g, g->tenant, 0, msg);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        while (position < d->resources.n_groups && d->resources.groups[position] != g)
                position++;
        free(msg);
        msg = NULL;
        r = tenant_return(&d->resources, &d->inventory, &d->claims, g->id, &taken, &msg);
        if (r < 0)
                return map_error(r, msg, error);
        r = daemon_save(d);
        if (r < 0) {
                resource_set_insert(&d->resources, TAKE_PTR(taken), position);
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "Cannot save the state: %s", strerror(-r));
        }
        daemon_forget_group(d, taken);
        emit_group(b, taken, -1);
        parent = resource_set_find_id(&d->resources, taken->parent);
        if (parent)
                emit_group(b, parent, 0);
        log_info("Resource group '%s' (%s) returned to its parent.", taken->name, taken->id);
        daemon_update_memberships(d);
        return sd_bus_reply_method_return(m, NULL);
}

int bus_append_parent(sd_bus_message *reply, Bus *b, const ResourceGroup *g) {
        const ResourceGroup *parent = isempty(g->parent) ? NULL : resource_set_find_id(&b->daemon->resources, g->parent);
        _cleanup_free_ char *p = parent ? bus_resource_group_path(parent) : strdup("/");

        if (!p)
                return -ENOMEM;
        return sd_bus_message_append(reply, "o", p);
}
