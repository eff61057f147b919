/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "options.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

#define BUS_ERROR_CRITICAL_DEVICE "org.hostdev1.Error.CriticalDevice"
#define BUS_ERROR_NOT_SUPPORTED   "org.hostdev1.Error.NotSupported"

static int reply_plan(sd_bus_message *m, const Plan *plan) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssss)");
        for (size_t i = 0; r >= 0 && i < plan->n_steps; i++)
                r = sd_bus_message_append(reply, "(ssss)", plan->steps[i].address, plan->steps[i].from,
                                          plan->steps[i].to, plan->steps[i].reason);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* A Prepare or Release whose change is in flight: answered when it is over. */
typedef struct PendingReply {
        Bus *bus;
        sd_bus_message *call;
        char *addresses;
        bool prepare;
        struct PendingReply *next, *prev;
} PendingReply;

static void pending_free(PendingReply *p) {
        if (p->prev)
                p->prev->next = p->next;
        else
                p->bus->pending = p->next;
        if (p->next)
                p->next->prev = p->prev;
        sd_bus_message_unref(p->call);
        free(p->addresses);
        free(p);
}

void bus_pending_free_all(Bus *b) {
        while (b->pending)
                pending_free(b->pending);
}

static void on_change_done(void *userdata, const Plan *plan, int r, const char *error) {
        PendingReply *p = userdata;

        if (r < 0)
                r = sd_bus_reply_method_errorf(p->call, r == -EBUSY ? BUS_ERROR_BUSY : BUS_ERROR_FAILED, "%s",
                                               error ?: "Failed; every step was rolled back.");
        else {
                log_info("%s %s.", p->prepare ? "Prepared" : "Released", p->addresses);
                r = reply_plan(p->call, plan);
        }
        if (r < 0)
                log_debug_errno(r, "Cannot answer %s: %m", sd_bus_message_get_member(p->call));
        pending_free(p);
}

/* "0000:04:00.0: holds / (…); 0000:00:1c.0: is a PCI bridge" for every
 * critical device the plan touches; NULL when none is. */
static char *critical_summary(Daemon *d, const Plan *plan) {
        char *s = NULL, *t;

        for (size_t i = 0; i < plan->n_steps; i++) {
                const Device *dev = inventory_get(&d->inventory, plan->steps[i].address);

                for (size_t j = 0; dev && dev->critical && dev->critical[j] && dev->critical[j + 1]; j += 2) {
                        if (asprintf(&t, "%s%s%s: %s", strempty(s), s ? "; " : "", dev->address,
                                     dev->critical[j + 1]) < 0) {
                                free(s);
                                return NULL;
                        }
                        free(s);
                        s = t;
                }
        }
        return s;
}

int bus_prepare_release(Bus *b, sd_bus_message *m, const Device *const *devs, size_t n, bool prepare,
                        sd_bus_error *error) {
        Daemon *d = b->daemon;
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ char *msg = NULL, *critical = NULL, *addresses = NULL;
        bool dry_run = false, override = false, no_interaction = false;
        PendingReply *p;
        bool usb = n > 0 && devs[0]->kind == DEVICE_USB, usb_records = false;
        const OptionSpec spec[] = {
                { "dry-run", OPTION_BOOLEAN, &dry_run },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
                { "override-critical", OPTION_BOOLEAN, &override },
        };
        int r;

        r = bus_read_options(m, spec, ELEMENTSOF(spec) - !prepare, RESOURCE_PCI, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;

        r = usb ? daemon_usb_plan(d, devs, n, prepare, &plan, &usb_records, &msg)
            : prepare ? plan_prepare(&d->inventory, devs, n, &plan, &msg)
                    : plan_release(&d->inventory, &d->prepared, devs, n, &plan, &msg);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, r == -EOPNOTSUPP ? BUS_ERROR_NOT_SUPPORTED : BUS_ERROR_INVALID_ARGUMENT,
                                         "%s", msg ?: "Cannot plan this.");
        if (prepare) {
                critical = usb ? bus_usb_critical_summary(devs, n) : critical_summary(d, &plan);
                if (critical && !override)
                        return sd_bus_error_setf(error, BUS_ERROR_CRITICAL_DEVICE,
                                                 "The host needs these devices: %s. Pass override-critical to "
                                                 "prepare them anyway.", critical);
        }
        /* A dry run and a plan with nothing to do change nothing: no polkit. */
        if (dry_run || (plan.n_steps == 0 && !usb_records))
                return reply_plan(m, &plan);
        if (prepare && !usb && !d->iommu_enabled)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_SUPPORTED, "%s", d->iommu_message);
        /* Not worth asking anybody for a change that cannot start now. */
        free(msg);
        msg = NULL;
        r = daemon_change_check_busy(d, &plan, devs, n, &msg);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "%s", strempty(msg));

        addresses = bus_join_addresses(devs, n);
        if (!addresses)
                return -ENOMEM;
        r = usb ? bus_usb_polkit_checks(&checks, b, m, devs, n, prepare)
                : polkit_checks_for_plan(&checks, b, m, &plan, prepare);
        if (r < 0)
                return r;
        r = bus_verify_polkit(b, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        /* The reply goes out when the change is over; meanwhile the
         * loop serves everybody else. */
        p = calloc(1, sizeof(PendingReply));
        if (!p)
                return -ENOMEM;
        *p = (PendingReply) { .bus = b, .call = sd_bus_message_ref(m), .addresses = TAKE_PTR(addresses),
                              .prepare = prepare, .next = b->pending };
        if (p->next)
                p->next->prev = p;
        b->pending = p;
        free(msg);
        msg = NULL;
        r = usb ? daemon_usb_change_start(d, devs, n, prepare, &plan, sd_bus_message_get_sender(m), on_change_done,
                                          p, &msg)
                : daemon_change_start(d, prepare ? CHANGE_PREPARE : CHANGE_RELEASE, &plan,
                                      sd_bus_message_get_sender(m), on_change_done, p, &msg);
        if (r < 0) {
                pending_free(p);
                if (r == -ENOMEM)
                        return r;
                return sd_bus_error_setf(error, r == -EBUSY ? BUS_ERROR_BUSY : BUS_ERROR_FAILED, "%s",
                                         msg ?: "Cannot start the change.");
        }
        return 1;
}
