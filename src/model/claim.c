/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <stdarg.h>

#include "claim.h"
#include "sriov-pool.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"
#include "usb-member.h"

/* Sets *ret_error (when not NULL) and returns code; -ENOMEM when the
 * message cannot be made. */
_printf_(3, 4) static int fail(int code, char **ret_error, const char *fmt, ...) {
        va_list ap;
        int r;

        if (!ret_error)
                return code;
        va_start(ap, fmt);
        r = vasprintf(ret_error, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return code;
}

static int opaque_validate(const char *what, const char *s, size_t max, char **ret_error) {
        if (isempty(s))
                return fail(-EINVAL, ret_error, "%s must not be empty.", what);
        if (strnlen(s, max + 1) > max)
                return fail(-EINVAL, ret_error, "%s is longer than %zu bytes.", what, max);
        if (!utf8_is_valid(s))
                return fail(-EINVAL, ret_error, "%s is not valid UTF-8.", what);
        if (text_has_control(s))
                return fail(-EINVAL, ret_error, "%s contains control characters.", what);
        return 0;
}

int claim_consumer_validate(const char *consumer, char **ret_error) {
        return opaque_validate("Consumer", consumer, CLAIM_CONSUMER_MAX, ret_error);
}

int tenant_validate(const char *tenant, char **ret_error) {
        return opaque_validate("Tenant", tenant, TENANT_NAME_MAX, ret_error);
}

int claim_count_validate(unsigned count, char **ret_error) {
        if (count == 0 || count > CLAIM_COUNT_MAX)
                return fail(-EINVAL, ret_error, "Count must be 1 to %u, not %u.", CLAIM_COUNT_MAX, count);
        return 0;
}

void claim_lease_done(ClaimLease *l) {
        free(l->peer);
        *l = (ClaimLease) {};
}

/* ":1.42": a colon, then two or more elements of [A-Za-z0-9_-] separated
 * by dots (the D-Bus specification's unique connection name). */
bool bus_unique_name_valid(const char *s) {
        size_t n_elements = 1;

        if (!s || s[0] != ':' || strlen(s) > 255)
                return false;
        for (const char *p = s + 1;; p++) {
                size_t len = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

                if (len == 0)
                        return false;
                p += len;
                if (*p == 0)
                        return n_elements >= 2;
                if (*p != '.')
                        return false;
                n_elements++;
        }
}

/* Decimal, 1..INT_MAX, nothing else: no sign, space or leading zero. */
static int pid_parse(const char *s, pid_t *ret) {
        unsigned long long v = 0;

        if (!s || s[0] < '1' || s[0] > '9')
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (*p - '0');
                if (v > INT_MAX)
                        return -EINVAL;
        }
        *ret = (pid_t) v;
        return 0;
}

static int lease_set_peer(ClaimLease *ret, const char *peer) {
        char *p = strdup(peer);

        if (!p)
                return -ENOMEM;
        *ret = (ClaimLease) { .type = CLAIM_LEASE_PEER, .peer = p };
        return 0;
}

int claim_lease_parse(const char *option, const char *sender, ClaimLease *ret, char **ret_error) {
        const char *n;
        char buf[TEXT_EXCERPT_MAX];
        pid_t pid;

        if (isempty(option)) {
                *ret = (ClaimLease) {};
                return 0;
        }
        if (streq(option, "peer")) {
                if (!bus_unique_name_valid(sender))
                        return fail(-EINVAL, ret_error, "A peer lease needs a caller with a unique bus name.");
                return lease_set_peer(ret, sender);
        }
        n = startswith(option, "pid:");
        if (n && pid_parse(n, &pid) >= 0) {
                *ret = (ClaimLease) { .type = CLAIM_LEASE_PID, .pid = pid };
                return 0;
        }
        return fail(-EINVAL, ret_error, "Lease must be \"peer\" or \"pid:N\" with N a process id, not \"%s\".",
                    text_excerpt(option, buf));
}

int claim_persistent_check(int persistent, const ClaimLease *l, char **ret_error) {
        if (persistent > 0 && l->type != CLAIM_LEASE_NONE)
                return fail(-EINVAL, ret_error, "A claim with a lease is not persistent: pass persistent=false "
                            "or leave it out.");
        if (persistent == 0 && l->type == CLAIM_LEASE_NONE)
                return fail(-EINVAL, ret_error, "A claim that is not persistent needs a lease: \"peer\" or "
                            "\"pid:N\".");
        return 0;
}

char *claim_lease_to_string(const ClaimLease *l) {
        char *s;

        switch (l->type) {
        case CLAIM_LEASE_PEER:
                return asprintf(&s, "peer:%s", l->peer) < 0 ? NULL : s;
        case CLAIM_LEASE_PID:
                return asprintf(&s, "pid:%d", (int) l->pid) < 0 ? NULL : s;
        default:
                return strdup("");
        }
}

int claim_lease_from_string(const char *s, ClaimLease *ret) {
        const char *peer = startswith(s, "peer:");

        if (peer)
                return bus_unique_name_valid(peer) ? lease_set_peer(ret, peer) : -EINVAL;
        return claim_lease_parse(s, NULL, ret, NULL);
}

