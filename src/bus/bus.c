/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-daemon.h>

#include "bus.h"
#include "claim.h"
#include "claim-usb.h"
#include "lease.h"
#include "emit.h"
#include "object-manager.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"

const BusInterface bus_interfaces[] = {
        { "org.hostdev1.Manager", manager_vtable },
        { "org.hostdev1.Device", device_vtable },
        { "org.hostdev1.PciDevice", pci_device_vtable },
        { "org.hostdev1.SriovPhysicalFunction", sriov_vtable },
        { "org.hostdev1.UsbDevice", usb_device_vtable },
        { "org.hostdev1.IommuGroup", iommu_group_vtable },
        { "org.hostdev1.ResourceGroup", resource_group_vtable },
        { "org.hostdev1.MdevParent", mdev_parent_vtable },
        { "org.hostdev1.Mdev", mdev_vtable },
        { "org.hostdev1.Claim", claim_vtable },
};
const size_t bus_n_interfaces = ELEMENTSOF(bus_interfaces);

static const sd_bus_vtable *find_method(const char *interface, const char *member) {
        for (size_t i = 0; i < bus_n_interfaces; i++) {
                if (!streq(bus_interfaces[i].interface, interface))
                        continue;
                for (const sd_bus_vtable *v = bus_interfaces[i].vtable; v->type != _SD_BUS_VTABLE_END; v++)
                        if (v->type == _SD_BUS_VTABLE_METHOD && streq(v->x.method.member, member))
                                return v;
        }
        return NULL;
}

/* The one dispatch gate: every call passes here before sd-bus looks for
 * its handler. A method that is neither read-only nor guarded by a polkit
 * action is refused (deny by default, like bolt's bouncer), so a handler
 * that forgot to ask polkit is never reached. Unknown methods are left to
 * sd-bus, which answers UnknownMethod. */
static int gate(sd_bus_message *m, const char *interface, const char *member) {
        bool ours = startswith(interface, "org.hostdev1.");

        if (ours && !find_method(interface, member))
                return 0;
        if (bus_polkit_gate(interface, member) != POLKIT_GATE_DENIED)
                return 0;
        log_warning("Refused %s.%s from %s: no authorization rule.", interface, member,
                    sd_bus_message_get_sender(m) ?: "?");
        (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED,
                                          ours ? "%s.%s has no authorization rule; refusing."
                                               : "%s.%s: nothing here can be changed this way; refusing.",
                                          interface, member);
        return 1;
}

/* sd-bus answers a call with the wrong argument types with the generic
 * org.freedesktop.DBus.Error.InvalidArgs; our contract promises
 * org.hostdev1.Error.InvalidArgument, so catch those calls first. */
static int check_signature(sd_bus_message *m, const char *interface, const char *member) {
        const char *signature;
        const sd_bus_vtable *v;

        if (!startswith(interface, "org.hostdev1."))
                return 0;
        v = find_method(interface, member);
        if (!v)
                return 0;
        signature = strempty(sd_bus_message_get_signature(m, true));
        if (streq(signature, strempty(v->x.method.signature)))
                return 0;

        (void) sd_bus_reply_method_errorf(m, BUS_ERROR_INVALID_ARGUMENT,
                                          "%s.%s takes arguments of type '%s', not '%s'.",
                                          interface, member, strempty(v->x.method.signature), signature);
        return 1;
}

static int filter(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *interface, *member;

        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        interface = sd_bus_message_get_interface(m);
        member = sd_bus_message_get_member(m);
        if (!member)
                return 0;
        /* Without an interface the call could reach any method of that
         * name: refuse it unless no interface guards one. */
        if (!interface) {
                for (size_t i = 0; i < bus_n_interfaces; i++)
                        if (bus_polkit_gate(bus_interfaces[i].interface, member) == POLKIT_GATE_GUARDED) {
                                (void) sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED,
                                                                  "%s needs an interface name; refusing.",
                                                                  member);
                                return 1;
                        }
                return 0;
        }
        return gate(m, interface, member) ?: check_signature(m, interface, member);
}

void bus_object_interfaces(const char *ret[static 8], const char *const *own) {
        size_t n = 0;

        for (; own && *own && n < 7; own++)
                ret[n++] = *own;
        ret[n] = NULL;
}

char *bus_subject_path(const char *subject) {
        _cleanup_free_ char *address = NULL;
        DeviceKind kind;

        /* Stores written before subjects were addresses hold paths. */
        if (subject[0] == '/')
                return strdup(subject);
        if (address_parse(subject, &kind, &address) < 0)
                return strdup(BUS_PATH);
        return bus_device_path_of(kind, address);
}

