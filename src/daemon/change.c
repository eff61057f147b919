/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>

#include "daemon.h"
#include "kernel/bind.h"
#include "kernel/sriov.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"

/* The change engine. A change is a plan of steps, each moving one device
 * to a driver; a step is a small state machine on the event loop:
 *
 *   driver_override → unbind (UNBIND: wait until the driver let go)
 *                   → drivers_probe (PROBE: wait until the driver took it)
 *
 * It advances when a uevent for the device comes, or when one of its
 * kernel writes (run in a thread: unbind and probe block in the kernel)
 * completes; each wait has a timer of bind_timeout_usec. A failed step
 * undoes the steps done, last first, through the same machine. Nothing
 * here sleeps or polls, so the bus is served while changes are in flight,
 * and changes on different devices run side by side; a device belongs to
 * one change at a time (Daemon.busy).
 *
 * A kernel reaction can come after its wait timed out, or after the change
 * was undone: a device that timed out stays watched (Watch) for a while,
 * and for as long as a write to it has not returned. If it ends up away
 * from where it belongs, a RECONCILE change moves it back; if that does not
 * help, the host is reported as needing a reboot. */

#define RECONCILE_ATTEMPTS 3

static void *mfree(void *p) {
        free(p);
        return NULL;
}

enum {
        STEP_TIMED_OUT = 1u << 0,
        STEP_FAILED    = 1u << 1,
};

typedef enum Phase {
        PHASE_NONE,
        PHASE_UNBIND,
        PHASE_PROBE,
} Phase;

/* The step in progress: one device on its way to a driver. */
typedef struct Move {
        size_t step;
        char *address;
        char *to;               /* "" → no driver */
        char *old_driver;       /* the driver being unbound */
        Phase phase;
        KernelWrite *write;     /* in flight */
        bool write_done;
        int write_result;
        sd_event_source *timer;
} Move;

/* A VF count on its way (CHANGE_SRIOV_NUMVFS): sriov_numvfs written, the
 * VFs' add or remove uevents awaited until `want` VFs of the PF are in the
 * inventory; then the next write (0 first, then the target). */
typedef struct VfCount {
        unsigned target;
        unsigned before;
        int autoprobe;          /* < 0: leave it */
        unsigned want;          /* what the write in progress leads to */
        bool writing;
        KernelWrite *write;     /* in flight */
        bool write_done;
        int write_result;
        int failure;            /* -errno once failed */
        sd_event_source *timer;
} VfCount;

typedef struct Change Change;
struct Change {
        Daemon *d;
        ChangeKind kind;
        Plan plan;
        char *requester;
        char *description;      /* "Prepare of 0000:01:00.0, 0000:01:00.1" */
        PreparedSet saved;      /* the records before, to restore on a rollback */
        unsigned *state;        /* per step: STEP_* */
        size_t current;         /* forward: the step being carried out */
        bool undoing;
        size_t undo_lo, undo_left;      /* undo steps undo_lo … undo_lo + undo_left - 1, last first */
        bool failed;
        size_t failed_step;
        BindFailure failure;
        char *error;
        Move move;
        VfCount vfc;
        sd_event_source *start;
        ChangeDone done;
        void *userdata;
        Change *next, *prev;
};

typedef struct Watch {
        Daemon *d;
        char *address;
        char *expected;         /* where it belongs ("" no driver); NULL until its change is over */
        KernelWrite **writes;   /* handed over, still in the kernel */
        size_t n_writes;
        unsigned attempts;
        bool expired;
        bool reported;
        sd_event_source *timer;
} Watch;

/* The engine's states call each other in a circle. */
static void change_next(Change *c);
static void move_check(Change *c);
static void watch_check(Watch *w);
static void vfc_reset(Change *c);
static void vfc_next(Change *c);
static int change_start(Daemon *d, ChangeKind kind, Plan *plan, const char *requester, ChangeDone done,
                        void *userdata, const VfCount *vfc, char **ret_error);

static const char *const kind_names[_CHANGE_KIND_MAX] = {
        [CHANGE_PREPARE] = "Prepare",
        [CHANGE_RELEASE] = "Release",
        [CHANGE_CONVERGE] = "Re-apply",
        [CHANGE_RECONCILE] = "Reconcile",
        [CHANGE_SRIOV_NUMVFS] = "VF count",
        [CHANGE_MDEV_CREATE] = "CreateMdev",
        [CHANGE_MDEV_REMOVE] = "RemoveMdev",
        [CHANGE_USB_DETACH] = "Prepare",
        [CHANGE_USB_ATTACH] = "Release",
};

