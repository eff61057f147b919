/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "store/store.h"

int daemon_new(Daemon **ret) {
        _cleanup_(daemon_freep) Daemon *d = calloc(1, sizeof(Daemon));
        unsigned long ms;
        const char *e;
        int r;

        if (!d)
                return -ENOMEM;
        r = paths_init_from_env(&d->paths);
        if (r < 0)
                return r;
        r = inventory_init(&d->inventory);
        if (r < 0)
                return r;
        r = daemon_mdev_init(d);
        if (r >= 0)
                r = claim_set_init(&d->claims);
        if (r < 0)
                return r;
        d->dirty_pfs = hashmap_new();
        d->baselines = hashmap_new();
        d->group_baselines = hashmap_new();
        d->busy = hashmap_new();
        d->watches = hashmap_new();
        if (!d->dirty_pfs || !d->baselines || !d->group_baselines || !d->busy || !d->watches)
                return -ENOMEM;
        r = sd_event_default(&d->event);
        if (r < 0)
                return r;
        d->converged = true;
        d->bind_timeout_usec = 10 * 1000 * 1000;
        e = getenv("HOSTDEV_BIND_TIMEOUT_MSEC");
        if (e && (ms = strtoul(e, NULL, 10)) > 0)
                d->bind_timeout_usec = (uint64_t) ms * 1000;
        *ret = TAKE_PTR(d);
        return 0;
}

static void clear_baselines(Daemon *d) {
        void *v;
        size_t i = 0;

        while (hashmap_iterate(d->baselines, &i, &v, NULL))
                device_free(v);
        i = 0;
        while (hashmap_iterate(d->group_baselines, &i, &v, NULL))
                free(v);
        hashmap_free(d->baselines);
        hashmap_free(d->group_baselines);
        d->baselines = hashmap_new();
        d->group_baselines = hashmap_new();
}

Daemon *daemon_free(Daemon *d) {
        void *v;
        size_t i = 0;

        if (!d)
                return NULL;
        changes_free_all(d);
        daemon_usb_done(d);
        daemon_mdev_done(d);
        hashmap_free(d->busy);
        hashmap_free(d->watches);
        sd_event_source_unref(d->flush_source);
        critical_watch_free(d->critical_watch);
        critical_hits_free(d->critical_hits, d->n_critical_hits);
        sd_event_source_disable_unref(d->critical_source);
        monitor_free(d->monitor);
        sd_bus_unref(d->system_bus);
        inventory_done(&d->inventory);
        resource_set_done(&d->resources);
        prepared_set_done(&d->prepared);
        usb_prepared_set_done(&d->usb_prepared);
        claim_set_done(&d->claims);
        reboot_state_done(&d->reboot);
        sriov_config_set_done(&d->sriov);
        strv_free(d->converge_problems);
        strv_free(d->sriov_vf_problems);
        free(d->boot_id);
        store_free(d->store);
        while (hashmap_iterate(d->dirty_pfs, &i, &v, NULL))
                free(v);
        hashmap_free(d->dirty_pfs);
        clear_baselines(d);
        hashmap_free(d->baselines);
        hashmap_free(d->group_baselines);
        kernel_free(d->kernel);
        sd_event_unref(d->event);
        free(d->iommu_message);
        paths_done(&d->paths);
        free(d);
        return NULL;
}

void daemon_set_listener(Daemon *d, const DaemonListener *listener, void *userdata) {
        d->listener = listener;
        d->listener_userdata = userdata;
}

void daemon_schedule_flush(Daemon *d) {
        (void) sd_event_source_set_enabled(d->flush_source, SD_EVENT_ONESHOT);
}

int daemon_save(Daemon *d) {
        StoreState state = { &d->resources, &d->prepared, &d->reboot, &d->sriov, &d->mdev_records, &d->claims, &d->usb_prepared };
        int r = store_save(d->store, &state);

        if (r >= 0)
                d->store_dirty = false;
        return r;
}

/* The device's group by the rules now; tells when a member with a serial
 * shows up at a new address. */
