/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-id128.h>

#include "bus.h"
#include "claim.h"
#include "common/address.h"
#include "emit.h"
#include "object-manager.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

/* org.hostdev1.MdevParent on every device with mdev_supported_types, and
 * org.hostdev1.Mdev at /org/hostdev1/mdev/<uuid, '-' as '_'>, one per
 * mediated device. Both take the Bus as userdata and find their model
 * object by path. */

#define MDEV_PREFIX BUS_PATH "/mdev"

/* A call waiting for its mdev change. */
typedef struct MdevReply {
        Bus *bus;
        sd_bus_message *call;
        bool create;
        struct MdevReply *next, *prev;
} MdevReply;

static void reply_free(MdevReply *p) {
        if (p->prev)
                p->prev->next = p->next;
        else
                p->bus->mdev_pending = p->next;
        if (p->next)
                p->next->prev = p->prev;
        sd_bus_message_unref(p->call);
        free(p);
}

void bus_mdev_free_all(Bus *b) {
        while (b->mdev_pending)
                reply_free(b->mdev_pending);
}

static MdevReply *reply_new(Bus *b, sd_bus_message *m, bool create) {
        MdevReply *p = calloc(1, sizeof(MdevReply));

        if (!p)
                return NULL;
        *p = (MdevReply) { .bus = b, .call = sd_bus_message_ref(m), .create = create, .next = b->mdev_pending };
        if (p->next)
                p->next->prev = p;
        b->mdev_pending = p;
        return p;
}

/* A UUID with '_' for '-'; a vGPU on a VF "vf_" and the VF's address
 * with '_' for ':' and '.'. */
const char *bus_mdev_path(const char *key, char buf[static BUS_MDEV_PATH_MAX]) {
        size_t n = (size_t) snprintf(buf, BUS_MDEV_PATH_MAX, MDEV_PREFIX "/%s%s", mdev_key_is_vf(key) ? "vf_" : "",
                                     key);

        for (char *c = buf + sizeof(MDEV_PREFIX); c < buf + n; c++)
                if (*c == '-' || *c == ':' || *c == '.')
                        *c = '_';
        return buf;
}

static Mdev *vf_mdev_from_path(Daemon *d, const char *rest) {
        _cleanup_free_ char *address = NULL;
        char a[13];

        /* "0000_0b_00_4" */
        if (strlen(rest) != 12 || rest[4] != '_' || rest[7] != '_' || rest[10] != '_')
                return NULL;
        memcpy(a, rest, sizeof a);
        a[4] = a[7] = ':';
        a[10] = '.';
        if (pci_address_parse(a, &address) < 0 || !streq(address, a))
                return NULL;
        return mdev_set_get(&d->mdevs, address);
}

Mdev *bus_mdev_from_path(Daemon *d, const char *path) {
        const char *rest = startswith(path, MDEV_PREFIX "/"), *vf;
        char uuid[MDEV_UUID_LEN + 1];

        if (rest && (vf = startswith(rest, "vf_")))
                return vf_mdev_from_path(d, vf);
        if (!rest || strlen(rest) != MDEV_UUID_LEN)
                return NULL;
        for (size_t i = 0; i <= MDEV_UUID_LEN; i++)
                uuid[i] = rest[i] == '_' ? '-' : rest[i];
        /* One spelling only: lower case, '_' where the UUID has '-'. */
        if (!mdev_uuid_valid(uuid) || strchr(rest, '-'))
                return NULL;
        return mdev_set_get(&d->mdevs, uuid);
}

static Device *parent_from_path(Bus *b, const char *path) {
        return bus_device_from_path(b->daemon, path, "org.hostdev1.MdevParent");
}

MdevParent *bus_standalone_parent_from_path(Daemon *d, const char *path) {
        _cleanup_free_ char *name = NULL;
        MdevParent *p;

        if (sd_bus_path_decode(path, BUS_PATH "/mdev_parent", &name) <= 0)
                return NULL;
        p = mdev_set_parent(&d->mdevs, name);
        return p && p->standalone ? p : NULL;
}

/* The parent behind an MdevParent object: a PCI device's, or one of its own. */
static MdevParent *parent_of(Bus *b, const char *path) {
        Device *dev = parent_from_path(b, path);

        return dev ? mdev_set_parent(&b->daemon->mdevs, dev->address)
                   : bus_standalone_parent_from_path(b->daemon, path);
}

/* ---- MdevParent ---- */