static const char *const kind_verbs[_CHANGE_KIND_MAX] = {
        [CHANGE_PREPARE] = "prepared",
        [CHANGE_RELEASE] = "released",
        [CHANGE_CONVERGE] = "re-applied",
        [CHANGE_RECONCILE] = "moved back to its driver",
        [CHANGE_SRIOV_NUMVFS] = "given a new number of VFs",
        [CHANGE_MDEV_CREATE] = "created",
        [CHANGE_MDEV_REMOVE] = "removed",
        [CHANGE_USB_DETACH] = "detached from the host",
        [CHANGE_USB_ATTACH] = "given back to the host",
};

int change_plan_add(Plan *p, const char *address, const char *from, const char *to, const char *reason) {
        PlanStep *t = realloc(p->steps, (p->n_steps + 1) * sizeof(PlanStep));
        PlanStep *s;

        if (!t)
                return -ENOMEM;
        p->steps = t;
        s = &p->steps[p->n_steps];
        *s = (PlanStep) { strdup(address), strdup(from), strdup(to), strdup(reason) };
        p->n_steps++;
        if (!s->address || !s->from || !s->to || !s->reason)
                return -ENOMEM;
        return 0;
}

/* ---- watches ---- */

static uint64_t grace_usec(const Daemon *d) {
        /* Long enough for a slow driver, short enough not to linger. */
        uint64_t g = 10 * d->bind_timeout_usec;

        return g < 1000000 ? 1000000 : g > 60000000 ? 60000000 : g;
}

static void watch_free(Watch *w) {
        if (!w)
                return;
        hashmap_remove(w->d->watches, w->address);
        for (size_t i = 0; i < w->n_writes; i++)
                kernel_write_set_callback(w->writes[i], NULL, NULL);
        free(w->writes);
        sd_event_source_disable_unref(w->timer);
        free(w->address);
        free(w->expected);
        free(w);
}

static Watch *watch_get(Daemon *d, const char *address) {
        Watch *w = hashmap_get(d->watches, address);

        if (w)
                return w;
        w = calloc(1, sizeof(Watch));
        if (!w)
                return NULL;
        w->d = d;
        w->address = strdup(address);
        if (!w->address || hashmap_put(d->watches, w->address, w) < 0) {
                free(w->address);
                free(w);
                return NULL;
        }
        return w;
}

static void on_late_write(KernelWrite *kw, int result, void *userdata) {
        Watch *w = userdata;

        for (size_t i = 0; i < w->n_writes; i++)
                if (w->writes[i] == kw) {
                        w->writes[i] = w->writes[--w->n_writes];
                        break;
                }
        log_info("%s: a write that had timed out came back (%s).", w->address,
                 result < 0 ? strerror(-result) : "done");
        watch_check(w);
}

/* A write that outlived its step: the watch hears when it returns. */
static void watch_adopt(Daemon *d, const char *address, KernelWrite *kw) {
        Watch *w = watch_get(d, address);
        KernelWrite **t;

        if (!w || !(t = realloc(w->writes, (w->n_writes + 1) * sizeof(KernelWrite *)))) {
                log_oom();
                kernel_write_set_callback(kw, NULL, NULL);
                return;
        }
        w->writes = t;
        w->writes[w->n_writes++] = kw;
        kernel_write_set_callback(kw, on_late_write, w);
}

static int on_watch_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Watch *w = userdata;

        w->expired = true;
        watch_check(w);
        return 0;
}

static void on_reconciled(void *userdata, const Plan *plan, int r, const char *error) {
        if (r < 0)
                log_warning("Moving %s back failed: %s", plan->n_steps ? plan->steps[0].address : "?",
                            strempty(error));
}

static void watch_report(Watch *w, const char *cur) {
        _cleanup_free_ char *what = NULL, *reason = NULL;

        if (w->reported)
                return;
        w->reported = true;
        if (asprintf(&what, "%s is on %s instead of %s after a late reaction of the kernel, and binding it back "
                     "failed %u times", w->address, cur ?: "no driver", *w->expected ? w->expected : "no driver",
                     w->attempts) < 0)
                return;
        reason = daemon_stuck_reason(w->d, w->address, what);
        if (reason)
                daemon_add_reboot_reason(w->d, w->address, reason);
}