static void membership_update(Daemon *d, Device *dev) {
        ResourceGroup *owner = resource_set_owner(&d->resources, dev);
        _cleanup_free_ char *moved_from = NULL;

        if (owner && dev->serial) {
                size_t known = owner->n_known;

                if (resource_group_note_member(owner, dev, &moved_from) > 0 || owner->n_known != known)
                        d->store_dirty = true;
                /* Same serial, but the old address is still there: two devices, not a move. */
                if (moved_from && !inventory_get(&d->inventory, moved_from)) {
                        log_info("%s (serial %s) of resource group '%s' moved from %s.", dev->address, dev->serial,
                                 owner->name, moved_from);
                        NOTIFY(d, device_moved, owner, dev->serial, moved_from, dev->address);
                }
        }
        if (owner == dev->resource_group)
                return;
        if (dev->resource_group)
                NOTIFY(d, resource_group_changed, dev->resource_group, RG_FIELD_DEVICES);
        if (owner)
                NOTIFY(d, resource_group_changed, owner, RG_FIELD_DEVICES);
        dev->resource_group = owner;
        NOTIFY(d, device_changed, dev, DEVICE_FIELD_RESOURCE_GROUP);
}

void daemon_update_memberships(Daemon *d) {
        Device *dev;
        size_t i = 0;

        while (hashmap_iterate(d->inventory.devices, &i, (void **) &dev, NULL))
                membership_update(d, dev);
        daemon_schedule_flush(d);
}

void daemon_forget_group(Daemon *d, const ResourceGroup *g) {
        Device *dev;
        size_t i = 0;

        while (hashmap_iterate(d->inventory.devices, &i, (void **) &dev, NULL))
                if (dev->resource_group == g) {
                        dev->resource_group = NULL;
                        NOTIFY(d, device_changed, dev, DEVICE_FIELD_RESOURCE_GROUP);
                }
}

static void mark_pf_dirty(Daemon *d, const char *pf) {
        char *s;

        if (!pf || hashmap_get(d->dirty_pfs, pf))
                return;
        s = strdup(pf);
        if (!s || hashmap_put(d->dirty_pfs, s, s) < 0)
                free(s);
}

static void group_changed(Daemon *d, int number, unsigned fields, const char *blockers_before) {
        IommuGroup *g = inventory_group(&d->inventory, number);
        _cleanup_free_ char *after = NULL;

        if (!g)
                return;
        /* The first change in this batch: what clients know is "before". */
        char key[16];
        snprintf(key, sizeof key, "%u", g->number);
        if (blockers_before && !hashmap_get(d->group_baselines, key)) {
                char *b = NULL;

                /* One allocation: the number as key, then the text. */
                if (asprintf(&b, "%s%c%s", key, 0, blockers_before) >= 0 &&
                    hashmap_put(d->group_baselines, b, b) < 0)
                        free(b);
        }
        after = iommu_group_blockers_text(g);
        if (!after || !streq_ptr(blockers_before, after))
                fields |= GROUP_FIELD_BLOCKERS;
        /* "" is viable: Viable only when that flips. */
        if (!after || !blockers_before || isempty(blockers_before) != isempty(after))
                fields |= GROUP_FIELD_VIABLE;
        NOTIFY(d, iommu_group_changed, g, fields);
}

static char *group_blockers(Daemon *d, int number) {
        IommuGroup *g = inventory_group(&d->inventory, number);

        return g ? iommu_group_blockers_text(g) : NULL;
}

static void device_removed(Daemon *d, const char *address) {
        _cleanup_(device_freep) Device *old = NULL;
        _cleanup_free_ char *before = NULL;
        int group;

        if (!inventory_get(&d->inventory, address))
                return;
        group = inventory_get(&d->inventory, address)->iommu_group;
        before = group_blockers(d, group);
        old = inventory_take(&d->inventory, address);

        NOTIFY(d, device_removed, old);
        if (old->resource_group)
                NOTIFY(d, resource_group_changed, old->resource_group, RG_FIELD_DEVICES);
        if (group >= 0 && inventory_gc_group(&d->inventory, (unsigned) group))
                NOTIFY(d, iommu_group_removed, (unsigned) group);
        else
                group_changed(d, group, GROUP_FIELD_DEVICES, before);
        mark_pf_dirty(d, old->pci.physfn);
        log_debug("%s removed", address);
}