bool claim_id_valid(const char *id) {
        return id && id[0] >= 'a' && id[0] <= 'z' && strlen(id) <= 64 &&
               id[strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789")] == 0;
}

Claim *claim_new(const char *id, const char *consumer, const char *resource_group, uint64_t since,
                 ClaimLease *lease) {
        Claim *c;

        if (!claim_id_valid(id) || claim_consumer_validate(consumer, NULL) < 0)
                return NULL;
        c = calloc(1, sizeof(Claim));
        if (!c)
                return NULL;
        c->id = strdup(id);
        c->consumer = strdup(consumer);
        c->resource_group = strdup(resource_group);
        c->since = since;
        if (!c->id || !c->consumer || !c->resource_group)
                return claim_free(c);
        if (lease) {
                c->lease = *lease;
                *lease = (ClaimLease) {};
        }
        return c;
}

Claim *claim_free(Claim *c) {
        if (!c)
                return NULL;
        free(c->id);
        free(c->consumer);
        free(c->resource_group);
        for (size_t i = 0; i < c->n_members; i++) {
                strv_free(c->members[i].addresses);
                free(c->members[i].identity);
        }
        free(c->members);
        claim_lease_done(&c->lease);
        claim_vf_list_free(c->vf_settings);
        free(c);
        return NULL;
}

static int string_address_compare(const void *a, const void *b) {
        return address_compare(*(char *const *) a, *(char *const *) b);
}

int claim_add_member(Claim *c, const char *const *addresses, size_t n) {
        _cleanup_strv_free_ char **l = calloc(n + 1, sizeof(char *));
        ClaimMember *t;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(l[i] = strdup(addresses[i])))
                        return -ENOMEM;
        qsort(l, n, sizeof(char *), string_address_compare);
        t = realloc(c->members, (c->n_members + 1) * sizeof(ClaimMember));
        if (!t)
                return -ENOMEM;
        c->members = t;
        c->members[c->n_members++] = (ClaimMember) { .addresses = TAKE_PTR(l) };
        return 0;
}

size_t claim_n_devices(const Claim *c) {
        size_t n = 0;

        for (size_t i = 0; i < c->n_members; i++)
                n += strv_length(c->members[i].addresses);
        return n;
}

const char **claim_addresses(const Claim *c) {
        const char **l = calloc(claim_n_devices(c) + 1, sizeof(char *));
        size_t n = 0;

        if (!l)
                return NULL;
        for (size_t i = 0; i < c->n_members; i++)
                for (char **a = c->members[i].addresses; a && *a; a++)
                        l[n++] = *a;
        qsort(l, n, sizeof(char *), string_address_compare);
        return l;
}

int claim_set_init(ClaimSet *s) {
        *s = (ClaimSet) { .by_device = hashmap_new() };
        return s->by_device ? 0 : -ENOMEM;
}

void claim_set_done(ClaimSet *s) {
        for (size_t i = 0; i < s->n_claims; i++)
                claim_free(s->claims[i]);
        for (size_t i = 0; i < s->n_pending; i++)
                claim_free(s->pending[i]);
        free(s->claims);
        free(s->pending);
        hashmap_free(s->by_device);
        hashmap_free(s->reserved);
        *s = (ClaimSet) {};
}

static Claim *find_in(Claim *const *l, size_t n, const char *id) {
        for (size_t i = 0; i < n; i++)
                if (streq(l[i]->id, id))
                        return l[i];
        return NULL;
}

Claim *claim_set_find_id(const ClaimSet *s, const char *id) {
        return find_in(s->claims, s->n_claims, id);
}

Claim *claim_set_find_reserved(const ClaimSet *s, const char *id) {
        return find_in(s->pending, s->n_pending, id);
}

Claim *claim_set_find_device(const ClaimSet *s, const char *address) {
        return s && s->by_device ? hashmap_get(s->by_device, address) : NULL;
}

Claim *claim_set_find_holder(const ClaimSet *s, const char *address) {
        Claim *c = claim_set_find_device(s, address);

        return c ?: (s ? hashmap_get(s->reserved, address) : NULL);
}

static void unindex(Hashmap *map, const Claim *c) {
        for (size_t i = 0; i < c->n_members; i++)
                for (char **a = c->members[i].addresses; a && *a; a++)
                        if (hashmap_get(map, *a) == c)
                                hashmap_remove(map, *a);
}

/* Puts c's devices into map; nothing changes on failure. -EBUSY when a
 * device is held by another claim, listed or reserved. */
static int index_claim(ClaimSet *s, Hashmap *map, Claim *c, const Claim **ret_other) {
        int r;

        /* The invariant of the whole feature: no device in two claims. */
        for (size_t i = 0; i < c->n_members; i++)
                for (char **a = c->members[i].addresses; a && *a; a++) {
                        Claim *other = claim_set_find_holder(s, *a);

                        if (other && other != c) {
                                if (ret_other)
                                        *ret_other = other;
                                unindex(map, c);
                                return -EBUSY;
                        }
                        r = hashmap_get(map, *a) ? 0 : hashmap_put(map, *a, c);
                        if (r < 0) {
                                unindex(map, c);
                                return r;
                        }
                }
        return 0;
}

static int list_append(Claim ***l, size_t *n, Claim *c) {
        Claim **t = realloc(*l, (*n + 1) * sizeof(Claim *));

        if (!t)
                return -ENOMEM;
        *l = t;
        (*l)[(*n)++] = c;
        return 0;
}

/* Takes c out of l (without freeing it); NULL when it is not there. */
static Claim *list_take(Claim **l, size_t *n, const char *id) {
        for (size_t i = 0; i < *n; i++) {
                Claim *c = l[i];

                if (!streq(c->id, id))
                        continue;
                memmove(l + i, l + i + 1, (*n - i - 1) * sizeof(Claim *));
                (*n)--;
                return c;
        }
        return NULL;
}

