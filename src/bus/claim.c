/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-id128.h>
#include <time.h>

#include "bus.h"
#include "claim.h"
#include "claim-vf.h"
#include "claim-usb.h"
#include "emit.h"
#include "lease.h"
#include "model/handle.h"
#include "options.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

#define CLAIM_PREFIX BUS_PATH "/claim"

/* Claim objects: /org/hostdev1/claim/<id>, the id being the claim's own
 * ([a-z][a-z0-9]*, a valid path element as it is). Their userdata is the
 * Bus; a getter looks its claim up by path. */

char *bus_claim_path(const Claim *c) {
        char *p;

        return asprintf(&p, CLAIM_PREFIX "/%s", c->id) < 0 ? NULL : p;
}

Claim *bus_claim_from_path(Bus *b, const char *path) {
        const char *id = startswith(path, CLAIM_PREFIX "/");

        return id && claim_id_valid(id) ? claim_set_find_id(&b->daemon->claims, id) : NULL;
}

const char *const bus_claim_interfaces[] = { "org.hostdev1.Claim", NULL };

static void emit_claim(Bus *b, const Claim *c, bool added) {
        _cleanup_free_ char *path = bus_claim_path(c);
        const char *ifaces[8];

        if (!path)
                return;
        if (added)
                (void) emitter_added(b->emitter, path);
        else {
                bus_object_interfaces(ifaces, bus_claim_interfaces);
                (void) emitter_removed(b->emitter, path, ifaces);
        }
        (void) sd_bus_emit_properties_changed(b->bus, BUS_PATH, "org.hostdev1.Manager", "Claims", NULL);
}

void bus_claim_driver_changed(Bus *b, const Device *dev) {
        const Claim *c = claim_set_find_device(&b->daemon->claims, dev->address);
        _cleanup_free_ char *path = c ? bus_claim_path(c) : NULL;
        char buf[BUS_GROUP_PATH_MAX];

        if (dev->iommu_group >= 0)
                (void) emitter_changed(b->emitter, bus_iommu_group_path(dev->iommu_group, buf), OBJECT_GROUP,
                                       GROUP_FIELD_VFIO);
        if (path)
                (void) sd_bus_emit_properties_changed(b->bus, path, "org.hostdev1.Claim", "Handles", NULL);
}

