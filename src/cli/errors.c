/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "errors.h"
#include "hostdevctl.h"

#define ERROR_PREFIX "org.hostdev1.Error."
#define ACTION_PREPARE "org.hostdev1.prepare-devices"
#define ACTION_MANAGE_GROUPS "org.hostdev1.manage-resource-groups"
#define ACTION_OVERRIDE_CRITICAL "org.hostdev1.override-critical"
#define ACTION_CLAIM "org.hostdev1.claim-devices"
#define ACTION_ASSIGN_TENANT "org.hostdev1.assign-tenant"

static char command[64] = "hostdevctl";

void error_set_command(const char *prefix, const char *name) {
        snprintf(command, sizeof(command), "%s%s", prefix, name);
}

const char *error_command(void) {
        return command;
}

const char *method_action(const char *interface, const char *member) {
        static const struct {
                const char *interface, *member, *action;
        } table[] = {
                { HOSTDEV_MANAGER_INTERFACE,        "Prepare",             ACTION_PREPARE       },
                { HOSTDEV_MANAGER_INTERFACE,        "Release",             ACTION_PREPARE       },
                { HOSTDEV_RESOURCE_GROUP_INTERFACE, "Prepare",             ACTION_PREPARE       },
                { HOSTDEV_RESOURCE_GROUP_INTERFACE, "Release",             ACTION_PREPARE       },
                { HOSTDEV_MANAGER_INTERFACE,        "CreateResourceGroup", ACTION_MANAGE_GROUPS },
                { HOSTDEV_MANAGER_INTERFACE,        "MakeResource",        ACTION_MANAGE_GROUPS },
                { HOSTDEV_RESOURCE_GROUP_INTERFACE, "Update",              ACTION_MANAGE_GROUPS },
                { HOSTDEV_RESOURCE_GROUP_INTERFACE, "SetRules",            ACTION_MANAGE_GROUPS },
                { HOSTDEV_RESOURCE_GROUP_INTERFACE, "Delete",              ACTION_MANAGE_GROUPS },
                { HOSTDEV_RESOURCE_GROUP_INTERFACE, "Claim",               ACTION_CLAIM         },
                { HOSTDEV_CLAIM_INTERFACE,          "Release",             ACTION_CLAIM         },
                { HOSTDEV_RESOURCE_GROUP_INTERFACE, "AssignToTenant",      ACTION_ASSIGN_TENANT },
                { HOSTDEV_RESOURCE_GROUP_INTERFACE, "ReturnToParent",      ACTION_ASSIGN_TENANT },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq_ptr(interface, table[i].interface) && streq_ptr(member, table[i].member))
                        return table[i].action;
        return NULL;
}

