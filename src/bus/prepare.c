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

/* The shared body of Manager.Prepare/Release and ResourceGroup.Prepare/
 * Release: options are next in m, devices already read. */
int bus_prepare_release(Daemon *d, sd_bus_message *m, const Device *const *devs, size_t n, bool prepare,
                        sd_bus_error *error);
int bus_prepare_release(Daemon *d, sd_bus_message *m, const Device *const *devs, size_t n, bool prepare,
                        sd_bus_error *error) {
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_(polkit_checks_done) PolkitChecks checks = {};
        _cleanup_free_ char *msg = NULL, *critical = NULL, *addresses = NULL;
        bool dry_run = false, override = false, no_interaction = false;
        const OptionSpec spec[] = {
                { "dry-run", OPTION_BOOLEAN, &dry_run },
                { "auth.no_user_interaction", OPTION_BOOLEAN, &no_interaction },
                { "override-critical", OPTION_BOOLEAN, &override },
        };
        int r;

        r = bus_read_options(m, spec, ELEMENTSOF(spec) - !prepare, RESOURCE_PCI, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;

        r = prepare ? plan_prepare(&d->inventory, devs, n, &plan, &msg)
                    : plan_release(&d->inventory, &d->prepared, devs, n, &plan, &msg);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, r == -EOPNOTSUPP ? BUS_ERROR_NOT_SUPPORTED : BUS_ERROR_INVALID_ARGUMENT,
                                         "%s", msg ?: "Cannot plan this.");
        if (prepare) {
                critical = critical_summary(d, &plan);
                if (critical && !override)
                        return sd_bus_error_setf(error, BUS_ERROR_CRITICAL_DEVICE,
                                                 "The host needs these devices: %s. Pass override-critical to "
                                                 "prepare them anyway.", critical);
        }
        /* A dry run and a plan with nothing to do change nothing: no polkit. */
        if (dry_run || plan.n_steps == 0)
                return reply_plan(m, &plan);
        if (prepare && !d->iommu_enabled)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_SUPPORTED, "%s", d->iommu_message);

        addresses = bus_join_addresses(devs, n);
        if (!addresses)
                return -ENOMEM;
        r = polkit_checks_for_plan(&checks, d, m, &plan, prepare);
        if (r < 0)
                return r;
        r = bus_verify_polkit(d, m, &checks, no_interaction, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        free(msg);
        msg = NULL;
        r = daemon_apply_plan(d, &plan, prepare, &msg);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "%s", msg ?: "Failed; every step was rolled back.");
        log_info("%s %s.", prepare ? "Prepared" : "Released", addresses);
        return reply_plan(m, &plan);
}
