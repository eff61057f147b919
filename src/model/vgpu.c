/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"
#include "vgpu.h"

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void strv_sort(char **l) {
        qsort(l, strv_length(l), sizeof(char *), str_cmp);
}

static bool strv_contains(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

/* Frees the elements from n on. */
static void strv_cut(char **l, size_t n) {
        for (size_t i = n; l && l[i]; i++) {
                free(l[i]);
                l[i] = NULL;
        }
}

bool vgpu_rule_matches(const Rule *r, const Device *parent, const MdevType *t) {
        const char *id = r->strings[RULE_MDEV_TYPE], *name = r->strings[RULE_MDEV_TYPE_NAME];

        if (id && fnmatch(id, t->id, 0) != 0)
                return false;
        if (name && fnmatch(name, strempty(t->name), FNM_CASEFOLD) != 0)
                return false;
        /* A rule of type fields alone takes any parent. */
        if ((r->fields & ~((1u << RULE_MDEV_TYPE) | (1u << RULE_MDEV_TYPE_NAME))) == 0)
                return r->fields != 0;
        return rule_matches(r, parent);
}

bool vgpu_group_takes(const ResourceGroup *g, const Device *parent, const MdevType *t) {
        if (g->type != RESOURCE_VGPU || parent->kind != DEVICE_PCI)
                return false;
        for (size_t i = 0; i < g->n_rules; i++)
                if (vgpu_rule_matches(&g->rules[i], parent, t))
                        return true;
        return false;
}

void vgpu_offer_done(VgpuOffer *o) {
        free(o->type);
        strv_free(o->take);
        strv_free(o->parents);
        *o = (VgpuOffer) {};
}

static const MdevType *instance_type(const MdevSet *mdevs, const Mdev *m, const Device **parent,
                                     const Inventory *inv) {
        *parent = inventory_get(inv, m->parent);
        return *parent ? mdev_parent_type(mdev_set_parent(mdevs, m->parent), m->type) : NULL;
}

/* The offer of one type; n_free counted, lists filled only when fill. */
static int offer_of(const ResourceGroup *g, const Inventory *inv, const MdevSet *mdevs, const ClaimSet *claims,
                    const char *type, VgpuOffer *o) {
        _cleanup_strv_free_ char **take = calloc(1, sizeof(char *)), **parents = calloc(1, sizeof(char *));
        const MdevParent *p;
        const Mdev *m;
        size_t i = 0;

        if (!take || !parents)
                return -ENOMEM;
        while (hashmap_iterate(mdevs->mdevs, &i, (void **) &m, NULL)) {
                const Device *parent;
                const MdevType *t;

                if (!m->active || m->source != MDEV_SOURCE_HOSTDEV || !streq(m->type, type) ||
                    claim_set_find_holder(claims, mdev_key(m)))
                        continue;
                t = instance_type(mdevs, m, &parent, inv);
                if (t && vgpu_group_takes(g, parent, t) && strv_extend(&take, mdev_key(m)) < 0)
                        return -ENOMEM;
        }
        i = 0;
        while (hashmap_iterate(mdevs->parents, &i, (void **) &p, NULL)) {
                const Device *parent = inventory_get(inv, p->address);
                const MdevType *t = mdev_parent_type(p, type);

                if (!parent || !t || !vgpu_group_takes(g, parent, t))
                        continue;
                for (unsigned k = 0; k < t->available; k++)
                        if (strv_extend(&parents, p->address) < 0)
                                return -ENOMEM;
        }
        strv_sort(take);
        strv_sort(parents);
        *o = (VgpuOffer) { strdup(type), TAKE_PTR(take), TAKE_PTR(parents) };
        if (!o->type) {
                vgpu_offer_done(o);
                return -ENOMEM;
        }
        o->n_free = (unsigned) (strv_length(o->take) + strv_length(o->parents));
        return 0;
}

/* Every type id some rule of g takes on some parent, sorted. */
static int group_types(const ResourceGroup *g, const Inventory *inv, const MdevSet *mdevs, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        const MdevParent *p;
        size_t i = 0;

        if (!l)
                return -ENOMEM;
        while (hashmap_iterate(mdevs->parents, &i, (void **) &p, NULL)) {
                const Device *parent = inventory_get(inv, p->address);

                for (size_t j = 0; parent && j < p->n_types; j++)
                        if (vgpu_group_takes(g, parent, &p->types[j]) && !strv_contains(l, p->types[j].id) &&
                            strv_extend(&l, p->types[j].id) < 0)
                                return -ENOMEM;
        }
        strv_sort(l);
        *ret = TAKE_PTR(l);
        return 0;
}

int vgpu_group_offer(const ResourceGroup *g, const Inventory *inv, const MdevSet *mdevs, const ClaimSet *claims,
                     const char *type, VgpuOffer *ret, char **ret_error) {
        _cleanup_strv_free_ char **types = NULL;
        VgpuOffer best = {};
        int r;

        r = group_types(g, inv, mdevs, &types);
        if (r < 0)
                return r;
        if (type) {
                char buf[TEXT_EXCERPT_MAX];

                if (!strv_contains(types, type))
                        return error_setf(ret_error, "Resource group %s offers no type '%s'.", g->name,
                                          text_excerpt(type, buf));
                return offer_of(g, inv, mdevs, claims, type, ret);
        }
        for (char **t = types; *t; t++) {
                VgpuOffer o;

                r = offer_of(g, inv, mdevs, claims, *t, &o);
                if (r < 0) {
                        vgpu_offer_done(&best);
                        return r;
                }
                if (!best.type || o.n_free > best.n_free) {
                        vgpu_offer_done(&best);
                        best = o;
                } else
                        vgpu_offer_done(&o);
        }
        *ret = best;
        return 0;
}

int vgpu_offer_take(VgpuOffer *o, unsigned count, char **ret_error) {
        size_t n_take = strv_length(o->take);

        if (count > o->n_free) {
                if (error_setf(ret_error, "Only %u %s of type '%s' %s free.", o->n_free,
                               o->n_free == 1 ? "instance" : "instances", strempty(o->type),
                               o->n_free == 1 ? "is" : "are") == -ENOMEM)
                        return -ENOMEM;
                return -ENOSPC;
        }
        strv_cut(o->take, count < n_take ? count : n_take);
        strv_cut(o->parents, count > n_take ? count - n_take : 0);
        o->n_free = count;
        return 0;
}

unsigned vgpu_group_claimed(const ClaimSet *claims, const ResourceGroup *g) {
        unsigned n = 0;

        for (size_t i = 0; i < claims->n_claims; i++)
                if (streq(claims->claims[i]->resource_group, g->id))
                        n += (unsigned) claim_n_devices(claims->claims[i]);
        return n;
}
