/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <string.h>

#include "daemon.h"
#include "kernel/network.h"
#include "kernel/sriov-netlink.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"

/* SR-IOV VF settings (MAC, VLAN, trust, …): checked, applied to the kernel
 * through the PF's network interface, stored by PF identity next to the VF
 * count, reapplied at start-up (count → VF settings → bindings → claims)
 * and put back when a claim lets a VF go, so that the next VM does not
 * inherit the last one's MAC. */

static int no_netdev(const Device *pf, char **ret_error) {
        (void) error_setf(ret_error, "%s has no network interface (no driver bound, or not a NIC): VF settings "
                          "are set through the PF's netdev.", pf->address);
        return -EOPNOTSUPP;
}

/* Through NetworkManager when it manages the PF, else rtnetlink. */
static int apply_kernel(Daemon *d, const Device *pf, const VfSettings *s, char **ret_error) {
        _cleanup_free_ char *ifname = NULL;
        const char *via;
        int ifindex, r;

        r = sriov_pf_netdev(&d->paths, pf->address, &ifname, &ifindex);
        if (r == -ENODEV)
                return no_netdev(pf, ret_error);
        if (r < 0)
                return r;
        if (nm_manages_interface(d->system_bus, ifname)) {
                r = nm_sriov_set_vf(d->system_bus, ifname, s, pf->pci.num_vfs, ret_error);
                if (r >= 0)
                        log_info("%s: VF %u set through NetworkManager's connection on %s.", pf->address, s->index,
                                 ifname);
                return r;
        }
        r = rtnl_vf_channel(&d->paths, &via);
        if (r < 0) {
                (void) error_setf(ret_error, "VF settings of %s cannot be applied: rtnetlink is not used with a "
                                  "simulated sysfs root.", pf->address);
                return -EOPNOTSUPP;
        }
        r = rtnl_vf_apply(via, ifindex, s);
        if (r == -EOPNOTSUPP) {
                (void) error_setf(ret_error, "The driver of %s (%s) does not support these VF settings.",
                                  pf->address, ifname);
                return r;
        }
        if (r < 0) {
                (void) error_setf(ret_error, "The kernel refused the settings of VF %u on %s (%s): %s.", s->index,
                                  pf->address, ifname, strerror(-r));
                return r == -ENOMEM ? r : -EIO;
        }
        log_info("%s: VF %u set over rtnetlink on %s.", pf->address, s->index, ifname);
        return 0;
}

static void vf_config_changed(Daemon *d, const Device *pf) {
        NOTIFY(d, device_changed, pf, DEVICE_FIELD_VF_CONFIG);
        daemon_schedule_flush(d);
}

static int store_vf(Daemon *d, const Device *pf, const VfSettings *s) {
        SriovConfig *c = sriov_config_find(&d->sriov, pf->address, pf->serial);
        int r;

        if (!c) {
                /* The settings need their VFs: the count comes along. */
                r = sriov_config_get(&d->sriov, pf->address, pf->serial, &c);
                if (r < 0)
                        return r;
                c->num_vfs = pf->pci.num_vfs;
        }
        r = sriov_config_set_vf(c, s);
        if (r < 0)
                return r;
        return daemon_save(d);
}

/* The start-up problems of this PF's VFs are over once it was set anew. */
static void forget_problems(Daemon *d, const char *pf) {
        char **l = d->sriov_vf_problems;
        size_t j = 0;

        for (size_t i = 0; l && l[i] && l[i + 1]; i += 2) {
                if (streq(l[i], pf)) {
                        free(l[i]);
                        free(l[i + 1]);
                        continue;
                }
                l[j++] = l[i];
                l[j++] = l[i + 1];
        }
        if (l)
                l[j] = NULL;
}

int daemon_sriov_set_vf_config(Daemon *d, const Device *pf, const VfSettings *settings, bool persist,
                               char **ret_error) {
        _cleanup_free_ char *busy = NULL;
        VfSettings copy = *settings, *s = &copy;
        int r;

        assert(d && pf && settings);
        /* IFLA_VF_VLAN sets both: a VLAN without a QoS has QoS 0, also in the store. */
        if (s->vlan >= 0 && s->qos < 0)
                s->qos = 0;
        if (pf->kind != DEVICE_PCI || !pf->pci.sriov_capable) {
                (void) error_setf(ret_error, "%s is not an SR-IOV physical function.", pf->address);
                return -ENODEV;
        }
        if (vf_settings_empty(s))
                return error_setf(ret_error, "Nothing to set for VF %u of %s.", s->index, pf->address);
        r = vf_settings_validate(s, pf->pci.num_vfs, ret_error);
        if (r < 0)
                return r;
        r = daemon_change_check_busy(d, NULL, &pf, 1, &busy);
        if (r == -EBUSY) {
                (void) error_setf(ret_error, "%s", strempty(busy));
                return r;
        }
        r = apply_kernel(d, pf, s, ret_error);
        if (r < 0)
                return r;
        forget_problems(d, pf->address);
        if (persist) {
                r = store_vf(d, pf, s);
                if (r < 0) {
                        (void) error_setf(ret_error, "VF %u of %s was set, but cannot be stored: %s.", s->index,
                                          pf->address, strerror(-r));
                        vf_config_changed(d, pf);
                        return -EIO;
                }
        }
        vf_config_changed(d, pf);
        daemon_update_converged(d);
        return 0;
}

