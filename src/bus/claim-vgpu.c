/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-id128.h>
#include <time.h>

#include "bus.h"
#include "claim.h"
#include "emit.h"
#include "lease.h"
#include "model/handle.h"
#include "model/vgpu.h"
#include "options.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

/* Claims on resource groups of type vgpu (see model/vgpu.h): the members
 * are instances, each its own member under its key: a mediated device's
 * UUID, or the address of a VF that is an NVIDIA vGPU. Nothing is
 * prepared: a mediated device needs no binding, and such a VF stays on
 * the vGPU host driver, which offers it to VFIO itself. */

bool bus_claim_is_vgpu(Bus *b, const Claim *c) {
        const ResourceGroup *g = resource_set_find_id(&b->daemon->resources, c->resource_group);

        return g && g->type == RESOURCE_VGPU;
}

int bus_vgpu_counts(Bus *b, const ResourceGroup *g, unsigned *ret_total, unsigned *ret_available,
                    unsigned *ret_claimed) {
        Daemon *d = b->daemon;
        _cleanup_(vgpu_offer_done) VgpuOffer o = {};
        unsigned claimed = vgpu_group_claimed(&d->claims, g);
        int r;

        r = vgpu_group_offer(g, &d->inventory, &d->mdevs, &d->claims, NULL, &o, NULL);
        if (r < 0)
                return r;
        if (ret_total)
                *ret_total = o.n_free + claimed;
        if (ret_available)
                *ret_available = o.n_free;
        if (ret_claimed)
                *ret_claimed = claimed;
        return 0;
}

void bus_vgpu_groups_changed(Bus *b) {
        const ResourceSet *s = &b->daemon->resources;

        for (size_t i = 0; i < s->n_groups; i++) {
                _cleanup_free_ char *path = NULL;

                if (s->groups[i]->type != RESOURCE_VGPU || !(path = bus_resource_group_path(s->groups[i])))
                        continue;
                (void) emitter_changed(b->emitter, path, OBJECT_RESOURCE_GROUP, RG_FIELD_DEVICES);
        }
        daemon_schedule_flush(b->daemon);
}

/* Mdev.Claimed of each instance of c. */
static void emit_claimed(Bus *b, const Claim *c) {
        _cleanup_free_ const char **keys = claim_addresses(c);
        char p[BUS_MDEV_PATH_MAX];

        for (size_t i = 0; keys && keys[i]; i++)
                if (mdev_set_get(&b->daemon->mdevs, keys[i]))
                        (void) sd_bus_emit_properties_changed(b->bus, bus_mdev_path(keys[i], p), "org.hostdev1.Mdev",
                                                              "Claimed", NULL);
}

/* ---- handles ---- */

static int append_entry(sd_bus_message *reply, const char *key, const char *type, const void *value) {
        return sd_bus_message_append(reply, "{sv}", key, type, value);
}

