/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

void daemon_add_reboot_reason(Daemon *d, const char *subject, const char *reason) {
        if (reboot_state_add(&d->reboot, strempty(d->boot_id), subject, reason) <= 0)
                return;
        log_warning("Reboot required: %s: %s", subject, reason);
        (void) daemon_save(d);
        NOTIFY(d, manager_changed, MANAGER_FIELD_REBOOT);
}

/* What a stuck driver means for the admin, and what clears it. */
char *daemon_stuck_reason(Daemon *d, const char *address, const char *error) {
        const Device *dev = inventory_get(&d->inventory, address);
        char *r;

        if (asprintf(&r, "%s; it will let go at boot: add vfio-pci.ids=%04x:%04x to the kernel command line "
                     "(or a driver_override in the initramfs), then reboot", error, dev ? dev->vendor_id : 0,
                     dev ? dev->product_id : 0) < 0)
                return NULL;
        return r;
}

static int converge_problem(Daemon *d, const char *address, const char *problem) {
        log_warning("Cannot re-apply %s: %s", address, problem);
        d->converged = false;
        if (strv_extend(&d->converge_problems, address) < 0 || strv_extend(&d->converge_problems, problem) < 0)
                return -ENOMEM;
        return 0;
}

void daemon_converge_step_done(Daemon *d, const PlanStep *step, int r, const char *error, bool stuck) {
        Prepared *rec = prepared_find(&d->prepared, step->address);

        if (r >= 0) {
                if (rec && rec->releasing) {
                        prepared_remove(&d->prepared, rec->address);
                        d->converge_dirty = true;
                }
                return;
        }
        /* The step is undone: no override, the driver it had. */
        (void) converge_problem(d, step->address, strempty(error));
        if (stuck) {
                _cleanup_free_ char *reason = daemon_stuck_reason(d, step->address, strempty(error));

                if (reason)
                        daemon_add_reboot_reason(d, step->address, reason);
        }
}

void daemon_converge_done(Daemon *d) {
        /* A new boot that converged has taken every earlier reason away. */
        if (d->reboot.reasons && d->converged && d->boot_id && !streq_ptr(d->reboot.boot_id, d->boot_id)) {
                log_info("This boot converged: the earlier reboot reasons are cleared.");
                reboot_state_done(&d->reboot);
                d->converge_dirty = true;
        }
        if (d->converge_dirty)
                (void) daemon_save(d);
        d->converge_dirty = false;
        if (!d->iommu_enabled)
                (void) reboot_state_add(&d->reboot, strempty(d->boot_id), REBOOT_SUBJECT_HOST, d->iommu_message);
        d->ready_done = true;
        if (d->ready)
                d->ready(d->ready_userdata);
}

static const char *step_reason(const Prepared *rec) {
        return rec->releasing ? "a Release was under way" : "recorded as prepared";
}

/* One ordered pass over the records: finish interrupted releases, re-bind
 * prepared devices that are not on vfio-pci (after a reboot, or a crash
 * in the middle of a Prepare). The moves themselves go through the change
 * engine, one record after the other. */
int daemon_converge_problem(Daemon *d, const char *address, const char *problem) {
        return converge_problem(d, address, problem);
}

int daemon_converge(Daemon *d) {
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ char *err = NULL;
        int r;

        /* The VF counts' problems (sriov.c) came first and stay. */
        d->converged = !d->converge_problems;
        d->converge_dirty = false;
        for (size_t i = 0; i < d->prepared.n_items;) {
                Prepared *rec = &d->prepared.items[i];
                Device *dev = prepared_locate(rec, &d->inventory);
                const char *to;

                if (!dev) {
                        converge_problem(d, rec->address, "not present");
                        i++;
                        continue;
                }
                if (!streq(dev->address, rec->address)) {
                        log_info("Prepared device %s (serial %s) is now at %s.", rec->address, strempty(rec->serial),
                                 dev->address);
                        (void) free_and_strdup(&rec->address, dev->address);
                        d->converge_dirty = true;
                }
                to = rec->releasing ? rec->original_driver : DRIVER_VFIO;
                if (streq_ptr(dev->driver, to) || (!*to && !dev->driver)) {
                        if (rec->releasing) {
                                prepared_remove(&d->prepared, rec->address);
                                d->converge_dirty = true;
                                continue;
                        }
                        i++;
                        continue;
                }
                r = change_plan_add(&plan, dev->address, strempty(dev->driver), to, step_reason(rec));
                if (r < 0)
                        return r;
                i++;
        }
        r = daemon_change_start(d, CHANGE_CONVERGE, &plan, "hostdevd", NULL, NULL, &err);
        if (r < 0)
                return log_error_errno(r, "Cannot re-apply the recorded devices: %s", err ?: strerror(-r));
        return 0;
}

static const char *problem_of(char **problems, const char *address) {
        for (size_t i = 0; problems && problems[i] && problems[i + 1]; i += 2)
                if (streq(problems[i], address))
                        return problems[i + 1];
        return NULL;
}

/* Converged follows the kernel: true while every recorded device is on
 * vfio-pci. A problem found at start-up keeps its words while it lasts. */
void daemon_update_converged(Daemon *d) {
        _cleanup_strv_free_ char **problems = NULL;
        bool converged = true;

        for (size_t i = 0; i < d->prepared.n_items; i++) {
                const Prepared *rec = &d->prepared.items[i];
                const Device *dev = prepared_locate(rec, &d->inventory);
                _cleanup_free_ char *text = NULL;
                const char *address = dev ? dev->address : rec->address, *old;

                /* A change in flight moves it: not a problem (yet). */
                if (rec->releasing || (dev && driver_is_vfio(dev->driver)) ||
                    hashmap_get(d->busy, dev ? dev->address : rec->address))
                        continue;
                converged = false;
                old = problem_of(d->converge_problems, address);
                if (old)
                        text = strdup(old);
                else if (!dev)
                        text = strdup("not present");
                else if (asprintf(&text, "bound to %s, not vfio-pci", dev->driver ?: "no driver") < 0)
                        text = NULL;
                if (!text || strv_extend(&problems, address) < 0 || strv_extend(&problems, text) < 0)
                        return;
        }
        if (daemon_sriov_converge_problems(d, &problems) < 0 || daemon_mdev_converge_problems(d, &problems) < 0)
                return;
        if (problems)
                converged = false;
        if (converged == d->converged && strv_equal(problems, d->converge_problems))
                return;
        d->converged = converged;
        strv_free(d->converge_problems);
        d->converge_problems = TAKE_PTR(problems);
        NOTIFY(d, manager_changed, MANAGER_FIELD_CONVERGED);
}
