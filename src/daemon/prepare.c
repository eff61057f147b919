/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus/emit.h"
#include "daemon.h"
#include "kernel/bind.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

static void emit_reboot_changed(Daemon *d) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!d->bus)
                return;
        (void) sd_bus_emit_properties_changed(d->bus, "/org/hostdev1", "org.hostdev1.Manager", "RebootRequired",
                                              "RebootReasons", NULL);
        r = sd_bus_message_new_signal(d->bus, &m, "/org/hostdev1", "org.hostdev1.Manager", "RebootRequiredChanged");
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) (d->reboot.reasons && d->reboot.reasons[0]));
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ss)");
        for (size_t i = 0; r >= 0 && d->reboot.reasons && d->reboot.reasons[i]; i += 2)
                r = sd_bus_message_append(m, "(ss)", d->reboot.reasons[i], d->reboot.reasons[i + 1]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_send(d->bus, m, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot send RebootRequiredChanged: %m");
}

void daemon_add_reboot_reason(Daemon *d, const char *subject, const char *reason) {
        if (reboot_state_add(&d->reboot, strempty(d->boot_id), subject, reason) <= 0)
                return;
        log_warning("Reboot required: %s: %s", subject, reason);
        (void) daemon_save(d);
        emit_reboot_changed(d);
}

/* What a stuck driver means for the admin, and what clears it. */
static char *stuck_reason(Daemon *d, const PlanStep *s, const char *error) {
        const Device *dev = inventory_get(&d->inventory, s->address);
        char *r;

        if (asprintf(&r, "%s; it will let go at boot: add vfio-pci.ids=%04x:%04x to the kernel command line "
                     "(or a driver_override in the initramfs), then reboot", error, dev ? dev->vendor_id : 0,
                     dev ? dev->product_id : 0) < 0)
                return NULL;
        return r;
}

static void undo(Daemon *d, const Plan *plan, size_t upto) {
        for (size_t i = upto; i > 0; i--) {
                _cleanup_free_ char *err = NULL;

                if (kernel_bind_undo(d->kernel, &plan->steps[i - 1], d->bind_timeout_usec, &err) < 0)
                        log_error("Rolling back %s failed: %s", plan->steps[i - 1].address, strempty(err));
        }
}

/* The records before and after: written before the kernel is touched, so
 * a crash midway leaves a record that start-up completes. */
static int record_intent(Daemon *d, const Plan *plan, bool prepare) {
        for (size_t i = 0; i < plan->n_steps; i++) {
                const PlanStep *s = &plan->steps[i];
                Prepared *rec = prepared_find(&d->prepared, s->address);
                const Device *dev;
                int r;

                if (!prepare) {
                        if (rec)
                                rec->releasing = true;
                        continue;
                }
                if (rec) {
                        rec->releasing = false;
                        continue;
                }
                dev = inventory_get(&d->inventory, s->address);
                if (!dev)
                        return -ENODEV;
                r = prepared_add(&d->prepared, dev, s->from);
                if (r < 0)
                        return r;
        }
        return daemon_save(d);
}

int daemon_apply_plan(Daemon *d, const Plan *plan, bool prepare, char **ret_error) {
        PreparedSet saved = {};
        int r;

        r = prepared_set_copy(&saved, &d->prepared);
        if (r < 0)
                return r;
        r = record_intent(d, plan, prepare);
        if (r < 0) {
                prepared_set_done(&d->prepared);
                d->prepared = saved;
                if (asprintf(ret_error, "Cannot record the change: %s", strerror(-r)) < 0)
                        *ret_error = NULL;
                return -EIO;
        }

        for (size_t i = 0; i < plan->n_steps; i++) {
                const PlanStep *s = &plan->steps[i];
                _cleanup_free_ char *err = NULL;
                BindFailure failure;

                r = kernel_bind_step(d->kernel, s, d->bind_timeout_usec, &failure, &err);
                if (r >= 0)
                        continue;
                log_error("%s: %s", s->address, strempty(err));
                /* The failed step may be half done: undo it too. */
                undo(d, plan, i + 1);
                prepared_set_done(&d->prepared);
                d->prepared = saved;
                (void) daemon_save(d);
                if (failure == BIND_UNBIND_TIMEOUT || failure == BIND_PROBE_TIMEOUT) {
                        _cleanup_free_ char *path = device_object_path(DEVICE_PCI, s->address);
                        _cleanup_free_ char *reason = stuck_reason(d, s, strempty(err));

                        if (path && reason)
                                daemon_add_reboot_reason(d, path, reason);
                }
                if (asprintf(ret_error, "Step %zu of %zu (%s: %s → %s) failed: %s. Every step was rolled back.",
                             i + 1, plan->n_steps, s->address, *s->from ? s->from : "no driver",
                             *s->to ? s->to : "no driver", strempty(err)) < 0)
                        *ret_error = NULL;
                for (size_t j = 0; j < plan->n_steps; j++)
                        daemon_refresh_device(d, plan->steps[j].address);
                return -EIO;
        }

        prepared_set_done(&saved);
        if (!prepare) {
                for (size_t i = 0; i < plan->n_steps; i++)
                        (void) prepared_remove(&d->prepared, plan->steps[i].address);
                (void) daemon_save(d);
        }
        for (size_t i = 0; i < plan->n_steps; i++)
                daemon_refresh_device(d, plan->steps[i].address);
        return 0;
}

static int converge_problem(Daemon *d, const char *address, const char *problem) {
        log_warning("Cannot re-apply %s: %s", address, problem);
        d->converged = false;
        if (strv_extend(&d->converge_problems, address) < 0 || strv_extend(&d->converge_problems, problem) < 0)
                return -ENOMEM;
        return 0;
}

/* One ordered pass over the records: finish interrupted releases, re-bind
 * prepared devices that are not on vfio-pci (after a reboot, or a crash
 * in the middle of a Prepare). */
void daemon_converge(Daemon *d) {
        bool changed = false;

        d->converged = true;
        d->converge_problems = strv_free(d->converge_problems);
        for (size_t i = 0; i < d->prepared.n_items;) {
                Prepared *rec = &d->prepared.items[i];
                Device *dev = prepared_locate(rec, &d->inventory);
                _cleanup_free_ char *err = NULL;
                PlanStep step = {};
                BindFailure failure;

                if (!dev) {
                        converge_problem(d, rec->address, "not present");
                        i++;
                        continue;
                }
                if (!streq(dev->address, rec->address)) {
                        log_info("Prepared device %s (serial %s) is now at %s.", rec->address, strempty(rec->serial),
                                 dev->address);
                        (void) free_and_strdup(&rec->address, dev->address);
                        changed = true;
                }
                step.address = dev->address;
                step.from = (char *) strempty(dev->driver);
                step.to = rec->releasing ? rec->original_driver : (char *) DRIVER_VFIO;
                if (streq_ptr(dev->driver, step.to) || (!*step.to && !dev->driver)) {
                        if (rec->releasing) {
                                prepared_remove(&d->prepared, rec->address);
                                changed = true;
                                continue;
                        }
                        i++;
                        continue;
                }
                if (kernel_bind_step(d->kernel, &step, d->bind_timeout_usec, &failure, &err) < 0) {
                        _cleanup_free_ char *undo_err = NULL;

                        /* Leave nothing half done: no override, the driver it had. */
                        if (kernel_bind_undo(d->kernel, &step, d->bind_timeout_usec, &undo_err) < 0)
                                log_error("Undoing %s failed: %s", dev->address, strempty(undo_err));
                        converge_problem(d, dev->address, strempty(err));
                        if (failure == BIND_UNBIND_TIMEOUT || failure == BIND_PROBE_TIMEOUT) {
                                _cleanup_free_ char *reason = stuck_reason(d, &step, strempty(err));
                                if (reason)
                                        daemon_add_reboot_reason(d, dev->object_path, reason);
                        }
                        i++;
                        continue;
                }
                daemon_refresh_device(d, dev->address);
                if (rec->releasing) {
                        prepared_remove(&d->prepared, rec->address);
                        changed = true;
                        continue;
                }
                i++;
        }

        /* A new boot that converged has taken every earlier reason away. */
        if (d->reboot.reasons && d->converged && d->boot_id && !streq_ptr(d->reboot.boot_id, d->boot_id)) {
                log_info("This boot converged: the earlier reboot reasons are cleared.");
                reboot_state_done(&d->reboot);
                changed = true;
        }
        if (changed)
                (void) daemon_save(d);
        if (!d->iommu_enabled)
                (void) reboot_state_add(&d->reboot, strempty(d->boot_id), "/org/hostdev1", d->iommu_message);
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

                if (rec->releasing || (dev && driver_is_vfio(dev->driver)))
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
        if (converged == d->converged && strv_equal(problems, d->converge_problems))
                return;
        d->converged = converged;
        strv_free(d->converge_problems);
        d->converge_problems = TAKE_PTR(problems);
        if (d->bus)
                (void) sd_bus_emit_properties_changed(d->bus, "/org/hostdev1", "org.hostdev1.Manager", "Converged",
                                                      "ConvergeProblems", NULL);
}