static int pf_of_vf(Daemon *d, const char *vf_address, Device **ret_pf, unsigned *ret_index, char **ret_error) {
        Device *vf = inventory_get(&d->inventory, vf_address), *pf;

        if (!vf || vf->kind != DEVICE_PCI || !vf->pci.physfn || vf->pci.vf_index < 0) {
                (void) error_setf(ret_error, "%s is not an SR-IOV virtual function.", vf_address);
                return -ENODEV;
        }
        pf = inventory_get(&d->inventory, vf->pci.physfn);
        if (!pf) {
                (void) error_setf(ret_error, "The PF %s of %s is not known.", vf->pci.physfn, vf_address);
                return -ENODEV;
        }
        *ret_pf = pf;
        *ret_index = (unsigned) vf->pci.vf_index;
        return 0;
}

int daemon_sriov_apply_vf(Daemon *d, const char *vf_address, const VfSettings *s, bool persist, char **ret_error) {
        VfSettings t = *s;
        Device *pf;
        int r;

        r = pf_of_vf(d, vf_address, &pf, &t.index, ret_error);
        if (r < 0)
                return r;
        return daemon_sriov_set_vf_config(d, pf, &t, persist, ret_error);
}

/* What the kernel says of pf's VFs; nothing when it cannot be asked. */
static int read_kernel(Daemon *d, const Device *pf, VfSettings **ret, size_t *ret_n) {
        _cleanup_free_ char *ifname = NULL;
        const char *via;
        int ifindex, r;

        *ret = NULL;
        *ret_n = 0;
        if (rtnl_vf_channel(&d->paths, &via) < 0 || sriov_pf_netdev(&d->paths, pf->address, &ifname, &ifindex) < 0)
                return 0;
        r = rtnl_vf_read(via, ifindex, ret, ret_n);
        if (r < 0)
                log_debug_errno(r, "%s: cannot read its VFs' settings over rtnetlink: %m", pf->address);
        return r == -ENOMEM ? r : 0;
}

static const VfSettings *find_vf(const VfSettings *l, size_t n, unsigned index) {
        for (size_t i = 0; i < n; i++)
                if (l[i].index == index)
                        return &l[i];
        return NULL;
}

/* The fields of want that the kernel does not have yet. */
static VfSettings vf_difference(const VfSettings *want, const VfSettings *have) {
        VfSettings s;

        vf_settings_init(&s, want->index);
        if (want->has_mac && (!have || !have->has_mac || memcmp(want->mac, have->mac, sizeof want->mac) != 0)) {
                s.has_mac = true;
                memcpy(s.mac, want->mac, sizeof s.mac);
        }
        if (want->vlan >= 0 && (!have || have->vlan != want->vlan || (want->qos >= 0 && have->qos != want->qos))) {
                s.vlan = want->vlan;
                s.qos = want->qos;
        }
        if (want->trust >= 0 && (!have || have->trust != want->trust))
                s.trust = want->trust;
        if (want->spoofchk >= 0 && (!have || have->spoofchk != want->spoofchk))
                s.spoofchk = want->spoofchk;
        if (want->link_state != VF_LINK_UNSET && (!have || have->link_state != want->link_state))
                s.link_state = want->link_state;
        if ((want->max_tx_rate >= 0 && (!have || have->max_tx_rate != want->max_tx_rate)) ||
            (want->min_tx_rate >= 0 && (!have || have->min_tx_rate != want->min_tx_rate))) {
                s.max_tx_rate = want->max_tx_rate;
                s.min_tx_rate = want->min_tx_rate;
        }
        return s;
}

int daemon_sriov_restore_vf(Daemon *d, const char *vf_address) {
        _cleanup_free_ VfSettings *kernel = NULL;
        _cleanup_free_ char *err = NULL;
        const SriovConfig *c;
        const VfSettings *stored = NULL;
        VfSettings t, diff;
        size_t n_kernel = 0;
        Device *pf;
        int r;

        r = pf_of_vf(d, vf_address, &pf, &t.index, &err);
        if (r < 0)
                return log_debug_errno(r, "Not restoring %s: %s", vf_address, strempty(err));
        c = sriov_config_find(&d->sriov, pf->address, pf->serial);
        if (c)
                stored = sriov_config_vf(c, t.index);
        if (stored)
                t = *stored;
        else
                vf_settings_init(&t, t.index);
        /* What a consumer may have set and the next one must not inherit. */
        t.has_mac = true;
        if (!stored || !stored->has_mac)
                memset(t.mac, 0, sizeof t.mac);
        if (t.vlan < 0)
                t.vlan = 0;
        if (t.qos < 0)
                t.qos = 0;
        if (t.trust < 0)
                t.trust = 0;
        /* Only what differs: a VF nobody changed is not written to. */
        r = read_kernel(d, pf, &kernel, &n_kernel);
        if (r < 0)
                return r;
        diff = vf_difference(&t, find_vf(kernel, n_kernel, t.index));
        if (vf_settings_empty(&diff))
                return 0;
        r = daemon_sriov_set_vf_config(d, pf, &diff, false, &err);
        if (r < 0)
                return log_warning_errno(r, "VF %s keeps the settings its last user gave it: %s", vf_address,
                                         strempty(err));
        log_info("VF %s: stored settings put back.", vf_address);
        return 0;
}