static void watch_check(Watch *w) {
        Daemon *d = w->d;
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ char *cur = NULL, *err = NULL;
        int r;

        /* Its change is not over, or another one has the device. */
        if (!w->expected || hashmap_get(d->busy, w->address))
                return;
        r = kernel_current_driver(d->kernel, w->address, &cur);
        if (r < 0) {
                if (w->n_writes == 0)
                        watch_free(w);
                return;
        }
        if (*w->expected ? streq_ptr(cur, w->expected) : !cur) {
                if (w->expired && w->n_writes == 0)
                        watch_free(w);
                return;
        }
        if (w->attempts >= RECONCILE_ATTEMPTS) {
                watch_report(w, cur);
                if (w->expired && w->n_writes == 0)
                        watch_free(w);
                return;
        }
        w->attempts++;
        log_notice("%s is on %s after a late reaction of the kernel; moving it back to %s.", w->address,
                   cur ?: "no driver", *w->expected ? w->expected : "no driver");
        if (change_plan_add(&plan, w->address, strempty(cur), w->expected, "a late kernel reaction") < 0) {
                log_oom();
                return;
        }
        r = daemon_change_start(d, CHANGE_RECONCILE, &plan, "hostdevd", on_reconciled, NULL, &err);
        if (r < 0)
                log_warning("Cannot move %s back: %s", w->address, err ?: strerror(-r));
}

/* The change over a device is done and it belongs on expected; watch for
 * a late reaction of the kernel. */
static void watch_arm(Daemon *d, const char *address, const char *expected, bool again) {
        Watch *w = watch_get(d, address);
        int r;

        if (!w || free_and_strdup(&w->expected, expected) < 0) {
                log_oom();
                return;
        }
        /* again: after our own attempt to move it back, which counts. */
        if (!again) {
                w->attempts = 0;
                w->reported = false;
        }
        w->expired = false;
        w->timer = sd_event_source_disable_unref(w->timer);
        r = sd_event_add_time_relative(d->event, &w->timer, CLOCK_MONOTONIC, grace_usec(d), 0, on_watch_timer, w);
        if (r < 0)
                w->expired = true;
        watch_check(w);
}

/* ---- one device moving ---- */

static void move_reset(Change *c) {
        Move *m = &c->move;

        /* A write still in the kernel: whoever watches the device hears of it. */
        if (m->write && m->address)
                watch_adopt(c->d, m->address, m->write);
        else if (m->write)
                kernel_write_set_callback(m->write, NULL, NULL);
        m->write = NULL;
        m->timer = sd_event_source_disable_unref(m->timer);
        m->address = mfree(m->address);
        m->to = mfree(m->to);
        m->old_driver = mfree(m->old_driver);
        m->phase = PHASE_NONE;
        m->write_done = false;
        m->write_result = 0;
}

static void step_succeeded(Change *c) {
        bool forward = !c->undoing;

        /* Done: what the write still says does not matter. */
        if (c->move.write)
                kernel_write_set_callback(c->move.write, NULL, NULL);
        c->move.write = NULL;
        move_reset(c);
        if (forward) {
                if (c->kind == CHANGE_CONVERGE)
                        daemon_converge_step_done(c->d, &c->plan.steps[c->current], 0, NULL, false);
                c->current++;
        }
        change_next(c);
}

_printf_(3, 4) static void step_failed(Change *c, BindFailure failure, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        size_t step = c->move.step;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        c->state[step] |= STEP_FAILED;
        move_reset(c);
        if (c->undoing) {
                log_error("Rolling back %s failed: %s", c->plan.steps[step].address, strempty(msg));
                change_next(c);
                return;
        }
        log_error("%s: %s", c->plan.steps[step].address, strempty(msg));
        if (c->kind == CHANGE_CONVERGE) {
                /* Each record stands alone: undo this step, go on. */
                daemon_converge_step_done(c->d, &c->plan.steps[step], -EIO, strempty(msg),
                                          failure == BIND_UNBIND_TIMEOUT || failure == BIND_PROBE_TIMEOUT);
                c->undoing = true;
                c->undo_lo = step;
                c->undo_left = 1;
                change_next(c);
                return;
        }
        c->failed = true;
        c->failed_step = step;
        c->failure = failure;
        free(c->error);
        c->error = TAKE_PTR(msg);
        /* The failed step may be half done: undo it too. Moving a device
         * back where it belongs has nothing to undo. */
        c->undoing = true;
        c->undo_lo = 0;
        c->undo_left = c->kind == CHANGE_RECONCILE ? 0 : step + 1;
        change_next(c);
}

static uint64_t timeout_msec(const Change *c) {
        return c->d->bind_timeout_usec / 1000;
}

static void on_move_write(KernelWrite *kw, int result, void *userdata) {
        Change *c = userdata;

        if (c->move.write != kw)
                return;
        c->move.write = NULL;
        c->move.write_done = true;
        c->move.write_result = result;
        move_check(c);
}

