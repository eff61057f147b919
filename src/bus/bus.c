/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "object-manager.h"
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

/* sd-bus answers a call with the wrong argument types with the generic
 * org.freedesktop.DBus.Error.InvalidArgs; our contract promises
 * org.hostdev1.Error.InvalidArgument, so catch those calls first. */
static int filter_signature(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *interface, *member, *signature;
        const sd_bus_vtable *v;

        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        interface = sd_bus_message_get_interface(m);
        member = sd_bus_message_get_member(m);
        if (!interface || !member || !startswith(interface, "org.hostdev1."))
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

void bus_object_interfaces(const char *ret[static 8], const char *const *own) {
        size_t n = 0;

        for (; own && *own && n < 7; own++)
                ret[n++] = *own;
        ret[n] = NULL;
}

int bus_register(Daemon *d) {
        int r;

        r = sd_bus_add_filter(d->bus, NULL, filter_signature, d);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(d->bus, NULL, BUS_PATH, "org.hostdev1.Manager", manager_vtable, d);
        if (r < 0)
                return r;
        r = sd_bus_add_object_manager(d->bus, NULL, BUS_PATH);
        if (r < 0)
                return r;
        r = bus_object_manager_register(d);
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