static int get_supported_types(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const MdevParent *p = parent_of(userdata, path);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sssu)");
        for (size_t i = 0; r >= 0 && p && i < p->n_types; i++) {
                const MdevType *t = &p->types[i];

                r = sd_bus_message_append(reply, "(sssu)", t->id, t->name, t->description, t->available);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* Per VF: its object, its vGPU type ("" when none), the types it lists now. */
static int get_vf_types(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const MdevParent *p = parent_of(b, path);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(osas)");
        for (size_t i = 0; r >= 0 && p && i < p->n_vfs; i++) {
                const VgpuVf *v = &p->vfs[i];
                const Device *vf = inventory_get(&b->daemon->inventory, v->address);
                char vp[BUS_DEVICE_PATH_MAX], type[16] = "";

                if (!vf)
                        continue;
                if (v->current)
                        snprintf(type, sizeof type, "%u", v->current);
                r = sd_bus_message_open_container(reply, 'r', "osas");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "os", bus_device_path(vf, vp), type);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'a', "s");
                for (size_t j = 0; r >= 0 && j < v->n_creatable; j++)
                        r = sd_bus_message_append(reply, "s", v->creatable[j].id);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int reply_mdev_error(sd_bus_error *error, int r, const char *msg) {
        const char *name;

        switch (r) {
        case -ENOMEM:
                return r;
        case -ENODEV:
        case -ENOENT:
                name = r == -ENOENT && msg && strstr(msg, "type") ? BUS_ERROR_INVALID_ARGUMENT : BUS_ERROR_NOT_FOUND;
                break;
        case -EEXIST:
                name = BUS_ERROR_EXISTS;
                break;
        case -ENOSPC:
                name = BUS_ERROR_INSUFFICIENT_DEVICES;
                break;
        case -EBUSY:
                name = BUS_ERROR_BUSY;
                break;
        case -EPERM:
                name = BUS_ERROR_NOT_SUPPORTED;
                break;
        default:
                name = BUS_ERROR_FAILED;
        }
        return sd_bus_error_setf(error, name, "%s", msg ?: strerror(-r));
}

static void on_mdev_done(void *userdata, const char *uuid, int r, const char *error) {
        MdevReply *p = userdata;
        char path[BUS_MDEV_PATH_MAX];

        if (r < 0)
                r = sd_bus_reply_method_errorf(p->call, BUS_ERROR_FAILED, "%s", error ?: strerror(-r));
        else if (p->create)
                r = sd_bus_reply_method_return(p->call, "o", bus_mdev_path(uuid, path));
        else
                r = sd_bus_reply_method_return(p->call, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot answer %s: %m", sd_bus_message_get_member(p->call));
        reply_free(p);
}

static int new_uuid(char ret[static MDEV_UUID_LEN + 1]) {
        sd_id128_t id;
        int r = sd_id128_randomize(&id);

        if (r < 0)
                return r;
        snprintf(ret, MDEV_UUID_LEN + 1, SD_ID128_UUID_FORMAT_STR, SD_ID128_FORMAT_VAL(id));
        return 0;
}

static int mdev_checks(PolkitChecks *checks, const Device *parent, const char *parent_address, const char *type,
                       const char *message) {
        _cleanup_strv_free_ char **details = NULL;

        if ((parent ? polkit_details_for_device(&details, parent)
                    : polkit_details_add(&details, "device", parent_address)) < 0 ||
            polkit_details_add(&details, "mdev-type", type) < 0 ||
            polkit_details_add(&details, "polkit.message", message) < 0)
                return -ENOMEM;
        return polkit_checks_add(checks, NULL, TAKE_PTR(details));
}

static int method_create_mdev(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        Device *dev = parent_from_path(b, sd_bus_message_get_path(m));
        const MdevParent *p = parent_of(b, sd_bus_message_get_path(m));
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ char *uuid_opt = NULL, *uuid = NULL, *msg = NULL, *err = NULL;
        const MdevType *t;
        const char *type, *address;
        bool no_interaction = false;
        char random_uuid[MDEV_UUID_LEN + 1];
        const OptionSpec spec[] = {
                { "uuid", OPTION_STRING, &uuid_opt },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        MdevReply *reply;
        int r;

        if (!p)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The device is gone.");
        address = p->address;
        r = sd_bus_message_read(m, "s", &type);
        if (r < 0)
                return r;
        r = bus_read_options(m, spec, ELEMENTSOF(spec), RESOURCE_PCI, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (!mdev_type_id_valid(type)) {
                char buf[48];

                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "'%s' is not a mediated device type id.",
                                         bus_excerpt(type, buf));
        }
        t = mdev_parent_type(p, type);
        if (!t)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "%s offers no mediated device type '%s'.", address, type);
        if (uuid_opt && p->vf_based)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "A vGPU on a VF of %s has no UUID: the VF is the instance.", address);
        if (uuid_opt) {
                char buf[48];

                uuid = mdev_uuid_normalize(uuid_opt);
                if (!uuid && errno == ENOMEM)
                        return -ENOMEM;
                if (!uuid)
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                 "'%s' is not a UUID (8-4-4-4-12 hex digits).",
                                                 bus_excerpt(uuid_opt, buf));
                if (mdev_set_get(&d->mdevs, uuid))
                        return sd_bus_error_setf(error, BUS_ERROR_EXISTS, "A mediated device %s exists already.",
                                                 uuid);
        }
        if (t->available == 0)
                return sd_bus_error_setf(error, BUS_ERROR_INSUFFICIENT_DEVICES,
                                         p->vf_based ? "No free VF of %s can take vGPU type '%s' now."
                                                     : "%s has no instance of type '%s' left.",
                                         address, type);

        if (asprintf(&msg, "Authentication is required to create a mediated device of type '%s' on %s.", type,
                     address) < 0)
                return -ENOMEM;
        r = mdev_checks(&checks, dev, address, type, msg);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        if (p->vf_based) {
                reply = reply_new(b, m, true);
                if (!reply)
                        return -ENOMEM;
                r = daemon_vgpu_create(d, address, type, NULL, sd_bus_message_get_sender(m), NULL, on_mdev_done,
                                       reply, &err);
                if (r < 0) {
                        reply_free(reply);
                        return reply_mdev_error(error, r, err);
                }
                return 1;
        }
        if (!uuid) {
                r = new_uuid(random_uuid);
                if (r < 0)
                        return r;
                uuid = strdup(random_uuid);
                if (!uuid)
                        return -ENOMEM;
        }
        reply = reply_new(b, m, true);
        if (!reply)
                return -ENOMEM;
        r = daemon_mdev_create(d, address, type, uuid, sd_bus_message_get_sender(m), on_mdev_done, reply,
                               &err);
        if (r < 0) {
                reply_free(reply);
                return reply_mdev_error(error, r, err);
        }
        return 1;
}

