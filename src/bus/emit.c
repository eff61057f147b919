/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "emit.h"
#include "model/device.h"
#include "shared/hashmap.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

typedef enum EntryKind {
        ENTRY_NONE,     /* cancelled */
        ENTRY_ADDED,
        ENTRY_REMOVED,
        ENTRY_CHANGED,
        ENTRY_MOVED,
} EntryKind;

typedef struct Entry {
        EntryKind kind;
        ObjectType type;
        char *path;
        unsigned fields;
        char **interfaces;      /* REMOVED: what it had; MOVED: serial, old, new */
} Entry;

struct Emitter {
        sd_bus *bus;
        Entry **entries;
        size_t n_entries;
        Hashmap *latest;        /* path → its last Entry */
        EmitterAnnounce announce;
        void *announce_userdata;
};

Emitter *emitter_new(sd_bus *bus) {
        Emitter *e = calloc(1, sizeof(Emitter));

        if (!e)
                return NULL;
        e->bus = sd_bus_ref(bus);
        e->latest = hashmap_new();
        if (!e->latest)
                return emitter_free(e);
        return e;
}

static void clear(Emitter *e) {
        for (size_t i = 0; i < e->n_entries; i++) {
                hashmap_remove(e->latest, e->entries[i]->path);
                free(e->entries[i]->path);
                strv_free(e->entries[i]->interfaces);
                free(e->entries[i]);
        }
        free(e->entries);
        e->entries = NULL;
        e->n_entries = 0;
}

Emitter *emitter_free(Emitter *e) {
        if (!e)
                return NULL;
        clear(e);
        hashmap_free(e->latest);
        sd_bus_unref(e->bus);
        free(e);
        return NULL;
}

void emitter_set_announce(Emitter *e, EmitterAnnounce announce, void *userdata) {
        e->announce = announce;
        e->announce_userdata = userdata;
}

bool emitter_pending(const Emitter *e) {
        return e->n_entries > 0;
}

static Entry *push(Emitter *e, EntryKind kind, ObjectType type, const char *path) {
        Entry **t = realloc(e->entries, (e->n_entries + 1) * sizeof(Entry *));
        Entry *x;

        if (!t)
                return NULL;
        e->entries = t;
        x = calloc(1, sizeof(Entry));
        if (!x)
                return NULL;
        x->kind = kind;
        x->type = type;
        x->path = strdup(path);
        if (!x->path) {
                free(x);
                return NULL;
        }
        hashmap_remove(e->latest, path);
        if (hashmap_put(e->latest, x->path, x) < 0) {
                free(x->path);
                free(x);
                return NULL;
        }
        e->entries[e->n_entries++] = x;
        return x;
}

int emitter_added(Emitter *e, const char *path) {
        return push(e, ENTRY_ADDED, OBJECT_DEVICE, path) ? 0 : -ENOMEM;
}

int emitter_removed(Emitter *e, const char *path, const char *const *interfaces) {
        Entry *last = hashmap_get(e->latest, path), *x;

        /* Added within this batch: nobody has heard of it, say nothing. */
        if (last && last->kind == ENTRY_ADDED) {
                last->kind = ENTRY_NONE;
                return 0;
        }
        if (last && last->kind == ENTRY_CHANGED)
                last->kind = ENTRY_NONE;

        x = push(e, ENTRY_REMOVED, OBJECT_DEVICE, path);
        if (!x)
                return -ENOMEM;
        for (const char *const *i = interfaces; *i; i++)
                if (strv_extend(&x->interfaces, *i) < 0)
                        return -ENOMEM;
        return 0;
}

int emitter_device_moved(Emitter *e, const char *group_path, const char *serial, const char *old_address,
                         const char *new_address) {
        Entry **t = realloc(e->entries, (e->n_entries + 1) * sizeof(Entry *));
        Entry *x;

        /* Not keyed by path: several moves may be reported for one group. */
        if (!t)
                return -ENOMEM;
        e->entries = t;
        x = calloc(1, sizeof(Entry));
        if (!x || !(x->path = strdup(group_path)) || strv_extend(&x->interfaces, serial) < 0 ||
            strv_extend(&x->interfaces, old_address) < 0 || strv_extend(&x->interfaces, new_address) < 0) {
                if (x) {
                        free(x->path);
                        strv_free(x->interfaces);
                }
                free(x);
                return -ENOMEM;
        }
        x->kind = ENTRY_MOVED;
        e->entries[e->n_entries++] = x;
        return 0;
}

void emitter_refine(Emitter *e, const char *path, unsigned known, unsigned actual) {
        Entry *x = hashmap_get(e->latest, path);

        if (!x || x->kind != ENTRY_CHANGED)
                return;
        x->fields &= ~known | actual;
        if (x->fields == 0)
                x->kind = ENTRY_NONE;
}

int emitter_changed(Emitter *e, const char *path, ObjectType type, unsigned fields) {
        Entry *last = hashmap_get(e->latest, path), *x;

        if (fields == 0 || (last && last->kind == ENTRY_ADDED))
                return 0;
        if (last && last->kind == ENTRY_CHANGED) {
                last->fields |= fields;
                return 0;
        }
        x = push(e, ENTRY_CHANGED, type, path);
        if (!x)
                return -ENOMEM;
        x->fields = fields;
        return 0;
}

typedef struct FieldMap {
        unsigned field;
        const char *interface;
        const char *properties[3];
} FieldMap;

