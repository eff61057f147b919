/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "claim.h"
#include "shared/strv.h"
#include "model/resource.h"
#include "model/usb-member.h"
#include "shared/macro.h"

/* Getters append with sd_bus_message_append_basic(), not a format string:
 * GetManagedObjects runs them for every property of every device. */
#define DEVICE_STRING_GETTER(name, type, expr)                                                    \
        static int name(sd_bus *bus, const char *path, const char *interface, const char *property, \
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {            \
                const Device *d = userdata;                                                      \
                return sd_bus_message_append_basic(reply, type, (expr));                         \
        }
#define DEVICE_VALUE_GETTER(name, type, ctype, expr)                                             \
        static int name(sd_bus *bus, const char *path, const char *interface, const char *property, \
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {            \
                const Device *d = userdata;                                                      \
                const ctype v = (expr);                                                          \
                return sd_bus_message_append_basic(reply, type, &v);                             \
        }

DEVICE_STRING_GETTER(get_kind, 's', device_kind_to_string(d->kind));
DEVICE_STRING_GETTER(get_address, 's', d->address);
DEVICE_STRING_GETTER(get_syspath, 's', strempty(d->syspath));
DEVICE_VALUE_GETTER(get_vendor_id, 'q', uint16_t, d->vendor_id);
DEVICE_VALUE_GETTER(get_product_id, 'q', uint16_t, d->product_id);
DEVICE_STRING_GETTER(get_vendor_name, 's', strempty(d->vendor_name));
DEVICE_STRING_GETTER(get_product_name, 's', strempty(d->product_name));
DEVICE_STRING_GETTER(get_serial, 's', strempty(d->serial));
DEVICE_STRING_GETTER(get_driver, 's', strempty(d->driver));
DEVICE_VALUE_GETTER(get_numa_node, 'i', int32_t, d->numa_node);
/* The claims the getters below consult: a device's userdata is the Device,
 * which does not know its claim. One Bus per process sets it at registration. */
static const ClaimSet *device_claims;

static int get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;
        const char *s = device_claims && claim_set_find_device_holder(device_claims, d)
                ? "claimed" : device_state_to_string(device_state(d));

        return sd_bus_message_append_basic(reply, 's', s);
}

static int get_claim(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;
        const Claim *c = device_claims ? claim_set_find_device_holder(device_claims, d) : NULL;
        _cleanup_free_ char *p = c ? bus_claim_path(c) : NULL;

        if (c && !p)
                return -ENOMEM;
        return sd_bus_message_append_basic(reply, 'o', p ?: "/");
}
DEVICE_VALUE_GETTER(get_critical, 'b', int, (int) !!d->critical);

static int get_critical_reasons(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "(ss)");

        for (size_t i = 0; r >= 0 && d->critical && d->critical[i] && d->critical[i + 1]; i += 2)
                r = sd_bus_message_append(reply, "(ss)", d->critical[i], d->critical[i + 1]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int get_resource_group(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;
        _cleanup_free_ char *p = d->resource_group ? bus_resource_group_path(d->resource_group) : NULL;

        if (d->resource_group && !p)
                return -ENOMEM;
        return sd_bus_message_append(reply, "o", p ?: "/");
}

DEVICE_VALUE_GETTER(get_class, 'u', uint32_t, d->pci.class);
DEVICE_STRING_GETTER(get_class_name, 's', strempty(d->pci.class_name));
DEVICE_VALUE_GETTER(get_subsystem_vendor_id, 'q', uint16_t, d->pci.subsystem_vendor_id);
DEVICE_VALUE_GETTER(get_subsystem_id, 'q', uint16_t, d->pci.subsystem_id);
DEVICE_STRING_GETTER(get_slot, 's', strempty(d->pci.slot));
DEVICE_STRING_GETTER(get_link_speed, 's', strempty(d->pci.link_speed));
DEVICE_VALUE_GETTER(get_link_width, 'u', uint32_t, d->pci.link_width);
DEVICE_VALUE_GETTER(get_boot_vga, 'b', int, (int) d->pci.boot_vga);
DEVICE_VALUE_GETTER(get_vf_index, 'i', int32_t, d->pci.vf_index);

DEVICE_VALUE_GETTER(get_busnum, 'u', uint32_t, d->usb.busnum);
DEVICE_VALUE_GETTER(get_devnum, 'u', uint32_t, d->usb.devnum);
DEVICE_STRING_GETTER(get_port_path, 's', strempty(d->usb.port_path));
DEVICE_STRING_GETTER(get_speed, 's', strempty(d->usb.speed));
DEVICE_STRING_GETTER(get_devnode, 's', strempty(d->usb.devnode));
DEVICE_VALUE_GETTER(get_authorized, 'b', int, (int) d->usb.authorized);

static int get_iommu_group(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;
        char buf[64];

        if (d->iommu_group < 0)
                return sd_bus_message_append_basic(reply, 'o', "/");
        snprintf(buf, sizeof buf, BUS_PATH "/iommu_group/%d", d->iommu_group);
        return sd_bus_message_append_basic(reply, 'o', buf);
}

static int get_reset_methods(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;

        return sd_bus_message_append_strv(reply, d->pci.reset_methods);
}

static int get_interfaces(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (char **i = d->usb.interfaces; r >= 0 && i && i[0] && i[1] && i[2]; i += 3)
                r = sd_bus_message_append(reply, "(sss)", i[0], i[1], i[2]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int append_pci_path(sd_bus_message *reply, const char *address) {
        _cleanup_free_ char *p = address ? bus_device_path_of(DEVICE_PCI, address) : NULL;

        if (address && !p)
                return -ENOMEM;
        return sd_bus_message_append_basic(reply, 'o', p ?: "/");
}

static int get_physical_function(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Device *d = userdata;

        return append_pci_path(reply, d->pci.physfn);
}

#define CONST SD_BUS_VTABLE_PROPERTY_CONST
#define CHANGE SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

const sd_bus_vtable device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Kind", "s", get_kind, 0, CONST),
        SD_BUS_PROPERTY("Address", "s", get_address, 0, CONST),
        SD_BUS_PROPERTY("SysfsPath", "s", get_syspath, 0, CONST),
        SD_BUS_PROPERTY("VendorId", "q", get_vendor_id, 0, CONST),
        SD_BUS_PROPERTY("ProductId", "q", get_product_id, 0, CONST),
        SD_BUS_PROPERTY("VendorName", "s", get_vendor_name, 0, CONST),
        SD_BUS_PROPERTY("ProductName", "s", get_product_name, 0, CONST),
        SD_BUS_PROPERTY("Serial", "s", get_serial, 0, CONST),
        SD_BUS_PROPERTY("Driver", "s", get_driver, 0, CHANGE),
        SD_BUS_PROPERTY("NumaNode", "i", get_numa_node, 0, CONST),
        SD_BUS_PROPERTY("IommuGroup", "o", get_iommu_group, 0, CONST),
        SD_BUS_PROPERTY("ResourceGroup", "o", get_resource_group, 0, CHANGE),
        SD_BUS_PROPERTY("Claim", "o", get_claim, 0, CHANGE),
        SD_BUS_PROPERTY("State", "s", get_state, 0, CHANGE),
        SD_BUS_PROPERTY("Critical", "b", get_critical, 0, CHANGE),
        SD_BUS_PROPERTY("CriticalReasons", "a(ss)", get_critical_reasons, 0, CHANGE),
        SD_BUS_VTABLE_END,
};

const sd_bus_vtable pci_device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Class", "u", get_class, 0, CONST),
        SD_BUS_PROPERTY("ClassName", "s", get_class_name, 0, CONST),
        SD_BUS_PROPERTY("SubsystemVendorId", "q", get_subsystem_vendor_id, 0, CONST),
        SD_BUS_PROPERTY("SubsystemId", "q", get_subsystem_id, 0, CONST),
        SD_BUS_PROPERTY("Slot", "s", get_slot, 0, CONST),
        SD_BUS_PROPERTY("LinkSpeed", "s", get_link_speed, 0, CHANGE),
        SD_BUS_PROPERTY("LinkWidth", "u", get_link_width, 0, CHANGE),
        SD_BUS_PROPERTY("ResetMethods", "as", get_reset_methods, 0, CHANGE),
        SD_BUS_PROPERTY("BootVga", "b", get_boot_vga, 0, CONST),
        SD_BUS_PROPERTY("PhysicalFunction", "o", get_physical_function, 0, CHANGE),
        SD_BUS_PROPERTY("VirtualFunctionIndex", "i", get_vf_index, 0, CHANGE),
        SD_BUS_VTABLE_END,
};

const sd_bus_vtable usb_device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("BusNumber", "u", get_busnum, 0, CONST),
        SD_BUS_PROPERTY("DeviceNumber", "u", get_devnum, 0, CONST),
        SD_BUS_PROPERTY("PortPath", "s", get_port_path, 0, CONST),
        SD_BUS_PROPERTY("Speed", "s", get_speed, 0, CONST),
        SD_BUS_PROPERTY("DevNode", "s", get_devnode, 0, CONST),
        SD_BUS_PROPERTY("Authorized", "b", get_authorized, 0, CHANGE),
        SD_BUS_PROPERTY("Interfaces", "a(sss)", get_interfaces, 0, CHANGE),
        SD_BUS_VTABLE_END,
};

/* "/org/hostdev1/pci/0000_01_00_0" → the Device, for every device
 * interface; the SR-IOV one only on PFs. */
Device *bus_device_from_path(Daemon *dm, const char *path, const char *interface) {
        _cleanup_free_ char *address = NULL;
        const char *rest;
        DeviceKind kind;
        Device *d;

        if ((rest = startswith(path, BUS_PATH "/pci/")))
                kind = DEVICE_PCI;
        else if ((rest = startswith(path, BUS_PATH "/usb/")))
                kind = DEVICE_USB;
        else
                return NULL;

        address = address_from_path_component(kind, rest);
        if (!address)
                return NULL;
        d = inventory_get(&dm->inventory, address);
        if (!d || d->kind != kind)
                return NULL;
        if (streq(interface, "org.hostdev1.SriovPhysicalFunction") && !d->pci.sriov_capable)
                return NULL;
        if (streq(interface, "org.hostdev1.MdevParent") && (kind != DEVICE_PCI || !d->pci.mdev_parent))
                return NULL;
        return d;
}

static int device_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error) {
        Device *d = bus_device_from_path(((Bus *) userdata)->daemon, path, interface);

        if (!d)
                return 0;
        *found = d;
        return 1;
}