static void device_added(Daemon *d, Device *dev) {
        _cleanup_(device_freep) Device *owned = dev;
        _cleanup_free_ char *before = group_blockers(d, dev->iommu_group);
        bool created = false;
        int r;

        dev->pci.vf_index = inventory_vf_index(&d->inventory, dev);
        r = inventory_add(&d->inventory, dev, &created);
        if (r < 0) {
                log_warning_errno(r, "Cannot add %s: %m", dev->address);
                return;
        }
        TAKE_PTR(owned);

        if (created)
                NOTIFY(d, iommu_group_added, inventory_group(&d->inventory, dev->iommu_group));
        daemon_usb_device_added(d, dev);
        NOTIFY(d, device_added, dev);
        membership_update(d, dev);
        if (!created)
                group_changed(d, dev->iommu_group, GROUP_FIELD_DEVICES, before);
        mark_pf_dirty(d, dev->pci.physfn);
        log_debug("%s added", dev->address);
}

static void device_changed(Daemon *d, Device *dev, unsigned fields) {
        _cleanup_(device_freep) Device *old = NULL;
        _cleanup_free_ char *before = group_blockers(d, dev->iommu_group);
        int r;

        old = inventory_take(&d->inventory, dev->address);
        dev->resource_group = old->resource_group;
        dev->critical = TAKE_PTR(old->critical);
        dev->usb.prepared = old->usb.prepared;
        r = inventory_add(&d->inventory, dev, NULL);
        if (r < 0) {
                /* Cannot happen for a device that was just taken out, but
                 * keep the old reading rather than lose the device. */
                device_free(dev);
                (void) inventory_add(&d->inventory, TAKE_PTR(old), NULL);
                return;
        }
        /* The first change in this batch: keep what clients know. */
        if (!hashmap_get(d->baselines, old->address) && hashmap_put(d->baselines, old->address, old) >= 0)
                TAKE_PTR(old);
        NOTIFY(d, device_changed, dev, fields);
        membership_update(d, dev);
        group_changed(d, dev->iommu_group, 0, before);
        if (fields & DEVICE_FIELD_SRIOV)
                mark_pf_dirty(d, dev->address);
}

/* A new reading of the device at an address (NULL: it is gone). */
static void device_update(Daemon *d, const char *address, Device *dev) {
        Device *old = inventory_get(&d->inventory, address);
        unsigned fields;

        if (!dev) {
                d->devices_changed = d->devices_changed || old;
                device_removed(d, address);
                return;
        }
        d->devices_changed = true;
        if (!old) {
                device_added(d, dev);
                return;
        }
        dev->pci.vf_index = inventory_vf_index(&d->inventory, dev);
        fields = device_diff(old, dev);
        if (fields == 0) {
                device_free(dev);
                return;
        }
        /* Other ids or another group at the same address: another device. */
        if (fields & (DEVICE_FIELD_IDENTITY | DEVICE_FIELD_IOMMU_GROUP)) {
                device_removed(d, address);
                device_added(d, dev);
                return;
        }
        device_changed(d, dev, fields);
}

void daemon_refresh_pf(Daemon *d, const char *address) {
        Device *pf = inventory_get(&d->inventory, address);
        _cleanup_strv_free_ char **old_vfs = NULL;
        unsigned old_num;

        if (!pf || !pf->pci.sriov_capable)
                return;
        old_num = pf->pci.num_vfs;
        old_vfs = TAKE_PTR(pf->pci.vfs);
        if (kernel_refresh_sriov(d->kernel, pf) < 0)
                return;
        if (old_num != pf->pci.num_vfs || !strv_equal(old_vfs, pf->pci.vfs)) {
                d->devices_changed = true;
                NOTIFY(d, device_changed, pf, DEVICE_FIELD_SRIOV);
        }
        for (size_t i = 0; pf->pci.vfs && pf->pci.vfs[i]; i++) {
                Device *vf = inventory_get(&d->inventory, pf->pci.vfs[i]);

                if (vf && streq_ptr(vf->pci.physfn, pf->address) && vf->pci.vf_index != (int) i) {
                        vf->pci.vf_index = (int) i;
                        d->devices_changed = true;
                        NOTIFY(d, device_changed, vf, DEVICE_FIELD_PHYSFN);
                        /* vf-index rules of sriov-nic groups see it only now. */
                        membership_update(d, vf);
                }
        }
}

static void critical_changed_one(Device *dev, void *userdata) {
        Daemon *d = userdata;

        NOTIFY(d, device_changed, dev, DEVICE_FIELD_CRITICAL);
}

/* What the host needs, against the inventory now. gather: ask the kernel
 * again (mounts, routes, console changed); otherwise reuse what it said
 * last, which is all a hotplug event needs. */