static int on_move_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Change *c = userdata;
        Move *m = &c->move;

        c->state[m->step] |= STEP_TIMED_OUT;
        if (m->phase == PHASE_UNBIND && m->write)
                step_failed(c, BIND_UNBIND_TIMEOUT,
                            "%s did not release %s: unbind did not return within %" PRIu64 " ms", m->old_driver,
                            m->address, timeout_msec(c));
        else if (m->phase == PHASE_UNBIND)
                step_failed(c, BIND_UNBIND_TIMEOUT, "%s did not release %s within %" PRIu64 " ms", m->old_driver,
                            m->address, timeout_msec(c));
        else
                step_failed(c, BIND_PROBE_TIMEOUT, "%s did not bind to %s within %" PRIu64 " ms", m->address,
                            *m->to ? m->to : "a host driver", timeout_msec(c));
        return 0;
}

static int arm(Change *c, Phase phase) {
        Move *m = &c->move;

        m->phase = phase;
        m->write_done = false;
        m->timer = sd_event_source_disable_unref(m->timer);
        if (m->write)
                kernel_write_set_callback(m->write, on_move_write, c);
        return sd_event_add_time_relative(c->d->event, &m->timer, CLOCK_MONOTONIC, c->d->bind_timeout_usec, 0,
                                          on_move_timer, c);
}

static void move_check(Change *c) {
        Move *m = &c->move;
        _cleanup_free_ char *cur = NULL;
        int r;

        if (m->phase == PHASE_NONE)
                return;
        r = kernel_current_driver(c->d->kernel, m->address, &cur);
        if (r < 0)
                return step_failed(c, BIND_WRITE_FAILED, "%s is gone: %s", m->address, strerror(-r));

        if (m->phase == PHASE_UNBIND) {
                /* The driver link goes before the driver's remove() has
                 * returned, and the kernel takes the device as still bound
                 * until then: a probe sent earlier finds it "bound" and
                 * does nothing. So wait for the unbind write too. */
                if (!cur && m->write_done) {
                        if (m->write)
                                kernel_write_set_callback(m->write, NULL, NULL);
                        m->write = NULL;
                        m->timer = sd_event_source_disable_unref(m->timer);
                        if (!*m->to)
                                return step_succeeded(c);
                        r = kernel_probe_async(c->d->kernel, c->d->event, m->address, NULL, NULL, &m->write);
                        if (r >= 0)
                                r = arm(c, PHASE_PROBE);
                        if (r < 0)
                                return step_failed(c, BIND_WRITE_FAILED, "Probing drivers for %s failed: %s",
                                                   m->address, strerror(-r));
                        return;
                }
                if (m->write_done && m->write_result < 0)
                        return step_failed(c, BIND_WRITE_FAILED, "Unbinding %s from %s failed: %s", m->address,
                                           m->old_driver, strerror(-m->write_result));
                return;
        }

        if (streq_ptr(cur, m->to))
                return step_succeeded(c);
        /* The kernel answers ENODEV/EINVAL when no driver takes the device;
         * the timer tells whether that matters. */
        if (m->write_done && m->write_result < 0 && m->write_result != -ENODEV && m->write_result != -EINVAL)
                return step_failed(c, BIND_WRITE_FAILED, "Probing drivers for %s failed: %s", m->address,
                                   strerror(-m->write_result));
}

static void move_start(Change *c, size_t step, const char *to) {
        Move *m = &c->move;
        const char *address = c->plan.steps[step].address;
        _cleanup_free_ char *cur = NULL, *err = NULL;
        int r;

        move_reset(c);
        m->step = step;
        m->address = strdup(address);
        m->to = strdup(to);
        if (!m->address || !m->to)
                return step_failed(c, BIND_WRITE_FAILED, "Out of memory");
        log_debug("%s: %s → %s", address, c->undoing ? "undo" : "step", *to ? to : "(none)");

        r = kernel_current_driver(c->d->kernel, address, &cur);
        if (r < 0)
                return step_failed(c, BIND_WRITE_FAILED, "%s is gone: %s", address, strerror(-r));
        /* driver_override first, so that no other driver takes the device
         * in between. */
        r = kernel_set_override(c->d->kernel, address, to, &err);
        if (r < 0)
                return step_failed(c, BIND_WRITE_FAILED, "%s", strempty(err));
        /* Already there (the kernel, or another tool, was quicker; or an
         * unbind that never finished is being undone). */
        if (*to && streq_ptr(cur, to))
                return step_succeeded(c);
        if (cur) {
                m->old_driver = TAKE_PTR(cur);
                r = kernel_unbind_async(c->d->kernel, c->d->event, address, m->old_driver, NULL, NULL, &m->write);
                if (r >= 0)
                        r = arm(c, PHASE_UNBIND);
                if (r < 0)
                        return step_failed(c, BIND_WRITE_FAILED, "Unbinding %s from %s failed: %s", address,
                                           m->old_driver, strerror(-r));
                return;
        }
        if (!*to)
                return step_succeeded(c);
        r = kernel_probe_async(c->d->kernel, c->d->event, address, NULL, NULL, &m->write);
        if (r >= 0)
                r = arm(c, PHASE_PROBE);
        if (r < 0)
                return step_failed(c, BIND_WRITE_FAILED, "Probing drivers for %s failed: %s", address, strerror(-r));
}

