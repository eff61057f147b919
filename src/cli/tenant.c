/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * "tenant assign|return": members of a resource group moved into a new
 * group a tenant owns (thick provisioning), and given back.
 */

#include "hostdevctl.h"

static int append_assign_options(sd_bus_message *m, char **devices) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && devices)
                r = hd_append_devices_option(m, devices);
        if (r < 0)
                return r;
        return hd_close_options(m, arg_ask_password);
}

/* ResourceGroup.AssignToTenant; prints the new group as "group show" does. */
static int tenant_assign(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        _cleanup_strv_free_ char **devices = NULL;
        _cleanup_free_ char *path = NULL;
        HdResourceGroup *g;
        const char *p;
        int r;

        if (isempty(argv[2])) {
                log_error("tenant assign: the tenant must not be empty.");
                return EXIT_USAGE;
        }
        if (fetch_resource_group(argv[1], &bus, &h, &g) < 0)
                return EXIT_FAILURE;
        if (arg_devices && resolve_device_options(bus, &devices) < 0)
                return EXIT_FAILURE;
        if (hd_new_call(bus, &m, g->path, HOSTDEV_RESOURCE_GROUP_INTERFACE, "AssignToTenant", arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_append(m, "su", argv[2], requested_count());
        if (r >= 0)
                r = append_assign_options(m, devices);
        if (r < 0)
                return exit_message_error(r);

        if (hd_call(bus, m, &reply) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0 || !(path = strdup(p)))
                return exit_message_error(r < 0 ? r : -ENOMEM);
        return show_resource_group_path(bus, path);
}

/* ResourceGroup.ReturnToParent: the tenant's group goes away, its members back to the parent. */
static int tenant_return(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        HdResourceGroup *g;
        int r;

        if (fetch_resource_group(argv[1], &bus, &h, &g) < 0)
                return EXIT_FAILURE;
        if (isempty(g->tenant)) {
                log_error("Resource group '%s' belongs to no tenant: there is no parent to return it to.",
                          strdash(g->name));
                return EXIT_FAILURE;
        }
        if (hd_new_call(bus, &m, g->path, HOSTDEV_RESOURCE_GROUP_INTERFACE, "ReturnToParent", arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);
        return hd_call(bus, m, NULL) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

const Verb tenant_verbs[] = {
        { "assign", "GROUP TENANT", 2, 2, OPT_COUNT | OPT_DEVICE, tenant_assign,
          "Move members of a resource group into a new group of a tenant" },
        { "return", "GROUP",        1, 1, 0,                      tenant_return,
          "Give a tenant's group back to the group it came from" },
};
const size_t n_tenant_verbs = ELEMENTSOF(tenant_verbs);

int verb_tenant(int argc, char *argv[]) {
        if (argc <= 1) {
                log_error("tenant: missing command: assign or return.");
                return EXIT_USAGE;
        }
        return dispatch_verb(tenant_verbs, n_tenant_verbs, "tenant ", argc - 1, argv + 1);
}