static void critical_update(Daemon *d, bool gather) {
        Hashmap *map = NULL;

        if (gather) {
                critical_hits_free(d->critical_hits, d->n_critical_hits);
                d->critical_hits = NULL;
                d->n_critical_hits = 0;
                if (kernel_critical_hits(&d->paths, d->system_bus, &d->critical_hits, &d->n_critical_hits) < 0)
                        log_warning("Cannot tell which devices the host needs; keeping what was known.");
        }
        if (critical_compute(&d->inventory, d->critical_hits, d->n_critical_hits, &map) < 0) {
                log_oom();
                return;
        }
        if (critical_apply(&d->inventory, map, critical_changed_one, d) > 0)
                NOTIFY(d, manager_changed, MANAGER_FIELD_CRITICAL);
}

static int on_critical(sd_event_source *s, void *userdata) {
        Daemon *d = userdata;

        critical_update(d, true);
        NOTIFY0(d, flush);
        return 0;
}

static void on_critical_changed(void *userdata) {
        Daemon *d = userdata;

        (void) sd_event_source_set_enabled(d->critical_source, SD_EVENT_ONESHOT);
}

/* A burst may take a value somewhere and back: say only what differs
 * from what clients heard before it. */
static void refine_changes(Daemon *d) {
        const unsigned known = DEVICE_FIELD_DRIVER | DEVICE_FIELD_STATE | DEVICE_FIELD_LINK |
                DEVICE_FIELD_RESET_METHODS | DEVICE_FIELD_AUTHORIZED;
        const char *key;
        Device *old;
        char *text;
        size_t i = 0;

        while (hashmap_iterate(d->baselines, &i, (void **) &old, &key)) {
                Device *cur = inventory_get(&d->inventory, key);

                if (cur)
                        NOTIFY(d, device_settled, cur, known, device_diff(old, cur));
        }
        i = 0;
        while (hashmap_iterate(d->group_baselines, &i, (void **) &text, &key)) {
                const char *before = text + strlen(text) + 1;
                IommuGroup *g = NULL;
                _cleanup_free_ char *now = NULL;
                unsigned number;

                if (sscanf(key, "%u", &number) == 1)
                        g = inventory_group(&d->inventory, (int) number);
                if (g && (now = iommu_group_blockers_text(g)))
                        NOTIFY(d, iommu_group_settled, g, GROUP_FIELD_VIABILITY,
                               (streq(now, before) ? 0 : GROUP_FIELD_BLOCKERS) |
                               (isempty(now) == isempty(before) ? 0 : GROUP_FIELD_VIABLE));
        }
        clear_baselines(d);
}

/* Runs once no more uevents are waiting: the burst is over. */
static int on_flush(sd_event_source *s, void *userdata) {
        Daemon *d = userdata;
        char *pf;
        size_t i = 0;

        while (hashmap_iterate(d->dirty_pfs, &i, (void **) &pf, NULL))
                /* A VF count in flight re-reads its PF once, when done:
                 * one PropertiesChanged instead of one per burst. */
                if (!changes_vf_count_in_flight(d, pf))
                        daemon_refresh_pf(d, pf);
        i = 0;
        while (hashmap_iterate(d->dirty_pfs, &i, (void **) &pf, NULL))
                free(pf);
        hashmap_free(d->dirty_pfs);
        d->dirty_pfs = hashmap_new();
        if (!d->dirty_pfs)
                return log_oom();
        if (d->store_dirty)
                (void) daemon_save(d);
        /* Devices came, went or changed drivers: who is critical may too.
         * A flush for anything else (a claim, a group's counts) skips it. */
        if (d->devices_changed) {
                d->devices_changed = false;
                critical_update(d, false);
        }
        refine_changes(d);
        NOTIFY0(d, flush);
        /* While start-up converges, its own bookkeeping says. */
        if (d->ready_done)
                daemon_update_converged(d);
        return 0;
}

void daemon_refresh_device(Daemon *d, const char *address) {
        Device *old = inventory_get(&d->inventory, address), *dev = NULL;

        if (!old || kernel_read_device(d->kernel, old->kind, old->syspath, &dev) == -ENOMEM)
                return;
        device_update(d, address, dev);
        daemon_schedule_flush(d);
}

static void on_mdev_uevent(void *userdata, UeventAction action, const char *syspath) {
        daemon_mdev_on_uevent(userdata, action, syspath);
}

static void on_other_uevent(void *userdata, const char *syspath) {
        daemon_mdev_on_other_uevent(userdata, syspath);
}