/* ---- the change ---- */

static void change_free(Change *c) {
        if (!c)
                return;
        move_reset(c);
        vfc_reset(c);
        sd_event_source_disable_unref(c->start);
        if (c->prev)
                c->prev->next = c->next;
        else if (c->d->changes == c)
                c->d->changes = c->next;
        if (c->next)
                c->next->prev = c->prev;
        for (size_t i = 0; i < c->plan.n_steps; i++)
                if (hashmap_get(c->d->busy, c->plan.steps[i].address) == c)
                        hashmap_remove(c->d->busy, c->plan.steps[i].address);
        plan_done(&c->plan);
        prepared_set_done(&c->saved);
        free(c->state);
        free(c->requester);
        free(c->description);
        free(c->error);
        free(c);
}

/* Records and reasons once a Prepare or Release is over. */
static void finish_records(Change *c) {
        Daemon *d = c->d;

        if (c->failed) {
                /* Only this change's records go back: other changes may
                 * have recorded theirs meanwhile. */
                for (size_t i = 0; i < c->plan.n_steps; i++) {
                        const char *address = c->plan.steps[i].address;
                        const Prepared *before = prepared_find(&c->saved, address);
                        Prepared *now = prepared_find(&d->prepared, address);

                        if (!before)
                                (void) prepared_remove(&d->prepared, address);
                        else if (now)
                                now->releasing = before->releasing;
                }
                (void) daemon_save(d);
                if (c->failure == BIND_UNBIND_TIMEOUT || c->failure == BIND_PROBE_TIMEOUT) {
                        const char *address = c->plan.steps[c->failed_step].address;
                        _cleanup_free_ char *reason = daemon_stuck_reason(d, address, strempty(c->error));

                        if (reason)
                                daemon_add_reboot_reason(d, address, reason);
                }
                return;
        }
        if (c->kind == CHANGE_RELEASE) {
                for (size_t i = 0; i < c->plan.n_steps; i++)
                        (void) prepared_remove(&d->prepared, c->plan.steps[i].address);
                (void) daemon_save(d);
        }
}

static void change_finish(Change *c) {
        Daemon *d = c->d;
        _cleanup_free_ char *error = NULL;
        int r = c->failed ? (c->kind == CHANGE_SRIOV_NUMVFS ? c->vfc.failure : -EIO) : 0;

        move_reset(c);
        vfc_reset(c);
        for (size_t i = 0; i < c->plan.n_steps; i++)
                if (hashmap_get(d->busy, c->plan.steps[i].address) == c)
                        hashmap_remove(d->busy, c->plan.steps[i].address);

        if (c->kind == CHANGE_PREPARE || c->kind == CHANGE_RELEASE)
                finish_records(c);
        if (c->failed && c->kind != CHANGE_SRIOV_NUMVFS) {
                const PlanStep *s = &c->plan.steps[c->failed_step];

                if (asprintf(&error, "Step %zu of %zu (%s: %s → %s) failed: %s. Every step was rolled back.",
                             c->failed_step + 1, c->plan.n_steps, s->address, *s->from ? s->from : "no driver",
                             *s->to ? s->to : "no driver", strempty(c->error)) < 0)
                        error = NULL;
        }
        for (size_t i = 0; i < c->plan.n_steps; i++)
                daemon_refresh_device(d, c->plan.steps[i].address);
        if (c->kind == CHANGE_SRIOV_NUMVFS)
                daemon_refresh_pf(d, c->plan.steps[0].address);

        /* Where each device belongs now; one whose kernel reaction may
         * still come is watched. */
        for (size_t i = 0; c->kind != CHANGE_SRIOV_NUMVFS && i < c->plan.n_steps; i++) {
                const PlanStep *s = &c->plan.steps[i];
                bool back = c->kind != CHANGE_RECONCILE && (c->failed || (c->state[i] & STEP_FAILED));

                if ((c->state[i] & STEP_TIMED_OUT) || hashmap_get(d->watches, s->address))
                        watch_arm(d, s->address, back ? s->from : s->to, c->kind == CHANGE_RECONCILE);
        }
        if (c->kind == CHANGE_CONVERGE)
                daemon_converge_done(d);
        /* Whoever hears the answer reads Converged next. */
        if (d->ready_done)
                daemon_update_converged(d);
        if (c->done)
                c->done(c->userdata, &c->plan, r, error ?: c->error);
        change_free(c);
}