static bool is_not_running(const sd_bus_error *error) {
        return sd_bus_error_has_name(error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               sd_bus_error_has_name(error, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

static void log_not_running(void) {
        log_error("hostdevd is not running. Start it with 'systemctl start hostdevd'.");
}

void log_bus_error(const sd_bus_error *error, int r, const char *what) {
        if (is_not_running(error))
                log_not_running();
        else if (sd_bus_error_is_set(error))
                log_error("%s: %s", what, error->message ? error->message : error->name);
        else
                log_error("%s: %s", what, strerror(-r));
}

void log_lookup_error(const sd_bus_error *error, int r, const char *address) {
        if (sd_bus_error_has_name(error, ERROR_PREFIX "NotFound"))
                log_error("No device at %s. 'hostdevctl list' shows the addresses.", address);
        else
                log_bus_error(error, r, "Failed to look up device");
}

/* The object paths of the devices a Prepare or Release was about: its
 * "ao" for the manager, the members for a resource group. */
static char **call_devices(const HdHost *h, sd_bus_message *m) {
        char **paths = NULL;

        if (streq_ptr(sd_bus_message_get_interface(m), HOSTDEV_RESOURCE_GROUP_INTERFACE)) {
                const HdResourceGroup *g = hd_host_find_resource_group(h, sd_bus_message_get_path(m));

                for (char **p = g ? g->devices : NULL; p && *p; p++)
                        if (strv_extend(&paths, *p) < 0)
                                return strv_free(paths);
                return paths;
        }
        if (sd_bus_message_rewind(m, true) < 0 || sd_bus_message_read_strv(m, &paths) < 0)
                return NULL;
        return paths;
}

static bool in_group_of(const HdHost *h, const HdDevice *d, char **paths) {
        for (char **p = paths; p && *p; p++) {
                const HdDevice *x = hd_host_find_device(h, *p);

                if (streq(*p, d->path) ||
                    (x && !isempty(x->iommu_group) && !streq(x->iommu_group, "/") &&
                     streq_ptr(x->iommu_group, d->iommu_group)))
                        return true;
        }
        return false;
}

/* "0000:07:00.0 (holds /), 0000:08:00.0 (shares IOMMU group 9 with ...)": the
 * critical devices the call would take, with their first reason. */
static char *critical_involved(const HdHost *h, sd_bus_message *m) {
        _cleanup_strv_free_ char **paths = call_devices(h, m), **items = NULL;

        for (size_t i = 0; i < h->n_devices; i++) {
                const HdDevice *d = h->devices[i];
                _cleanup_free_ char *item = NULL;

                /* PCI-to-PCI bridges stay with the host: they are not what the change takes. */
                if (!d->critical || !in_group_of(h, d, paths) ||
                    (d->is_pci && ((d->class >> 8) == 0x0604 || (d->class >> 8) == 0x0609)))
                        continue;
                if (asprintf(&item, "%s (%s)", d->address,
                             !strv_isempty(d->critical_reasons) && d->critical_reasons[1] ? d->critical_reasons[1]
                                                                                           : "critical") < 0 ||
                    strv_extend(&items, item) < 0)
                        return NULL;
        }
        return strv_join(items, ", ");
}

static void log_critical(sd_bus *bus, sd_bus_message *m) {
        _cleanup_host_free_ HdHost *h = NULL;
        _cleanup_free_ char *devices = NULL;

        if (hd_host_fetch(bus, &h) >= 0)
                devices = critical_involved(h, m);
        log_error("The host needs %s. Add --override-critical to %s anyway "
                  "(it asks for " ACTION_OVERRIDE_CRITICAL " every time).",
                  isempty(devices) ? "a device of this change" : devices, command);
}

/* The IOMMU is off: the host says why in IommuMessage. */
static void log_not_supported(sd_bus *bus, const sd_bus_error *error) {
        _cleanup_host_free_ HdHost *h = NULL;

        if (hd_host_fetch(bus, &h) >= 0 && !h->iommu_enabled)
                log_error("Cannot %s: the IOMMU is off. %s", command, strdash(h->iommu_message));
        else
                log_error("Cannot %s: %s", command, error->message ? error->message : error->name);
}

/* The actions of a call, "A" or "A and B". */
static void call_actions(sd_bus_message *m, char *buf, size_t size) {
        const char *action = method_action(sd_bus_message_get_interface(m), sd_bus_message_get_member(m));

        if (arg_override_critical && streq_ptr(sd_bus_message_get_member(m), "Prepare"))
                snprintf(buf, size, "%s and " ACTION_OVERRIDE_CRITICAL, strna(action));
        else
                snprintf(buf, size, "%s", strna(action));
}

/* The group name a call sent: CreateResourceGroup(s name, ...), MakeResource(ao, s name, ...), or --name. */
static const char *call_group_name(sd_bus_message *m) {
        const char *member = sd_bus_message_get_member(m), *name = NULL;

        if (arg_name)
                return arg_name;
        if (sd_bus_message_rewind(m, true) < 0)
                return NULL;
        if (streq_ptr(member, "MakeResource") && sd_bus_message_skip(m, "ao") < 0)
                return NULL;
        if (sd_bus_message_read_basic(m, 's', &name) < 0)
                return NULL;
        return name;
}

/* Claim, Claim.Release, AssignToTenant, ReturnToParent: the calls about claims and tenants. */
static bool is_claim_call(sd_bus_message *m) {
        const char *member = sd_bus_message_get_member(m);

        return streq_ptr(sd_bus_message_get_interface(m), HOSTDEV_CLAIM_INTERFACE) ||
               streq_ptr(member, "Claim") || streq_ptr(member, "AssignToTenant") ||
               streq_ptr(member, "ReturnToParent");
}

/* The errors of claims and tenants; false when the error is none of theirs. */
static bool log_claim_error(sd_bus_message *m, const sd_bus_error *error) {
        const char *detail = error->message ? error->message : error->name;

        if (!is_claim_call(m))
                return false;
        if (sd_bus_error_has_name(error, ERROR_PREFIX "InsufficientDevices"))
                log_error("%s: not enough free members. %s 'hostdevctl claims' shows what is claimed.", command,
                          detail);
        else if (sd_bus_error_has_name(error, ERROR_PREFIX "Busy"))
                log_error("Cannot %s now: %s", command, detail);
        else if (sd_bus_error_has_name(error, ERROR_PREFIX "NotFound") &&
                 streq_ptr(sd_bus_message_get_interface(m), HOSTDEV_CLAIM_INTERFACE)) {
                /* Released meanwhile: the claim's id is the last element of its path. */
                const char *path = sd_bus_message_get_path(m), *slash = path ? strrchr(path, '/') : NULL;

                log_error("No claim %s. 'hostdevctl claims' shows them.", slash ? slash + 1 : strna(path));
        } else if (sd_bus_error_has_name(error, ERROR_PREFIX "CriticalDevice") ||
                 sd_bus_error_has_name(error, ERROR_PREFIX "GroupNotViable"))
                /* Claim takes no --override-critical: the daemon's reason is all there is to say. */
                log_error("%s: %s", command, detail);
        else
                return false;
        return true;
}

void log_call_error(sd_bus *bus, sd_bus_message *m, const sd_bus_error *error, int r) {
        char actions[160];

        if (!sd_bus_error_is_set(error)) {
                log_error("Failed to %s: %s", command, strerror(-r));
                return;
        }
        call_actions(m, actions, sizeof(actions));

        if (is_not_running(error))
                log_not_running();
        else if (sd_bus_error_has_name(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                log_error("%s needs authorization for %s, and --no-ask-password forbids asking. "
                          "Run it as root, or without --no-ask-password where a polkit agent can ask.",
                          command, actions);
        else if (sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED))
                log_error("Not authorized to %s: polkit refused %s. "
                          "An administrator can allow it with a polkit rule.", command, actions);
        else if (log_claim_error(m, error))
                return;
        else if (sd_bus_error_has_name(error, ERROR_PREFIX "CriticalDevice"))
                log_critical(bus, m);
        else if (sd_bus_error_has_name(error, ERROR_PREFIX "Exists"))
                log_error("A resource group named %s exists already. Choose another name.",
                          strna(call_group_name(m)));
        else if (sd_bus_error_has_name(error, ERROR_PREFIX "Busy") &&
                 (streq_ptr(sd_bus_message_get_member(m), "Prepare") ||
                  streq_ptr(sd_bus_message_get_member(m), "Release")))
                /* For resource groups Busy means a device is in another group: the detail says which. */
                log_error("Cannot %s now: another change holds its devices. Try again when it is done.", command);
        else if (sd_bus_error_has_name(error, ERROR_PREFIX "NotSupported"))
                log_not_supported(bus, error);
        else
                /* InvalidArgument, NotFound, Failed: the daemon's message is the detail. */
                log_error("%s: %s", command, error->message ? error->message : error->name);
}
