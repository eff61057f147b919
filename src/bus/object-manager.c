/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <malloc.h>

#include "object-manager.h"

#include "bus.h"
#include "bus/emit.h"
#include "claim.h"
#include "shared/macro.h"

#define OBJECT_MANAGER "org.freedesktop.DBus.ObjectManager"

/* One exported object: its path, its own interfaces and what their
 * getters take as userdata (the fallback vtables' find callbacks return
 * the same). */
typedef struct BusObject {
        char path[BUS_OBJECT_PATH_MAX];
        const char *interfaces[8];
        void *userdata;
        void *bus;              /* the userdata of interfaces that take the Bus (MdevParent) */
} BusObject;

static const sd_bus_vtable *interface_vtable(const char *interface) {
        /* The linker merges equal string literals: most lookups end at the
         * pointer comparison. */
        for (size_t i = 0; i < bus_n_interfaces; i++)
                if (bus_interfaces[i].interface == interface || streq(bus_interfaces[i].interface, interface))
                        return bus_interfaces[i].vtable;
        return NULL;
}

/* {sa{sv}}: the interface and what Properties.GetAll returns for it, the
 * properties in vtable order, each written by its own getter. Skips what
 * sd-bus leaves out of GetAll too. */
static int append_interface(sd_bus_message *m, const char *path, const char *interface, void *userdata,
                            sd_bus_error *error) {
        sd_bus *bus = sd_bus_message_get_bus(m);
        const sd_bus_vtable *v = interface_vtable(interface);
        int r;

        assert(v);
        r = sd_bus_message_open_container(m, 'e', "sa{sv}");
        if (r >= 0)
                r = sd_bus_message_append_basic(m, 's', interface);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (; r >= 0 && v->type != _SD_BUS_VTABLE_END; v++) {
                if ((v->type != _SD_BUS_VTABLE_PROPERTY && v->type != _SD_BUS_VTABLE_WRITABLE_PROPERTY) ||
                    (v->flags & (SD_BUS_VTABLE_HIDDEN | SD_BUS_VTABLE_PROPERTY_EXPLICIT)))
                        continue;
                assert(v->x.property.get);
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append_basic(m, 's', v->x.property.member);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', v->x.property.signature);
                if (r >= 0)
                        r = v->x.property.get(bus, path, interface, v->x.property.member, m, userdata, error);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

/* a{sa{sv}}: every interface of the object. */
static int append_interfaces(sd_bus_message *m, const BusObject *o, sd_bus_error *error) {
        int r = sd_bus_message_open_container(m, 'a', "{sa{sv}}");

        for (const char *const *i = o->interfaces; r >= 0 && *i; i++)
                r = append_interface(m, o->path, *i,
                                     o->bus && streq(*i, "org.hostdev1.MdevParent") ? o->bus : o->userdata, error);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_object(sd_bus_message *m, const BusObject *o, sd_bus_error *error) {
        int r = sd_bus_message_open_container(m, 'e', "oa{sa{sv}}");

        if (r >= 0)
                r = sd_bus_message_append_basic(m, 'o', o->path);
        if (r >= 0)
                r = append_interfaces(m, o, error);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* true when the whole path fitted */
static bool copy_path(char dst[static BUS_OBJECT_PATH_MAX], const char *src) {
        return (size_t) snprintf(dst, BUS_OBJECT_PATH_MAX, "%s", src) < BUS_OBJECT_PATH_MAX;
}

static void device_object(Device *dev, Bus *b, BusObject *o) {
        char p[BUS_DEVICE_PATH_MAX];

        *o = (BusObject) { .userdata = dev, .bus = b };
        (void) copy_path(o->path, bus_device_path(dev, p));
        bus_device_interfaces(dev, o->interfaces);
}

static void group_object(IommuGroup *g, BusObject *o) {
        char p[BUS_GROUP_PATH_MAX];

        *o = (BusObject) { .interfaces = { "org.hostdev1.IommuGroup" }, .userdata = g };
        (void) copy_path(o->path, bus_iommu_group_path(g->number, p));
}

/* The resource group getters find their group by path. */
static int resource_group_object(ResourceGroup *g, Bus *b, BusObject *o) {
        _cleanup_free_ char *p = bus_resource_group_path(g);

        if (!p)
                return -ENOMEM;
        *o = (BusObject) { .interfaces = { "org.hostdev1.ResourceGroup" }, .userdata = b };
        return copy_path(o->path, p) ? 0 : -ENAMETOOLONG;
}

static void mdev_object(Mdev *md, Bus *b, BusObject *o) {
        char p[BUS_MDEV_PATH_MAX];

        *o = (BusObject) { .interfaces = { "org.hostdev1.Mdev" }, .userdata = b };
        (void) copy_path(o->path, bus_mdev_path(mdev_key(md), p));
}

/* A mediated device parent that is no PCI device: its getters take the Bus. */
static int mdev_parent_object(const MdevParent *p, Bus *b, BusObject *o) {
        _cleanup_free_ char *path = bus_mdev_parent_path(p->address);

        if (!path)
                return -ENOMEM;
        *o = (BusObject) { .interfaces = { "org.hostdev1.MdevParent" }, .userdata = b, .bus = b };
        return copy_path(o->path, path) ? 0 : -ENAMETOOLONG;
}

/* Claim getters find their claim by path too. */
static int claim_object(const Claim *c, Bus *b, BusObject *o) {
        _cleanup_free_ char *p = bus_claim_path(c);

        if (!p)
                return -ENOMEM;
        *o = (BusObject) { .interfaces = { "org.hostdev1.Claim" }, .userdata = b };
        return copy_path(o->path, p) ? 0 : -ENAMETOOLONG;
}

static int append_all(sd_bus_message *m, Bus *b, sd_bus_error *error) {
        Daemon *d = b->daemon;
        MdevParent *mp;
        Mdev *md;
        Device *dev;
        size_t state = 0;
        BusObject o;
        int r;

        r = sd_bus_message_open_container(m, 'a', "{oa{sa{sv}}}");
        while (r >= 0 && hashmap_iterate(d->inventory.devices, &state, (void **) &dev, NULL)) {
                device_object(dev, b, &o);
                r = append_object(m, &o, error);
        }
        for (size_t i = 0; r >= 0 && i < d->inventory.n_groups_alloc; i++)
                if (d->inventory.groups[i]) {
                        group_object(d->inventory.groups[i], &o);
                        r = append_object(m, &o, error);
                }
        for (size_t i = 0; r >= 0 && i < d->resources.n_groups; i++) {
                r = resource_group_object(d->resources.groups[i], b, &o);
                if (r >= 0)
                        r = append_object(m, &o, error);
        }
        state = 0;
        while (r >= 0 && hashmap_iterate(d->mdevs.mdevs, &state, (void **) &md, NULL)) {
                mdev_object(md, b, &o);
                r = append_object(m, &o, error);
        }
        for (size_t i = 0; r >= 0 && i < d->claims.n_claims; i++) {
                r = claim_object(d->claims.claims[i], b, &o);
                if (r >= 0)
                        r = append_object(m, &o, error);
        }
        state = 0;
        while (r >= 0 && hashmap_iterate(d->mdevs.parents, &state, (void **) &mp, NULL))
                if (mp->standalone) {
                        r = mdev_parent_object(mp, b, &o);
                        if (r >= 0)
                                r = append_object(m, &o, error);
                }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* An object callback runs before sd-bus's own handling of the path, so it
 * can answer GetManagedObjects; everything else it leaves alone. */
static int on_root_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (!sd_bus_message_is_method_call(m, OBJECT_MANAGER, "GetManagedObjects"))
                return 0;
        if (!isempty(sd_bus_message_get_signature(m, true)))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "GetManagedObjects takes no arguments.");

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = append_all(reply, userdata, error);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        /* Writing the reply leaves free pages all over the heap (container
         * signatures, path strings): give them back, or every large reply
         * raises the resident size for good. */
        (void) malloc_trim(0);
        return r < 0 ? r : 1;
}

/* The object the emitter queued a path for, as it is now. */
static int find_object(Bus *b, const char *path, BusObject *ret) {
        Daemon *d = b->daemon;
        Device *dev = bus_device_from_path(d, path, "org.hostdev1.Device");
        ResourceGroup *rg;
        MdevParent *mp;
        Claim *c;
        const char *rest;
        Mdev *md;

        if (dev) {
                device_object(dev, b, ret);
                return 0;
        }
        md = bus_mdev_from_path(d, path);
        if (md) {
                mdev_object(md, b, ret);
                return 0;
        }
        if ((rest = startswith(path, BUS_PATH "/iommu_group/"))) {
                IommuGroup *g = inventory_group(&d->inventory, (int) strtoul(rest, NULL, 10));

                if (!g)
                        return -ENOENT;
                group_object(g, ret);
                return streq(ret->path, path) ? 0 : -ENOENT;
        }
        rg = bus_resource_group_from_path(b, path);
        if (rg)
                return resource_group_object(rg, b, ret);
        c = bus_claim_from_path(b, path);
        if (c)
                return claim_object(c, b, ret);
        mp = bus_standalone_parent_from_path(d, path);
        if (mp)
                return mdev_parent_object(mp, b, ret);
        return -ENOENT;
}

int bus_emit_object_added(sd_bus *bus, const char *path, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        BusObject o;
        int r;

        r = find_object(userdata, path, &o);
        if (r < 0)
                return r;
        r = sd_bus_message_new_signal(bus, &m, BUS_PATH, OBJECT_MANAGER, "InterfacesAdded");
        if (r >= 0)
                r = sd_bus_message_append_basic(m, 'o', path);
        if (r >= 0)
                r = append_interfaces(m, &o, &error);
        if (r < 0)
                return r;
        return sd_bus_send(bus, m, NULL);
}

int bus_object_manager_register(Bus *b) {
        int r;

        r = sd_bus_add_object(b->bus, NULL, BUS_PATH, on_root_call, b);
        if (r < 0)
                return r;
        emitter_set_announce(b->emitter, bus_emit_object_added, b);
        return 0;
}