static void change_next(Change *c) {
        if (c->undoing) {
                if (c->undo_left > 0) {
                        size_t i = c->undo_lo + --c->undo_left;

                        return move_start(c, i, c->plan.steps[i].from);
                }
                c->undoing = false;
                if (!c->failed) {
                        /* A converge step was undone alone: on to the next one. */
                        c->current++;
                        return change_next(c);
                }
                return change_finish(c);
        }
        if (c->current >= c->plan.n_steps)
                return change_finish(c);
        move_start(c, c->current, c->plan.steps[c->current].to);
}

/* ---- VF counts ---- */

static void vfc_reset(Change *c) {
        VfCount *v = &c->vfc;

        if (v->write)
                kernel_write_set_callback(v->write, NULL, NULL);
        v->write = NULL;
        v->writing = false;
        v->timer = sd_event_source_disable_unref(v->timer);
}

static unsigned vfs_present(Daemon *d, const char *pf) {
        const Device *dev;
        unsigned n = 0;
        size_t i = 0;

        while (hashmap_iterate(d->inventory.devices, &i, (void **) &dev, NULL))
                if (dev->kind == DEVICE_PCI && streq_ptr(dev->pci.physfn, pf))
                        n++;
        return n;
}

_printf_(3, 4) static void vfc_failed(Change *c, int failure, const char *fmt, ...) {
        va_list ap;

        vfc_reset(c);
        free(c->error);
        va_start(ap, fmt);
        if (vasprintf(&c->error, fmt, ap) < 0)
                c->error = NULL;
        va_end(ap);
        c->failed = true;
        c->failed_step = 0;
        c->vfc.failure = failure;
        change_finish(c);
}

static void on_vfc_write(KernelWrite *kw, int result, void *userdata) {
        Change *c = userdata;

        c->vfc.write = NULL;
        c->vfc.write_done = true;
        c->vfc.write_result = result;
        vfc_next(c);
}

/* Long enough for the driver to create many VFs one by one. */
static uint64_t vfc_timeout_usec(const Change *c, unsigned count) {
        return c->d->bind_timeout_usec * (2 + count / 8);
}

static int on_vfc_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Change *c = userdata;
        const char *pf = c->plan.steps[0].address;

        c->vfc.timer = sd_event_source_disable_unref(c->vfc.timer);
        vfc_failed(c, -ETIMEDOUT, "%s: %u VFs were %s within %" PRIu64 " ms of writing %u to sriov_numvfs "
                   "(%u are there).", pf, c->vfc.want, c->vfc.want ? "not created" : "not removed",
                   vfc_timeout_usec(c, c->vfc.want) / 1000, c->vfc.want, vfs_present(c->d, pf));
        return 0;
}

static int vfc_write(Change *c, unsigned count) {
        VfCount *v = &c->vfc;
        int r;

        v->want = count;
        v->writing = true;
        v->write_done = false;
        v->write_result = 0;
        r = kernel_sriov_set_numvfs_async(c->d->kernel, c->d->event, c->plan.steps[0].address, count, on_vfc_write,
                                          c, &v->write);
        if (r < 0)
                return r;
        v->timer = sd_event_source_disable_unref(v->timer);
        return sd_event_add_time_relative(c->d->event, &v->timer, CLOCK_MONOTONIC, vfc_timeout_usec(c, count), 0,
                                          on_vfc_timer, c);
}

static void vfc_write_failed(Change *c) {
        Daemon *d = c->d;
        const char *pf = c->plan.steps[0].address;
        int e = c->vfc.write_result;

        if (e == -ENOMEM || e == -ERANGE) {
                _cleanup_free_ char *reason = NULL;

                if (asprintf(&reason, "The kernel has no room (bus numbers or memory windows) for %u VFs of %s; "
                             "boot with pci=realloc on the kernel command line to make room.", c->vfc.want, pf) >= 0)
                        daemon_add_reboot_reason(d, pf, reason);
        }
        vfc_failed(c, e == -ENOMEM || e == -ERANGE ? e : -EIO,
                   "Writing %u to sriov_numvfs of %s failed: %s%s", c->vfc.want, pf, strerror(-e),
                   e == -ENOMEM || e == -ERANGE ? " (not enough PCI bus numbers or memory for the VFs; "
                   "booting with pci=realloc may help)" : "");
}

/* Starts, and advances on each write completion and uevent: autoprobe,
 * then 0 when going between non-zero counts, then the target. */
