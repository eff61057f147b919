/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "shared/macro.h"

static int get_number(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const IommuGroup *g = userdata;
        const uint32_t number = g->number;

        return sd_bus_message_append_basic(reply, 'u', &number);
}

static int get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const IommuGroup *g = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        for (size_t i = 0; r >= 0 && i < g->n_members; i++)
                r = sd_bus_message_append_basic(reply, 'o', g->members[i]->object_path);
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
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(os)");
        for (size_t i = 0; r >= 0 && i < g->n_members; i++) {
                _cleanup_free_ char *reason = device_group_blocker(g->members[i]);

                if (reason)
                        r = sd_bus_message_append(reply, "(os)", g->members[i]->object_path, reason);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

const sd_bus_vtable iommu_group_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Number", "u", get_number, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Devices", "ao", get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Viable", "b", get_viable, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Blockers", "a(os)", get_blockers, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

static int group_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                      sd_bus_error *error) {
        Daemon *d = userdata;
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
        Daemon *d = userdata;

        *nodes = inventory_group_paths(&d->inventory);
        return *nodes ? 0 : -ENOMEM;
}

int bus_group_register(Daemon *d);
int bus_group_register(Daemon *d) {
        int r;

        r = sd_bus_add_fallback_vtable(d->bus, NULL, BUS_PATH "/iommu_group", "org.hostdev1.IommuGroup",
                                       iommu_group_vtable, group_find, d);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(d->bus, NULL, BUS_PATH "/iommu_group", group_enumerate, d);
}
