/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"

int bus_device_register(Daemon *d);
int bus_group_register(Daemon *d);
int bus_resource_group_register(Daemon *d);

const BusInterface bus_interfaces[] = {
        { "org.hostdev1.Manager", manager_vtable },
        { "org.hostdev1.Device", device_vtable },
        { "org.hostdev1.PciDevice", pci_device_vtable },
        { "org.hostdev1.SriovPhysicalFunction", sriov_vtable },
        { "org.hostdev1.UsbDevice", usb_device_vtable },
        { "org.hostdev1.IommuGroup", iommu_group_vtable },
        { "org.hostdev1.ResourceGroup", resource_group_vtable },
};
const size_t bus_n_interfaces = ELEMENTSOF(bus_interfaces);

static const sd_bus_vtable *find_method(const char *interface, const char *member) {
        for (size_t i = 0; i < bus_n_interfaces; i++) {
                if (!streq(bus_interfaces[i].interface, interface))
                        continue;
                for (const sd_bus_vtable *v = bus_interfaces[i].vtable; v->type != _SD_BUS_VTABLE_END; v++)
                        if (v->type == _SD_BUS_VTABLE_METHOD && streq(v->x.method.member, member))
                                return v;
        }
        return NULL;
}

/* The one dispatch gate: every call passes here before sd-bus looks for
 * its handler. A method that is neither read-only nor guarded by a polkit
 * action is refused (deny by default, like bolt's bouncer), so a handler
 * that forgot to ask polkit is never reached. Unknown methods are left to
 * sd-bus, which answers UnknownMethod. */
static int gate(sd_bus_message *m, const char *interface, const char *member) {
        bool ours = startswith(interface, "org.hostdev1.");

        if (ours && !find_method(interface, member))
                return 0;
        if (bus_polkit_gate(interface, member) != POLKIT_GATE_DENIED)
                return 0;
        log_warning("Refused %s.%s from %s: no authorization rule.", interface, member,
                    sd_bus_message_get_sender(m) ?: "?");
        (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED,
                                          ours ? "%s.%s has no authorization rule; refusing."
                                               : "%s.%s: nothing here can be changed this way; refusing.",
                                          interface, member);
        return 1;
}

/* sd-bus answers a call with the wrong argument types with the generic
 * org.freedesktop.DBus.Error.InvalidArgs; our contract promises
 * org.hostdev1.Error.InvalidArgument, so catch those calls first. */
static int check_signature(sd_bus_message *m, const char *interface, const char *member) {
        const char *signature;
        const sd_bus_vtable *v;

        if (!startswith(interface, "org.hostdev1."))
                return 0;
        v = find_method(interface, member);
        if (!v)
                return 0;
        signature = strempty(sd_bus_message_get_signature(m, true));
        if (streq(signature, strempty(v->x.method.signature)))
                return 0;

        (void) sd_bus_reply_method_errorf(m, BUS_ERROR_INVALID_ARGUMENT,
                                          "%s.%s takes arguments of type '%s', not '%s'.",
                                          interface, member, strempty(v->x.method.signature), signature);
        return 1;
}

static int filter(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *interface, *member;

        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        interface = sd_bus_message_get_interface(m);
        member = sd_bus_message_get_member(m);
        if (!member)
                return 0;
        /* Without an interface the call could reach any method of that
         * name: refuse it unless no interface guards one. */
        if (!interface) {
                for (size_t i = 0; i < bus_n_interfaces; i++)
                        if (bus_polkit_gate(bus_interfaces[i].interface, member) == POLKIT_GATE_GUARDED) {
                                (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED,
                                                                  "%s needs an interface name; refusing.",
                                                                  member);
                                return 1;
                        }
                return 0;
        }
        return gate(m, interface, member) ?: check_signature(m, interface, member);
}

void bus_object_interfaces(const char *ret[static 8], const char *const *own) {
        size_t n = 0;

        ret[n++] = "org.freedesktop.DBus.Peer";
        ret[n++] = "org.freedesktop.DBus.Introspectable";
        ret[n++] = "org.freedesktop.DBus.Properties";
        for (; own && *own && n < 7; own++)
                ret[n++] = *own;
        ret[n] = NULL;
}

int bus_register(Daemon *d) {
        int r;

        r = sd_bus_add_filter(d->bus, NULL, filter, d);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(d->bus, NULL, BUS_PATH, "org.hostdev1.Manager", manager_vtable, d);
        if (r < 0)
                return r;
        r = sd_bus_add_object_manager(d->bus, NULL, BUS_PATH);
        if (r < 0)
                return r;
        r = bus_device_register(d);
        if (r < 0)
                return r;
        r = bus_group_register(d);
        if (r < 0)
                return r;
        return bus_resource_group_register(d);
}
