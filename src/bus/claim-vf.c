/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "claim-vf.h"
#include "shared/macro.h"

/* One dict of vf-settings: mac s, vlan u. */
static int read_one(sd_bus_message *m, size_t number, ClaimVfRequest *ret, sd_bus_error *error) {
        _cleanup_free_ char *mac = NULL, *msg = NULL;
        int64_t vlan = -1;
        int r;

        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents, *s;
                uint32_t u;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                if (streq(key, "mac") && streq(contents, "s")) {
                        r = sd_bus_message_read(m, "v", "s", &s);
                        if (r >= 0)
                                r = free_and_strdup(&mac, s);
                } else if (streq(key, "vlan") && streq(contents, "u")) {
                        r = sd_bus_message_read(m, "v", "u", &u);
                        vlan = u;
                } else
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                 "vf-settings entry %zu: unknown key or wrong type: %s (%s); "
                                                 "known are mac (s) and vlan (u).", number,
                                                 streq(key, "mac") || streq(key, "vlan") ? key : "?", contents);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = claim_vf_request_parse(mac, vlan, ret, &msg);
        if (r < 0)
                return r == -ENOMEM ? r : sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                            "vf-settings entry %zu: %s", number, strempty(msg));
        return 0;
}

int bus_read_vf_settings(sd_bus_message *m, ClaimVfRequests *ret, sd_bus_error *error) {
        ClaimVfRequests l = {};
        int r;

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'a', "{sv}")) > 0) {
                ClaimVfRequest q;

                if (l.n_items >= CLAIM_COUNT_MAX) {
                        claim_vf_requests_done(&l);
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                 "vf-settings has more than %d entries.", CLAIM_COUNT_MAX);
                }
                r = read_one(m, l.n_items + 1, &q, error);
                if (r >= 0 && !sd_bus_error_is_set(error))
                        r = claim_vf_requests_append(&l, &q);
                if (r < 0 || sd_bus_error_is_set(error)) {
                        claim_vf_requests_done(&l);
                        return r < 0 ? r : -EINVAL;
                }
                r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0) {
                claim_vf_requests_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}

int bus_claim_vf_check(const ResourceGroup *g, unsigned count, const char *mac, int64_t vlan,
                       ClaimVfRequests *list, sd_bus_error *error) {
        _cleanup_free_ char *msg = NULL;
        ClaimVfRequest q;
        bool single = mac || vlan >= 0;
        int r;

        if (!single && list->n_items == 0)
                return 0;
        if (g->type != RESOURCE_SRIOV_NIC)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "mac, vlan and vf-settings are for resource groups of type sriov-nic; "
                                         "'%s' is of type %s.", g->name, resource_type_to_string(g->type));
        if (single && list->n_items > 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "Give either mac and vlan (one VF) or vf-settings, not both.");
        if (single && count != 1)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "mac and vlan set one VF: with count %u, give vf-settings, one entry "
                                         "per member.", count);
        if (!single && list->n_items != count)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "vf-settings has %zu entries for count %u: give one per member.",
                                         list->n_items, count);
        if (!single)
                return 0;
        r = claim_vf_request_parse(mac, vlan, &q, &msg);
        if (r < 0)
                return r == -ENOMEM ? r : sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", strempty(msg));
        return claim_vf_requests_append(list, &q);
}

int bus_claim_vf_bind(Daemon *d, Claim *c, const ClaimVfRequests *list, sd_bus_error *error) {
        _cleanup_free_ char *msg = NULL;
        ClaimVfList l = {};
        int r;

        if (list->n_items == 0)
                return 0;
        r = claim_vf_bind(c, &d->inventory, list->items, list->n_items, &l, &msg);
        if (r < 0)
                return r == -ENOMEM ? r : sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", strempty(msg));
        c->vf_settings = calloc(1, sizeof(ClaimVfList));
        if (!c->vf_settings) {
                for (size_t i = 0; i < l.n_items; i++)
                        free(l.items[i].address);
                free(l.items);
                return -ENOMEM;
        }
        *c->vf_settings = l;
        return 0;
}

static const char *apply_error_name(int r) {
        switch (r) {
        case -EINVAL:
                return BUS_ERROR_INVALID_ARGUMENT;
        case -EBUSY:
                return BUS_ERROR_BUSY;
        case -EOPNOTSUPP:
                return BUS_ERROR_NOT_SUPPORTED;
        default:
                return BUS_ERROR_FAILED;
        }
}

void bus_claim_vf_undo(Daemon *d, const Claim *c, size_t n) {
        const ClaimVfList *l = c->vf_settings;

        for (size_t i = 0; l && i < l->n_items && i < n; i++) {
                const Claim *holder = claim_set_find_device(&d->claims, l->items[i].address);

                /* Taken by another claim meanwhile: its settings now. */
                if (holder && holder != c)
                        continue;
                (void) daemon_sriov_restore_vf(d, l->items[i].address);
        }
}

int bus_claim_vf_apply(Daemon *d, const Claim *c, sd_bus_error *error) {
        const ClaimVfList *l = c->vf_settings;

        for (size_t i = 0; l && i < l->n_items; i++) {
                _cleanup_free_ char *msg = NULL;
                VfSettings s;
                int r;

                /* The index is the VF's own: daemon_sriov_apply_vf finds it. */
                claim_vf_to_settings(l->items + i, 0, &s);
                r = daemon_sriov_apply_vf(d, l->items[i].address, &s, false, &msg);
                if (r >= 0)
                        continue;
                /* One request carries MAC and VLAN: the failing VF may be
                 * half set too. */
                bus_claim_vf_undo(d, c, i + 1);
                if (r == -ENOMEM)
                        return r;
                return sd_bus_error_setf(error, apply_error_name(r), "Cannot set VF %s: %s Nothing was claimed.",
                                         l->items[i].address, msg ?: strerror(-r));
        }
        return 0;
}
