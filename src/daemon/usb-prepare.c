/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"

/* Prepare and Release of USB devices. QEMU takes a USB device through its
 * node in /dev/bus/usb; what keeps the host from using it meanwhile is its
 * interfaces' drivers (usb-storage mounting the stick, usbhid typing). So
 * Prepare unbinds every interface from its driver and Release probes them
 * again, as steps of the change engine on the interfaces ("2-1:1.0"). The
 * device is recorded (usb-prepared/ in the store) before anything is
 * touched; while recorded, interfaces that appear (a reset, a
 * re-enumeration) are detached as they come, and at start-up the recorded
 * devices are detached again. */

typedef struct UsbChange UsbChange;
struct UsbChange {
        Daemon *d;
        bool prepare;
        char **added;           /* devices this Prepare recorded: dropped if it fails */
        char **devices;         /* every device of the change */
        ChangeDone done;
        void *userdata;
        UsbChange *next, *prev;         /* Daemon.usb_changes: freed at exit if still in flight */
};

static void usb_change_free(UsbChange *u) {
        if (u->prev)
                u->prev->next = u->next;
        else if (u->d->usb_changes == u)
                u->d->usb_changes = u->next;
        if (u->next)
                u->next->prev = u->prev;
        strv_free(u->added);
        strv_free(u->devices);
        free(u);
}

/* Device.State says "prepared" while a device is recorded. */
static void set_prepared(Daemon *d, const char *address, bool prepared) {
        Device *dev = inventory_get(&d->inventory, address);

        if (!dev || dev->usb.prepared == prepared)
                return;
        dev->usb.prepared = prepared;
        NOTIFY(d, device_changed, dev, DEVICE_FIELD_STATE);
        daemon_schedule_flush(d);
}

bool daemon_usb_is_prepared(Daemon *d, const char *address) {
        return usb_prepared_find(&d->usb_prepared, address);
}

int daemon_usb_plan(Daemon *d, const Device *const *devs, size_t n, bool prepare, Plan *ret, bool *ret_records,
                    char **ret_error) {
        _cleanup_(plan_done) Plan plan = {};
        bool records = false;
        int r;

        for (size_t i = 0; i < n; i++) {
                const UsbPrepared *rec = usb_prepared_find(&d->usb_prepared, devs[i]->address);
                _cleanup_(plan_done) Plan one = {};

                if (devs[i]->kind != DEVICE_USB)
                        return error_setf(ret_error, "%s is a PCI device: USB and PCI devices are prepared "
                                          "apart.", devs[i]->address);
                if (device_is_usb_hub(devs[i]))
                        return error_setf(ret_error, "%s is a USB hub: hubs stay with the host, pass the "
                                          "devices behind it instead.", devs[i]->address);
                if (prepare) {
                        r = usb_plan_detach(devs[i], &one, ret_error);
                        records |= !rec;
                } else {
                        r = rec ? usb_plan_attach(devs[i], rec, &one) : 0;
                        records |= !!rec;
                }
                if (r < 0)
                        return r;
                for (size_t j = 0; j < one.n_steps; j++) {
                        const PlanStep *s = &one.steps[j];

                        r = change_plan_add(&plan, s->address, s->from, s->to, s->reason);
                        if (r < 0)
                                return r;
                }
        }
        *ret = plan;
        plan = (Plan) {};
        *ret_records = records;
        return 0;
}

static void on_usb_change_done(void *userdata, const Plan *plan, int r, const char *error) {
        UsbChange *u = userdata;
        Daemon *d = u->d;

        if (r < 0 && u->prepare)
                for (char **a = u->added; a && *a; a++)
                        (void) usb_prepared_remove(&d->usb_prepared, *a);
        if (r >= 0 && !u->prepare)
                for (char **a = u->devices; a && *a; a++)
                        (void) usb_prepared_remove(&d->usb_prepared, *a);
        if ((r < 0 && u->added) || (r >= 0 && !u->prepare))
                (void) daemon_save(d);
        for (char **a = u->devices; a && *a; a++) {
                set_prepared(d, *a, daemon_usb_is_prepared(d, *a));
                /* Its Interfaces, with their drivers now. */
                daemon_refresh_device(d, *a);
        }
        if (u->done)
                u->done(u->userdata, plan, r, error);
        usb_change_free(u);
}

int daemon_usb_change_start(Daemon *d, const Device *const *devs, size_t n, bool prepare, Plan *plan,
                            const char *requester, ChangeDone done, void *userdata, char **ret_error) {
        UsbChange *u = calloc(1, sizeof(UsbChange));
        int r = 0;

        if (!u)
                return -ENOMEM;
        *u = (UsbChange) { .d = d, .prepare = prepare, .done = done, .userdata = userdata };
        r = daemon_change_check_busy(d, plan, devs, n, ret_error);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = strv_extend(&u->devices, devs[i]->address);
                if (r >= 0 && prepare && !daemon_usb_is_prepared(d, devs[i]->address)) {
                        r = usb_prepared_add(&d->usb_prepared, devs[i]);
                        if (r >= 0)
                                r = strv_extend(&u->added, devs[i]->address);
                }
        }
        /* The intent is on disk before the kernel is touched. */
        if (r >= 0 && u->added) {
                r = daemon_save(d);
                if (r < 0 && r != -ENOMEM) {
                        error_setf(ret_error, "Cannot record the change: %s", strerror(-r));
                        r = -EIO;
                }
        }
        if (r >= 0)
                r = daemon_change_start(d, prepare ? CHANGE_USB_DETACH : CHANGE_USB_ATTACH, plan, requester,
                                        on_usb_change_done, u, ret_error);
        if (r < 0) {
                for (char **a = u->added; a && *a; a++)
                        (void) usb_prepared_remove(&d->usb_prepared, *a);
                if (u->added)
                        (void) daemon_save(d);
                usb_change_free(u);
                return r;
        }
        u->next = d->usb_changes;
        if (u->next)
                u->next->prev = u;
        d->usb_changes = u;
        /* Recorded: State says so at once; its interfaces follow. */
        for (char **a = u->added; a && *a; a++)
                set_prepared(d, *a, true);
        return 0;
}