/* ---- Mdev ---- */

static Mdev *mdev_of(Bus *b, const char *path) {
        return bus_mdev_from_path(b->daemon, path);
}

static int get_uuid(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Mdev *m = mdev_of(userdata, path);

        return sd_bus_message_append(reply, "s", m ? strempty(m->uuid) : "");
}

static int get_device(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Mdev *m = mdev_of(b, path);
        const Device *dev = m && m->vf ? inventory_get(&b->daemon->inventory, m->vf) : NULL;
        char p[BUS_DEVICE_PATH_MAX];

        return sd_bus_message_append(reply, "o", dev ? bus_device_path(dev, p) : "/");
}

static int get_type(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Mdev *m = mdev_of(userdata, path);

        return sd_bus_message_append(reply, "s", m ? m->type : "");
}

static int get_parent(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Mdev *m = mdev_of(b, path);
        const MdevParent *mp = m ? mdev_set_parent(&b->daemon->mdevs, m->parent) : NULL;
        const Device *dev = m ? inventory_get(&b->daemon->inventory, m->parent) : NULL;
        _cleanup_free_ char *pp = NULL;
        char p[BUS_DEVICE_PATH_MAX];

        /* A parent on no bus is an object of its own. */
        if (!dev && mp && mp->standalone) {
                pp = bus_mdev_parent_path(mp->address);
                if (!pp)
                        return -ENOMEM;
        }
        return sd_bus_message_append(reply, "o", dev ? bus_device_path(dev, p) : pp ?: "/");
}

static int get_iommu_group(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Mdev *m = mdev_of(userdata, path);

        return sd_bus_message_append(reply, "i", m ? m->iommu_group : -1);
}

static int get_active(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Mdev *m = mdev_of(userdata, path);

        return sd_bus_message_append(reply, "b", m && m->active);
}

static int get_claimed(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Mdev *m = mdev_of(b, path);

        return sd_bus_message_append(reply, "b", m && claim_set_find_device(&b->daemon->claims, mdev_key(m)));
}

static int get_source(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Mdev *m = mdev_of(userdata, path);

        return sd_bus_message_append(reply, "s", m ? mdev_source_to_string(m->source) : "");
}