int daemon_sriov_vf_config(Daemon *d, const Device *pf, VfSettings **ret, size_t *ret_n) {
        _cleanup_free_ VfSettings *kernel = NULL, *out = NULL;
        const SriovConfig *c = sriov_config_find(&d->sriov, pf->address, pf->serial);
        size_t n_kernel = 0, n = pf->pci.num_vfs;
        int r;

        r = read_kernel(d, pf, &kernel, &n_kernel);
        if (r < 0)
                return r;
        out = calloc(n ?: 1, sizeof(VfSettings));
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const VfSettings *stored = c ? sriov_config_vf(c, (unsigned) i) : NULL;

                vf_settings_init(&out[i], (unsigned) i);
                if (stored)
                        vf_settings_merge(&out[i], stored);
                if (find_vf(kernel, n_kernel, (unsigned) i))
                        vf_settings_merge(&out[i], find_vf(kernel, n_kernel, (unsigned) i));
        }
        *ret = TAKE_PTR(out);
        *ret_n = n;
        return 0;
}

static void vf_problem(Daemon *d, const char *address, const char *text) {
        if (strv_extend(&d->sriov_vf_problems, address) < 0 || strv_extend(&d->sriov_vf_problems, text) < 0)
                log_oom();
        (void) daemon_converge_problem(d, address, text);
}

static void reapply_pf(Daemon *d, const SriovConfig *c, const Device *pf) {
        _cleanup_free_ VfSettings *kernel = NULL;
        _cleanup_free_ char *ifname = NULL;
        size_t n_kernel = 0;
        int ifindex;

        if (sriov_pf_netdev(&d->paths, pf->address, &ifname, &ifindex) >= 0 &&
            nm_manages_interface(d->system_bus, ifname)) {
                /* Its connection's sriov setting holds them: NetworkManager applies it. */
                log_info("%s: NetworkManager manages %s and applies its VF settings.", pf->address, ifname);
                return;
        }
        if (read_kernel(d, pf, &kernel, &n_kernel) < 0)
                return;
        for (size_t i = 0; i < c->n_vfs; i++) {
                const VfSettings *want = &c->vfs[i], *have = NULL;
                _cleanup_free_ char *err = NULL, *text = NULL;
                VfSettings diff;
                int r;

                have = find_vf(kernel, n_kernel, want->index);
                diff = vf_difference(want, have);
                if (vf_settings_empty(&diff))
                        continue;
                r = vf_settings_validate(&diff, pf->pci.num_vfs, &err);
                if (r >= 0)
                        r = apply_kernel(d, pf, &diff, &err);
                if (r >= 0) {
                        log_info("%s: VF %u settings reapplied, as stored.", pf->address, want->index);
                        vf_config_changed(d, pf);
                        continue;
                }
                if (asprintf(&text, "VF %u settings not reapplied: %s", want->index, err ?: strerror(-r)) >= 0)
                        vf_problem(d, pf->address, text);
        }
}

void daemon_sriov_reapply_vf_settings(Daemon *d) {
        d->sriov_vf_problems = strv_free(d->sriov_vf_problems);
        for (size_t i = 0; i < d->sriov.n_items; i++) {
                const SriovConfig *c = &d->sriov.items[i];
                const Device *pf;

                if (c->n_vfs == 0)
                        continue;
                pf = daemon_sriov_locate_pf(d, c);
                /* A missing PF or a count not reached is a problem of its own already. */
                if (pf && pf->pci.num_vfs == c->num_vfs)
                        reapply_pf(d, c, pf);
        }
}

int daemon_sriov_vf_problems(Daemon *d, char ***problems) {
        for (char **l = d->sriov_vf_problems; l && l[0] && l[1]; l += 2)
                if (strv_extend(problems, l[0]) < 0 || strv_extend(problems, l[1]) < 0)
                        return -ENOMEM;
        return 0;
}

void daemon_sriov_claim_released(Daemon *d, const Claim *c) {
        _cleanup_free_ const Device **devs = NULL;
        size_t n = 0;

        if (claim_devices(c, &d->inventory, &devs, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                if (devs[i]->kind == DEVICE_PCI && devs[i]->pci.physfn)
                        (void) daemon_sriov_restore_vf(d, devs[i]->address);
}