/* State and Claim of every device of c changed (the claim came or went). */
static void emit_claim_devices(Bus *b, const Claim *c) {
        _cleanup_free_ const Device **devs = NULL;
        char buf[BUS_DEVICE_PATH_MAX];
        size_t n = 0;

        if (claim_devices(c, &b->daemon->inventory, &devs, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                (void) emitter_changed(b->emitter, bus_device_path(devs[i], buf), OBJECT_DEVICE,
                                       DEVICE_FIELD_STATE);
}

/* Available and Claimed of the group a claim was on changed; its
 * Devices and Total did not (a claim moves no device in or out), and
 * leaving them out spares each signal listing and sorting the members. */
static void emit_group_counts(Bus *b, const char *group_id) {
        const ResourceGroup *g = resource_set_find_id(&b->daemon->resources, group_id);
        _cleanup_free_ char *path = g ? bus_resource_group_path(g) : NULL;

        if (path)
                /* A vgpu group's Total counts instances, which claims make. */
                (void) emitter_changed(b->emitter, path, OBJECT_RESOURCE_GROUP,
                                       g->type == RESOURCE_VGPU ? RG_FIELD_DEVICES : RG_FIELD_COUNTS);
        daemon_schedule_flush(b->daemon);
}

/* The last group counted, for the event loop iteration it was counted in. */
typedef struct GroupCounts {
        const Bus *bus;
        const ResourceGroup *group;
        uint64_t iteration;
        size_t n_claims, n_pending, n_devices;
        unsigned total, available, claimed;
} GroupCounts;

int bus_group_claim_counts(Bus *b, const ResourceGroup *g, unsigned *ret_total, unsigned *ret_available,
                           unsigned *ret_claimed) {
        /* A group's PropertiesChanged (or GetAll) asks for Available and
         * then Claimed, each of which needs the whole member list. Within
         * one iteration of the event loop (one event source dispatched)
         * the counts are kept: members change in handlers and on_flush
         * before the signals go out, never between two getters of one
         * message, and the claim count guards against a handler that
         * counts, claims (or reserves, or sees a device go) and counts
         * again. */
        static GroupCounts last = {};
        Daemon *d = b->daemon;
        _cleanup_(member_list_done) MemberList l = {};
        uint64_t iteration = 0;
        int r;

        if (g->type == RESOURCE_VGPU)
                return bus_vgpu_counts(b, g, ret_total, ret_available, ret_claimed);
        if (sd_event_get_iteration(d->event, &iteration) < 0 || last.bus != b || last.group != g ||
            last.iteration != iteration || last.n_claims != d->claims.n_claims ||
            last.n_pending != d->claims.n_pending || last.n_devices != inventory_n_devices(&d->inventory)) {
                r = resource_group_members(&d->resources, &d->inventory, &d->claims, g, &l);
                if (r < 0)
                        return r;
                last = (GroupCounts) {
                        .bus = b, .group = g, .iteration = iteration, .n_claims = d->claims.n_claims,
                        .n_pending = d->claims.n_pending, .n_devices = inventory_n_devices(&d->inventory),
                        .total = (unsigned) l.n_members, .available = (unsigned) l.n_free,
                        .claimed = (unsigned) member_list_count(&l, MEMBER_CLAIMED),
                };
        }
        if (ret_total)
                *ret_total = last.total;
        if (ret_available)
                *ret_available = last.available;
        if (ret_claimed)
                *ret_claimed = last.claimed;
        return 0;
}

#define CLAIM_GETTER(name, type, expr)                                                           \
        static int name(sd_bus *bus, const char *path, const char *interface, const char *property, \
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {            \
                const Claim *c = bus_claim_from_path(userdata, path);                            \
                if (!c)                                                                          \
                        return -ENOENT;                                                          \
                return sd_bus_message_append(reply, type, (expr));                               \
        }

CLAIM_GETTER(get_id, "s", c->id);
CLAIM_GETTER(get_consumer, "s", c->consumer);
CLAIM_GETTER(get_since, "t", c->since);

static int get_lease(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Claim *c = bus_claim_from_path(userdata, path);
        _cleanup_free_ char *s = NULL;

        if (!c)
                return -ENOENT;
        s = claim_lease_to_string(&c->lease);
        if (!s)
                return -ENOMEM;
        return sd_bus_message_append(reply, "s", s);
}

static int get_resource_group(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const Claim *c = bus_claim_from_path(b, path);
        const ResourceGroup *g;
        _cleanup_free_ char *p = NULL;

        if (!c)
                return -ENOENT;
        g = resource_set_find_id(&b->daemon->resources, c->resource_group);
        p = g ? bus_resource_group_path(g) : strdup("/");
        if (!p)
                return -ENOMEM;
        return sd_bus_message_append(reply, "o", p);
}

static char *address_path(const char *address) {
        _cleanup_free_ char *canonical = NULL;
        char p[BUS_MDEV_PATH_MAX];
        DeviceKind kind;

        /* A vgpu claim's mediated device. */
        if (mdev_uuid_valid(address))
                return strdup(bus_mdev_path(address, p));

        if (address_parse(address, &kind, &canonical) < 0)
                return NULL;
        return bus_device_path_of(kind, canonical);
}

static int get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Claim *c = bus_claim_from_path(userdata, path);
        _cleanup_free_ const char **addresses = NULL;
        int r;

        if (!c)
                return -ENOENT;
        addresses = claim_addresses(c);
        if (!addresses)
                return -ENOMEM;
        r = sd_bus_message_open_container(reply, 'a', "o");
        for (size_t i = 0; r >= 0 && addresses[i]; i++) {
                _cleanup_free_ char *p = address_path(addresses[i]);

                r = p ? sd_bus_message_append(reply, "o", p) : -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int append_handle(sd_bus_message *reply, const Handle *h) {
        _cleanup_free_ char *dev = address_path(h->address);
        int r;

        if (!dev)
                return -ENOMEM;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "device", "o", dev);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "address", "s", h->address);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "sysfs", "s", h->sysfs);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "vfio-group", "s", h->vfio_group);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "qemu", "s", h->qemu);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "libvirt", "s", h->libvirt);
        if (r >= 0 && h->libvirt_interface)
                r = sd_bus_message_append(reply, "{sv}", "libvirt-interface", "s", h->libvirt_interface);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int get_handles(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const Claim *c = bus_claim_from_path(b, path);
        _cleanup_(handle_list_done) HandleList l = {};
        HandleOptions o = { .sysfs_root = b->daemon->paths.sysfs, .dev_root = b->daemon->paths.dev };
        const ResourceGroup *g;
        int r;

        if (!c)
                return -ENOENT;
        if (bus_claim_is_vgpu(b, c))
                return bus_vgpu_append_handles(b, c, reply);
        g = resource_set_find_id(&b->daemon->resources, c->resource_group);
        /* VFs of a sriov-nic pool go to a VM as network interfaces too. */
        o.vf_interfaces = g ? g->type == RESOURCE_SRIOV_NIC : !!c->vf_settings;
        o.vf_settings = c->vf_settings;
        r = handle_list_add_claim(&l, c, &b->daemon->inventory, &o);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (size_t i = 0; r >= 0 && i < l.n_handles; i++)
                r = append_handle(reply, &l.handles[i]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

int bus_append_claims(sd_bus_message *reply, Bus *b) {
        const ClaimSet *s = &b->daemon->claims;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        for (size_t i = 0; r >= 0 && i < s->n_claims; i++) {
                _cleanup_free_ char *p = bus_claim_path(s->claims[i]);

                r = p ? sd_bus_message_append(reply, "o", p) : -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int map_error(int r, const char *msg, sd_bus_error *error) {
        const char *name;

        switch (r) {
        case -ENOMEM:
                return r;
        case -ENOSPC:
                name = BUS_ERROR_INSUFFICIENT_DEVICES;
                break;
        case -ENOENT:
                name = BUS_ERROR_NOT_FOUND;
                break;
        case -EBUSY:
                name = BUS_ERROR_BUSY;
                break;
        case -EPERM:
                name = "org.hostdev1.Error.CriticalDevice";
                break;
        case -ENODEV:
                name = "org.hostdev1.Error.GroupNotViable";
                break;
        case -EINVAL:
                name = BUS_ERROR_INVALID_ARGUMENT;
                break;
        default:
                name = BUS_ERROR_FAILED;
        }
        return sd_bus_error_setf(error, name, "%s", msg ?: "Cannot claim.");
}

/* A Claim or Release waiting for its change. */
typedef struct ClaimCall {
        Bus *bus;
        sd_bus_message *call;
        char *reserved;         /* Claim: the id of the claim reserved in the set */
        Claim *claim;           /* Release: taken out already */
} ClaimCall;

static ClaimCall *claim_call_free(ClaimCall *p) {
        if (!p)
                return NULL;
        sd_bus_message_unref(p->call);
        free(p->reserved);
        claim_free(p->claim);
        free(p);
        return NULL;
}

/* A reserved claim that will not be: its members are free again (the
 * bus never showed it, only the group's Available). A reserved claim is
 * stored with the intent of its prepare, so it leaves the store too. */
static void cancel_claim(Bus *b, const char *id) {
        _cleanup_(claim_freep) Claim *c = claim_set_cancel(&b->daemon->claims, id);

        if (!c)
                return;
        if (daemon_save(b->daemon) < 0)
                log_warning("Cannot save the state after claim %s failed.", id);
        bus_claim_vf_undo(b->daemon, c, SIZE_MAX);
        emit_group_counts(b, c->resource_group);
}

/* Logs, watches the lease, signals and answers: c is listed and stored. */
static int announce_claim(Bus *b, const Claim *c, sd_bus_message *call) {
        _cleanup_free_ char *path = bus_claim_path(c);

        if (!path)
                return -ENOMEM;
        log_info("Claim %s: %zu devices of resource group %s for '%s'.", c->id, claim_n_devices(c),
                 c->resource_group, c->consumer);
        (void) bus_lease_watch(b, c);
        emit_claim(b, c, true);
        emit_claim_devices(b, c);
        emit_group_counts(b, c->resource_group);
        return sd_bus_reply_method_return(call, "o", path);
}

/* Lists the reserved claim id, saves and announces it, answers call. */
static int record_claim(Bus *b, const char *id, sd_bus_message *call) {
        _cleanup_free_ char *path = NULL;
        Claim *c;
        int r;

        r = claim_set_commit(&b->daemon->claims, id);
        if (r < 0) {
                cancel_claim(b, id);
                return sd_bus_reply_method_errno(call, r, NULL);
        }
        c = claim_set_find_id(&b->daemon->claims, id);
        path = bus_claim_path(c);
        r = path ? daemon_save(b->daemon) : -ENOMEM;
        if (r < 0) {
                c = claim_set_take(&b->daemon->claims, id);
                bus_claim_vf_undo(b->daemon, c, SIZE_MAX);
                emit_group_counts(b, c->resource_group);
                claim_free(c);
                return sd_bus_reply_method_errorf(call, BUS_ERROR_FAILED, "Cannot save the state: %s", strerror(-r));
        }
        return announce_claim(b, c, call);
}

int bus_claim_record(Bus *b, Claim *c, sd_bus_message *call) {
        _cleanup_(claim_freep) Claim *owned = c;
        const Claim *other = NULL;
        char id[64];
        int r;

        r = claim_set_reserve(&b->daemon->claims, c, &other);
        if (r == -EBUSY)
                return sd_bus_reply_method_errorf(call, BUS_ERROR_BUSY, "A device was claimed by %s meanwhile.",
                                                  other ? other->id : "another claim");
        if (r < 0)
                return sd_bus_reply_method_errno(call, r, NULL);
        TAKE_PTR(owned);
        snprintf(id, sizeof id, "%s", c->id);
        return record_claim(b, id, call);
}

static void on_claim_prepared(void *userdata, const Plan *plan, int r, const char *error) {
        ClaimCall *p = userdata;
        Claim *c = claim_set_find_reserved(&p->bus->daemon->claims, p->reserved);

        if (r >= 0 && !c)
                r = -ENOENT;
        if (r < 0) {
                cancel_claim(p->bus, p->reserved);
                r = sd_bus_reply_method_errorf(p->call, r == -EBUSY ? BUS_ERROR_BUSY : BUS_ERROR_FAILED, "%s",
                                               error ?: "Failed; every step was rolled back.");
        } else
                r = record_claim(p->bus, p->reserved, p->call);
        if (r < 0)
                log_debug_errno(r, "Cannot answer Claim: %m");
        claim_call_free(p);
}

static int new_claim_id(char ret[static SD_ID128_STRING_MAX + 1]) {
        char hex[SD_ID128_STRING_MAX];
        sd_id128_t rnd;
        int r;

        r = sd_id128_randomize(&rnd);
        if (r < 0)
                return r;
        snprintf(ret, SD_ID128_STRING_MAX + 1, "c%s", sd_id128_to_string(rnd, hex));
        return 0;
}

int bus_devices_option(Daemon *d, char **paths, char ***ret, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (char **p = paths; *p; p++) {
                const Device *dev = bus_device_from_path(d, *p, "org.hostdev1.Device");

                if (!dev)
                        return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "No device at %s.", *p);
                if (strv_extend(&l, dev->address) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* A claim by count is asked about as such ("count", no "devices"): which
 * free members it gets is decided once it is authorized, so that what
 * other claims take while polkit decides cannot change the question. A
 * release, or a claim naming its members, is asked about its devices.
 * count is 0 for those. */
static int claim_checks(PolkitChecks *checks, const ResourceGroup *g, const Claim *c, unsigned count,
                        bool release) {
        _cleanup_free_ const char **addresses = claim_addresses(c);
        _cleanup_free_ char *msg = NULL, *devices = NULL;
        char **extra, n[16];
        int r;

        if (!addresses)
                return -ENOMEM;
        devices = count > 0 ? NULL : strv_join((char **) addresses, ",");
        if (count == 0 && !devices)
                return -ENOMEM;
        if (release)
                r = asprintf(&msg, "Authentication is required to release the devices '%s' claimed for '%s'.",
                             devices, c->consumer);
        else if (count > 0)
                r = asprintf(&msg, "Authentication is required to claim %u %s of the resource group '%s' for '%s'.",
                             count, count == 1 ? "member" : "members", g->name, c->consumer);
        else
                r = asprintf(&msg, "Authentication is required to claim the devices '%s' for '%s'.", devices,
                             c->consumer);
        if (r < 0)
                return -ENOMEM;
        snprintf(n, sizeof n, "%u", count);
        extra = polkit_details_new("tenant", g ? strempty(g->tenant) : "", NULL);
        if (!extra || polkit_details_add(&extra, "consumer", c->consumer) < 0 ||
            polkit_details_add(&extra, "devices", devices) < 0 ||
            polkit_details_add(&extra, "count", count > 0 ? n : NULL) < 0) {
                strv_free(extra);
                return -ENOMEM;
        }
        if (g)
                return polkit_checks_for_group(checks, g, extra, msg);
        /* The group is gone: the claim's own details. */
        if (polkit_details_add(&extra, "resource-group", c->resource_group) < 0 ||
            polkit_details_add(&extra, "polkit.message", msg) < 0) {
                strv_free(extra);
                return -ENOMEM;
        }
        return polkit_checks_add(checks, NULL, extra);
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int bus_method_claim(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        const ResourceGroup *g = bus_resource_group_from_path(b, sd_bus_message_get_path(m));
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_(claim_lease_done) ClaimLease lease = {};
        _cleanup_(claim_freep) Claim *c = NULL;
        _cleanup_strv_free_ char **device_paths = NULL, **addresses = NULL;
        _cleanup_free_ char *lease_option = NULL, *msg = NULL;
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ const Device **devs = NULL;
        ClaimRequest request = CLAIM_REQUEST_INIT;
        _cleanup_(claim_vf_requests_done) ClaimVfRequests vf_settings = {};
        _cleanup_free_ char *mac = NULL;
        uint32_t vlan = 0;
        bool vlan_set = false;
        bool prepare = true, numa_strict = false, persistent = false, persistent_set = false,
             numa_set = false, no_interaction = false, usb = false, records = false;
        int32_t numa = -1;
        const char *consumer;
        char id[SD_ID128_STRING_MAX + 1];
        size_t n_devs = 0;
        uint32_t count;
        ClaimCall *p;
        const OptionSpec spec[] = {
                { "prepare", OPTION_BOOLEAN, &prepare },
                { "numa-node", OPTION_INT32, &numa, &numa_set },
                { "numa-strict", OPTION_BOOLEAN, &numa_strict },
                { "devices", OPTION_OBJECTS, &device_paths },
                { "lease", OPTION_STRING, &lease_option },
                { "persistent", OPTION_BOOLEAN, &persistent, &persistent_set },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
                { "mac", OPTION_STRING, &mac },
                { "vlan", OPTION_UINT32, &vlan, &vlan_set },
                { "vf-settings", OPTION_VF_SETTINGS, &vf_settings },
        };
        int r;

        if (!g)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The resource group is gone.");
        if (g->type == RESOURCE_VGPU)
                return bus_vgpu_claim(b, m, g, error);
        r = sd_bus_message_read(m, "su", &consumer, &count);
        if (r < 0)
                return r;
        r = bus_read_options(m, spec, ELEMENTSOF(spec), g->type, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (numa_set && numa < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "numa-node must be 0 or more.");
        r = bus_claim_vf_check(g, count, mac, vlan_set ? (int64_t) vlan : -1, &vf_settings, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        r = claim_lease_parse(lease_option, sd_bus_message_get_sender(m), &lease, &msg);
        if (r >= 0)
                r = claim_persistent_check(persistent_set ? persistent : -1, &lease, &msg);
        if (r < 0)
                return map_error(r, msg, error);
        if (lease.type == CLAIM_LEASE_PID && bus_lease_pid_check(lease.pid) < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Lease: there is no process %d.",
                                         (int) lease.pid);
        if (device_paths) {
                r = bus_devices_option(d, device_paths, &addresses, error);
                if (r < 0 || sd_bus_error_is_set(error))
                        return r;
                request.devices = (const char *const *) addresses;
                request.n_devices = strv_length(addresses);
        }
        request.count = count;
        request.numa_node = numa;
        request.numa_strict = numa_strict;

        r = new_claim_id(id);
        if (r < 0)
                return r;
        r = claim_make(&d->resources, &d->inventory, &d->claims, g, id, consumer, &request, now_realtime_usec(),
                       &lease, &c, &msg);
        if (r < 0)
                return map_error(r, msg, error);
        r = bus_claim_vf_bind(d, c, &vf_settings, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;

        /* What the claim would change, before anybody is asked. */
        if (prepare) {
                r = claim_devices(c, &d->inventory, &devs, &n_devs);
                if (r < 0)
                        return r;
                free(msg);
                msg = NULL;
                r = bus_claim_plan(b, devs, n_devs, true, &plan, &usb, &records, &msg);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", msg ?: "Cannot plan this.");
                if (plan.n_steps > 0 && !usb && !d->iommu_enabled)
                        return sd_bus_error_setf(error, "org.hostdev1.Error.NotSupported", "%s", d->iommu_message);
                free(msg);
                msg = NULL;
                if (daemon_change_check_busy(d, &plan, devs, n_devs, &msg) == -EBUSY)
                        return sd_bus_error_setf(error, BUS_ERROR_BUSY, "%s", strempty(msg));
        }

        r = claim_checks(&checks, g, c, device_paths ? 0 : count, false);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* A sriov-nic claim's MAC and VLAN, before its VFs go to vfio. */
        r = bus_claim_vf_apply(d, c, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;

        /* Authorized: the members selected in this very run are reserved
         * now. The event loop runs one handler at a time, so claims on a
         * group are served one after the other, each selecting from what
         * the ones before it left; a claim still being prepared holds its
         * members until it is recorded or cancelled. */
        c->prepared = prepare;
        r = claim_set_reserve(&d->claims, c, NULL);
        if (r < 0)
                bus_claim_vf_undo(d, c, SIZE_MAX);
        if (r < 0)
                return r == -ENOMEM ? r : map_error(-EBUSY, "A device was claimed meanwhile.", error);
        TAKE_PTR(c);
        if (plan.n_steps == 0 && !records) {
                r = record_claim(b, id, m);
                return r < 0 ? r : 1;
        }

        p = calloc(1, sizeof(ClaimCall));
        if (!p || !(p->reserved = strdup(id))) {
                free(p);
                cancel_claim(b, id);
                return -ENOMEM;
        }
        p->bus = b;
        p->call = sd_bus_message_ref(m);
        emit_group_counts(b, g->id);
        free(msg);
        msg = NULL;
        r = bus_claim_change_start(b, devs, n_devs, usb, true, &plan, sd_bus_message_get_sender(m), on_claim_prepared,
                                   p, &msg);
        if (r < 0) {
                claim_call_free(p);
                cancel_claim(b, id);
                if (r == -ENOMEM)
                        return r;
                return sd_bus_error_setf(error, r == -EBUSY ? BUS_ERROR_BUSY : BUS_ERROR_FAILED, "%s",
                                         msg ?: "Cannot start the change.");
        }
        return 1;
}

static void on_claim_released(void *userdata, const Plan *plan, int r, const char *error) {
        ClaimCall *p = userdata;

        if (r < 0)
                log_warning("Claim %s released; its devices could not go back to their drivers: %s",
                            p->claim->id, strempty(error));
        if (p->call) {
                r = sd_bus_reply_method_return(p->call, NULL);
                if (r < 0)
                        log_debug_errno(r, "Cannot answer Release: %m");
        }
        claim_call_free(p);
}

/* Takes the claim out of the set, tells everybody, and gives its devices
 * back to their host drivers when it prepared them. call (may be NULL) is
 * answered once that is done. The claim leaves the store in the same
 * write that records the release of its devices (the change's intent): a
 * crash between two writes would leave them on vfio-pci, held by nobody. */
int bus_claim_drop(Bus *b, const char *id, sd_bus_message *call, const char *reason) {
        Daemon *d = b->daemon;
        _cleanup_(claim_freep) Claim *c = claim_set_take(&d->claims, id);
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ const Device **devs = NULL;
        _cleanup_free_ char *msg = NULL;
        size_t n = 0;
        const ResourceGroup *g;
        const Claim *gone;
        bool usb = false, records = false;
        ClaimCall *p = NULL;
        int r;

        if (!c)
                return -ENOENT;
        g = resource_set_find_id(&d->resources, c->resource_group);
        if (g && g->type == RESOURCE_VGPU)
                return bus_vgpu_drop(b, TAKE_PTR(c), call);
        if (c->prepared && g && g->keep_prepared)
                log_info("Claim %s: its devices stay on vfio (resource group %s: ReturnToHost false).", c->id,
                         g->name);
        else if (c->prepared) {
                bus_claim_usb_forget_missing(b, c);
                r = claim_devices(c, &d->inventory, &devs, &n);
                if (r >= 0 && n > 0)
                        r = bus_claim_plan(b, devs, n, false, &plan, &usb, &records, &msg);
                if (r < 0)
                        log_warning("Claim %s: its devices stay on vfio-pci: %s", c->id, strempty(msg));
        }
        if (plan.n_steps > 0 || records) {
                p = calloc(1, sizeof(ClaimCall));
                if (!p) {
                        (void) claim_set_add(&d->claims, TAKE_PTR(c), NULL);
                        return -ENOMEM;
                }
                *p = (ClaimCall) { .bus = b, .call = call ? sd_bus_message_ref(call) : NULL, .claim = c };
                free(msg);
                msg = NULL;
                r = bus_claim_change_start(b, devs, n, usb, false, &plan,
                                           call ? sd_bus_message_get_sender(call) : "hostdevd", on_claim_released, p,
                                           &msg);
                if (r < 0) {
                        log_warning("Claim %s: its devices stay on vfio-pci: %s", c->id, strempty(msg));
                        p->claim = NULL;
                        p = claim_call_free(p);
                } else
                        TAKE_PTR(c);    /* p has it; done comes from the loop, later */
        }
        if (!p) {
                r = daemon_save(d);
                if (r < 0) {
                        log_warning_errno(r, "Cannot save the state after releasing claim %s: %m", c->id);
                        (void) claim_set_add(&d->claims, TAKE_PTR(c), NULL);
                        return call ? sd_bus_reply_method_errorf(call, BUS_ERROR_FAILED,
                                                                 "Cannot save the state: %s", strerror(-r)) : r;
                }
        }
        gone = p ? p->claim : c;
        log_info("Claim %s of '%s' released: %s.", gone->id, gone->consumer, reason);
        bus_lease_forget(b, gone->id);
        emit_claim(b, gone, false);
        emit_claim_devices(b, gone);
        emit_group_counts(b, gone->resource_group);
        daemon_sriov_claim_released(d, gone);
        if (!p)
                return call ? sd_bus_reply_method_return(call, NULL) : 0;
        return 1;
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        const Claim *c = bus_claim_from_path(b, sd_bus_message_get_path(m));
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ const Device **devs = NULL;
        _cleanup_free_ char *msg = NULL;
        bool no_interaction = false;
        size_t n = 0;
        const OptionSpec spec[] = {
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        int r;

        if (!c)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The claim is gone: released already.");
        r = bus_read_options(m, spec, ELEMENTSOF(spec), RESOURCE_PCI, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        /* Still being prepared: its devices are in the hands of that change. */
        r = claim_devices(c, &d->inventory, &devs, &n);
        if (r < 0)
                return r;
        if (daemon_change_check_busy(d, NULL, devs, n, &msg) == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "%s", strempty(msg));
        r = claim_checks(&checks, resource_set_find_id(&d->resources, c->resource_group), c, 0, true);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = bus_claim_drop(b, c->id, m, "released by its holder");
        return r < 0 ? r : 1;
}

const sd_bus_vtable claim_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Consumer", "s", get_consumer, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ResourceGroup", "o", get_resource_group, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Devices", "ao", get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Handles", "aa{sv}", get_handles, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("Since", "t", get_since, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Lease", "s", get_lease, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Missing", "ao", bus_claim_get_missing, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Release", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT, method_release,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ClaimDegraded", SD_BUS_ARGS("o", claim, "as", missing), 0),
        SD_BUS_SIGNAL_WITH_ARGS("DeviceMoved", SD_BUS_ARGS("o", claim, "o", old_device, "o", new_device), 0),
        SD_BUS_VTABLE_END,
};

/* A released claim's path still answers Release, with NotFound: the
 * caller that releases twice hears why. */
static int claim_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                      sd_bus_error *error) {
        const char *id = startswith(path, CLAIM_PREFIX "/");

        if (!bus_claim_from_path(userdata, path) && !(id && claim_id_valid(id) && interface &&
                                                     streq(interface, "org.hostdev1.Claim")))
                return 0;
        *found = userdata;
        return 1;
}

static int claim_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Bus *b = userdata;
        const ClaimSet *s = &b->daemon->claims;
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_claims; i++) {
                _cleanup_free_ char *p = bus_claim_path(s->claims[i]);

                if (!p || strv_extend(&l, p) < 0)
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 0;
}

int bus_claim_register(Bus *b) {
        int r;

        r = sd_bus_add_fallback_vtable(b->bus, NULL, CLAIM_PREFIX, "org.hostdev1.Claim", claim_vtable, claim_find,
                                       b);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(b->bus, NULL, CLAIM_PREFIX, claim_enumerate, b);
}
