/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mdev.h"
#include "shared/macro.h"

static const char *const source_names[_MDEV_SOURCE_MAX] = {
        [MDEV_SOURCE_HOSTDEV] = "hostdev",
        [MDEV_SOURCE_MDEVCTL] = "mdevctl",
};

const char *mdev_source_to_string(MdevSource s) {
        return s >= 0 && s < _MDEV_SOURCE_MAX ? source_names[s] : NULL;
}

bool mdev_key_is_vf(const char *key) {
        return key && strchr(key, ':');
}

bool mdev_uuid_valid(const char *s) {
        if (!s || strlen(s) != MDEV_UUID_LEN)
                return false;
        for (size_t i = 0; i < MDEV_UUID_LEN; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
                        return false;
        }
        return true;
}

char *mdev_uuid_normalize(const char *s) {
        char *u;

        if (!mdev_uuid_valid(s)) {
                errno = EINVAL;
                return NULL;
        }
        u = strdup(s);
        for (char *c = u; c && *c; c++)
                *c = (char) tolower((unsigned char) *c);
        return u;
}

bool mdev_type_id_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 64 || streq(s, ".") || streq(s, ".."))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.+-", s[i]))
                        return false;
        return true;
}

void mdev_type_done(MdevType *t) {
        free(t->id);
        free(t->name);
        free(t->description);
        free(t->device_api);
        *t = (MdevType) {};
}

MdevParent *mdev_parent_free(MdevParent *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_types; i++)
                mdev_type_done(&p->types[i]);
        for (size_t i = 0; i < p->n_vfs; i++)
                vgpu_vf_done(&p->vfs[i]);
        free(p->vfs);
        free(p->types);
        free(p->address);
        free(p->syspath);
        free(p);
        return NULL;
}

Mdev *mdev_free(Mdev *m) {
        if (!m)
                return NULL;
        free(m->uuid);
        free(m->vf);
        free(m->type);
        free(m->parent);
        free(m);
        return NULL;
}

const MdevType *mdev_parent_type(const MdevParent *p, const char *id) {
        for (size_t i = 0; p && id && i < p->n_types; i++)
                if (streq(p->types[i].id, id))
                        return &p->types[i];
        return NULL;
}

static bool vfs_equal(const MdevParent *a, const MdevParent *b) {
        if (a->n_vfs != b->n_vfs)
                return false;
        for (size_t i = 0; i < a->n_vfs; i++) {
                const VgpuVf *x = &a->vfs[i], *y = &b->vfs[i];

                if (!streq(x->address, y->address) || x->current != y->current || x->n_creatable != y->n_creatable)
                        return false;
                for (size_t j = 0; j < x->n_creatable; j++)
                        if (!streq(x->creatable[j].id, y->creatable[j].id))
                                return false;
        }
        return true;
}

bool mdev_parent_equal(const MdevParent *a, const MdevParent *b) {
        if (!a || !b || a->n_types != b->n_types || a->vf_based != b->vf_based || !vfs_equal(a, b))
                return a == b;
        for (size_t i = 0; i < a->n_types; i++) {
                const MdevType *x = &a->types[i], *y = &b->types[i];

                if (!streq(x->id, y->id) || !streq_ptr(x->name, y->name) ||
                    !streq_ptr(x->description, y->description) || x->available != y->available)
                        return false;
        }
        return true;
}

int mdev_set_init(MdevSet *s) {
        s->parents = hashmap_new();
        s->mdevs = hashmap_new();
        if (!s->parents || !s->mdevs) {
                mdev_set_done(s);
                return -ENOMEM;
        }
        return 0;
}

void mdev_set_done(MdevSet *s) {
        void *v;
        size_t i = 0;

        while (s->parents && hashmap_iterate(s->parents, &i, &v, NULL))
                mdev_parent_free(v);
        i = 0;
        while (s->mdevs && hashmap_iterate(s->mdevs, &i, &v, NULL))
                mdev_free(v);
        hashmap_free(s->parents);
        hashmap_free(s->mdevs);
        *s = (MdevSet) {};
}

MdevParent *mdev_set_parent(const MdevSet *s, const char *address) {
        return address ? hashmap_get(s->parents, address) : NULL;
}