/* Indexes c's devices in map and appends c to l; nothing changes on failure. */
static int add_to(ClaimSet *s, Hashmap *map, Claim ***l, size_t *n, Claim *c, const Claim **ret_other) {
        int r;

        if (claim_set_find_id(s, c->id) || claim_set_find_reserved(s, c->id))
                return -EEXIST;
        r = index_claim(s, map, c, ret_other);
        if (r < 0)
                return r;
        r = list_append(l, n, c);
        if (r < 0)
                unindex(map, c);
        return r;
}

int claim_set_add(ClaimSet *s, Claim *c, const Claim **ret_other) {
        return add_to(s, s->by_device, &s->claims, &s->n_claims, c, ret_other);
}

int claim_set_reserve(ClaimSet *s, Claim *c, const Claim **ret_other) {
        if (!s->reserved && !(s->reserved = hashmap_new()))
                return -ENOMEM;
        return add_to(s, s->reserved, &s->pending, &s->n_pending, c, ret_other);
}

int claim_set_commit(ClaimSet *s, const char *id) {
        Claim *c = claim_set_find_reserved(s, id);
        int r;

        if (!c)
                return -ENOENT;
        /* Indexed and listed first, so that a failure leaves it reserved. */
        r = index_claim(s, s->by_device, c, NULL);
        if (r < 0)
                return r;
        r = list_append(&s->claims, &s->n_claims, c);
        if (r < 0) {
                unindex(s->by_device, c);
                return r;
        }
        unindex(s->reserved, c);
        (void) list_take(s->pending, &s->n_pending, id);
        return 0;
}

Claim *claim_set_cancel(ClaimSet *s, const char *id) {
        Claim *c = list_take(s->pending, &s->n_pending, id);

        if (c)
                unindex(s->reserved, c);
        return c;
}

Claim *claim_set_take(ClaimSet *s, const char *id) {
        Claim *c = list_take(s->claims, &s->n_claims, id);

        if (c)
                unindex(s->by_device, c);
        return c;
}

