/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "inventory.h"
#include "shared/macro.h"
#include "shared/strv.h"

int inventory_init(Inventory *inv) {
        *inv = (Inventory) {};
        inv->devices = hashmap_new();
        return inv->devices ? 0 : -ENOMEM;
}

static IommuGroup *group_free(IommuGroup *g) {
        if (!g)
                return NULL;
        free(g->members);
        free(g);
        return NULL;
}

void inventory_done(Inventory *inv) {
        Device *d;
        size_t i = 0;

        while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL))
                device_free(d);
        hashmap_free(inv->devices);
        free(inv->sorted);
        for (i = 0; i < inv->n_groups_alloc; i++)
                group_free(inv->groups[i]);
        free(inv->groups);
        *inv = (Inventory) {};
}

Device *inventory_get(const Inventory *inv, const char *address) {
        return hashmap_get(inv->devices, address);
}

IommuGroup *inventory_group(const Inventory *inv, int number) {
        if (number < 0 || (size_t) number >= inv->n_groups_alloc)
                return NULL;
        return inv->groups[number];
}

static int group_get_or_create(Inventory *inv, unsigned number, IommuGroup **ret, bool *ret_created) {
        IommuGroup *g;

        if (number > IOMMU_GROUP_MAX)
                return -ERANGE;
        if (number >= inv->n_groups_alloc) {
                size_t n = inv->n_groups_alloc ? inv->n_groups_alloc : 64;
                IommuGroup **t;

                while (n <= number)
                        n *= 2;
                t = realloc(inv->groups, n * sizeof(IommuGroup *));
                if (!t)
                        return -ENOMEM;
                memset(t + inv->n_groups_alloc, 0, (n - inv->n_groups_alloc) * sizeof(IommuGroup *));
                inv->groups = t;
                inv->n_groups_alloc = n;
        }
        g = inv->groups[number];
        *ret_created = !g;
        if (!g) {
                g = calloc(1, sizeof(IommuGroup));
                if (!g)
                        return -ENOMEM;
                g->number = number;
                inv->groups[number] = g;
                inv->n_groups++;
        }
        *ret = g;
        return 0;
}

static int group_insert(IommuGroup *g, Device *d) {
        Device **t = realloc(g->members, (g->n_members + 1) * sizeof(Device *));
        size_t i;

        if (!t)
                return -ENOMEM;
        g->members = t;
        for (i = g->n_members; i > 0 && address_compare(t[i - 1]->address, d->address) > 0; i--)
                t[i] = t[i - 1];
        t[i] = d;
        g->n_members++;
        return 0;
}

static void group_delete(IommuGroup *g, Device *d) {
        for (size_t i = 0; i < g->n_members; i++)
                if (g->members[i] == d) {
                        memmove(g->members + i, g->members + i + 1, (g->n_members - i - 1) * sizeof(Device *));
                        g->n_members--;
                        return;
                }
}

/* Where d goes in the sorted array of n devices. */
static size_t sorted_position(Device *const *l, size_t n, const Device *d) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (address_compare(l[mid]->address, d->address) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Room for n devices and the terminating NULL, before the hashmap changes. */
static int sorted_reserve(Inventory *inv, size_t n) {
        Device **t;
        size_t size;

        if (n + 1 <= inv->n_sorted_alloc)
                return 0;
        size = inv->n_sorted_alloc ? inv->n_sorted_alloc * 2 : 64;
        while (size < n + 1)
                size *= 2;
        t = realloc(inv->sorted, size * sizeof(Device *));
        if (!t)
                return -ENOMEM;
        inv->sorted = t;
        inv->n_sorted_alloc = size;
        return 0;
}

static void sorted_insert(Inventory *inv, Device *d, size_t n) {
        size_t k = sorted_position(inv->sorted, n, d);

        memmove(inv->sorted + k + 1, inv->sorted + k, (n - k) * sizeof(Device *));
        inv->sorted[k] = d;
        inv->sorted[n + 1] = NULL;
}

static void sorted_delete(Inventory *inv, const Device *d, size_t n) {
        size_t k = sorted_position(inv->sorted, n, d);

        /* address_compare() calls "1-3" and "1-03" equal: look on. */
        while (k < n && inv->sorted[k] != d)
                k++;
        if (k == n)
                for (k = 0; k < n && inv->sorted[k] != d; k++)
                        ;
        if (k == n)
                return;
        memmove(inv->sorted + k, inv->sorted + k + 1, (n - k - 1) * sizeof(Device *));
        inv->sorted[n - 1] = NULL;
}

int inventory_add(Inventory *inv, Device *d, bool *ret_group_created) {
        IommuGroup *g = NULL;
        bool created = false;
        int r;

        if (d->iommu_group >= 0) {
                r = group_get_or_create(inv, (unsigned) d->iommu_group, &g, &created);
                if (r == -ERANGE)
                        d->iommu_group = -1;
                else if (r < 0)
                        return r;
        }
        r = sorted_reserve(inv, hashmap_size(inv->devices) + 1);
        if (r >= 0)
                r = hashmap_put(inv->devices, d->address, d);
        if (r >= 0 && g)
                r = group_insert(g, d);
        if (r < 0) {
                if (r != -EEXIST)
                        hashmap_remove(inv->devices, d->address);
                if (created)
                        inventory_gc_group(inv, g->number);
                return r;
        }
        sorted_insert(inv, d, hashmap_size(inv->devices) - 1);
        if (ret_group_created)
                *ret_group_created = created;
        return 0;
}

Device *inventory_take(Inventory *inv, const char *address) {
        Device *d = hashmap_remove(inv->devices, address);
        IommuGroup *g;

        if (d)
                sorted_delete(inv, d, hashmap_size(inv->devices) + 1);
        if (d && (g = inventory_group(inv, d->iommu_group)))
                group_delete(g, d);
        return d;
}

bool inventory_gc_group(Inventory *inv, unsigned number) {
        IommuGroup *g = inventory_group(inv, (int) number);

        if (!g || g->n_members > 0)
                return false;
        inv->groups[number] = group_free(g);
        inv->n_groups--;
        return true;
}

size_t inventory_n_devices(const Inventory *inv) {
        return hashmap_size(inv->devices);
}

Device *const *inventory_sorted(const Inventory *inv) {
        static Device *const empty[1] = {};

        return inv->sorted ? inv->sorted : empty;
}

int inventory_vf_index(const Inventory *inv, const Device *vf) {
        const Device *pf;

        if (!vf->pci.physfn || !(pf = inventory_get(inv, vf->pci.physfn)))
                return -1;
        for (size_t i = 0; pf->pci.vfs && pf->pci.vfs[i]; i++)
                if (streq(pf->pci.vfs[i], vf->address))
                        return (int) i;
        return -1;
}

bool iommu_group_viable(const IommuGroup *g) {
        for (size_t i = 0; i < g->n_members; i++) {
                _cleanup_free_ char *b = device_group_blocker(g->members[i]);
                if (b)
                        return false;
        }
        return true;
}

char *iommu_group_blockers_text(const IommuGroup *g) {
        char *text = strdup("");

        for (size_t i = 0; text && i < g->n_members; i++) {
                _cleanup_free_ char *b = device_group_blocker(g->members[i]);
                char *t;

                if (!b)
                        continue;
                if (asprintf(&t, "%s%s\n", text, b) < 0)
                        t = NULL;
                free(text);
                text = t;
        }
        return text;
}