MdevParent *mdev_set_take_parent(MdevSet *s, const char *address) {
        return hashmap_remove(s->parents, address);
}

int mdev_set_put_parent(MdevSet *s, MdevParent *p) {
        mdev_parent_free(hashmap_remove(s->parents, p->address));
        return hashmap_put(s->parents, p->address, p);
}

Mdev *mdev_set_get(const MdevSet *s, const char *uuid) {
        return uuid ? hashmap_get(s->mdevs, uuid) : NULL;
}

Mdev *mdev_set_take(MdevSet *s, const char *uuid) {
        return hashmap_remove(s->mdevs, uuid);
}

int mdev_set_put(MdevSet *s, Mdev *m) {
        mdev_free(hashmap_remove(s->mdevs, mdev_key(m)));
        return hashmap_put(s->mdevs, mdev_key(m), m);
}

static void record_done(MdevRecord *r) {
        free(r->uuid);
        free(r->type);
        free(r->parent);
        free(r->serial);
        free(r->claim);
        *r = (MdevRecord) {};
}

void mdev_record_set_done(MdevRecordSet *s) {
        for (size_t i = 0; i < s->n_items; i++)
                record_done(&s->items[i]);
        free(s->items);
        *s = (MdevRecordSet) {};
}

MdevRecord *mdev_record_find(const MdevRecordSet *s, const char *uuid) {
        for (size_t i = 0; uuid && i < s->n_items; i++)
                if (streq(s->items[i].uuid, uuid))
                        return &s->items[i];
        return NULL;
}

int mdev_record_add(MdevRecordSet *s, const char *uuid, const char *type, const char *parent, const char *serial) {
        MdevRecord *t, *r;

        if (mdev_record_find(s, uuid))
                return -EEXIST;
        t = realloc(s->items, (s->n_items + 1) * sizeof(MdevRecord));
        if (!t)
                return -ENOMEM;
        s->items = t;
        r = &s->items[s->n_items];
        *r = (MdevRecord) { strdup(uuid), strdup(type), strdup(parent), serial ? strdup(serial) : NULL };
        if (!r->uuid || !r->type || !r->parent || (serial && !r->serial)) {
                record_done(r);
                return -ENOMEM;
        }
        s->n_items++;
        return 0;
}

int mdev_record_remove(MdevRecordSet *s, const char *uuid) {
        MdevRecord *r = mdev_record_find(s, uuid);

        if (!r)
                return 0;
        record_done(r);
        *r = s->items[--s->n_items];
        return 1;
}

int mdev_record_set_claim(MdevRecord *r, const char *claim) {
        char *c = NULL;

        if (claim && !(c = strdup(claim)))
                return -ENOMEM;
        free(r->claim);
        r->claim = c;
        return 0;
}

/* ---- NVIDIA vGPU on VFs ---- */

void vgpu_vf_done(VgpuVf *v) {
        for (size_t i = 0; i < v->n_creatable; i++)
                mdev_type_done(&v->creatable[i]);
        free(v->creatable);
        free(v->address);
        *v = (VgpuVf) {};
}

static void types_free(MdevType *t, size_t n) {
        for (size_t i = 0; i < n; i++)
                mdev_type_done(&t[i]);
        free(t);
}

static MdevType *types_find(MdevType *t, size_t n, const char *id) {
        for (size_t i = 0; i < n; i++)
                if (streq(t[i].id, id))
                        return &t[i];
        return NULL;
}

/* Appends a type (copies), unless its id is there: then fills in a missing name. */
static int types_add(MdevType **t, size_t *n, const char *id, const char *name) {
        MdevType *found = types_find(*t, *n, id), *grown;

        if (found) {
                if (isempty(found->name) && !isempty(name) && free_and_strdup(&found->name, name) < 0)
                        return -ENOMEM;
                return 0;
        }
        grown = realloc(*t, (*n + 1) * sizeof(MdevType));
        if (!grown)
                return -ENOMEM;
        *t = grown;
        grown[*n] = (MdevType) { strdup(id), strdup(strempty(name)), strdup(""), strdup("vfio-pci"), 0 };
        if (!grown[*n].id || !grown[*n].name || !grown[*n].description || !grown[*n].device_api) {
                mdev_type_done(&grown[*n]);
                return -ENOMEM;
        }
        (*n)++;
        return 0;
}

