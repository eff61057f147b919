/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "shared/macro.h"
#include "shared/strv.h"

static int get_number(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const IommuGroup *g = userdata;
        const uint32_t number = g->number;

        return sd_bus_message_append_basic(reply, 'u', &number);
}

static int get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const IommuGroup *g = userdata;
        char p[BUS_DEVICE_PATH_MAX];
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        for (size_t i = 0; r >= 0 && i < g->n_members; i++)
                r = sd_bus_message_append_basic(reply, 'o', bus_device_path(g->members[i], p));
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int get_viable(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const int viable = iommu_group_viable(userdata);

        return sd_bus_message_append_basic(reply, 'b', &viable);
}

static int get_blockers(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const IommuGroup *g = userdata;
        char p[BUS_DEVICE_PATH_MAX];
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(os)");
        for (size_t i = 0; r >= 0 && i < g->n_members; i++) {
                _cleanup_free_ char *reason = device_group_blocker(g->members[i]);

                if (reason)
                        r = sd_bus_message_append(reply, "(os)", bus_device_path(g->members[i], p), reason);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* The dev root is the Daemon's: the objects' userdata is the group. */
static const char *dev_root = "/dev";

/* /dev/vfio/N exists once a function of the group is on vfio-pci. */
static int get_vfio_device(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const IommuGroup *g = userdata;
        _cleanup_free_ char *p = NULL;

        for (size_t i = 0; i < g->n_members; i++)
                if (streq_ptr(g->members[i]->driver, "vfio-pci")) {
                        if (asprintf(&p, "%s/vfio/%u", dev_root, g->number) < 0)
                                return -ENOMEM;
                        break;
                }
        return sd_bus_message_append(reply, "s", strempty(p));
}

const sd_bus_vtable iommu_group_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Number", "u", get_number, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Devices", "ao", get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Viable", "b", get_viable, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Blockers", "a(os)", get_blockers, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VfioDevice", "s", get_vfio_device, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_VTABLE_END,
};

static int group_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                      sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        const char *rest = startswith(path, BUS_PATH "/iommu_group/");
        IommuGroup *g;
        char *end;
        unsigned long n;

        if (!rest || !*rest || (rest[0] == '0' && rest[1]))
                return 0;
        errno = 0;
        n = strtoul(rest, &end, 10);
        if (errno || *end || n > IOMMU_GROUP_MAX || rest[0] == '-' || rest[0] == '+')
                return 0;
        g = inventory_group(&d->inventory, (int) n);
        if (!g)
                return 0;
        *found = g;
        return 1;
}

static int group_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        const Inventory *inv = &((Bus *) userdata)->daemon->inventory;
        _cleanup_strv_free_ char **l = calloc(inv->n_groups + 1, sizeof(char *));
        char p[BUS_GROUP_PATH_MAX];
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_groups_alloc; i++) {
                if (!inv->groups[i])
                        continue;
                l[n] = strdup(bus_iommu_group_path(inv->groups[i]->number, p));
                if (!l[n++])
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 0;
}

int bus_group_register(Bus *b) {
        int r;

        if (b->daemon->paths.dev)
                dev_root = b->daemon->paths.dev;
        r = sd_bus_add_fallback_vtable(b->bus, NULL, BUS_PATH "/iommu_group", "org.hostdev1.IommuGroup",
                                       iommu_group_vtable, group_find, b);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(b->bus, NULL, BUS_PATH "/iommu_group", group_enumerate, b);
}
