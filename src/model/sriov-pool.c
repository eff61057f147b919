/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fnmatch.h>
#include <inttypes.h>
#include <net/if_arp.h>

#include "shared/macro.h"
#include "shared/text.h"
#include "sriov-pool.h"

typedef struct VfRange {
        unsigned lo, hi;
} VfRange;

static int range_compare(const void *a, const void *b) {
        const VfRange *x = a, *y = b;

        return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* One decimal index, no sign, no blanks. */
static int parse_index(const char *s, size_t len, unsigned *ret) {
        unsigned v = 0;

        if (len == 0 || len > 5)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        if (v > VF_INDEX_MAX)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "0-7" or "12". */
static int parse_range(const char *s, size_t len, VfRange *ret) {
        const char *dash = memchr(s, '-', len);

        if (!dash)
                return parse_index(s, len, &ret->lo) < 0 ? -EINVAL : (ret->hi = ret->lo, 0);
        if (parse_index(s, (size_t) (dash - s), &ret->lo) < 0 ||
            parse_index(dash + 1, len - (size_t) (dash - s) - 1, &ret->hi) < 0)
                return -EINVAL;
        return 0;
}

static int ranges_split(const char *s, VfRange **ret, size_t *ret_n, char **ret_error) {
        _cleanup_free_ VfRange *l = NULL;
        char buf[TEXT_EXCERPT_MAX];
        size_t n = 0;

        for (const char *p = s;; p++) {
                size_t len = strcspn(p, ",");
                VfRange *t, r;

                if (parse_range(p, len, &r) < 0)
                        return error_setf(ret_error, "Rule field 'vf-index': '%s' is not an index or a range "
                                          "of indexes from 0 to %d such as 0-7,12.", text_excerpt(s, buf),
                                          VF_INDEX_MAX);
                if (r.lo > r.hi)
                        return error_setf(ret_error, "Rule field 'vf-index': the range %u-%u is reversed; "
                                          "write %u-%u.", r.lo, r.hi, r.hi, r.lo);
                t = realloc(l, (n + 1) * sizeof(VfRange));
                if (!t)
                        return -ENOMEM;
                l = t;
                l[n++] = r;
                p += len;
                if (!*p)
                        break;
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

int vf_ranges_parse(const char *s, char **ret, char **ret_error) {
        _cleanup_free_ VfRange *l = NULL;
        _cleanup_free_ char *out = NULL;
        size_t n = 0, len = 0;
        int r;

        r = ranges_split(s, &l, &n, ret_error);
        if (r < 0)
                return r;
        qsort(l, n, sizeof(VfRange), range_compare);
        for (size_t i = 1; i < n; i++)
                if (l[i].lo <= l[i - 1].hi)
                        return error_setf(ret_error, "Rule field 'vf-index': index %u is given twice.", l[i].lo);
        /* At most "65535-65535," per range. */
        out = malloc(n * 12 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                len += (size_t) (l[i].lo == l[i].hi ? sprintf(out + len, "%s%u", i ? "," : "", l[i].lo)
                                                    : sprintf(out + len, "%s%u-%u", i ? "," : "", l[i].lo, l[i].hi));
        *ret = TAKE_PTR(out);
        return 0;
}

bool vf_ranges_contain(const char *ranges, unsigned index) {
        for (const char *p = ranges; p && *p;) {
                size_t len = strcspn(p, ",");
                VfRange r;

                if (parse_range(p, len, &r) >= 0 && index >= r.lo && index <= r.hi)
                        return true;
                p += len;
                if (*p)
                        p++;
        }
        return false;
}

static const struct {
        const char *name;
        int arphrd;
} link_types[] = {
        { "ethernet", ARPHRD_ETHER },
        { "infiniband", ARPHRD_INFINIBAND },
};

int link_type_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(link_types); i++)
                if (streq(link_types[i].name, s))
                        return link_types[i].arphrd;
        return -EINVAL;
}

const char *link_type_to_string(int arphrd) {
        for (size_t i = 0; i < ELEMENTSOF(link_types); i++)
                if (link_types[i].arphrd == arphrd)
                        return link_types[i].name;
        return NULL;
}

/* The lowest index a range list names. */
static unsigned ranges_min_index(const char *ranges) {
        unsigned lowest = VF_INDEX_MAX;

        for (const char *p = ranges; p && *p;) {
                size_t len = strcspn(p, ",");
                VfRange r;

                if (parse_range(p, len, &r) >= 0 && r.lo < lowest)
                        lowest = r.lo;
                p += len;
                if (*p)
                        p++;
        }
        return lowest;
}

/* A rule naming a PF: it must be one, and its other PF fields must fit it. */
static int check_pf_rule(const Inventory *inv, const Rule *r, size_t number, char **ret_error) {
        const char *address = r->strings[RULE_PHYSICAL_FUNCTION];
        const Device *pf = inventory_get(inv, address);
        _cleanup_free_ char *netdev = NULL;
        int link = -1;

        if (!pf || pf->kind != DEVICE_PCI)
                return error_setf(ret_error, "Rule %zu: there is no device at %s.", number, address);
        if (!pf->pci.sriov_capable)
                return error_setf(ret_error, "Rule %zu: %s is no SR-IOV physical function.", number, address);
        if (rule_has(r, RULE_VF_INDEX) && ranges_min_index(r->strings[RULE_VF_INDEX]) >= pf->pci.total_vfs)
                return error_setf(ret_error, "Rule %zu: %s has at most %u VFs (0-%u); vf-index %s names none of "
                                  "them.", number, address, pf->pci.total_vfs,
                                  pf->pci.total_vfs ? pf->pci.total_vfs - 1 : 0, r->strings[RULE_VF_INDEX]);
        if (rule_has(r, RULE_PF_SERIAL) && !streq_ptr(pf->serial, r->strings[RULE_PF_SERIAL]))
                return error_setf(ret_error, "Rule %zu: physical-function %s and pf-serial %s contradict each "
                                  "other: its serial is %s.", number, address, r->strings[RULE_PF_SERIAL],
                                  pf->serial ?: "none");
        /* The PF's interface as its VFs saw it. */
        for (size_t i = 0; pf->pci.vfs && pf->pci.vfs[i]; i++) {
                const Device *vf = inventory_get(inv, pf->pci.vfs[i]);

                if (vf && vf->pci.pf_netdev) {
                        netdev = strdup(vf->pci.pf_netdev);
                        if (!netdev)
                                return -ENOMEM;
                        link = vf->pci.pf_link_type;
                        break;
                }
        }
        if (netdev && rule_has(r, RULE_PF_NETDEV) && fnmatch(r->strings[RULE_PF_NETDEV], netdev, 0) != 0)
                return error_setf(ret_error, "Rule %zu: physical-function %s and pf-netdev %s contradict each "
                                  "other: its interface is %s.", number, address, r->strings[RULE_PF_NETDEV],
                                  netdev);
        if (netdev && rule_has(r, RULE_LINK_TYPE) && link != link_type_from_string(r->strings[RULE_LINK_TYPE]))
                return error_setf(ret_error, "Rule %zu: physical-function %s and link-type %s contradict each "
                                  "other: its link is %s.", number, address, r->strings[RULE_LINK_TYPE],
                                  link_type_to_string(link) ?: "of another type");
        return 0;
}

int sriov_rules_check(const Inventory *inv, ResourceType type, const Rule *rules, size_t n_rules,
                      char **ret_error) {
        int r;

        if (type != RESOURCE_SRIOV_NIC)
                return 0;
        for (size_t i = 0; i < n_rules; i++)
                if (rule_has(rules + i, RULE_PHYSICAL_FUNCTION) &&
                    (r = check_pf_rule(inv, rules + i, i + 1, ret_error)) < 0)
                        return r;
        return 0;
}

char *sriov_vf_blocker(const ClaimSet *claims, bool prepared, const char *vf_address) {
        const Claim *c = claim_set_find_device(claims, vf_address);
        char *s = NULL;

        if (c) {
                if (asprintf(&s, "is claimed by claim %s for '%s'; release the claim first", c->id,
                             c->consumer) < 0)
                        return NULL;
                return s;
        }
        if (prepared)
                return strdup("is prepared for passthrough; release it first");
        return NULL;
}

void claim_vf_list_free(ClaimVfList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n_items; i++)
                free(l->items[i].address);
        free(l->items);
        free(l);
}

const ClaimVf *claim_vf_list_find(const ClaimVfList *l, const char *address) {
        for (size_t i = 0; l && i < l->n_items; i++)
                if (streq(l->items[i].address, address))
                        return l->items + i;
        return NULL;
}

int claim_vf_list_set(ClaimVfList *l, const char *address, const uint8_t *mac, int vlan) {
        ClaimVf *v = (ClaimVf *) claim_vf_list_find(l, address), *t;

        if (!mac && vlan < 0)
                return 0;
        if (!v) {
                _cleanup_free_ char *a = strdup(address);

                if (!a)
                        return -ENOMEM;
                t = realloc(l->items, (l->n_items + 1) * sizeof(ClaimVf));
                if (!t)
                        return -ENOMEM;
                l->items = t;
                v = l->items + l->n_items++;
                *v = (ClaimVf) { .address = TAKE_PTR(a), .vlan = -1 };
        }
        v->has_mac = !!mac;
        if (mac)
                memcpy(v->mac, mac, sizeof v->mac);
        v->vlan = vlan;
        return 0;
}

char *claim_vf_to_string(const ClaimVf *v) {
        char mac[18], vlan[16] = "", *s;

        if (v->vlan >= 0)
                snprintf(vlan, sizeof vlan, "%d", v->vlan);
        return asprintf(&s, "%s,%s,%s", v->address, v->has_mac ? vf_mac_format(v->mac, mac) : "", vlan) < 0 ? NULL : s;
}

static bool claim_has_device(const Claim *c, const char *address) {
        for (size_t i = 0; i < c->n_members; i++)
                for (char **a = c->members[i].addresses; a && *a; a++)
                        if (streq(*a, address))
                                return true;
        return false;
}

int claim_vf_from_string(Claim *c, const char *s, char **ret_error) {
        _cleanup_free_ char *address = NULL, *mac_text = NULL;
        const char *p = strchr(s, ','), *q = p ? strchr(p + 1, ',') : NULL;
        uint8_t mac[6];
        int vlan = -1;

        if (!p || !q || strchr(q + 1, ','))
                return error_setf(ret_error, "a VF setting is not ADDRESS,MAC,VLAN");
        address = strndup(s, (size_t) (p - s));
        mac_text = strndup(p + 1, (size_t) (q - p - 1));
        if (!address || !mac_text)
                return -ENOMEM;
        if (!claim_has_device(c, address))
                return error_setf(ret_error, "a VF setting names a device the claim does not hold");
        if (claim_vf_list_find(c->vf_settings, address))
                return error_setf(ret_error, "a VF setting is given twice");
        if (*mac_text && vf_mac_parse(mac_text, mac, NULL) < 0)
                return error_setf(ret_error, "a VF setting holds a bad MAC address");
        if (q[1]) {
                unsigned v;
                int end = -1;

                if (sscanf(q + 1, "%u%n", &v, &end) != 1 || q[1 + end] || q[1] == '+' || v > VF_VLAN_MAX)
                        return error_setf(ret_error, "a VF setting holds a bad VLAN");
                vlan = (int) v;
        }
        if (!*mac_text && vlan < 0)
                return error_setf(ret_error, "a VF setting sets nothing");
        if (!c->vf_settings && !(c->vf_settings = calloc(1, sizeof(ClaimVfList))))
                return -ENOMEM;
        return claim_vf_list_set(c->vf_settings, address, *mac_text ? mac : NULL, vlan);
}

void claim_vf_to_settings(const ClaimVf *v, unsigned index, VfSettings *ret) {
        vf_settings_init(ret, index);
        ret->has_mac = v->has_mac;
        memcpy(ret->mac, v->mac, sizeof ret->mac);
        ret->vlan = v->vlan;
}

int claim_vf_request_parse(const char *mac, int64_t vlan, ClaimVfRequest *ret, char **ret_error) {
        static const uint8_t zero[6] = {};
        ClaimVfRequest q = { .vlan = -1 };
        int r;

        if (mac) {
                r = vf_mac_parse(mac, q.mac, ret_error);
                if (r < 0)
                        return r;
                /* All zero clears a VF's MAC: a claim asks for one to use. */
                if (memcmp(q.mac, zero, sizeof zero) == 0)
                        return error_setf(ret_error, "mac 00:00:00:00:00:00 is no address a VM can use.");
                q.has_mac = true;
        }
        if (vlan >= 0) {
                if (vlan > VF_VLAN_MAX)
                        return error_setf(ret_error, "vlan %" PRId64 " is out of range: 0 (none) to %d.", vlan,
                                          VF_VLAN_MAX);
                q.vlan = (int) vlan;
        }
        *ret = q;
        return 0;
}

void claim_vf_requests_done(ClaimVfRequests *l) {
        free(l->items);
        *l = (ClaimVfRequests) {};
}

int claim_vf_requests_append(ClaimVfRequests *l, const ClaimVfRequest *q) {
        ClaimVfRequest *t = realloc(l->items, (l->n_items + 1) * sizeof(ClaimVfRequest));

        if (!t)
                return -ENOMEM;
        l->items = t;
        l->items[l->n_items++] = *q;
        return 0;
}

int claim_vf_bind(const Claim *c, const Inventory *inv, const ClaimVfRequest *requests, size_t n_requests,
                  ClaimVfList *ret, char **ret_error) {
        ClaimVfList l = {};
        int r = 0;

        if (n_requests != c->n_members)
                return error_setf(ret_error, "vf-settings has %zu entries for %zu claimed members: give one per "
                                  "member.", n_requests, c->n_members);
        for (size_t i = 0; i < n_requests && r >= 0; i++) {
                const Device *vf = NULL;

                /* The member's VF: its one device with a PF. */
                for (char **a = c->members[i].addresses; a && *a && !vf; a++) {
                        const Device *d = inventory_get(inv, *a);

                        if (d && d->kind == DEVICE_PCI && d->pci.physfn)
                                vf = d;
                }
                if (!vf) {
                        r = error_setf(ret_error, "Member %zu of the claim is no VF: VF settings need VFs.", i + 1);
                        break;
                }
                for (size_t j = 0; j < i && requests[i].has_mac; j++)
                        if (requests[j].has_mac && memcmp(requests[j].mac, requests[i].mac, 6) == 0) {
                                char buf[18];

                                r = error_setf(ret_error, "mac %s is given for two VFs.",
                                               vf_mac_format(requests[i].mac, buf));
                        }
                if (r >= 0)
                        r = claim_vf_list_set(&l, vf->address, requests[i].has_mac ? requests[i].mac : NULL,
                                              requests[i].vlan);
        }
        if (r < 0) {
                for (size_t i = 0; i < l.n_items; i++)
                        free(l.items[i].address);
                free(l.items);
                return r;
        }
        *ret = l;
        return 0;
}
