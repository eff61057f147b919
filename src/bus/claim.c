/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-id128.h>
#include <time.h>

#include "bus.h"
#include "claim.h"
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

/* Available and Claimed of the group a claim was on changed. */
static void emit_group_counts(Bus *b, const char *group_id) {
        const ResourceGroup *g = resource_set_find_id(&b->daemon->resources, group_id);
        _cleanup_free_ char *path = g ? bus_resource_group_path(g) : NULL;

        if (path)
                (void) emitter_changed(b->emitter, path, OBJECT_RESOURCE_GROUP, RG_FIELD_DEVICES);
        daemon_schedule_flush(b->daemon);
}

int bus_group_claim_counts(Bus *b, const ResourceGroup *g, unsigned *ret_total, unsigned *ret_available,
                           unsigned *ret_claimed) {
        Daemon *d = b->daemon;
        _cleanup_(member_list_done) MemberList l = {};
        int r;

        r = resource_group_members(&d->resources, &d->inventory, &d->claims, g, &l);
        if (r < 0)
                return r;
        if (ret_total)
                *ret_total = (unsigned) l.n_members;
        if (ret_available)
                *ret_available = (unsigned) l.n_free;
        if (ret_claimed)
                *ret_claimed = (unsigned) member_list_count(&l, MEMBER_CLAIMED);
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
        DeviceKind kind;

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
        int r;

        if (!c)
                return -ENOENT;
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
        Claim *claim;           /* Claim: to add once prepared; Release: taken out already */
} ClaimCall;

static ClaimCall *claim_call_free(ClaimCall *p) {
        if (!p)
                return NULL;
        sd_bus_message_unref(p->call);
        claim_free(p->claim);
        free(p);
        return NULL;
}

/* Takes c. */
static int record_claim(Bus *b, Claim *c, sd_bus_message *call) {
        _cleanup_(claim_freep) Claim *owned = c;
        _cleanup_free_ char *path = bus_claim_path(c);
        const Claim *other = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = claim_set_add(&b->daemon->claims, c, &other);
        if (r == -EBUSY)
                return sd_bus_reply_method_errorf(call, BUS_ERROR_BUSY, "A device was claimed by %s meanwhile.",
                                                  other ? other->id : "another claim");
        if (r < 0)
                return sd_bus_reply_method_errno(call, r, NULL);
        TAKE_PTR(owned);
        r = daemon_save(b->daemon);
        if (r < 0) {
                claim_free(claim_set_take(&b->daemon->claims, c->id));
                return sd_bus_reply_method_errorf(call, BUS_ERROR_FAILED, "Cannot save the state: %s", strerror(-r));
        }
        log_info("Claim %s: %zu devices of resource group %s for '%s'.", c->id, claim_n_devices(c),
                 c->resource_group, c->consumer);
        (void) bus_lease_watch(b, c);
        emit_claim(b, c, true);
        emit_claim_devices(b, c);
        emit_group_counts(b, c->resource_group);
        return sd_bus_reply_method_return(call, "o", path);
}