static void on_redetached(void *userdata, const Plan *plan, int r, const char *error) {
        Daemon *d = userdata;

        if (r < 0)
                log_warning("Cannot keep %s detached from the host: %s", plan->n_steps > 0 ? plan->steps[0].address : "",
                            strempty(error));
        for (size_t i = 0; i < plan->n_steps; i++) {
                _cleanup_free_ char *device = NULL;

                if (usb_interface_parse(plan->steps[i].address, &device) >= 0)
                        daemon_refresh_device(d, device);
        }
}

/* Detaches the interfaces of a recorded device that have a driver and are
 * in no change (only: just that interface). */
static void redetach(Daemon *d, UsbPrepared *rec, const Device *dev, const char *only) {
        _cleanup_(plan_done) Plan plan = {}, todo = {};
        _cleanup_free_ char *err = NULL;
        bool noted = false;
        int r;

        if (usb_plan_detach_interface(dev, only, &plan) < 0)
                return (void) log_oom();
        for (size_t i = 0; i < plan.n_steps; i++) {
                const PlanStep *s = &plan.steps[i];

                if (hashmap_get(d->busy, s->address))
                        continue;
                /* A new interface: Release gives it back to this driver. */
                r = usb_prepared_note_interface(rec, s->address, s->from);
                if (r < 0)
                        return (void) log_oom();
                noted |= r > 0;
                if (change_plan_add(&todo, s->address, s->from, s->to, "appeared while prepared") < 0)
                        return (void) log_oom();
        }
        if (noted)
                (void) daemon_save(d);
        if (todo.n_steps == 0)
                return;
        log_info("Detaching %zu interface%s of prepared %s from the host.", todo.n_steps,
                 todo.n_steps == 1 ? "" : "s", dev->address);
        r = daemon_change_start(d, CHANGE_USB_DETACH, &todo, "hostdevd", on_redetached, d, &err);
        if (r < 0)
                log_warning("Cannot detach the interfaces of %s: %s", dev->address, err ?: strerror(-r));
}

void daemon_usb_on_interface_uevent(Daemon *d, UeventAction action, const char *syspath) {
        const char *name = strrchr(syspath, '/') + 1;
        _cleanup_free_ char *device = NULL;
        UsbPrepared *rec;
        Device *dev;

        if (usb_interface_parse(name, &device) < 0)
                return;
        /* Changes in flight wait for exactly this. */
        changes_on_uevent(d, name);
        dev = inventory_get(&d->inventory, device);
        if (!dev)
                return;
        daemon_refresh_device(d, device);
        dev = inventory_get(&d->inventory, device);
        rec = usb_prepared_find(&d->usb_prepared, device);
        if (action == UEVENT_REMOVE || !dev || !rec)
                return;
        redetach(d, rec, dev, name);
}

/* Start-up: recorded devices that are present (found by serial on another
 * port too) get their interfaces detached again. */
int daemon_usb_converge(Daemon *d) {
        for (size_t i = 0; i < d->usb_prepared.n_items; i++) {
                UsbPrepared *rec = &d->usb_prepared.items[i];
                Device *dev = usb_prepared_locate(rec, &d->inventory);

                if (!dev) {
                        log_info("Prepared USB device %s is not present.", rec->address);
                        continue;
                }
                if (!streq(dev->address, rec->address)) {
                        log_info("Prepared USB device %s (serial %s) is now at %s.", rec->address,
                                 strempty(rec->serial), dev->address);
                        if (free_and_strdup(&rec->address, dev->address) < 0)
                                return log_oom();
                        (void) daemon_save(d);
                }
                dev->usb.prepared = true;
                redetach(d, rec, dev, NULL);
        }
        return 0;
}

/* A device that came back (replugged, found by serial): detached again. */
void daemon_usb_device_added(Daemon *d, Device *dev) {
        for (size_t i = 0; dev->kind == DEVICE_USB && i < d->usb_prepared.n_items; i++) {
                UsbPrepared *rec = &d->usb_prepared.items[i];

                if (usb_prepared_locate(rec, &d->inventory) != dev)
                        continue;
                if (!streq(rec->address, dev->address) && free_and_strdup(&rec->address, dev->address) >= 0)
                        (void) daemon_save(d);
                /* Announced as added next, with this State. */
                dev->usb.prepared = true;
                return;
        }
}

void daemon_usb_done(Daemon *d) {
        /* Changes in flight were freed without calling back. */
        while (d->usb_changes)
                usb_change_free(d->usb_changes);
}