static int method_remove(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        Mdev *md = mdev_of(b, sd_bus_message_get_path(m));
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ char *uuid = NULL, *msg = NULL, *err = NULL;
        bool no_interaction = false;
        const OptionSpec spec[] = {
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        MdevReply *reply;
        int r;

        if (!md)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The mediated device is gone.");
        r = bus_read_options(m, spec, ELEMENTSOF(spec), RESOURCE_PCI, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (md->source == MDEV_SOURCE_MDEVCTL)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_SUPPORTED,
                                         "Mediated device %s is defined by mdevctl; hostdev leaves it alone.",
                                         md->uuid);
        if (claim_set_find_device(&d->claims, mdev_key(md))) {
                const Claim *c = claim_set_find_device(&d->claims, mdev_key(md));

                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "%s is claimed by '%s' (claim %s); release the claim first.", mdev_key(md),
                                         c->consumer, c->id);
        }
        if (asprintf(&msg, "Authentication is required to remove the mediated device %s (type '%s') of %s.",
                     mdev_key(md), md->type, md->parent) < 0)
                return -ENOMEM;
        r = mdev_checks(&checks, inventory_get(&d->inventory, md->parent), md->parent, md->type, msg);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        uuid = strdup(mdev_key(md));
        reply = uuid ? reply_new(b, m, false) : NULL;
        if (!reply)
                return -ENOMEM;
        r = daemon_mdev_remove(d, uuid, sd_bus_message_get_sender(m), on_mdev_done, reply, &err);
        if (r < 0) {
                reply_free(reply);
                return reply_mdev_error(error, r, err);
        }
        return 1;
}

static int method_import(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        Mdev *md = mdev_of(b, sd_bus_message_get_path(m));
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ char *uuid = NULL, *msg = NULL, *err = NULL;
        bool no_interaction = false;
        const OptionSpec spec[] = {
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        int r;

        if (!md)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The mediated device is gone.");
        r = bus_read_options(m, spec, ELEMENTSOF(spec), RESOURCE_PCI, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (md->source != MDEV_SOURCE_MDEVCTL)
                return sd_bus_error_setf(error, BUS_ERROR_EXISTS, "Mediated device %s is hostdev's already.",
                                         md->uuid);
        if (asprintf(&msg, "Authentication is required to let hostdev keep the mediated device %s (type '%s') of %s.",
                     md->uuid, md->type, md->parent) < 0)
                return -ENOMEM;
        r = mdev_checks(&checks, inventory_get(&d->inventory, md->parent), md->parent, md->type, msg);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        uuid = strdup(md->uuid);
        if (!uuid)
                return -ENOMEM;
        r = daemon_mdev_import(d, uuid, &err);
        if (r == -EALREADY)
                return sd_bus_error_setf(error, BUS_ERROR_EXISTS, "%s", strempty(err));
        if (r < 0)
                return reply_mdev_error(error, r, err);
        return sd_bus_reply_method_return(m, NULL);
}

const sd_bus_vtable mdev_parent_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("SupportedTypes", "a(sssu)", get_supported_types, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VirtualFunctionTypes", "a(osas)", get_vf_types, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("CreateMdev", SD_BUS_ARGS("s", type, "a{sv}", options), SD_BUS_RESULT("o", mdev),
                                method_create_mdev, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

const sd_bus_vtable mdev_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Uuid", "s", get_uuid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Type", "s", get_type, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Parent", "o", get_parent, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IommuGroup", "i", get_iommu_group, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Active", "b", get_active, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Claimed", "b", get_claimed, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Source", "s", get_source, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Device", "o", get_device, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Remove", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT, method_remove,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Import", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT, method_import,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int parent_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error) {
        if (!parent_from_path(userdata, path) && !bus_standalone_parent_from_path(((Bus *) userdata)->daemon, path))
                return 0;
        *found = userdata;
        return 1;
}

static int mdev_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                     sd_bus_error *error) {
        if (!mdev_of(userdata, path))
                return 0;
        *found = userdata;
        return 1;
}

static int mdev_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Bus *b = userdata;
        _cleanup_strv_free_ char **l = calloc(hashmap_size(b->daemon->mdevs.mdevs) + 1, sizeof(char *));
        char p[BUS_MDEV_PATH_MAX];
        size_t i = 0, n = 0;
        Mdev *m;

        if (!l)
                return -ENOMEM;
        while (hashmap_iterate(b->daemon->mdevs.mdevs, &i, (void **) &m, NULL))
                if (!(l[n++] = strdup(bus_mdev_path(mdev_key(m), p))))
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 0;
}

