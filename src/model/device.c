/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "device.h"
#include "shared/macro.h"
#include "shared/strv.h"

Device *device_new(DeviceKind kind, const char *address) {
        Device *d = calloc(1, sizeof(Device));

        if (!d)
                return NULL;
        d->kind = kind;
        d->numa_node = -1;
        d->iommu_group = -1;
        d->pci.vf_index = -1;
        d->usb.authorized = true;
        d->address = strdup(address);
        if (!d->address)
                return device_free(d);
        return d;
}

Device *device_free(Device *d) {
        if (!d)
                return NULL;
        free(d->address);
        free(d->syspath);
        free(d->serial);
        free(d->driver);
        free(d->pci.slot);
        free(d->pci.link_speed);
        strv_free(d->pci.reset_methods);
        strv_free(d->pci.vfs);
        free(d->pci.physfn);
        free(d->usb.port_path);
        free(d->usb.speed);
        free(d->usb.devnode);
        strv_free(d->usb.interfaces);
        strv_free(d->critical);
        free(d);
        return NULL;
}

unsigned device_diff(const Device *a, const Device *b) {
        unsigned f = 0;

        if (!streq_ptr(a->driver, b->driver))
                f |= DEVICE_FIELD_DRIVER;
        if (device_state(a) != device_state(b))
                f |= DEVICE_FIELD_STATE;
        if (a->iommu_group != b->iommu_group)
                f |= DEVICE_FIELD_IOMMU_GROUP;
        if (a->vendor_id != b->vendor_id || a->product_id != b->product_id ||
            !streq_ptr(a->serial, b->serial) || a->numa_node != b->numa_node ||
            !streq_ptr(a->syspath, b->syspath))
                f |= DEVICE_FIELD_IDENTITY;

        if (a->kind == DEVICE_PCI) {
                if (!streq_ptr(a->pci.link_speed, b->pci.link_speed) || a->pci.link_width != b->pci.link_width)
                        f |= DEVICE_FIELD_LINK;
                if (!strv_equal(a->pci.reset_methods, b->pci.reset_methods))
                        f |= DEVICE_FIELD_RESET_METHODS;
                if (!streq_ptr(a->pci.physfn, b->pci.physfn) || a->pci.vf_index != b->pci.vf_index)
                        f |= DEVICE_FIELD_PHYSFN;
                if (a->pci.num_vfs != b->pci.num_vfs || !strv_equal(a->pci.vfs, b->pci.vfs) ||
                    a->pci.drivers_autoprobe != b->pci.drivers_autoprobe)
                        f |= DEVICE_FIELD_SRIOV;
                if (a->pci.class != b->pci.class || a->pci.sriov_capable != b->pci.sriov_capable ||
                    a->pci.total_vfs != b->pci.total_vfs || a->pci.boot_vga != b->pci.boot_vga ||
                    a->pci.subsystem_vendor_id != b->pci.subsystem_vendor_id ||
                    a->pci.subsystem_id != b->pci.subsystem_id || !streq_ptr(a->pci.slot, b->pci.slot))
                        f |= DEVICE_FIELD_IDENTITY;
        } else {
                /* Interfaces come and go with authorization, and their
                         * drivers with Prepare and Release. */
                if (a->usb.authorized != b->usb.authorized || !strv_equal(a->usb.interfaces, b->usb.interfaces))
                        f |= DEVICE_FIELD_AUTHORIZED;
                if (a->usb.busnum != b->usb.busnum || a->usb.devnum != b->usb.devnum ||
                    !streq_ptr(a->usb.speed, b->usb.speed) || !streq_ptr(a->usb.devnode, b->usb.devnode))
                        f |= DEVICE_FIELD_IDENTITY;
        }
        return f;
}

int device_address_compare(const void *a, const void *b) {
        return address_compare((*(const Device *const *) a)->address, (*(const Device *const *) b)->address);
}

bool driver_is_vfio(const char *driver) {
        /* Variant drivers: mlx5_vfio_pci, hisi_acc_vfio_pci, … (module
         * names, with underscores); accept the dashed spelling too. */
        return driver && (streq(driver, "vfio-pci") || endswith(driver, "_vfio_pci") ||
                          endswith(driver, "-vfio-pci"));
}

/* "cc/ss/pp" of an interface (see Device.usb.interfaces): its class. */
static int interface_class(const char *triple) {
        unsigned c;
        int end = -1;

        if (!triple || sscanf(triple, "%2x%n", &c, &end) != 1 || end != 2 || triple[2] != '/')
                return -1;
        return (int) c;
}

bool device_is_usb_hub(const Device *d) {
        /* Root hubs are no devices here at all. */
        return device_usb_has_class(d, 0x09);
}

bool device_usb_has_class(const Device *d, unsigned cls) {
        if (d->kind != DEVICE_USB || cls > 0xff)
                return false;
        if (d->usb.device_class == cls)
                return true;
        for (char **i = d->usb.interfaces; i && i[0] && i[1] && i[2]; i += 3)
                if (interface_class(i[1]) == (int) cls)
                        return true;
        return false;
}

bool device_is_bridge(const Device *d) {
        /* Base class 0x06 (bridge), subclass 0x04 (PCI-to-PCI). */
        return d->kind == DEVICE_PCI && (d->pci.class >> 8) == 0x0604;
}

static const char *const state_names[_DEVICE_STATE_MAX] = {
        [DEVICE_STATE_HOST] = "host",
        [DEVICE_STATE_PREPARED] = "prepared",
};

DeviceState device_state(const Device *d) {
        if (d->kind == DEVICE_USB)
                return d->usb.prepared ? DEVICE_STATE_PREPARED : DEVICE_STATE_HOST;
        return driver_is_vfio(d->driver) ? DEVICE_STATE_PREPARED : DEVICE_STATE_HOST;
}

const char *device_state_to_string(DeviceState s) {
        return s >= 0 && s < _DEVICE_STATE_MAX ? state_names[s] : NULL;
}

char *device_group_blocker(const Device *d) {
        char *s;

        if (!d->driver || driver_is_vfio(d->driver) || streq(d->driver, "pci-stub"))
                return NULL;
        /* A port driver owns no DMA of its own; VFIO lets it stay. */
        if (streq(d->driver, "pcieport") && device_is_bridge(d))
                return NULL;
        if (asprintf(&s, "%s is bound to %s", d->address, d->driver) < 0)
                return NULL;
        return s;
}