int claim_set_of_group(const ClaimSet *s, const char *group_id, const Claim ***ret, size_t *ret_n) {
        const Claim **l = calloc(s->n_claims + s->n_pending + 1, sizeof(Claim *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_claims; i++)
                if (streq(s->claims[i]->resource_group, group_id))
                        l[n++] = s->claims[i];
        for (size_t i = 0; i < s->n_pending; i++)
                if (streq(s->pending[i]->resource_group, group_id))
                        l[n++] = s->pending[i];
        *ret = l;
        *ret_n = n;
        return 0;
}

int claim_devices(const Claim *c, const Inventory *inv, const Device ***ret, size_t *ret_n) {
        _cleanup_free_ const char **addresses = claim_addresses(c);
        const Device **l;
        size_t n = 0;

        if (!addresses)
                return -ENOMEM;
        l = calloc(claim_n_devices(c) + 1, sizeof(Device *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; addresses[i]; i++) {
                const Device *d = inventory_get(inv, addresses[i]);

                if (d && claim_holds_device(c, d))
                        l[n++] = d;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

static const char *const block_names[_MEMBER_BLOCK_MAX] = {
        [MEMBER_FREE] = "free",
        [MEMBER_TENANT] = "tenant",
        [MEMBER_CLAIMED] = "claimed",
        [MEMBER_CRITICAL] = "critical",
        [MEMBER_NOT_VIABLE] = "not-viable",
};

const char *member_block_to_string(MemberBlock b) {
        return b >= 0 && b < _MEMBER_BLOCK_MAX ? block_names[b] : NULL;
}

static void member_done(Member *m) {
        free(m->reason);
}

void member_list_done(MemberList *l) {
        for (size_t i = 0; i < l->n_members; i++)
                member_done(l->members + i);
        free(l->members);
        free(l->lists);
        *l = (MemberList) {};
}

static const ResourceGroup *own_holder(const ResourceSet *s, const ResourceGroup *g, const Device *d);

/* Does g hand out d? The same test as resource_group_devices, with g's
 * rules evaluated once: d is g's when g accepts it and no group before g
 * does (a tenant's group: when it holds d). Rule tests are most of what a
 * claim costs (a pool made of 256 devices has 256 rules); with kept
 * memberships only a tenant's group's own rules are tested. */
static bool group_has(const ResourceSet *s, const ResourceGroup *g, const Device *d, bool kept) {
        if (kept && resource_group_is_tenant(g))
                return d->resource_group && streq(d->resource_group->id, g->parent) &&
                       own_holder(s, d->resource_group, d) == g;
        if (kept)
                return d->resource_group == g;
        if (resource_group_is_tenant(g))
                return resource_group_accepts(g, d) && resource_set_holder(s, d) == g;
        for (size_t i = 0; i < s->n_groups; i++) {
                const ResourceGroup *x = s->groups[i];

                if (x == g)
                        return resource_group_accepts(g, d);
                if (!resource_group_is_tenant(x) && resource_group_accepts(x, d))
                        return false;
        }
        return false;
}

/* g's devices, sorted by address (caller frees the array). */
static int group_devices(const ResourceSet *s, const Inventory *inv, const ResourceGroup *g, bool kept,
                         const Device ***ret, size_t *ret_n) {
        const Device **l = calloc(inventory_n_devices(inv) + 1, sizeof(Device *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        /* In address order, as the inventory keeps them. */
        for (Device *const *d = inventory_sorted(inv); *d; d++)
                if (group_has(s, g, *d, kept))
                        l[n++] = *d;
        *ret = l;
        *ret_n = n;
        return 0;
}

/* The devices of the group a member list is made for, by address, and
 * the same pointers in an open-addressing set: a member list asks for
 * each IOMMU group peer whether it is the group's, and comparing
 * addresses in a binary search made that a large part of its cost. */
typedef struct GroupDevices {
        const Device **devices;
        size_t n;
        const Device **set;
        size_t mask;            /* the set's size - 1, a power of two */
} GroupDevices;

static size_t pointer_slot(const Device *d, size_t mask) {
        uint64_t h = (uint64_t) (uintptr_t) d * UINT64_C(0x9e3779b97f4a7c15);

        return (size_t) (h >> 32) & mask;
}

static int group_devices_index(GroupDevices *gd) {
        size_t size = 16;

        while (size < 2 * gd->n)
                size *= 2;
        gd->set = calloc(size, sizeof(Device *));
        if (!gd->set)
                return -ENOMEM;
        gd->mask = size - 1;
        for (size_t i = 0; i < gd->n; i++) {
                size_t k = pointer_slot(gd->devices[i], gd->mask);

                while (gd->set[k])
                        k = (k + 1) & gd->mask;
                gd->set[k] = gd->devices[i];
        }
        return 0;
}

static bool group_devices_has(const GroupDevices *gd, const Device *d) {
        for (size_t k = pointer_slot(d, gd->mask); gd->set[k]; k = (k + 1) & gd->mask)
                if (gd->set[k] == d)
                        return true;
        return false;
}

/* Who holds d, one of g's own devices: a tenant's group of g, else g. */
static const ResourceGroup *own_holder(const ResourceSet *s, const ResourceGroup *g, const Device *d) {
        if (resource_group_is_tenant(g))
                return g;
        for (size_t i = 0; i < s->n_groups; i++) {
                const ResourceGroup *x = s->groups[i];

                if (resource_group_is_tenant(x) && streq(x->parent, g->id) && resource_group_accepts(x, d))
                        return x;
        }
        return g;
}

static const IommuGroup *pci_group(const Inventory *inv, const Device *d) {
        return d->kind == DEVICE_PCI ? inventory_group(inv, d->iommu_group) : NULL;
}

static int append(const Device ***l, size_t *n, const Device *d) {
        const Device **t = realloc(*l, (*n + 2) * sizeof(Device *));

        if (!t)
                return -ENOMEM;
        t[(*n)++] = d;
        t[*n] = NULL;
        *l = t;
        return 0;
}

/* The member d names, when d is the lowest of the group's devices in its
 * IOMMU group: those devices (*ret_own) and the IOMMU group's non-bridge
 * functions (*ret_devices). *ret_own is 0 when a lower one names it. */
static void member_size(const GroupDevices *gd, const Inventory *inv, const Device *d, size_t *ret_own,
                        size_t *ret_devices) {
        const IommuGroup *ig = pci_group(inv, d);
        size_t n_own = 0, n_devices = 0;

        *ret_own = *ret_devices = 0;
        if (!ig) {
                *ret_own = *ret_devices = 1;
                return;
        }
        /* The IOMMU group lists its members in address order; the group's
         * own devices are never bridges. */
        for (size_t i = 0; i < ig->n_members; i++) {
                const Device *x = ig->members[i];

                if (group_devices_has(gd, x)) {
                        if (n_own == 0 && x != d)
                                return;
                        n_own++;
                }
                if (!device_is_bridge(x))
                        n_devices++;
        }
        *ret_own = n_own;
        *ret_devices = n_devices;
}

/* The member d names, its lists in block: n_own (from member_size()),
 * NULL, the devices, NULL. */
static void member_fill(const GroupDevices *gd, const Inventory *inv, const Device *d, const Device **block,
                        size_t n_own, Member *m) {
        const IommuGroup *ig = pci_group(inv, d);

        *m = (Member) {
                .iommu_group = ig ? (int) ig->number : -1,
                .numa_node = -1,
                .own = block,
                .devices = block + n_own + 1,
        };
        if (!ig)
                m->own[m->n_own++] = m->devices[m->n_devices++] = d;
        for (size_t i = 0; ig && i < ig->n_members; i++) {
                const Device *x = ig->members[i];

                if (group_devices_has(gd, x))
                        m->own[m->n_own++] = x;
                if (!device_is_bridge(x))
                        m->devices[m->n_devices++] = x;
        }
        if (m->own[0]->kind == DEVICE_PCI)
                m->numa_node = m->own[0]->numa_node;
}

static int block(Member *m, MemberBlock b, char *reason) {
        if (!reason)
                return -ENOMEM;
        m->block = b;
        m->reason = reason;
        return 0;
}

static char *sentence(const char *fmt, ...) _printf_(1, 2);
static char *sentence(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

static int check_claimed(Member *m, const ClaimSet *claims) {
        for (size_t i = 0; i < m->n_devices; i++) {
                const Claim *c = claim_set_find_holder(claims, m->devices[i]->address);

                /* Another device at a missing USB member's port is not the claim's. */
                if (c && !claim_holds_device(c, m->devices[i]))
                        c = NULL;
                if (!c)
                        continue;
                m->claim = c;
                return block(m, MEMBER_CLAIMED, sentence("%s is claimed by %s (consumer %s).",
                                                         m->devices[i]->address, c->id, c->consumer));
        }
        return 0;
}

static int check_tenant(Member *m, const ResourceSet *s, const ResourceGroup *g, const GroupDevices *gd) {
        for (size_t i = 0; i < m->n_devices; i++) {
                const Device *d = m->devices[i];
                const ResourceGroup *h = group_devices_has(gd, d) ? own_holder(s, g, d) : resource_set_holder(s, d);

                if (!h || h == g || !resource_group_is_tenant(h))
                        continue;
                m->tenant_group = h;
                return block(m, MEMBER_TENANT, sentence("%s is assigned to tenant %s (group %s).",
                                                        m->devices[i]->address, h->tenant, h->name));
        }
        return 0;
}

static int check_critical(Member *m) {
        for (size_t i = 0; i < m->n_devices; i++) {
                char **c = m->devices[i]->critical;

                if (c && c[0] && c[1])
                        return block(m, MEMBER_CRITICAL,
                                     sentence("%s is needed by the host: %s.", m->devices[i]->address, c[1]));
        }
        return 0;
}

/* Prepare moves every function of the IOMMU group to vfio-pci but leaves
 * bridges alone: a bridge that blocks the group now blocks it after too. */
static int check_viable(Member *m, const Inventory *inv) {
        const Device *d = m->own[0];
        const IommuGroup *ig = pci_group(inv, d);

        if (d->kind != DEVICE_PCI)
                return 0;
        if (!ig)
                return block(m, MEMBER_NOT_VIABLE, sentence("%s is in no IOMMU group: VFIO cannot take it.",
                                                            d->address));
        for (size_t i = 0; i < ig->n_members; i++) {
                _cleanup_free_ char *b = NULL;

                if (!device_is_bridge(ig->members[i]) || !(b = device_group_blocker(ig->members[i])))
                        continue;
                return block(m, MEMBER_NOT_VIABLE, sentence("IOMMU group %u cannot go to VFIO: %s.", ig->number, b));
        }
        return 0;
}

static int member_check(Member *m, const ResourceSet *s, const Inventory *inv, const ClaimSet *claims,
                        const ResourceGroup *g, const GroupDevices *gd) {
        /* A tenant's device is not the parent's to offer, claimed or not
         * (and the parent need not know the tenant's consumers). */
        int r = check_tenant(m, s, g, gd);

        if (r >= 0 && m->block == MEMBER_FREE)
                r = check_claimed(m, claims);
        if (r >= 0 && m->block == MEMBER_FREE)
                r = check_critical(m);
        if (r >= 0 && m->block == MEMBER_FREE)
                r = check_viable(m, inv);
        return r;
}

int resource_group_members(const ResourceSet *s, const Inventory *inv, const ClaimSet *claims,
                           const ResourceGroup *g, MemberList *ret) {
        _cleanup_free_ const Device **devs = NULL, **set = NULL;
        _cleanup_free_ size_t *sizes = NULL;
        MemberList l = { .group = g };
        const Device **block;
        GroupDevices gd;
        size_t n = 0, total = 0;
        int r;

        r = group_devices(s, inv, g, claims && claims->memberships_kept, &devs, &n);
        if (r < 0)
                return r;
        gd = (GroupDevices) { devs, n };
        r = group_devices_index(&gd);
        set = gd.set;
        if (r < 0)
                return r;
        /* Every member's lists in one block: a member list is made for
         * each claim and each count, and an allocation per member was a
         * good part of its cost. */
        sizes = calloc(2 * n + 1, sizeof(size_t));     /* own, devices; own 0: names no member */
        if (!sizes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                /* A member is named once, by its lowest own device. */
                member_size(&gd, inv, devs[i], &sizes[2 * i], &sizes[2 * i + 1]);
                if (sizes[2 * i] > 0)
                        total += sizes[2 * i] + sizes[2 * i + 1] + 2;
        }
        l.members = calloc(n + 1, sizeof(Member));
        l.lists = calloc(total + 1, sizeof(Device *));
        if (!l.members || !l.lists) {
                member_list_done(&l);
                return -ENOMEM;
        }
        block = l.lists;
        for (size_t i = 0; i < n; i++) {
                Member *m = l.members + l.n_members;

                if (sizes[2 * i] == 0)
                        continue;
                member_fill(&gd, inv, devs[i], block, sizes[2 * i], m);
                block += sizes[2 * i] + sizes[2 * i + 1] + 2;
                l.n_members++;
                r = member_check(m, s, inv, claims, g, &gd);
                if (r < 0)
                        break;
                if (m->block == MEMBER_FREE)
                        l.n_free++;
        }
        if (r < 0) {
                member_list_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}

const Member *member_list_find(const MemberList *l, const Device *d) {
        for (size_t i = 0; i < l->n_members; i++)
                for (size_t j = 0; j < l->members[i].n_own; j++)
                        if (l->members[i].own[j] == d)
                                return l->members + i;
        return NULL;
}

static const Member *member_with_companion(const MemberList *l, const Device *d) {
        for (size_t i = 0; i < l->n_members; i++)
                for (size_t j = 0; j < l->members[i].n_devices; j++)
                        if (l->members[i].devices[j] == d)
                                return l->members + i;
        return NULL;
}

size_t member_list_count(const MemberList *l, MemberBlock b) {
        size_t n = 0;

        for (size_t i = 0; i < l->n_members; i++)
                n += l->members[i].block == b;
        return n;
}

static int member_address_compare(const void *a, const void *b) {
        return device_address_compare(&(*(const Member *const *) a)->own[0], &(*(const Member *const *) b)->own[0]);
}

/* Where the members that are not free went: "1 claimed, 2 needed by the host". */
static char *blocked_summary(const MemberList *l) {
        static const char *const labels[_MEMBER_BLOCK_MAX] = {
                [MEMBER_TENANT] = "assigned to tenants",
                [MEMBER_CLAIMED] = "claimed",
                [MEMBER_CRITICAL] = "needed by the host",
                [MEMBER_NOT_VIABLE] = "not viable",
        };
        char *s = strdup(""), *t;

        for (MemberBlock b = MEMBER_FREE + 1; s && b < _MEMBER_BLOCK_MAX; b++) {
                size_t n = member_list_count(l, b);

                if (n == 0)
                        continue;
                t = sentence("%s%s%zu %s", s, *s ? ", " : "", n, labels[b]);
                free(s);
                s = t;
        }
        return s;
}

static int insufficient(const MemberList *l, const ClaimRequest *q, size_t n_on_node, char **ret_error) {
        _cleanup_free_ char *why = blocked_summary(l);

        if (!why)
                return -ENOMEM;
        if (q->numa_strict)
                return fail(-ENOSPC, ret_error,
                            "%s: %zu free on NUMA node %d, %u asked for (%zu free of %zu members in all%s%s).",
                            l->group->name, n_on_node, q->numa_node, q->count, l->n_free, l->n_members,
                            *why ? "; " : "", why);
        return fail(-ENOSPC, ret_error, "%s: %zu free of %zu members%s%s%s, %u asked for.", l->group->name,
                    l->n_free, l->n_members, *why ? " (" : "", why, *why ? ")" : "", q->count);
}

static int select_any(const MemberList *l, const ClaimRequest *q, const Member **picked, size_t *n,
                      char **ret_error) {
        size_t n_on_node = 0;

        /* First pass: the preferred node; second: the others. */
        for (int pass = q->numa_node >= 0 ? 0 : 1; pass < 2; pass++) {
                if (pass == 1 && q->numa_strict)
                        break;
                for (size_t i = 0; i < l->n_members; i++) {
                        const Member *m = l->members + i;
                        bool on_node = m->numa_node == q->numa_node;

                        if (m->block != MEMBER_FREE || (q->numa_node >= 0 && on_node != (pass == 0)))
                                continue;
                        n_on_node += on_node;
                        if (*n < q->count)
                                picked[(*n)++] = m;
                }
        }
        if (*n < q->count)
                return insufficient(l, q, n_on_node, ret_error);
        return 0;
}

static int block_errno(MemberBlock b) {
        switch (b) {
        case MEMBER_CRITICAL:
                return -EPERM;
        case MEMBER_NOT_VIABLE:
                return -ENODEV;
        default:
                return -EBUSY;
        }
}

static bool picked_has(const Member *const *picked, size_t n, const Member *m) {
        for (size_t i = 0; i < n; i++)
                if (picked[i] == m)
                        return true;
        return false;
}

static int select_listed_one(const MemberList *l, const Inventory *inv, const ClaimRequest *q, const char *address,
                             const Member **picked, size_t *n, char **ret_error) {
        const Device *d = inventory_get(inv, address);
        const Member *m, *c;
        char buf[TEXT_EXCERPT_MAX];

        if (!d)
                return fail(-ENOENT, ret_error, "There is no device %s.", text_excerpt(address, buf));
        m = member_list_find(l, d);
        if (!m) {
                c = member_with_companion(l, d);
                if (c)
                        return fail(-EINVAL, ret_error, "%s is not in resource group %s: it goes along with %s; "
                                    "name that instead.", d->address, l->group->name, c->own[0]->address);
                return fail(-EINVAL, ret_error, "%s is not in resource group %s.", d->address, l->group->name);
        }
        if (picked_has(picked, *n, m))
                return fail(-EINVAL, ret_error, "%s: its member (%s, IOMMU group %d) is named twice.", d->address,
                            m->own[0]->address, m->iommu_group);
        if (m->block != MEMBER_FREE)
                return fail(block_errno(m->block), ret_error, "%s is not free: %s", d->address, m->reason);
        if (q->numa_strict && m->numa_node != q->numa_node)
                return fail(-EINVAL, ret_error, "%s is on NUMA node %d, not %d.", d->address, m->numa_node,
                            q->numa_node);
        picked[(*n)++] = m;
        return 0;
}

static int select_listed(const MemberList *l, const Inventory *inv, const ClaimRequest *q, const Member **picked,
                         size_t *n, char **ret_error) {
        if (q->n_devices == 0)
                return fail(-EINVAL, ret_error, "The devices option names no device.");
        if (q->n_devices > CLAIM_COUNT_MAX)
                return fail(-EINVAL, ret_error, "The devices option names more than %u devices.", CLAIM_COUNT_MAX);
        for (size_t i = 0; i < q->n_devices; i++) {
                int r = select_listed_one(l, inv, q, q->devices[i], picked, n, ret_error);
                if (r < 0)
                        return r;
        }
        if (*n != q->count)
                return fail(-EINVAL, ret_error, "Count is %u but the devices option names %zu member%s.", q->count,
                            *n, *n == 1 ? "" : "s");
        return 0;
}

int claim_select(const MemberList *l, const Inventory *inv, const ClaimRequest *request,
                 const Member ***ret, size_t *ret_n, char **ret_error) {
        _cleanup_free_ const Member **picked = NULL;
        size_t n = 0, cap;
        int r;

        r = claim_count_validate(request->count, ret_error);
        if (r < 0)
                return r;
        if (request->numa_strict && request->numa_node < 0)
                return fail(-EINVAL, ret_error, "numa-strict needs numa-node.");
        cap = request->devices ? request->n_devices : request->count;
        picked = calloc((cap < CLAIM_COUNT_MAX ? cap : CLAIM_COUNT_MAX) + 1, sizeof(Member *));
        if (!picked)
                return -ENOMEM;
        r = request->devices ? select_listed(l, inv, request, picked, &n, ret_error)
                             : select_any(l, request, picked, &n, ret_error);
        if (r < 0)
                return r;
        qsort(picked, n, sizeof(Member *), member_address_compare);
        *ret = TAKE_PTR(picked);
        *ret_n = n;
        return 0;
}

static int claim_from_members(Claim *c, const Member *const *picked, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ const char **a = calloc(picked[i]->n_devices + 1, sizeof(char *));
                int r;

                if (!a)
                        return -ENOMEM;
                for (size_t j = 0; j < picked[i]->n_devices; j++)
                        a[j] = picked[i]->devices[j]->address;
                r = claim_add_member(c, a, picked[i]->n_devices);
                if (r < 0)
                        return r;
        }
        return 0;
}

int claim_make(const ResourceSet *s, const Inventory *inv, const ClaimSet *claims, const ResourceGroup *g,
               const char *id, const char *consumer, const ClaimRequest *request, uint64_t since,
               ClaimLease *lease, Claim **ret, char **ret_error) {
        _cleanup_(member_list_done) MemberList l = {};
        _cleanup_free_ const Member **picked = NULL;
        _cleanup_(claim_freep) Claim *c = NULL;
        size_t n = 0;
        int r;

        r = claim_consumer_validate(consumer, ret_error);
        if (r >= 0)
                r = claim_count_validate(request->count, ret_error);
        if (r >= 0)
                r = resource_group_members(s, inv, claims, g, &l);
        if (r >= 0)
                r = claim_select(&l, inv, request, &picked, &n, ret_error);
        if (r < 0)
                return r;
        c = claim_new(id, consumer, g->id, since, lease);
        if (!c)
                return claim_id_valid(id) ? -ENOMEM : -EINVAL;
        r = claim_from_members(c, picked, n);
        if (r >= 0)
                r = claim_note_identities(c, inv);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

/* The own devices of the picked members, in address order. */
static int own_devices(const Member *const *picked, size_t n, const Device ***ret, size_t *ret_n) {
        const Device **l = NULL;
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < picked[i]->n_own; j++)
                        if (append(&l, &k, picked[i]->own[j]) < 0) {
                                free(l);
                                return -ENOMEM;
                        }
        qsort(l, k, sizeof(Device *), device_address_compare);
        *ret = l;
        *ret_n = k;
        return 0;
}

static bool same_devices(const Device *const *a, size_t n_a, const Device *const *b, size_t n_b) {
        if (n_a != n_b)
                return false;
        for (size_t i = 0; i < n_a; i++)
                if (a[i] != b[i])
                        return false;
        return true;
}

/* The new group must hand out exactly the picked devices: rules that
 * would pull in another device (two cards reporting one serial) are refused. */
static int check_pinned(const ResourceSet *s, const Inventory *inv, const ResourceGroup *g, const Device *const *want,
                        size_t n_want, char **ret_error) {
        _cleanup_free_ const Device **got = NULL;
        size_t n_got = 0;
        int r;

        r = resource_group_devices(s, inv, g, &got, &n_got);
        if (r < 0)
                return r;
        if (same_devices(want, n_want, got, n_got))
                return 0;
        for (size_t i = 0; i < n_got; i++)
                if (i >= n_want || got[i] != want[i])
                        return fail(-EINVAL, ret_error, "No rules pin exactly these devices: %s would go along.",
                                    got[i]->address);
        return fail(-EINVAL, ret_error, "No rules pin exactly these devices: %s would stay out.",
                    want[n_got]->address);
}

static int tenant_group_new(const ResourceGroup *parent, const char *tenant, const char *id, const char *name,
                            const Device *const *devs, size_t n, ResourceGroup **ret, char **ret_error) {
        _cleanup_(resource_group_freep) ResourceGroup *g = NULL;
        ResourceType type;
        int r;

        g = resource_group_new(id, name, parent->type);
        if (!g)
                return -ENOMEM;
        r = resource_make_rules(devs, n, &type, &g->rules, &g->n_rules, ret_error);
        if (r < 0)
                return r;
        r = resource_group_set_tenant(g, tenant, parent->id);
        if (r >= 0)
                r = free_and_strdup(&g->class_hint, parent->class_hint);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(g);
        return 0;
}

static int tenant_check(const ResourceSet *s, const ResourceGroup *parent, const char *tenant, const char *id,
                        const char *name, char **ret_error) {
        int r;

        if (resource_group_is_tenant(parent))
                return fail(-EINVAL, ret_error, "%s is tenant %s's group: it hands out no tenant groups.",
                            parent->name, parent->tenant);
        r = tenant_validate(tenant, ret_error);
        if (r >= 0)
                r = resource_name_validate(name, ret_error);
        if (r < 0)
                return r;
        if (!claim_id_valid(id))
                return -EINVAL;
        if (resource_set_find_id(s, id))
                return fail(-EEXIST, ret_error, "A resource group with id %s exists.", id);
        if (resource_set_find_name(s, name))
                return fail(-EEXIST, ret_error, "A resource group named %s exists.", name);
        return 0;
}

int tenant_assign(ResourceSet *s, const Inventory *inv, const ClaimSet *claims, const ResourceGroup *parent,
                  const char *tenant, const char *id, const char *name, const ClaimRequest *request,
                  ResourceGroup **ret, char **ret_error) {
        _cleanup_(member_list_done) MemberList l = {};
        _cleanup_free_ const Member **picked = NULL;
        _cleanup_free_ const Device **devs = NULL;
        ResourceGroup *g = NULL;
        size_t n = 0, n_devs = 0;
        int r;

        r = tenant_check(s, parent, tenant, id, name, ret_error);
        if (r >= 0)
                r = resource_group_members(s, inv, claims, parent, &l);
        if (r >= 0)
                r = claim_select(&l, inv, request, &picked, &n, ret_error);
        if (r >= 0)
                r = own_devices(picked, n, &devs, &n_devs);
        if (r >= 0)
                r = tenant_group_new(parent, tenant, id, name, devs, n_devs, &g, ret_error);
        if (r < 0)
                return r;
        r = resource_set_add(s, g);
        if (r < 0) {
                resource_group_free(g);
                return r;
        }
        r = check_pinned(s, inv, g, devs, n_devs, ret_error);
        if (r < 0) {
                resource_group_free(resource_set_take(s, g->id));
                return r;
        }
        *ret = g;
        return 0;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_truncate(char *s, size_t max) {
        size_t n = strlen(s);

        if (n <= max)
                return;
        while (max > 0 && ((unsigned char) s[max] & 0xc0) == 0x80)
                max--;
        s[max] = 0;
}

char *tenant_group_name(const ResourceSet *s, const ResourceGroup *parent, const char *tenant) {
        _cleanup_free_ char *base = sentence("%s (%s)", parent->name, tenant);

        if (!base)
                return NULL;
        utf8_truncate(base, RESOURCE_NAME_MAX - 8);
        for (unsigned i = 1;; i++) {
                char *name = i == 1 ? strdup(base) : sentence("%s %u", base, i);

                if (!name || !resource_set_find_name(s, name))
                        return name;
                free(name);
        }
}

/* "c1 (consumer vm-1), c2 (consumer vm-2) and 3 more". */
static char *claims_text(const Claim *const *l, size_t n) {
        char *s = strdup(""), *t;

        for (size_t i = 0; s && i < n && i < 3; i++) {
                t = sentence("%s%s%s (consumer %s)", s, i ? ", " : "", l[i]->id, l[i]->consumer);
                free(s);
                s = t;
        }
        if (s && n > 3) {
                t = sentence("%s and %zu more", s, n - 3);
                free(s);
                s = t;
        }
        return s;
}

static int refuse_claimed(const ClaimSet *claims, const ResourceGroup *g, const char *then, char **ret_error) {
        _cleanup_free_ const Claim **l = NULL;
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        int r;

        if (!claims)
                return 0;
        r = claim_set_of_group(claims, g->id, &l, &n);
        if (r < 0 || n == 0)
                return r;
        text = claims_text(l, n);
        if (!text)
                return -ENOMEM;
        return fail(-EBUSY, ret_error, "%s has %s %s: release %s first%s.", g->name, n == 1 ? "claim" : "claims",
                    text, n == 1 ? "it" : "them", then);
}

/* A claim from another group that holds a companion of one of g's members. */
static int refuse_claimed_member(const ResourceSet *s, const Inventory *inv, const ClaimSet *claims,
                                 const ResourceGroup *g, char **ret_error) {
        _cleanup_(member_list_done) MemberList l = {};
        int r;

        r = resource_group_members(s, inv, claims, g, &l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n_members; i++)
                if (l.members[i].block == MEMBER_CLAIMED)
                        return fail(-EBUSY, ret_error, "%s: %s Release it first.", g->name, l.members[i].reason);
        return 0;
}

int tenant_return(ResourceSet *s, const Inventory *inv, const ClaimSet *claims, const char *id, ResourceGroup **ret,
                  char **ret_error) {
        ResourceGroup *g = resource_set_find_id(s, id);
        int r;

        if (!g)
                return fail(-ENOENT, ret_error, "There is no resource group %s.", id);
        if (!resource_group_is_tenant(g))
                return fail(-EINVAL, ret_error, "%s is no tenant's group: there is no parent to return it to.",
                            g->name);
        /* Its claims, also those whose devices are gone for now. */
        r = refuse_claimed(claims, g, "", ret_error);
        if (r >= 0)
                r = refuse_claimed_member(s, inv, claims, g, ret_error);
        if (r < 0)
                return r;
        *ret = resource_set_take(s, id);
        return 0;
}

int resource_group_delete_check(const ResourceSet *s, const ClaimSet *claims, const ResourceGroup *g,
                                char **ret_error) {
        char *text = strdup(""), *t;
        size_t n = 0;
        int r;

        for (size_t i = 0; text && i < s->n_groups; i++) {
                const ResourceGroup *x = s->groups[i];

                if (!resource_group_is_tenant(x) || !streq(x->parent, g->id))
                        continue;
                t = sentence("%s%s%s (tenant %s)", text, n++ ? ", " : "", x->name, x->tenant);
                free(text);
                text = t;
        }
        if (!text)
                return -ENOMEM;
        if (n > 0)
                r = fail(-EBUSY, ret_error, "%s has tenant %s %s: return %s to it first.", g->name,
                         n == 1 ? "group" : "groups", text, n == 1 ? "it" : "them");
        else
                r = refuse_claimed(claims, g, " to delete it", ret_error);
        free(text);
        return r;
}