static void on_claim_prepared(void *userdata, const Plan *plan, int r, const char *error) {
        ClaimCall *p = userdata;

        if (r < 0)
                r = sd_bus_reply_method_errorf(p->call, r == -EBUSY ? BUS_ERROR_BUSY : BUS_ERROR_FAILED, "%s",
                                               error ?: "Failed; every step was rolled back.");
        else {
                p->claim->prepared = true;
                r = record_claim(p->bus, TAKE_PTR(p->claim), p->call);
        }
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

/* "devices" as addresses; NotFound for a path that is no device. */
static int devices_option(Daemon *d, char **paths, char ***ret, sd_bus_error *error) {
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

static int claim_checks(PolkitChecks *checks, const ResourceGroup *g, const Claim *c, bool release) {
        _cleanup_free_ const char **addresses = claim_addresses(c);
        _cleanup_free_ char *msg = NULL, *devices = NULL;
        char **extra;

        if (!addresses)
                return -ENOMEM;
        devices = strv_join((char **) addresses, ",");
        if (!devices)
                return -ENOMEM;
        if (asprintf(&msg, release ? "Authentication is required to release the devices '%s' claimed for '%s'."
                                   : "Authentication is required to claim the devices '%s' for '%s'.",
                     devices, c->consumer) < 0)
                return -ENOMEM;
        extra = polkit_details_new("tenant", g ? strempty(g->tenant) : "", NULL);
        if (!extra || polkit_details_add(&extra, "consumer", c->consumer) < 0 ||
            polkit_details_add(&extra, "devices", devices) < 0) {
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
        bool prepare = true, numa_strict = false, persistent = false, persistent_set = false, usb = false,
             records = false,
             numa_set = false, no_interaction = false;
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
        };
        int r;

        if (!g)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The resource group is gone.");
        r = sd_bus_message_read(m, "su", &consumer, &count);
        if (r < 0)
                return r;
        r = bus_read_options(m, spec, ELEMENTSOF(spec), g->type, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (numa_set && numa < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "numa-node must be 0 or more.");
        r = claim_lease_parse(lease_option, sd_bus_message_get_sender(m), &lease, &msg);
        if (r >= 0)
                r = claim_persistent_check(persistent_set ? persistent : -1, &lease, &msg);
        if (r < 0)
                return map_error(r, msg, error);
        if (lease.type == CLAIM_LEASE_PID && bus_lease_pid_check(lease.pid) < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Lease: there is no process %d.",
                                         (int) lease.pid);
        if (device_paths) {
                r = devices_option(d, device_paths, &addresses, error);
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

        r = claim_checks(&checks, g, c, false);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        if (plan.n_steps == 0 && !records) {
                c->prepared = prepare;
                r = record_claim(b, TAKE_PTR(c), m);
                return r < 0 ? r : 1;
        }

        p = calloc(1, sizeof(ClaimCall));
        if (!p)
                return -ENOMEM;
        *p = (ClaimCall) { .bus = b, .call = sd_bus_message_ref(m), .claim = TAKE_PTR(c) };
        free(msg);
        msg = NULL;
        r = bus_claim_change_start(b, devs, n_devs, usb, true, &plan, sd_bus_message_get_sender(m), on_claim_prepared,
                                   p, &msg);
        if (r < 0) {
                claim_call_free(p);
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
 * answered once that is done. */
int bus_claim_drop(Bus *b, const char *id, sd_bus_message *call, const char *reason) {
        Daemon *d = b->daemon;
        _cleanup_(claim_freep) Claim *c = claim_set_take(&d->claims, id);
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ const Device **devs = NULL;
        _cleanup_free_ char *msg = NULL;
        size_t n = 0;
        const ResourceGroup *g;
        bool usb = false, records = false;
        ClaimCall *p;
        int r;

        if (!c)
                return -ENOENT;
        r = daemon_save(d);
        if (r < 0) {
                log_warning_errno(r, "Cannot save the state after releasing claim %s: %m", c->id);
                (void) claim_set_add(&d->claims, c, NULL);
                TAKE_PTR(c);
                return call ? sd_bus_reply_method_errorf(call, BUS_ERROR_FAILED, "Cannot save the state: %s",
                                                         strerror(-r)) : r;
        }
        log_info("Claim %s of '%s' released: %s.", c->id, c->consumer, reason);
        bus_lease_forget(b, c->id);
        emit_claim(b, c, false);
        emit_claim_devices(b, c);
        emit_group_counts(b, c->resource_group);
        g = resource_set_find_id(&d->resources, c->resource_group);
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
        if (plan.n_steps == 0 && !records)
                return call ? sd_bus_reply_method_return(call, NULL) : 0;

        p = calloc(1, sizeof(ClaimCall));
        if (!p)
                return -ENOMEM;
        *p = (ClaimCall) { .bus = b, .call = call ? sd_bus_message_ref(call) : NULL, .claim = TAKE_PTR(c) };
        free(msg);
        msg = NULL;
        r = bus_claim_change_start(b, devs, n, usb, false, &plan, call ? sd_bus_message_get_sender(call) : "hostdevd",
                                   on_claim_released, p, &msg);
        if (r < 0) {
                log_warning("Claim %s: its devices stay on vfio-pci: %s", p->claim->id, strempty(msg));
                claim_call_free(p);
                return call ? sd_bus_reply_method_return(call, NULL) : 0;
        }
        return 1;
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        Daemon *d = b->daemon;
        const Claim *c = bus_claim_from_path(b, sd_bus_message_get_path(m));
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        bool no_interaction = false;
        const OptionSpec spec[] = {
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
        };
        int r;

        if (!c)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_FOUND, "The claim is gone: released already.");
        r = bus_read_options(m, spec, ELEMENTSOF(spec), RESOURCE_PCI, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        r = claim_checks(&checks, resource_set_find_id(&d->resources, c->resource_group), c, true);
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