static const FieldMap device_fields[] = {
        { DEVICE_FIELD_DRIVER,        "org.hostdev1.Device",    { "Driver" } },
        { DEVICE_FIELD_STATE,         "org.hostdev1.Device",    { "State", "Claim" } },
        { DEVICE_FIELD_LINK,          "org.hostdev1.PciDevice", { "LinkSpeed", "LinkWidth" } },
        { DEVICE_FIELD_RESET_METHODS, "org.hostdev1.PciDevice", { "ResetMethods" } },
        { DEVICE_FIELD_PHYSFN,        "org.hostdev1.PciDevice", { "PhysicalFunction", "VirtualFunctionIndex" } },
        { DEVICE_FIELD_SRIOV,         "org.hostdev1.SriovPhysicalFunction", { "NumVfs", "VirtualFunctions", "DriversAutoprobe" } },
        { DEVICE_FIELD_AUTHORIZED,    "org.hostdev1.UsbDevice", { "Authorized", "Interfaces" } },
        { DEVICE_FIELD_RESOURCE_GROUP, "org.hostdev1.Device",   { "ResourceGroup" } },
        { DEVICE_FIELD_CRITICAL,      "org.hostdev1.Device",    { "Critical", "CriticalReasons" } },
        { DEVICE_FIELD_VF_CONFIG,     "org.hostdev1.SriovPhysicalFunction", { "VfConfig" } },
        { DEVICE_FIELD_SRIOV,         "org.hostdev1.SriovPhysicalFunction", { "VfConfig" } },
};

static const FieldMap group_fields[] = {
        { GROUP_FIELD_DEVICES,   "org.hostdev1.IommuGroup", { "Devices" } },
        { GROUP_FIELD_VIABLE,    "org.hostdev1.IommuGroup", { "Viable" } },
        { GROUP_FIELD_BLOCKERS,  "org.hostdev1.IommuGroup", { "Blockers" } },
        { GROUP_FIELD_VFIO,      "org.hostdev1.IommuGroup", { "VfioDevice" } },
};

static const FieldMap resource_group_fields[] = {
        { RG_FIELD_NAME,        "org.hostdev1.ResourceGroup", { "Name" } },
        { RG_FIELD_DESCRIPTION, "org.hostdev1.ResourceGroup", { "Description" } },
        { RG_FIELD_CLASS,       "org.hostdev1.ResourceGroup", { "Class" } },
        { RG_FIELD_RULES,       "org.hostdev1.ResourceGroup", { "Rules" } },
        { RG_FIELD_RETURN_TO_HOST, "org.hostdev1.ResourceGroup", { "ReturnToHost" } },
        { RG_FIELD_DEVICES,     "org.hostdev1.ResourceGroup", { "Devices", "Total", "Available" } },
        { RG_FIELD_DEVICES,     "org.hostdev1.ResourceGroup", { "Claimed" } },
        { RG_FIELD_COUNTS,      "org.hostdev1.ResourceGroup", { "Available", "Claimed" } },
};

/* One PropertiesChanged per interface, listing every changed property. */
static int emit_changed(Emitter *e, const Entry *x) {
        const FieldMap *map = x->type == OBJECT_DEVICE ? device_fields
                            : x->type == OBJECT_GROUP ? group_fields : resource_group_fields;
        size_t n = x->type == OBJECT_DEVICE ? ELEMENTSOF(device_fields)
                 : x->type == OBJECT_GROUP ? ELEMENTSOF(group_fields) : ELEMENTSOF(resource_group_fields);
        bool done[ELEMENTSOF(device_fields)] = {};
        const char *names[16];

        for (size_t i = 0; i < n; i++) {
                size_t k = 0;
                int r;

                if (done[i] || !(x->fields & map[i].field))
                        continue;
                for (size_t j = i; j < n; j++) {
                        if (!(x->fields & map[j].field) || !streq(map[j].interface, map[i].interface))
                                continue;
                        done[j] = true;
                        for (size_t p = 0; p < ELEMENTSOF(map[j].properties) && map[j].properties[p]; p++) {
                                bool seen = false;

                                /* A property two fields announce is listed once. */
                                for (size_t q = 0; q < k; q++)
                                        seen = seen || streq(names[q], map[j].properties[p]);
                                if (!seen)
                                        names[k++] = map[j].properties[p];
                        }
                }
                names[k] = NULL;
                r = sd_bus_emit_properties_changed_strv(e->bus, x->path, map[i].interface, (char **) names);
                if (r < 0)
                        log_debug_errno(r, "PropertiesChanged on %s failed: %m", x->path);
        }
        return 0;
}

int emitter_flush(Emitter *e) {
        for (size_t i = 0; i < e->n_entries; i++) {
                Entry *x = e->entries[i];
                int r = 0;

                switch (x->kind) {
                case ENTRY_ADDED:
                        r = e->announce ? e->announce(e->bus, x->path, e->announce_userdata)
                                        : sd_bus_emit_object_added(e->bus, x->path);
                        break;
                case ENTRY_REMOVED:
                        r = sd_bus_emit_interfaces_removed_strv(e->bus, x->path, x->interfaces);
                        break;
                case ENTRY_CHANGED:
                        r = emit_changed(e, x);
                        break;
                case ENTRY_MOVED:
                        r = sd_bus_emit_signal(e->bus, "/org/hostdev1", "org.hostdev1.Manager", "DeviceMoved", "osss",
                                               x->path, x->interfaces[0], x->interfaces[1], x->interfaces[2]);
                        break;
                case ENTRY_NONE:
                        break;
                }
                if (r < 0)
                        log_debug_errno(r, "Cannot signal a change of %s: %m", x->path);
        }
        clear(e);
        return 0;
}

void emitter_discard(Emitter *e) {
        clear(e);
}
