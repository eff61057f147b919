/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/text.h"
#include "vf.h"

void vf_settings_init(VfSettings *s, unsigned index) {
        *s = (VfSettings) { .index = index, .vlan = -1, .qos = -1, .trust = -1, .spoofchk = -1,
                            .link_state = VF_LINK_UNSET, .max_tx_rate = -1, .min_tx_rate = -1 };
}

bool vf_settings_empty(const VfSettings *s) {
        return !s->has_mac && s->vlan < 0 && s->qos < 0 && s->trust < 0 && s->spoofchk < 0 &&
               s->link_state == VF_LINK_UNSET && s->max_tx_rate < 0 && s->min_tx_rate < 0;
}

void vf_settings_merge(VfSettings *into, const VfSettings *from) {
        if (from->has_mac) {
                into->has_mac = true;
                memcpy(into->mac, from->mac, sizeof into->mac);
        }
        if (from->vlan >= 0)
                into->vlan = from->vlan;
        if (from->qos >= 0)
                into->qos = from->qos;
        if (from->trust >= 0)
                into->trust = from->trust;
        if (from->spoofchk >= 0)
                into->spoofchk = from->spoofchk;
        if (from->link_state != VF_LINK_UNSET)
                into->link_state = from->link_state;
        if (from->max_tx_rate >= 0)
                into->max_tx_rate = from->max_tx_rate;
        if (from->min_tx_rate >= 0)
                into->min_tx_rate = from->min_tx_rate;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int vf_mac_parse(const char *s, uint8_t ret[6], char **error) {
        uint8_t mac[6];
        char buf[TEXT_EXCERPT_MAX];

        if (!s || strlen(s) != 17)
                return error_setf(error, "'%s' is not a MAC address like 52:54:00:12:34:56.",
                                  text_excerpt(strempty(s), buf));
        for (size_t i = 0; i < 6; i++) {
                int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);

                if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
                        return error_setf(error, "'%s' is not a MAC address like 52:54:00:12:34:56.",
                                          text_excerpt(s, buf));
                mac[i] = (uint8_t) (hi << 4 | lo);
        }
        /* The group bit: multicast and broadcast cannot be a port's own. */
        if (mac[0] & 1)
                return error_setf(error, "%s is a multicast address; a VF needs a unicast one.", s);
        memcpy(ret, mac, sizeof mac);
        return 0;
}

const char *vf_mac_format(const uint8_t mac[6], char buf[static 18]) {
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        return buf;
}

static const char *const link_states[_VF_LINK_MAX] = {
        [VF_LINK_AUTO] = "auto",
        [VF_LINK_ENABLE] = "enable",
        [VF_LINK_DISABLE] = "disable",
};

const char *vf_link_state_to_string(VfLinkState s) {
        return s >= 0 && s < _VF_LINK_MAX ? link_states[s] : NULL;
}

VfLinkState vf_link_state_from_string(const char *s) {
        for (int i = 0; s && i < _VF_LINK_MAX; i++)
                if (streq(s, link_states[i]))
                        return i;
        return VF_LINK_UNSET;
}

int vf_settings_validate(const VfSettings *s, unsigned num_vfs, char **error) {
        if (s->index >= num_vfs)
                return error_setf(error, "VF index %u is out of range: the PF has %u VFs.", s->index, num_vfs);
        if (s->vlan > VF_VLAN_MAX || s->vlan < -1)
                return error_setf(error, "VLAN %d is out of range (0–%d).", s->vlan, VF_VLAN_MAX);
        if (s->qos > VF_QOS_MAX || s->qos < -1)
                return error_setf(error, "QoS priority %d is out of range (0–%d).", s->qos, VF_QOS_MAX);
        if (s->qos > 0 && s->vlan <= 0)
                return error_setf(error, "A QoS priority needs a VLAN.");
        if (s->trust < -1 || s->trust > 1 || s->spoofchk < -1 || s->spoofchk > 1)
                return error_setf(error, "trust and spoofchk are on or off.");
        if (s->link_state < VF_LINK_UNSET || s->link_state >= _VF_LINK_MAX)
                return error_setf(error, "The link state is auto, enable or disable.");
        if (s->max_tx_rate > (int64_t) VF_RATE_MAX || s->min_tx_rate > (int64_t) VF_RATE_MAX ||
            s->max_tx_rate < -1 || s->min_tx_rate < -1)
                return error_setf(error, "A rate is in Mbit/s, at most %u.", VF_RATE_MAX);
        if (s->min_tx_rate > 0 && s->max_tx_rate > 0 && s->min_tx_rate > s->max_tx_rate)
                return error_setf(error, "min-tx-rate %" PRId64 " is above max-tx-rate %" PRId64 ".",
                                  s->min_tx_rate, s->max_tx_rate);
        return 0;
}