static int parent_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Bus *b = userdata;
        _cleanup_strv_free_ char **l = NULL;
        MdevParent *p;
        size_t i = 0;

        while (hashmap_iterate(b->daemon->mdevs.parents, &i, (void **) &p, NULL)) {
                _cleanup_free_ char *pp = NULL;

                if (!p->standalone)
                        continue;
                pp = bus_mdev_parent_path(p->address);
                if (!pp || strv_extend(&l, pp) < 0)
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 0;
}

int bus_mdev_register(Bus *b) {
        int r;

        r = sd_bus_add_fallback_vtable(b->bus, NULL, BUS_PATH "/pci", "org.hostdev1.MdevParent", mdev_parent_vtable,
                                       parent_find, b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(b->bus, NULL, MDEV_PREFIX, "org.hostdev1.Mdev", mdev_vtable, mdev_find,
                                               b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(b->bus, NULL, MDEV_PREFIX, mdev_enumerate, b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(b->bus, NULL, BUS_PATH "/mdev_parent", "org.hostdev1.MdevParent",
                                               mdev_parent_vtable, parent_find, b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(b->bus, NULL, BUS_PATH "/mdev_parent", parent_enumerate, b);
        return r;
}

/* ---- the core's notifications ---- */

void bus_mdev_added(Bus *b, const Mdev *m) {
        char p[BUS_MDEV_PATH_MAX];

        (void) emitter_added(b->emitter, bus_mdev_path(mdev_key(m), p));
        bus_vgpu_groups_changed(b);
}

void bus_mdev_removed(Bus *b, const Mdev *m) {
        const char *ifaces[8];
        char p[BUS_MDEV_PATH_MAX];

        bus_object_interfaces(ifaces, BUS_INTERFACES("org.hostdev1.Mdev"));
        (void) emitter_removed(b->emitter, bus_mdev_path(mdev_key(m), p), ifaces);
        bus_vgpu_groups_changed(b);
}

void bus_mdev_changed(Bus *b, const Mdev *m) {
        char p[BUS_MDEV_PATH_MAX];

        (void) sd_bus_emit_properties_changed(b->bus, bus_mdev_path(mdev_key(m), p), "org.hostdev1.Mdev", "IommuGroup",
                                              "Active", "Source", NULL);
}

void bus_mdev_parent_changed(Bus *b, const MdevParent *p) {
        const Device *dev = inventory_get(&b->daemon->inventory, p->address);
        char path[BUS_DEVICE_PATH_MAX];

        if (dev)
                (void) sd_bus_emit_properties_changed(b->bus, bus_device_path(dev, path), "org.hostdev1.MdevParent",
                                                      "SupportedTypes", "VirtualFunctionTypes", NULL);
        else if (p->standalone) {
                _cleanup_free_ char *pp = bus_mdev_parent_path(p->address);

                if (pp)
                        (void) sd_bus_emit_properties_changed(b->bus, pp, "org.hostdev1.MdevParent",
                                                              "SupportedTypes", NULL);
        }
        bus_vgpu_groups_changed(b);
}

/* A parent that is no PCI device is an object of its own. */
static void standalone_added(Bus *b, const char *name, bool added) {
        _cleanup_free_ char *pp = bus_mdev_parent_path(name);
        const char *ifaces[8];

        if (!pp)
                return;
        if (added)
                (void) emitter_added(b->emitter, pp);
        else {
                bus_object_interfaces(ifaces, BUS_INTERFACES("org.hostdev1.MdevParent"));
                (void) emitter_removed(b->emitter, pp, ifaces);
        }
        bus_vgpu_groups_changed(b);
}

void bus_mdev_parent_added(Bus *b, const char *address, bool added) {
        const Device *dev = inventory_get(&b->daemon->inventory, address);
        char path[BUS_DEVICE_PATH_MAX];

        if (!dev) {
                standalone_added(b, address, added);
                return;
        }
        if (added)
                (void) sd_bus_emit_interfaces_added(b->bus, bus_device_path(dev, path), "org.hostdev1.MdevParent",
                                                    NULL);
        else
                (void) sd_bus_emit_interfaces_removed(b->bus, bus_device_path(dev, path),
                                                      "org.hostdev1.MdevParent", NULL);
        bus_vgpu_groups_changed(b);
}
