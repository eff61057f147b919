/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon.h"
#include "model/sriov-pool.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Whether the VF has the MAC and VLAN the claim gave it already. */
static bool vf_has(Daemon *d, const Device *pf, const Device *vf, const ClaimVf *v) {
        _cleanup_free_ VfSettings *l = NULL;
        size_t n = 0;

        if (daemon_sriov_vf_config(d, pf, &l, &n) < 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (vf->pci.vf_index < 0 || l[i].index != (unsigned) vf->pci.vf_index)
                        continue;
                return (!v->has_mac || (l[i].has_mac && memcmp(l[i].mac, v->mac, sizeof v->mac) == 0)) &&
                       (v->vlan < 0 || l[i].vlan == v->vlan);
        }
        return false;
}

static void reapply_one(Daemon *d, const Claim *c, const ClaimVf *v) {
        _cleanup_free_ char *msg = NULL, *problem = NULL;
        const Device *vf = inventory_get(&d->inventory, v->address);
        const Device *pf = vf && vf->pci.physfn ? inventory_get(&d->inventory, vf->pci.physfn) : NULL;
        VfSettings s;
        int r;

        if (!pf || vf_has(d, pf, vf, v))
                return;
        claim_vf_to_settings(v, 0, &s);
        r = daemon_sriov_apply_vf(d, v->address, &s, false, &msg);
        if (r >= 0) {
                log_info("Claim %s: MAC and VLAN of VF %s set again.", c->id, v->address);
                return;
        }
        if (asprintf(&problem, "Claim %s: its MAC and VLAN not set again: %s", c->id, msg ?: strerror(-r)) >= 0)
                (void) daemon_converge_problem(d, v->address, problem);
}

void daemon_claims_reapply_vf_settings(Daemon *d) {
        for (size_t i = 0; i < d->claims.n_claims; i++) {
                const Claim *c = d->claims.claims[i];

                for (size_t k = 0; c->vf_settings && k < c->vf_settings->n_items; k++)
                        reapply_one(d, c, c->vf_settings->items + k);
        }
}