static int append_reboot_reasons(sd_bus_message *m, char **reasons) {
        int r = sd_bus_message_open_container(m, 'a', "(ss)");

        for (size_t i = 0; r >= 0 && reasons && reasons[i] && reasons[i + 1]; i += 2) {
                _cleanup_free_ char *path = bus_subject_path(reasons[i]);

                if (!path)
                        return -ENOMEM;
                r = sd_bus_message_append(m, "(ss)", path, reasons[i + 1]);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

int bus_append_reboot_reasons(sd_bus_message *m, const Daemon *d) {
        return append_reboot_reasons(m, d->reboot.reasons);
}

static void emit_reboot_changed(Bus *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Daemon *d = b->daemon;
        int r;

        (void) sd_bus_emit_properties_changed(b->bus, BUS_PATH, "org.hostdev1.Manager", "RebootRequired",
                                              "RebootReasons", NULL);
        r = sd_bus_message_new_signal(b->bus, &m, BUS_PATH, "org.hostdev1.Manager", "RebootRequiredChanged");
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) (d->reboot.reasons && d->reboot.reasons[0]));
        if (r >= 0)
                r = append_reboot_reasons(m, d->reboot.reasons);
        if (r >= 0)
                r = sd_bus_send(b->bus, m, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot send RebootRequiredChanged: %m");
}

/* ---- the core's notifications, as signals ---- */

static void on_device_added(void *userdata, const Device *dev) {
        Bus *b = userdata;
        char p[BUS_DEVICE_PATH_MAX];

        (void) emitter_added(b->emitter, bus_device_path(dev, p));
        bus_claim_usb_added(b, dev);
}

static void on_device_removed(void *userdata, const Device *dev) {
        Bus *b = userdata;
        const char *ifaces[8];
        char p[BUS_DEVICE_PATH_MAX];

        bus_device_interfaces(dev, ifaces);
        (void) emitter_removed(b->emitter, bus_device_path(dev, p), ifaces);
        bus_claim_usb_removed(b, dev);
}

static void on_device_changed(void *userdata, const Device *dev, unsigned fields) {
        Bus *b = userdata;
        char p[BUS_DEVICE_PATH_MAX];

        (void) emitter_changed(b->emitter, bus_device_path(dev, p), OBJECT_DEVICE, fields);
        if (fields & DEVICE_FIELD_DRIVER)
                bus_claim_driver_changed(b, dev);
}

static void on_device_settled(void *userdata, const Device *dev, unsigned known, unsigned actual) {
        Bus *b = userdata;
        char p[BUS_DEVICE_PATH_MAX];

        emitter_refine(b->emitter, bus_device_path(dev, p), known, actual);
}

static void on_device_moved(void *userdata, const ResourceGroup *g, const char *serial, const char *old_address,
                            const char *new_address) {
        _cleanup_free_ char *path = bus_resource_group_path(g);
        Bus *b = userdata;

        if (path)
                (void) emitter_device_moved(b->emitter, path, serial, old_address, new_address);
}

static void on_group_added(void *userdata, const IommuGroup *g) {
        Bus *b = userdata;
        char p[BUS_GROUP_PATH_MAX];

        (void) emitter_added(b->emitter, bus_iommu_group_path(g->number, p));
}

static void on_group_removed(void *userdata, unsigned number) {
        Bus *b = userdata;
        const char *ifaces[8];
        char p[BUS_GROUP_PATH_MAX];

        bus_object_interfaces(ifaces, BUS_INTERFACES("org.hostdev1.IommuGroup"));
        (void) emitter_removed(b->emitter, bus_iommu_group_path(number, p), ifaces);
}

static void on_group_changed(void *userdata, const IommuGroup *g, unsigned fields) {
        Bus *b = userdata;
        char p[BUS_GROUP_PATH_MAX];

        (void) emitter_changed(b->emitter, bus_iommu_group_path(g->number, p), OBJECT_GROUP, fields);
}

static void on_group_settled(void *userdata, const IommuGroup *g, unsigned known, unsigned actual) {
        Bus *b = userdata;
        char p[BUS_GROUP_PATH_MAX];

        emitter_refine(b->emitter, bus_iommu_group_path(g->number, p), known, actual);
}

static void on_resource_group_changed(void *userdata, const ResourceGroup *g, unsigned fields) {
        _cleanup_free_ char *path = bus_resource_group_path(g);
        Bus *b = userdata;

        if (path)
                (void) emitter_changed(b->emitter, path, OBJECT_RESOURCE_GROUP, fields);
}

/* Service-wide properties go out at once, as they always did. */
static void on_manager_changed(void *userdata, unsigned fields) {
        Bus *b = userdata;

        if (fields & MANAGER_FIELD_CRITICAL)
                (void) sd_bus_emit_properties_changed(b->bus, BUS_PATH, "org.hostdev1.Manager", "Critical", NULL);
        if (fields & MANAGER_FIELD_REBOOT)
                emit_reboot_changed(b);
        if (fields & MANAGER_FIELD_CONVERGED)
                (void) sd_bus_emit_properties_changed(b->bus, BUS_PATH, "org.hostdev1.Manager", "Converged",
                                                      "ConvergeProblems", NULL);
}

static void on_mdev_added(void *userdata, const Mdev *m) {
        bus_mdev_added(userdata, m);
}

static void on_mdev_removed(void *userdata, const Mdev *m) {
        bus_mdev_removed(userdata, m);
}

static void on_mdev_changed(void *userdata, const Mdev *m) {
        bus_mdev_changed(userdata, m);
}

static void on_mdev_parent_changed(void *userdata, const MdevParent *p) {
        bus_mdev_parent_changed(userdata, p);
}

static void on_mdev_parent_added(void *userdata, const MdevParent *p) {
        bus_mdev_parent_added(userdata, p->address, true);
}

static void on_mdev_parent_removed(void *userdata, const char *address) {
        bus_mdev_parent_added(userdata, address, false);
}

static void on_flush(void *userdata) {
        Bus *b = userdata;

        bus_polkit_gc(b);
        (void) emitter_flush(b->emitter);
}

static const DaemonListener listener = {
        .device_added = on_device_added,
        .device_removed = on_device_removed,
        .device_changed = on_device_changed,
        .device_settled = on_device_settled,
        .device_moved = on_device_moved,
        .iommu_group_added = on_group_added,
        .iommu_group_removed = on_group_removed,
        .iommu_group_changed = on_group_changed,
        .iommu_group_settled = on_group_settled,
        .resource_group_changed = on_resource_group_changed,
        .manager_changed = on_manager_changed,
        .mdev_added = on_mdev_added,
        .mdev_removed = on_mdev_removed,
        .mdev_changed = on_mdev_changed,
        .mdev_parent_changed = on_mdev_parent_changed,
        .mdev_parent_added = on_mdev_parent_added,
        .mdev_parent_removed = on_mdev_parent_removed,
        .flush = on_flush,
};

static int on_name_acquired(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        Bus *b = userdata;

        if (e) {
                log_error("Cannot own the name %s: %s", BUS_NAME, e->message);
                return sd_event_exit(b->daemon->event, EXIT_FAILURE);
        }
        log_info("Serving %zu devices and %zu IOMMU groups as %s.",
                 inventory_n_devices(&b->daemon->inventory), b->daemon->inventory.n_groups, BUS_NAME);
        (void) sd_notify(false, "READY=1\nSTATUS=Serving.");
        /* Now that ClaimReleased reaches whoever listens to the name. */
        bus_lease_watch_all(b);
        bus_claim_usb_reconcile(b);
        return 0;
}

static int bus_register(Bus *b) {
        int r;

        r = sd_bus_add_filter(b->bus, NULL, filter, b);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(b->bus, NULL, BUS_PATH, "org.hostdev1.Manager", manager_vtable, b);
        if (r < 0)
                return r;
        r = sd_bus_add_object_manager(b->bus, NULL, BUS_PATH);
        if (r < 0)
                return r;
        r = bus_object_manager_register(b);
        if (r < 0)
                return r;
        r = bus_device_register(b);
        if (r < 0)
                return r;
        r = bus_group_register(b);
        if (r < 0)
                return r;
        r = bus_resource_group_register(b);
        if (r < 0)
                return r;
        r = bus_mdev_register(b);
        if (r < 0)
                return r;
        return bus_claim_register(b);
}

int bus_new(Daemon *d, sd_bus *bus, Bus **ret) {
        _cleanup_(bus_freep) Bus *b = calloc(1, sizeof(Bus));
        int r;

        if (!b)
                return -ENOMEM;
        b->daemon = d;
        b->bus = sd_bus_ref(bus);
        b->emitter = emitter_new(bus);
        b->polkit_queries = hashmap_new();
        b->leases = hashmap_new();
        if (!b->emitter || !b->polkit_queries || !b->leases)
                return -ENOMEM;
        b->polkit_timeout_usec = bus_polkit_timeout_usec();
        r = bus_register(b);
        if (r < 0)
                return log_error_errno(r, "Cannot register objects: %m");
        daemon_set_listener(d, &listener, b);
        /* Objects first, then the name: whoever sees the name sees everything. */
        r = sd_bus_request_name_async(bus, NULL, BUS_NAME, 0, on_name_acquired, b);
        if (r < 0)
                return log_error_errno(r, "Cannot request the name %s: %m", BUS_NAME);
        *ret = TAKE_PTR(b);
        return 0;
}

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        if (b->daemon)
                daemon_set_listener(b->daemon, NULL, NULL);
        bus_pending_free_all(b);
        bus_sriov_free_all(b);
        bus_mdev_free_all(b);
        bus_lease_free_all(b);
        if (b->polkit_queries)
                bus_polkit_flush(b);
        hashmap_free(b->polkit_queries);
        sd_event_source_disable_unref(b->polkit_timer);
        for (size_t i = 0; i < ELEMENTSOF(b->uid_cache); i++)
                free(b->uid_cache[i].sender);
        emitter_free(b->emitter);
        sd_bus_unref(b->bus);
        free(b);
        return NULL;
}