static int append_mdev_handle(Bus *b, sd_bus_message *reply, const char *uuid) {
        const Mdev *m = mdev_set_get(&b->daemon->mdevs, uuid);
        _cleanup_free_ char *sysfs = NULL, *vfio = NULL, *qemu = NULL, *libvirt = NULL;
        char p[BUS_MDEV_PATH_MAX];
        int r;

        vfio = handle_vfio_group_path(b->daemon->paths.dev, m ? m->iommu_group : -1);
        if (!vfio || asprintf(&sysfs, "%s/bus/mdev/devices/%s", b->daemon->paths.sysfs, uuid) < 0 ||
            asprintf(&qemu, "vfio-pci,sysfsdev=%s", sysfs) < 0 ||
            asprintf(&libvirt, "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='%s'/>"
                               "</source></hostdev>", uuid) < 0)
                return -ENOMEM;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = append_entry(reply, "device", "o", bus_mdev_path(uuid, p));
        if (r >= 0)
                r = append_entry(reply, "address", "s", uuid);
        if (r >= 0)
                r = append_entry(reply, "sysfs", "s", sysfs);
        if (r >= 0)
                r = append_entry(reply, "vfio-group", "s", vfio);
        if (r >= 0)
                r = append_entry(reply, "qemu", "s", qemu);
        if (r >= 0)
                r = append_entry(reply, "libvirt", "s", libvirt);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* A VF that is a vGPU: its PCI handle. */
static int append_vf_handle(Bus *b, sd_bus_message *reply, const char *address) {
        const Device *dev = inventory_get(&b->daemon->inventory, address);
        _cleanup_(handle_list_done) HandleList l = {};
        HandleOptions o = { .sysfs_root = b->daemon->paths.sysfs, .dev_root = b->daemon->paths.dev };
        char p[BUS_DEVICE_PATH_MAX];
        int r;

        if (!dev)
                return 0;       /* unplugged for now: no handle */
        r = handle_list_add_member(&l, &dev, 1, &o);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = append_entry(reply, "device", "o", bus_device_path(dev, p));
        if (r >= 0)
                r = append_entry(reply, "address", "s", l.handles[0].address);
        if (r >= 0)
                r = append_entry(reply, "sysfs", "s", l.handles[0].sysfs);
        if (r >= 0)
                r = append_entry(reply, "vfio-group", "s", l.handles[0].vfio_group);
        if (r >= 0)
                r = append_entry(reply, "qemu", "s", l.handles[0].qemu);
        if (r >= 0)
                r = append_entry(reply, "libvirt", "s", l.handles[0].libvirt);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

int bus_vgpu_append_handles(Bus *b, const Claim *c, sd_bus_message *reply) {
        _cleanup_free_ const char **keys = claim_addresses(c);
        int r;

        if (!keys)
                return -ENOMEM;
        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (size_t i = 0; r >= 0 && keys[i]; i++)
                r = mdev_key_is_vf(keys[i]) ? append_vf_handle(b, reply, keys[i])
                                            : append_mdev_handle(b, reply, keys[i]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* ---- Claim ---- */

typedef struct VgpuCall {
        Bus *bus;
        sd_bus_message *call;
        Claim *claim;
} VgpuCall;

static void vgpu_call_free(VgpuCall *p) {
        sd_bus_message_unref(p->call);
        claim_free(p->claim);
        free(p);
}

static void on_claimed(void *userdata, int r, const char *error, char *const *keys) {
        VgpuCall *p = userdata;
        Bus *b = p->bus;
        Claim *c = p->claim;

        for (size_t i = 0; r >= 0 && keys && keys[i]; i++)
                r = claim_add_member(c, (const char *const *) &keys[i], 1);
        if (r < 0)
                r = sd_bus_reply_method_errorf(p->call,
                                               r == -ENOSPC ? BUS_ERROR_INSUFFICIENT_DEVICES : BUS_ERROR_FAILED, "%s",
                                               error ?: "Failed; every instance made was removed again.");
        else {
                p->claim = NULL;
                r = bus_claim_record(b, c, p->call);
                /* Recorded: its instances are claimed now. */
                if (claim_set_find_id(&b->daemon->claims, c->id))
                        emit_claimed(b, c);
        }
        if (r < 0)
                log_debug_errno(r, "Cannot answer Claim: %m");
        vgpu_call_free(p);
}

static int map_error(int r, const char *msg, sd_bus_error *error) {
        if (r == -ENOMEM)
                return r;
        return sd_bus_error_setf(error,
                                 r == -ENOSPC ? BUS_ERROR_INSUFFICIENT_DEVICES
                                 : r == -EINVAL ? BUS_ERROR_INVALID_ARGUMENT
                                 : r == -EBUSY ? BUS_ERROR_BUSY : BUS_ERROR_FAILED,
                                 "%s", msg ?: "Cannot claim.");
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int bus_vgpu_claim(Bus *b, sd_bus_message *m, const ResourceGroup *g, sd_bus_error *error) {
        Daemon *d = b->daemon;
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_(claim_lease_done) ClaimLease lease = {};
        _cleanup_(vgpu_offer_done) VgpuOffer offer = {};
        _cleanup_(claim_freep) Claim *c = NULL;
        _cleanup_free_ char *lease_option = NULL, *type = NULL, *msg = NULL;
        bool prepare = false, persistent = false, persistent_set = false, no_interaction = false;
        const OptionSpec spec[] = {
                { "mdev-type", OPTION_STRING, &type },
                { "lease", OPTION_STRING, &lease_option },
                { "persistent", OPTION_BOOLEAN, &persistent, &persistent_set },
                { "prepare", OPTION_BOOLEAN, &prepare },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        char hex[SD_ID128_STRING_MAX], id[SD_ID128_STRING_MAX + 1], count_text[16];
        const char *consumer;
        sd_id128_t rnd;
        uint32_t count;
        char **extra;
        VgpuCall *p;
        int r;

        r = sd_bus_message_read(m, "su", &consumer, &count);
        if (r < 0)
                return r;
        r = bus_read_options(m, spec, ELEMENTSOF(spec), g->type, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if ((r = claim_consumer_validate(consumer, &msg)) < 0 || (r = claim_count_validate(count, &msg)) < 0)
                return map_error(r, msg, error);
        if (type && !mdev_type_id_valid(type)) {
                char buf[48];

                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "'%s' is not a type id.",
                                         bus_excerpt(type, buf));
        }
        r = claim_lease_parse(lease_option, sd_bus_message_get_sender(m), &lease, &msg);
        if (r >= 0)
                r = claim_persistent_check(persistent_set ? persistent : -1, &lease, &msg);
        if (r < 0)
                return map_error(r, msg, error);
        if (lease.type == CLAIM_LEASE_PID && bus_lease_pid_check(lease.pid) < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Lease: there is no process %d.",
                                         (int) lease.pid);

        r = vgpu_group_offer(g, &d->inventory, &d->mdevs, &d->claims, type, &offer, &msg);
        if (r < 0)
                return map_error(r, msg, error);
        if (!offer.type)
                return sd_bus_error_setf(error, BUS_ERROR_INSUFFICIENT_DEVICES,
                                         "Resource group %s offers nothing: no parent it takes has a type "
                                         "its rules name.", g->name);
        r = vgpu_offer_take(&offer, count, &msg);
        if (r < 0)
                return map_error(r, msg, error);

        free(msg);
        if (asprintf(&msg, "Authentication is required to claim %u instances of type '%s' from '%s' for '%s'.", count,
                     offer.type, g->name, consumer) < 0)
                return -ENOMEM;
        snprintf(count_text, sizeof count_text, "%" PRIu32, count);
        extra = polkit_details_new("tenant", strempty(g->tenant), "consumer", consumer, "count", count_text,
                                   "mdev-type", offer.type, NULL);
        if (!extra)
                return -ENOMEM;
        r = polkit_checks_for_group(&checks, g, extra, msg);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = sd_id128_randomize(&rnd);
        if (r < 0)
                return r;
        snprintf(id, sizeof id, "c%s", sd_id128_to_string(rnd, hex));
        c = claim_new(id, consumer, g->id, now_usec(), &lease);
        p = c ? calloc(1, sizeof(VgpuCall)) : NULL;
        if (!p)
                return -ENOMEM;
        *p = (VgpuCall) { .bus = b, .call = sd_bus_message_ref(m), .claim = TAKE_PTR(c) };
        r = daemon_vgpu_claim(d, g->id, offer.type, count, id, sd_bus_message_get_sender(m), on_claimed, p);
        if (r < 0) {
                vgpu_call_free(p);
                return r;
        }
        return 1;
}

/* ---- Release ---- */

static void on_released(void *userdata) {
        VgpuCall *p = userdata;
        int r;

        if (p->call) {
                r = sd_bus_reply_method_return(p->call, NULL);
                if (r < 0)
                        log_debug_errno(r, "Cannot answer Release: %m");
        }
        vgpu_call_free(p);
}

int bus_vgpu_drop(Bus *b, Claim *c, sd_bus_message *call) {
        VgpuCall *p = calloc(1, sizeof(VgpuCall));
        int r;

        if (!p) {
                claim_free(c);
                return -ENOMEM;
        }
        *p = (VgpuCall) { .bus = b, .call = call ? sd_bus_message_ref(call) : NULL, .claim = c };
        emit_claimed(b, c);
        r = daemon_vgpu_release(b->daemon, c->id, on_released, p);
        if (r > 0)
                return 1;
        if (r < 0)
                log_warning_errno(r, "Claim %s: its instances stay: %m", c->id);
        on_released(p);
        return 1;
}