static int enumerate(Bus *b, DeviceKind kind, char ***nodes) {
        const Inventory *inv = &b->daemon->inventory;
        _cleanup_strv_free_ char **l = calloc(hashmap_size(inv->devices) + 1, sizeof(char *));
        char p[BUS_DEVICE_PATH_MAX];
        size_t i = 0, n = 0;
        Device *d;

        if (!l)
                return -ENOMEM;
        while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL)) {
                if (d->kind != kind)
                        continue;
                l[n] = strdup(bus_device_path(d, p));
                if (!l[n++])
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 0;
}

static int enumerate_pci(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        return enumerate(userdata, DEVICE_PCI, nodes);
}

static int enumerate_usb(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        return enumerate(userdata, DEVICE_USB, nodes);
}

void bus_device_interfaces(const Device *dev, const char *ret[static 8]) {
        size_t n;

        if (dev->kind == DEVICE_USB)
                bus_object_interfaces(ret, BUS_INTERFACES("org.hostdev1.Device", "org.hostdev1.UsbDevice"));
        else if (dev->pci.sriov_capable)
                bus_object_interfaces(ret, BUS_INTERFACES("org.hostdev1.Device", "org.hostdev1.PciDevice",
                                                          "org.hostdev1.SriovPhysicalFunction"));
        else
                bus_object_interfaces(ret, BUS_INTERFACES("org.hostdev1.Device", "org.hostdev1.PciDevice"));
        /* A parent of mediated devices has one more. */
        if (dev->kind == DEVICE_PCI && dev->pci.mdev_parent) {
                for (n = 0; ret[n]; n++)
                        ;
                ret[n++] = "org.hostdev1.MdevParent";
                ret[n] = NULL;
        }
}

int bus_device_register(Bus *b) {
        static const struct {
                const char *prefix;
                const char *interface;
                const sd_bus_vtable *vtable;
        } table[] = {
                { BUS_PATH "/pci", "org.hostdev1.Device", device_vtable },
                { BUS_PATH "/pci", "org.hostdev1.PciDevice", pci_device_vtable },
                { BUS_PATH "/pci", "org.hostdev1.SriovPhysicalFunction", sriov_vtable },
                { BUS_PATH "/usb", "org.hostdev1.Device", device_vtable },
                { BUS_PATH "/usb", "org.hostdev1.UsbDevice", usb_device_vtable },
        };
        int r;

        device_claims = &b->daemon->claims;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                r = sd_bus_add_fallback_vtable(b->bus, NULL, table[i].prefix, table[i].interface, table[i].vtable,
                                               device_find, b);
                if (r < 0)
                        return r;
        }
        r = sd_bus_add_node_enumerator(b->bus, NULL, BUS_PATH "/pci", enumerate_pci, b);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(b->bus, NULL, BUS_PATH "/usb", enumerate_usb, b);
}