static void on_usb_interface_uevent(void *userdata, UeventAction action, const char *syspath) {
        daemon_usb_on_interface_uevent(userdata, action, syspath);
}

static void on_uevent(void *userdata, UeventAction action, DeviceKind kind, const char *syspath) {
        Daemon *d = userdata;
        const char *address = strrchr(syspath, '/') + 1;
        Device *dev = NULL;
        int r;

        if (action != UEVENT_REMOVE) {
                r = kernel_read_device(d->kernel, kind, syspath, &dev);
                /* A new slot shows up with a new card, never with a VF. */
                if (r >= 0 && action == UEVENT_ADD && kind == DEVICE_PCI && !dev->pci.physfn &&
                    kernel_load_slots(d->kernel) >= 0)
                        r = kernel_pci_update_slot(d->kernel, dev);
                if (r == -ENOMEM) {
                        log_oom();
                        return;
                }
                /* Gone already, or not something we publish: same as removed. */
                if (r < 0)
                        log_debug_errno(r, "Cannot read %s: %m", syspath);
        }
        device_update(d, address, dev);
        if (kind == DEVICE_PCI)
                daemon_mdev_parent_update(d, address);
        daemon_schedule_flush(d);
        /* Changes in flight wait for exactly this. */
        if (kind == DEVICE_PCI)
                changes_on_uevent(d, address);
}

int daemon_start(Daemon *d, sd_bus *system_bus, void (*ready)(void *userdata), void *userdata) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = kernel_new(&d->paths, &d->kernel);
        if (r < 0)
                return log_error_errno(r, "Cannot set up kernel access: %m");

        /* Before enumeration: a device that comes or goes while we walk
         * sysfs is caught by the event that follows. */
        r = monitor_new(d->event, on_uevent, d, &d->monitor);
        if (r < 0)
                return r;
        monitor_set_mdev_handler(d->monitor, on_mdev_uevent, d);
        monitor_set_usb_interface_handler(d->monitor, on_usb_interface_uevent, d);
        r = monitor_set_other_handler(d->monitor, d->event, on_other_uevent, d);
        if (r < 0)
                return r;

        r = kernel_enumerate(d->kernel, &d->inventory);
        if (r < 0)
                return log_error_errno(r, "Cannot read the host's devices: %m");
        r = daemon_mdev_enumerate(d);
        if (r < 0)
                return log_error_errno(r, "Cannot read the host's mediated devices: %m");
        r = kernel_iommu_status(d->kernel, &d->iommu_enabled, &d->iommu_message);
        if (r < 0)
                return log_oom();
        if (!d->iommu_enabled)
                log_warning("%s", d->iommu_message);
        d->boot_id = kernel_boot_id(d->kernel);
        kernel_trim(d->kernel);

        r = store_open(d->paths.state_dir, &(StoreState) { &d->resources, &d->prepared, &d->reboot, &d->sriov, &d->mdev_records, &d->claims, &d->usb_prepared }, &d->store,
                       &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "%s", error ?: "Cannot open the state store.");

        d->system_bus = sd_bus_ref(system_bus);
        d->ready = ready;
        d->ready_userdata = userdata;
        /* Lower priority than the monitor: it runs when no uevent is waiting. */
        r = sd_event_add_defer(d->event, &d->flush_source, on_flush, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_priority(d->flush_source, SD_EVENT_PRIORITY_NORMAL + 10);
        (void) sd_event_source_set_enabled(d->flush_source, SD_EVENT_OFF);

        /* Memberships and recorded bindings before anybody listens. */
        daemon_update_memberships(d);
        d->claims.memberships_kept = true;
        r = sd_event_add_defer(d->event, &d->critical_source, on_critical, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(d->critical_source, SD_EVENT_OFF);
        r = critical_watch_new(d->event, d->system_bus, &d->paths, on_critical_changed, d, &d->critical_watch);
        if (r < 0)
                return r;
        critical_update(d, true);
        clear_baselines(d);
        /* Runs on the loop: VF counts first (the VFs must exist before
         * their bindings), then mediated devices, then the bindings;
         * d->ready once done. */
        r = daemon_usb_converge(d);
        if (r < 0)
                return r;
        return daemon_sriov_reapply(d);
}

int daemon_run(Daemon *d) {
        int r;

        r = sd_event_add_signal(d->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot watch signals: %m");
        r = sd_event_loop(d->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}
