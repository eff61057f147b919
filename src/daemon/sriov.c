/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>

#include "daemon.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

/* SR-IOV at start-up and in the store: each stored PF gets its VF count
 * back (through the change engine, like SetNumVfs) before the recorded
 * bindings are converged, so that prepared VFs exist when their turn
 * comes. The order is count → VF settings → bindings → claims. */

/* The PF a record is about: by serial (and function number) when it has
 * one, else by address. */
Device *daemon_sriov_locate_pf(Daemon *d, const SriovConfig *c) {
        Device *dev;
        size_t i = 0;

        if (c->pf_serial)
                while (hashmap_iterate(d->inventory.devices, &i, (void **) &dev, NULL))
                        if (dev->kind == DEVICE_PCI && dev->pci.sriov_capable &&
                            sriov_same_pf(c->pf_address, c->pf_serial, dev->address, dev->serial))
                                return dev;
        dev = inventory_get(&d->inventory, c->pf_address);
        return dev && dev->pci.sriov_capable ? dev : NULL;
}

int daemon_sriov_record(Daemon *d, const Device *pf, unsigned count, int autoprobe) {
        SriovConfig *c = sriov_config_find(&d->sriov, pf->address, pf->serial);
        int r;

        if (!c && count == 0 && autoprobe < 0)
                return 0;
        if (!c) {
                r = sriov_config_get(&d->sriov, pf->address, pf->serial, &c);
                if (r < 0)
                        return r;
        }
        /* The PF may have moved: the record follows it. */
        if (!streq(c->pf_address, pf->address) && free_and_strdup(&c->pf_address, pf->address) < 0)
                return -ENOMEM;
        c->num_vfs = count;
        if (autoprobe >= 0)
                c->autoprobe = autoprobe;
        /* Settings of VFs that no longer exist go with them (a record
         * holds settings only for indexes below its count). */
        for (size_t i = 0; i < c->n_vfs;)
                if (c->vfs[i].index >= count)
                        c->vfs[i] = c->vfs[--c->n_vfs];
                else
                        i++;
        if (count == 0 && c->n_vfs == 0 && c->autoprobe < 0)
                (void) sriov_config_remove(&d->sriov, c->pf_address);
        return daemon_save(d);
}

static void reapplied(Daemon *d) {
        int r;

        assert(d->sriov_reapplying > 0);
        if (--d->sriov_reapplying > 0)
                return;
        /* VF counts, then their settings, then mediated devices (a parent
         * may be a VF), then the bindings: a VM's device may be any of them. */
        daemon_sriov_reapply_vf_settings(d);
        daemon_mdev_recreate(d);
        r = daemon_converge(d);
        if (r < 0)
                log_error_errno(r, "Cannot converge: %m");
}

static void on_reapplied(void *userdata, const Plan *plan, int r, const char *error) {
        Daemon *d = userdata;

        if (r < 0)
                (void) daemon_converge_problem(d, plan->steps[0].address, strempty(error));
        else
                log_info("%s: %s VFs again, as stored.", plan->steps[0].address, plan->steps[0].to);
        reapplied(d);
}

static void reapply_one(Daemon *d, SriovConfig *c) {
        _cleanup_free_ char *err = NULL, *problem = NULL;
        Device *pf = daemon_sriov_locate_pf(d, c);
        int r;

        if (!pf) {
                if (asprintf(&problem, "the PF stored with %u VFs is not present", c->num_vfs) >= 0)
                        (void) daemon_converge_problem(d, c->pf_address, problem);
                return;
        }
        if (!streq(c->pf_address, pf->address)) {
                log_info("SR-IOV PF %s (serial %s) is now at %s.", c->pf_address, strempty(c->pf_serial),
                         pf->address);
                if (free_and_strdup(&c->pf_address, pf->address) >= 0)
                        (void) daemon_save(d);
        }
        if (c->num_vfs > pf->pci.total_vfs) {
                if (asprintf(&problem, "%u VFs are stored, but the PF supports %u", c->num_vfs,
                             pf->pci.total_vfs) >= 0)
                        (void) daemon_converge_problem(d, pf->address, problem);
                return;
        }
        if (pf->pci.num_vfs == c->num_vfs && (c->autoprobe < 0 || c->autoprobe == pf->pci.drivers_autoprobe))
                return;
        log_info("%s: setting %u VFs, as stored (has %u).", pf->address, c->num_vfs, pf->pci.num_vfs);
        r = daemon_sriov_set_num_vfs(d, pf, c->num_vfs, c->autoprobe, "hostdevd", on_reapplied, d, &err);
        if (r < 0) {
                (void) daemon_converge_problem(d, pf->address, err ?: strerror(-r));
                return;
        }
        d->sriov_reapplying++;
}

int daemon_sriov_reapply(Daemon *d) {
        d->converge_problems = strv_free(d->converge_problems);
        /* Held until every change was started: one finishing early does
         * not start the bindings before the others. */
        d->sriov_reapplying = 1;
        for (size_t i = 0; i < d->sriov.n_items; i++)
                reapply_one(d, &d->sriov.items[i]);
        reapplied(d);
        return 0;
}

int daemon_sriov_converge_problems(Daemon *d, char ***problems) {
        for (size_t i = 0; i < d->sriov.n_items; i++) {
                const SriovConfig *c = &d->sriov.items[i];
                const Device *pf = daemon_sriov_locate_pf(d, c);
                _cleanup_free_ char *text = NULL;

                if (pf && (pf->pci.num_vfs == c->num_vfs || hashmap_get(d->busy, pf->address)))
                        continue;
                if (pf ? asprintf(&text, "has %u VFs, not the %u stored", pf->pci.num_vfs, c->num_vfs) < 0
                       : asprintf(&text, "the PF stored with %u VFs is not present", c->num_vfs) < 0)
                        text = NULL;
                if (!text || strv_extend(problems, pf ? pf->address : c->pf_address) < 0 ||
                    strv_extend(problems, text) < 0)
                        return -ENOMEM;
        }
        return daemon_sriov_vf_problems(d, problems);
}