static void sriov_config_done(SriovConfig *c) {
        free(c->pf_address);
        free(c->pf_serial);
        free(c->vfs);
}

void sriov_config_set_done(SriovConfigSet *set) {
        for (size_t i = 0; i < set->n_items; i++)
                sriov_config_done(&set->items[i]);
        free(set->items);
        *set = (SriovConfigSet) {};
}

bool sriov_same_pf(const char *address_a, const char *serial_a, const char *address_b, const char *serial_b) {
        const char *fa = strrchr(address_a, '.'), *fb = strrchr(address_b, '.');

        /* The PFs of a multi-port card share the card's serial (DSN):
         * the serial finds the card, the function number the port. */
        return serial_a && *serial_a && streq_ptr(serial_a, serial_b) && fa && fb && streq(fa, fb);
}

SriovConfig *sriov_config_find(SriovConfigSet *set, const char *address, const char *serial) {
        for (size_t i = 0; i < set->n_items; i++)
                if (sriov_same_pf(set->items[i].pf_address, set->items[i].pf_serial, address, serial))
                        return &set->items[i];
        for (size_t i = 0; i < set->n_items; i++)
                if (streq(set->items[i].pf_address, address))
                        return &set->items[i];
        return NULL;
}

int sriov_config_get(SriovConfigSet *set, const char *address, const char *serial, SriovConfig **ret) {
        SriovConfig *c = sriov_config_find(set, address, serial), *t;

        if (c) {
                *ret = c;
                return 0;
        }
        t = realloc(set->items, (set->n_items + 1) * sizeof(SriovConfig));
        if (!t)
                return -ENOMEM;
        set->items = t;
        c = &set->items[set->n_items];
        *c = (SriovConfig) { .pf_address = strdup(address), .pf_serial = serial && *serial ? strdup(serial) : NULL,
                             .autoprobe = -1 };
        if (!c->pf_address || (serial && *serial && !c->pf_serial)) {
                sriov_config_done(c);
                return -ENOMEM;
        }
        set->n_items++;
        *ret = c;
        return 0;
}

int sriov_config_remove(SriovConfigSet *set, const char *address) {
        for (size_t i = 0; i < set->n_items; i++)
                if (streq(set->items[i].pf_address, address)) {
                        sriov_config_done(&set->items[i]);
                        set->items[i] = set->items[--set->n_items];
                        return 0;
                }
        return -ENOENT;
}

const VfSettings *sriov_config_vf(const SriovConfig *c, unsigned index) {
        for (size_t i = 0; i < c->n_vfs; i++)
                if (c->vfs[i].index == index)
                        return &c->vfs[i];
        return NULL;
}

int sriov_config_set_vf(SriovConfig *c, const VfSettings *s) {
        VfSettings *t;

        for (size_t i = 0; i < c->n_vfs; i++)
                if (c->vfs[i].index == s->index) {
                        vf_settings_merge(&c->vfs[i], s);
                        return 0;
                }
        t = realloc(c->vfs, (c->n_vfs + 1) * sizeof(VfSettings));
        if (!t)
                return -ENOMEM;
        c->vfs = t;
        vf_settings_init(&c->vfs[c->n_vfs], s->index);
        vf_settings_merge(&c->vfs[c->n_vfs], s);
        c->n_vfs++;
        return 0;
}
