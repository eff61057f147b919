/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "rules.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"
#include "usb-member.h"

char *usb_identity(const Device *d) {
        char *s;
        int r;

        if (!d || d->kind != DEVICE_USB)
                return NULL;
        /* A serial unfit to keep (odd bytes, too long) identifies nothing. */
        if (d->serial && *d->serial && strlen(d->serial) <= RULE_STRING_MAX && utf8_is_valid(d->serial) &&
            !text_has_control(d->serial))
                r = asprintf(&s, "%04x:%04x:%s", d->vendor_id, d->product_id, d->serial);
        else
                r = asprintf(&s, "%04x:%04x", d->vendor_id, d->product_id);
        return r < 0 ? NULL : s;
}

/* The ids and where the serial starts (NULL when there is none). */
static bool identity_split(const char *identity, unsigned *ret_vendor, unsigned *ret_product,
                           const char **ret_serial) {
        unsigned v, p;
        int end = -1;

#define HEX "0123456789abcdef"
        if (!identity || strspn(identity, HEX) != 4 || identity[4] != ':' || strspn(identity + 5, HEX) != 4 ||
            (identity[9] != 0 && identity[9] != ':'))
                return false;
#undef HEX
        if (sscanf(identity, "%4x:%4x%n", &v, &p, &end) != 2 || end != 9)
                return false;
        *ret_vendor = v;
        *ret_product = p;
        *ret_serial = identity[9] ? identity + 10 : NULL;
        return true;
}

bool usb_identity_valid(const char *identity) {
        unsigned v, p;
        const char *serial;

        if (!identity_split(identity, &v, &p, &serial))
                return false;
        return !serial || (*serial && strlen(serial) <= RULE_STRING_MAX && utf8_is_valid(serial) &&
                           !text_has_control(serial));
}

bool usb_identity_matches(const char *identity, const char *address, const Device *d) {
        unsigned v, p;
        const char *serial;

        if (!d || d->kind != DEVICE_USB || !identity_split(identity, &v, &p, &serial))
                return false;
        if (d->vendor_id != v || d->product_id != p)
                return false;
        /* Without a serial only the port tells the device apart. */
        return serial ? streq_ptr(d->serial, serial) : streq(d->address, address);
}

char *usb_identity_display(const char *identity, const char *address) {
        unsigned v, p;
        const char *serial;

        if (identity && identity_split(identity, &v, &p, &serial) && serial)
                return strdup(identity);
        return strdup(address);
}

int claim_note_identities(Claim *c, const Inventory *inv) {
        for (size_t i = 0; i < c->n_members; i++) {
                ClaimMember *m = c->members + i;
                const Device *d;

                if (strv_length(m->addresses) != 1 || m->identity)
                        continue;
                d = inventory_get(inv, m->addresses[0]);
                if (!d || d->kind != DEVICE_USB)
                        continue;
                m->identity = usb_identity(d);
                if (!m->identity)
                        return -ENOMEM;
        }
        return 0;
}

const Device *claim_member_device(const ClaimMember *m, const Inventory *inv) {
        const Device *d;

        if (strv_length(m->addresses) != 1)
                return NULL;
        d = inventory_get(inv, m->addresses[0]);
        if (!d || (m->identity && !usb_identity_matches(m->identity, m->addresses[0], d)))
                return NULL;
        return d;
}

bool claim_holds_device(const Claim *c, const Device *d) {
        for (size_t i = 0; i < c->n_members; i++) {
                const ClaimMember *m = c->members + i;

                for (char **a = m->addresses; a && *a; a++)
                        if (streq(*a, d->address))
                                return !m->identity || usb_identity_matches(m->identity, *a, d);
        }
        return false;
}

Claim *claim_set_find_holder(const ClaimSet *s, const Device *d) {
        Claim *c = claim_set_find_device(s, d->address);

        return c && claim_holds_device(c, d) ? c : NULL;
}

int claim_missing(const Claim *c, const Inventory *inv, const ClaimMember ***ret, size_t *ret_n) {
        const ClaimMember **l = calloc(c->n_members + 1, sizeof(ClaimMember *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_members; i++) {
                const ClaimMember *m = c->members + i;
                bool gone = false;

                if (m->identity)
                        gone = !claim_member_device(m, inv);
                else
                        for (char **a = m->addresses; a && *a && !gone; a++)
                                gone = !inventory_get(inv, *a);
                if (gone)
                        l[n++] = m;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

Claim *claim_set_find_moved(const ClaimSet *s, const Inventory *inv, const Device *d, size_t *ret_member) {
        if (!d || d->kind != DEVICE_USB || !d->serial)
                return NULL;
        for (size_t i = 0; i < s->n_claims; i++) {
                Claim *c = s->claims[i];

                for (size_t j = 0; j < c->n_members; j++) {
                        const ClaimMember *m = c->members + j;

                        if (!m->identity || strv_length(m->addresses) != 1 || streq(m->addresses[0], d->address) ||
                            !usb_identity_matches(m->identity, m->addresses[0], d))
                                continue;
                        /* Two devices with one serial: the one at the member's address stays it. */
                        if (claim_member_device(m, inv))
                                continue;
                        if (ret_member)
                                *ret_member = j;
                        return c;
                }
        }
        return NULL;
}

int claim_set_move(ClaimSet *s, Claim *c, size_t i, const char *address) {
        ClaimMember *m = c->members + i;
        Claim *other = claim_set_find_device(s, address);
        char *a;
        int r;

        if (i >= c->n_members || strv_length(m->addresses) != 1)
                return -EINVAL;
        if (other && other != c)
                return -EBUSY;
        a = strdup(address);
        if (!a)
                return -ENOMEM;
        if (hashmap_get(s->by_device, m->addresses[0]) == c)
                hashmap_remove(s->by_device, m->addresses[0]);
        r = other ? 0 : hashmap_put(s->by_device, a, c);
        if (r < 0) {
                (void) hashmap_put(s->by_device, m->addresses[0], c);
                free(a);
                return r;
        }
        free(m->addresses[0]);
        m->addresses[0] = a;
        return 0;
}