int vgpu_parse_creatable(const char *text, MdevType **ret, size_t *ret_n) {
        MdevType *t = NULL;
        size_t n = 0;
        int r = 0;

        for (const char *line = text; line && *line && r >= 0;) {
                const char *end = strchrnul(line, '\n'), *colon = memchr(line, ':', (size_t) (end - line));
                char id[16] = "";
                size_t digits = strspn(line, "0123456789");
                _cleanup_free_ char *name = NULL;

                /* "1136 : NVIDIA L40-12Q"; the header "ID : vGPU Name" is skipped. */
                if (digits > 0 && digits < sizeof id && colon &&
                    strspn(line + digits, " \t") == (size_t) (colon - line) - digits) {
                        const char *b = colon + 1, *e = end;

                        memcpy(id, line, digits);
                        while (b < e && (*b == ' ' || *b == '\t'))
                                b++;
                        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                                e--;
                        name = strndup(b, (size_t) (e - b));
                        r = name ? types_add(&t, &n, id, name) : -ENOMEM;
                }
                line = *end ? end + 1 : NULL;
        }
        if (r < 0) {
                types_free(t, n);
                return r;
        }
        *ret = t;
        *ret_n = n;
        return 0;
}

static int type_num_cmp(const void *a, const void *b) {
        const MdevType *x = a, *y = b;
        size_t lx = strlen(x->id), ly = strlen(y->id);

        /* Decimal ids: the shorter is the smaller. */
        return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->id, y->id);
}

int vgpu_parent_from_vfs(const char *pf, const VgpuVf *vfs, size_t n, const MdevParent *old, MdevParent **ret) {
        _cleanup_(mdev_parent_freep) MdevParent *p = calloc(1, sizeof(MdevParent));
        int r = 0;

        if (!p || !(p->address = strdup(pf)))
                return -ENOMEM;
        p->vf_based = true;
        for (size_t i = 0; r >= 0 && i < n; i++)
                for (size_t j = 0; r >= 0 && j < vfs[i].n_creatable; j++)
                        r = types_add(&p->types, &p->n_types, vfs[i].creatable[j].id, vfs[i].creatable[j].name);
        /* Types seen before stay, with no instance left. */
        for (size_t i = 0; r >= 0 && old && i < old->n_types; i++)
                r = types_add(&p->types, &p->n_types, old->types[i].id, old->types[i].name);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char id[16];

                if (vfs[i].current == 0)
                        continue;
                snprintf(id, sizeof id, "%u", vfs[i].current);
                r = types_add(&p->types, &p->n_types, id, "");
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; vfs[i].current == 0 && j < vfs[i].n_creatable; j++)
                        types_find(p->types, p->n_types, vfs[i].creatable[j].id)->available++;
        /* The VFs as read, for the per-VF view. */
        p->vfs = calloc(n ?: 1, sizeof(VgpuVf));
        if (!p->vfs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                VgpuVf *v = &p->vfs[p->n_vfs++];

                *v = (VgpuVf) { strdup(vfs[i].address), vfs[i].iommu_group, vfs[i].current };
                if (!v->address)
                        return -ENOMEM;
                for (size_t j = 0; j < vfs[i].n_creatable; j++)
                        if (types_add(&v->creatable, &v->n_creatable, vfs[i].creatable[j].id,
                                      vfs[i].creatable[j].name) < 0)
                                return -ENOMEM;
        }
        if (p->n_types > 1)
                qsort(p->types, p->n_types, sizeof(MdevType), type_num_cmp);
        *ret = TAKE_PTR(p);
        return 0;
}

const VgpuVf *vgpu_free_vf(const VgpuVf *vfs, size_t n, const char *type) {
        for (size_t i = 0; i < n; i++)
                if (vfs[i].current == 0 && types_find(vfs[i].creatable, vfs[i].n_creatable, type))
                        return &vfs[i];
        return NULL;
}