static void vfc_next(Change *c) {
        VfCount *v = &c->vfc;
        const char *pf = c->plan.steps[0].address;
        unsigned now;
        int r;

        if (!v->writing) {
                if (v->autoprobe >= 0) {
                        r = kernel_sriov_set_autoprobe(c->d->kernel, pf, v->autoprobe);
                        if (r < 0)
                                return vfc_failed(c, -EIO, "Writing sriov_drivers_autoprobe of %s failed: %s", pf,
                                                  strerror(-r));
                }
                r = kernel_sriov_num_vfs(c->d->kernel, pf, &now);
                if (r < 0)
                        return vfc_failed(c, -EIO, "Cannot read sriov_numvfs of %s: %s", pf, strerror(-r));
                if (now == v->target && vfs_present(c->d, pf) == now)
                        return change_finish(c);
                /* The kernel refuses a non-zero → non-zero change (EBUSY). */
                r = vfc_write(c, now != 0 && v->target != 0 ? 0 : v->target);
                if (r < 0)
                        return vfc_failed(c, -EIO, "Writing sriov_numvfs of %s failed: %s", pf, strerror(-r));
                return;
        }
        if (!v->write_done)
                return;
        if (v->write_result < 0)
                return vfc_write_failed(c);
        if (vfs_present(c->d, pf) != v->want)
                return;
        if (v->want == v->target)
                return change_finish(c);
        log_debug("%s: VFs gone; on to %u.", pf, v->target);
        r = vfc_write(c, v->target);
        if (r < 0)
                return vfc_failed(c, -EIO, "Writing sriov_numvfs of %s failed: %s", pf, strerror(-r));
}

int daemon_sriov_set_num_vfs(Daemon *d, const Device *pf, unsigned count, int autoprobe, const char *requester,
                             ChangeDone done, void *userdata, char **ret_error) {
        _cleanup_(plan_done) Plan plan = {};
        VfCount v = { .target = count, .before = pf->pci.num_vfs, .autoprobe = autoprobe };
        char from[16], to[16];
        int r;

        assert(pf->pci.sriov_capable && count <= pf->pci.total_vfs);
        snprintf(from, sizeof from, "%u", pf->pci.num_vfs);
        snprintf(to, sizeof to, "%u", count);
        r = change_plan_add(&plan, pf->address, from, to, "sriov_numvfs");
        if (r < 0)
                return r;
        return change_start(d, CHANGE_SRIOV_NUMVFS, &plan, requester, done, userdata, &v, ret_error);
}

static int on_change_start(sd_event_source *s, void *userdata) {
        Change *c = userdata;

        c->start = sd_event_source_disable_unref(c->start);
        if (c->kind == CHANGE_SRIOV_NUMVFS)
                vfc_next(c);
        else
                change_next(c);
        return 0;
}

static int busy_error(const Change *c, const char *address, char **ret_error) {
        error_setf(ret_error, "%s is being %s by a change started by %s (%s).", address, kind_verbs[c->kind],
                   c->requester, c->description);
        return -EBUSY;
}

/* A USB device's changes hold its interfaces ("2-1:1.0"), not the device:
 * the change on one of them, if any, including interfaces that appeared
 * since the inventory was read. */
static const Change *usb_interface_change(Daemon *d, const char *address) {
        size_t len = strlen(address), state = 0;
        const char *key;
        void *c;

        while (hashmap_iterate(d->busy, &state, &c, &key))
                if (strncmp(key, address, len) == 0 && key[len] == ':')
                        return c;
        return NULL;
}

int daemon_change_check_busy(Daemon *d, const Plan *plan, const Device *const *devs, size_t n, char **ret_error) {
        const Change *c;

        for (size_t i = 0; plan && i < plan->n_steps; i++)
                if ((c = hashmap_get(d->busy, plan->steps[i].address)))
                        return busy_error(c, plan->steps[i].address, ret_error);
        for (size_t i = 0; i < n; i++) {
                if ((c = hashmap_get(d->busy, devs[i]->address)))
                        return busy_error(c, devs[i]->address, ret_error);
                if (devs[i]->kind == DEVICE_USB && (c = usb_interface_change(d, devs[i]->address)))
                        return busy_error(c, devs[i]->address, ret_error);
        }
        return 0;
}

static char *describe(ChangeKind kind, const Plan *plan) {
        _cleanup_free_ char *s = strdup(kind_names[kind]);

        for (size_t i = 0; s && i < plan->n_steps; i++) {
                char *t;

                if (asprintf(&t, "%s%s%s", s, i == 0 ? " of " : ", ", plan->steps[i].address) < 0)
                        return NULL;
                free(s);
                s = t;
        }
        return TAKE_PTR(s);
}

/* The records before and after: written before the kernel is touched, so
 * a crash midway leaves a record that start-up completes. */
