/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bus.h"
#include "claim.h"
#include "options.h"
#include "polkit.h"
#include "shared/macro.h"

static int get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", VERSION);
}

static int get_iommu_enabled(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;

        return sd_bus_message_append(reply, "b", (int) d->iommu_enabled);
}

static int get_iommu_message(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;

        return sd_bus_message_append(reply, "s", strempty(d->iommu_message));
}

static int method_get_device(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        _cleanup_free_ char *address = NULL;
        const char *s;
        char buf[48], p[BUS_DEVICE_PATH_MAX];
        Device *dev;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;

        if (strlen(s) > ADDRESS_MAX)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "Address is too long (%zu bytes): a device address has at most %d.",
                                         strlen(s), ADDRESS_MAX);
        r = address_parse(s, NULL, &address);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "'%s' is not a device address: expected a PCI address "
                                         "such as 0000:01:00.0 or 01:00.0, or a USB port path such as 3-1.2.",
                                         bus_excerpt(s, buf));

        dev = inventory_get(&d->inventory, address);
        if (!dev)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "No device at %s.", address);

        return sd_bus_reply_method_return(m, "o", bus_device_path(dev, p));
}

static int method_create_resource_group(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        _cleanup_free_ char *description = NULL, *class_hint = NULL, *path = NULL;
        _cleanup_(rule_list_done) RuleList rules = {};
        const char *name, *type_name;
        bool no_interaction = false;
        ResourceGroup *g = NULL;
        ResourceType type;
        char buf[48];
        int r;
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        const OptionSpec spec[] = {
                { "description", OPTION_STRING, &description },
                { "class", OPTION_STRING, &class_hint },
                { "rules", OPTION_RULES, &rules },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };

        r = sd_bus_message_read(m, "ss", &name, &type_name);
        if (r < 0)
                return r;
        type = resource_type_from_string(type_name);
        if (type < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "Unknown resource group type '%s': expected pci, usb, sriov-nic or vgpu.",
                                         bus_excerpt(type_name, buf));
        r = bus_read_options(m, spec, ELEMENTSOF(spec), type, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        r = bus_resource_group_check_new(d, name, type, description, class_hint, &rules, error);
        if (r < 0)
                return r;

        r = polkit_checks_for_new_group(&checks, &d->inventory, name, type, &rules);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = bus_resource_group_create(b, name, type, description, class_hint, &rules, &g, error);
        if (r < 0)
                return r;
        path = bus_resource_group_path(g);
        if (!path)
                return -ENOMEM;
        return sd_bus_reply_method_return(m, "o", path);
}

static int method_make_resource(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        _cleanup_free_ const Device **devs = NULL, **companions = NULL;
        _cleanup_free_ char *description = NULL, *class_hint = NULL, *addresses = NULL, *msg = NULL, *msg2 = NULL,
                            *path = NULL;
        _cleanup_(rule_list_done) RuleList rules = {};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        bool no_interaction = false, include = false;
        size_t n = 0, n_companions = 0;
        char p[BUS_DEVICE_PATH_MAX];
        ResourceGroup *g = NULL;
        ResourceType type;
        const char *name;
        int r;
        const OptionSpec spec[] = {
                { "description", OPTION_STRING, &description },
                { "class", OPTION_STRING, &class_hint },
                { "include-companions", OPTION_BOOLEAN, &include },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };

        r = bus_read_devices(d, m, &devs, &n, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = bus_read_options(m, spec, ELEMENTSOF(spec), RESOURCE_PCI, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;

        r = resource_companions(&d->inventory, devs, n, &companions, &n_companions);
        if (r < 0)
                return r;
        if (include && n_companions > 0) {
                const Device **t = realloc(devs, (n + n_companions) * sizeof(Device *));
                if (!t)
                        return -ENOMEM;
                devs = t;
                memcpy(devs + n, companions, n_companions * sizeof(Device *));
                n += n_companions;
                n_companions = 0;
        }
        r = resource_make_rules(devs, n, &type, &rules.rules, &rules.n_rules, &msg);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", msg ?: "Cannot make a resource.");
        r = bus_resource_group_check_new(d, name, type, description, class_hint, &rules, error);
        if (r < 0)
                return r;

        addresses = bus_join_addresses(devs, n);
        if (!addresses || asprintf(&msg2, "Authentication is required to make a resource group '%s' of %s.",
                                   name, addresses) < 0)
                return -ENOMEM;
        r = polkit_checks_for_devices(&checks, devs, n, NULL, false, msg2);
        for (size_t i = 0; r >= 0 && i < checks.n; i++)
                r = polkit_details_add(&checks.details[i], "resource-group-name", name);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = bus_resource_group_create(b, name, type, description, class_hint, &rules, &g, error);
        if (r < 0)
                return r;

        path = bus_resource_group_path(g);
        if (!path)
                return -ENOMEM;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "o", path);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "o");
        for (size_t i = 0; r >= 0 && i < n_companions; i++)
                r = sd_bus_message_append(reply, "o", bus_device_path(companions[i], p));
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int prepare_or_release(sd_bus_message *m, void *userdata, sd_bus_error *error, bool prepare) {
        Bus *b = userdata;
        _cleanup_free_ const Device **devs = NULL;
        size_t n = 0;
        int r;

        r = bus_read_devices(b->daemon, m, &devs, &n, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        return bus_prepare_release(b, m, devs, n, prepare, error);
}

static int method_prepare(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return prepare_or_release(m, userdata, error, true);
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return prepare_or_release(m, userdata, error, false);
}

static int get_reboot_required(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;

        return sd_bus_message_append(reply, "b", (int) (d->reboot.reasons && d->reboot.reasons[0]));
}

static int append_pairs(sd_bus_message *reply, char **pairs) {
        int r = sd_bus_message_open_container(reply, 'a', "(ss)");

        for (size_t i = 0; r >= 0 && pairs && pairs[i] && pairs[i + 1]; i += 2)
                r = sd_bus_message_append(reply, "(ss)", pairs[i], pairs[i + 1]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int get_reboot_reasons(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;

        return bus_append_reboot_reasons(reply, d);
}

static int get_critical(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        char p[BUS_DEVICE_PATH_MAX];
        Device *dev;
        size_t i = 0;
        int r = sd_bus_message_open_container(reply, 'a', "o");

        while (r >= 0 && hashmap_iterate(d->inventory.devices, &i, (void **) &dev, NULL))
                if (dev->critical)
                        r = sd_bus_message_append(reply, "o", bus_device_path(dev, p));
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int get_converged(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;

        return sd_bus_message_append(reply, "b", (int) d->converged);
}

static int get_converge_problems(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;

        return append_pairs(reply, d->converge_problems);
}

static int get_claims(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_claims(reply, userdata);
}

const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IommuEnabled", "b", get_iommu_enabled, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IommuMessage", "s", get_iommu_message, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RebootRequired", "b", get_reboot_required, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RebootReasons", "a(ss)", get_reboot_reasons, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Converged", "b", get_converged, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Critical", "ao", get_critical, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ConvergeProblems", "a(ss)", get_converge_problems, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Claims", "ao", get_claims, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GetDevice",
                                SD_BUS_ARGS("s", address),
                                SD_BUS_RESULT("o", device),
                                method_get_device,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateResourceGroup",
                                SD_BUS_ARGS("s", name, "s", type, "a{sv}", options),
                                SD_BUS_RESULT("o", group),
                                method_create_resource_group,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MakeResource",
                                SD_BUS_ARGS("ao", devices, "s", name, "a{sv}", options),
                                SD_BUS_RESULT("o", group, "ao", companions),
                                method_make_resource,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Prepare",
                                SD_BUS_ARGS("ao", devices, "a{sv}", options),
                                SD_BUS_RESULT("a(ssss)", plan),
                                method_prepare,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Release",
                                SD_BUS_ARGS("ao", devices, "a{sv}", options),
                                SD_BUS_RESULT("a(ssss)", plan),
                                method_release,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("DeviceMoved",
                                SD_BUS_ARGS("o", group, "s", serial, "s", old_address, "s", new_address),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("ClaimReleased",
                                SD_BUS_ARGS("o", claim, "s", reason),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("RebootRequiredChanged",
                                SD_BUS_ARGS("b", required, "a(ss)", reasons),
                                0),
        SD_BUS_VTABLE_END,
};
