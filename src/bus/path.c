/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "bus.h"
#include "shared/macro.h"

/* Object paths of devices: the address with ':', '.' and '-' as '_', as
 * the API promises ("/org/hostdev1/pci/0000_01_00_0"). They live here
 * only; the model knows devices by address. */

const char *bus_device_path(const Device *d, char buf[static BUS_DEVICE_PATH_MAX]) {
        char *c;

        snprintf(buf, BUS_DEVICE_PATH_MAX, BUS_PATH "/%s/%s", device_kind_to_string(d->kind), d->address);
        for (c = strrchr(buf, '/') + 1; *c; c++)
                if (strchr(":.-", *c))
                        *c = '_';
        return buf;
}

char *bus_device_path_of(DeviceKind kind, const char *address) {
        char *p, *c;

        if (asprintf(&p, "/org/hostdev1/%s/%s", device_kind_to_string(kind), address) < 0)
                return NULL;
        for (c = strrchr(p, '/') + 1; *c; c++)
                if (strchr(":.-", *c))
                        *c = '_';
        return p;
}

const char *bus_iommu_group_path(unsigned number, char buf[static BUS_GROUP_PATH_MAX]) {
        snprintf(buf, BUS_GROUP_PATH_MAX, BUS_PATH "/iommu_group/%u", number);
        return buf;
}

/* Resource group ids start with a letter today; sd-bus escapes anything
 * else, so any id still names one object. */
char *bus_resource_group_path(const ResourceGroup *g) {
        char *p = NULL;

        if (sd_bus_path_encode(BUS_PATH "/resource_group", g->id, &p) < 0)
                return NULL;
        return p;
}

/* A mediated device parent that is no PCI device, by its name
 * ("/org/hostdev1/mdev_parent/mtty"); sd-bus escapes what a path cannot hold. */
char *bus_mdev_parent_path(const char *name) {
        char *p = NULL;

        if (sd_bus_path_encode(BUS_PATH "/mdev_parent", name, &p) < 0)
                return NULL;
        return p;
}