int change_record_intent(Daemon *d, const Plan *plan, bool prepare, PreparedSet *ret_saved) {
        PreparedSet saved = {};
        int r;

        r = prepared_set_copy(&saved, &d->prepared);
        if (r < 0)
                return r;
        for (size_t i = 0; i < plan->n_steps; i++) {
                const PlanStep *s = &plan->steps[i];
                Prepared *rec = prepared_find(&d->prepared, s->address);
                const Device *dev;

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
                r = dev ? prepared_add(&d->prepared, dev, s->from) : -ENODEV;
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = daemon_save(d);
        if (r < 0) {
                prepared_set_done(&d->prepared);
                d->prepared = saved;
                return r;
        }
        *ret_saved = saved;
        return 0;
}

static int change_start(Daemon *d, ChangeKind kind, Plan *plan, const char *requester, ChangeDone done,
                        void *userdata, const VfCount *vfc, char **ret_error) {
        Change *c;
        int r;

        r = daemon_change_check_busy(d, plan, NULL, 0, ret_error);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(Change));
        if (!c)
                return -ENOMEM;
        c->d = d;
        c->kind = kind;
        c->done = done;
        c->userdata = userdata;
        c->requester = strdup(strempty(requester));
        c->description = describe(kind, plan);
        c->state = calloc(plan->n_steps + 1, sizeof(unsigned));
        if (vfc)
                c->vfc = *vfc;
        if (!c->requester || !c->description || !c->state) {
                change_free(c);
                return -ENOMEM;
        }
        if (kind == CHANGE_PREPARE || kind == CHANGE_RELEASE) {
                r = change_record_intent(d, plan, kind == CHANGE_PREPARE, &c->saved);
                if (r < 0) {
                        change_free(c);
                        if (r == -ENOMEM)
                                return r;
                        error_setf(ret_error, "Cannot record the change: %s", strerror(-r));
                        return -EIO;
                }
        }
        c->plan = *plan;
        *plan = (Plan) {};
        c->next = d->changes;
        if (c->next)
                c->next->prev = c;
        d->changes = c;
        for (size_t i = 0; i < c->plan.n_steps; i++)
                if (hashmap_put(d->busy, c->plan.steps[i].address, c) < 0) {
                        r = -ENOMEM;
                        break;
                }
        /* From the loop: the caller hears back only after this returned. */
        if (r >= 0)
                r = sd_event_add_defer(d->event, &c->start, on_change_start, c);
        if (r < 0) {
                if (kind == CHANGE_PREPARE || kind == CHANGE_RELEASE) {
                        prepared_set_done(&d->prepared);
                        d->prepared = c->saved;
                        c->saved = (PreparedSet) {};
                        (void) daemon_save(d);
                }
                change_free(c);
                return r;
        }
        log_debug("%s started by %s.", c->description, c->requester);
        return 0;
}

int daemon_change_start(Daemon *d, ChangeKind kind, Plan *plan, const char *requester, ChangeDone done,
                        void *userdata, char **ret_error) {
        assert(kind != CHANGE_SRIOV_NUMVFS);
        return change_start(d, kind, plan, requester, done, userdata, NULL, ret_error);
}

bool changes_vf_count_in_flight(Daemon *d, const char *pf) {
        const Change *c = hashmap_get(d->busy, pf);

        return c && c->kind == CHANGE_SRIOV_NUMVFS;
}

void changes_on_uevent(Daemon *d, const char *address) {
        Change *c = hashmap_get(d->busy, address);
        Watch *w;

        /* VFs come and go under their own addresses: every VF count in
         * flight counts again (there are few). */
        for (Change *i = d->changes, *next; i; i = next) {
                next = i->next;
                if (i->kind == CHANGE_SRIOV_NUMVFS && i->vfc.writing)
                        vfc_next(i);
        }
        c = hashmap_get(d->busy, address);

        if (c && c->move.address && streq(c->move.address, address))
                move_check(c);
        w = hashmap_get(d->watches, address);
        if (w)
                watch_check(w);
}

void changes_free_all(Daemon *d) {
        Watch *w;
        size_t i = 0;

        while (d->changes) {
                Change *c = d->changes;

                /* No watch takes over writes now. */
                if (c->move.write)
                        kernel_write_set_callback(c->move.write, NULL, NULL);
                c->move.write = NULL;
                if (c->vfc.write)
                        kernel_write_set_callback(c->vfc.write, NULL, NULL);
                c->vfc.write = NULL;
                change_free(c);
        }
        while (d->watches && hashmap_iterate(d->watches, &i, (void **) &w, NULL)) {
                watch_free(w);
                i = 0;
        }
}
