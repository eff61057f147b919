/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "plan.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"

void plan_done(Plan *p) {
        for (size_t i = 0; i < p->n_steps; i++) {
                free(p->steps[i].address);
                free(p->steps[i].from);
                free(p->steps[i].to);
                free(p->steps[i].reason);
        }
        free(p->steps);
        *p = (Plan) {};
}

static void prepared_done(Prepared *p) {
        free(p->address);
        free(p->serial);
        free(p->original_driver);
}

void prepared_set_done(PreparedSet *s) {
        for (size_t i = 0; i < s->n_items; i++)
                prepared_done(&s->items[i]);
        free(s->items);
        *s = (PreparedSet) {};
}

Prepared *prepared_find(const PreparedSet *s, const char *address) {
        for (size_t i = 0; i < s->n_items; i++)
                if (streq(s->items[i].address, address))
                        return &s->items[i];
        return NULL;
}

static int prepared_append(PreparedSet *s, const Prepared *src) {
        Prepared *t = realloc(s->items, (s->n_items + 1) * sizeof(Prepared)), p = {};

        if (!t)
                return -ENOMEM;
        s->items = t;
        p.address = strdup(src->address);
        p.serial = src->serial ? strdup(src->serial) : NULL;
        p.original_driver = strdup(strempty(src->original_driver));
        p.vendor_id = src->vendor_id;
        p.product_id = src->product_id;
        p.releasing = src->releasing;
        if (!p.address || (src->serial && !p.serial) || !p.original_driver) {
                prepared_done(&p);
                return -ENOMEM;
        }
        s->items[s->n_items++] = p;
        return 0;
}

int prepared_add(PreparedSet *s, const Device *d, const char *original_driver) {
        Prepared p = {
                .address = d->address,
                .serial = d->serial,
                .vendor_id = d->vendor_id,
                .product_id = d->product_id,
                .original_driver = (char *) original_driver,
        };

        if (prepared_find(s, d->address))
                return -EEXIST;
        return prepared_append(s, &p);
}

int prepared_remove(PreparedSet *s, const char *address) {
        Prepared *p = prepared_find(s, address);

        if (!p)
                return -ENOENT;
        prepared_done(p);
        memmove(p, p + 1, (size_t) (s->items + s->n_items - p - 1) * sizeof(Prepared));
        s->n_items--;
        return 0;
}

int prepared_set_copy(PreparedSet *dst, const PreparedSet *src) {
        *dst = (PreparedSet) {};
        for (size_t i = 0; i < src->n_items; i++)
                if (prepared_append(dst, &src->items[i]) < 0) {
                        prepared_set_done(dst);
                        return -ENOMEM;
                }
        return 0;
}

Device *prepared_locate(const Prepared *p, const Inventory *inv) {
        Device *d;
        size_t i = 0;

        if (p->serial)
                while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL))
                        /* The function number too: a GPU and its audio function share a serial. */
                        if (d->kind == DEVICE_PCI && streq_ptr(d->serial, p->serial) && d->vendor_id == p->vendor_id &&
                            d->product_id == p->product_id && !d->pci.physfn &&
                            strrchr(d->address, '.')[1] == strrchr(p->address, '.')[1])
                                return d;
        /* A card with a serial is that card: another one of the same model
         * in its old slot is not it. */
        if (p->serial)
                return NULL;
        d = inventory_get(inv, p->address);
        if (d && d->vendor_id == p->vendor_id && d->product_id == p->product_id)
                return d;
        return NULL;
}

static bool selected(const Device *const *devices, size_t n, const Device *d) {
        for (size_t i = 0; i < n; i++)
                if (devices[i] == d)
                        return true;
        return false;
}

/* The selected devices and every member of their IOMMU groups, once each,
 * in address order. */
static int collect(const Inventory *inv, const Device *const *devices, size_t n, const Device ***ret,
                   size_t *ret_n) {
        size_t cap = n, k = 0;
        const Device **all;

        for (size_t i = 0; i < n; i++) {
                const IommuGroup *g = inventory_group(inv, devices[i]->iommu_group);
                cap += g ? g->n_members : 0;
        }
        all = calloc(cap + 1, sizeof(Device *));
        if (!all)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const IommuGroup *g = inventory_group(inv, devices[i]->iommu_group);

                if (!selected(all, k, devices[i]))
                        all[k++] = devices[i];
                for (size_t j = 0; g && j < g->n_members; j++)
                        if (!selected(all, k, g->members[j]))
                                all[k++] = g->members[j];
        }
        qsort(all, k, sizeof(Device *), device_address_compare);
        *ret = all;
        *ret_n = k;
        return 0;
}

static int add_step(Plan *p, const char *address, const char *from, const char *to, const char *reason) {
        PlanStep *t = realloc(p->steps, (p->n_steps + 1) * sizeof(PlanStep)), s;

        if (!t)
                return -ENOMEM;
        p->steps = t;
        s = (PlanStep) {
                .address = strdup(address),
                .from = strdup(strempty(from)),
                .to = strdup(strempty(to)),
                .reason = strdup(reason),
        };
        p->steps[p->n_steps++] = s;
        if (!s.address || !s.from || !s.to || !s.reason)
                return -ENOMEM;
        return 0;
}

/* Why a companion comes along: "in IOMMU group 5 with 0000:01:00.0". */
static int companion_reason(const Device *const *devices, size_t n, const Device *d, char **ret) {
        for (size_t i = 0; i < n; i++)
                if (devices[i]->iommu_group == d->iommu_group)
                        return asprintf(ret, "in IOMMU group %d with %s", d->iommu_group, devices[i]->address) < 0
                                ? -ENOMEM : 0;
        return asprintf(ret, "in IOMMU group %d", d->iommu_group) < 0 ? -ENOMEM : 0;
}

int plan_prepare(const Inventory *inv, const Device *const *devices, size_t n, Plan *ret, char **ret_error) {
        _cleanup_free_ const Device **all = NULL;
        Plan p = {};
        size_t k = 0;
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                if (devices[i]->kind != DEVICE_PCI)
                        return error_setf(ret_error, "%s is a USB device: USB and PCI devices are prepared "
                                          "apart.", devices[i]->address);
                if (device_is_bridge(devices[i]))
                        return error_setf(ret_error, "%s is a PCI bridge; bridges stay with the host.",
                                         devices[i]->address);
        }
        r = collect(inv, devices, n, &all, &k);
        for (size_t i = 0; r >= 0 && i < k; i++) {
                _cleanup_free_ char *reason = NULL;
                const Device *d = all[i];

                /* A bridge keeps pcieport: VFIO accepts it in the group. */
                if (device_is_bridge(d) || driver_is_vfio(d->driver))
                        continue;
                if (selected(devices, n, d))
                        reason = strdup("selected");
                else
                        r = companion_reason(devices, n, d, &reason);
                if (r >= 0 && !reason)
                        r = -ENOMEM;
                if (r >= 0)
                        r = add_step(&p, d->address, d->driver, DRIVER_VFIO, reason);
        }
        if (r < 0) {
                plan_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

int plan_release(const Inventory *inv, const PreparedSet *prepared, const Device *const *devices, size_t n,
                 Plan *ret, char **ret_error) {
        _cleanup_free_ const Device **all = NULL;
        Plan p = {};
        size_t k = 0;
        int r;

        for (size_t i = 0; i < n; i++)
                if (devices[i]->kind != DEVICE_PCI)
                        return error_setf(ret_error, "%s is a USB device: USB and PCI devices are released "
                                          "apart.", devices[i]->address);
        r = collect(inv, devices, n, &all, &k);
        for (size_t i = 0; r >= 0 && i < k; i++) {
                const Device *d = all[i];
                const Prepared *rec = prepared_find(prepared, d->address);

                if (!driver_is_vfio(d->driver) && !rec)
                        continue;
                if (rec)
                        r = add_step(&p, d->address, d->driver, rec->original_driver,
                                     selected(devices, n, d) ? "selected" : "prepared with its IOMMU group");
                else if (selected(devices, n, d))
                        /* Bound to vfio-pci by someone else: the kernel picks its driver. */
                        r = add_step(&p, d->address, d->driver, "", "selected; its earlier driver is not known, so it is left without one");
        }
        if (r < 0) {
                plan_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

void reboot_state_done(RebootState *s) {
        free(s->boot_id);
        strv_free(s->reasons);
        *s = (RebootState) {};
}

int reboot_state_add(RebootState *s, const char *boot_id, const char *subject, const char *reason) {
        for (size_t i = 0; s->reasons && s->reasons[i] && s->reasons[i + 1]; i += 2)
                if (streq(s->reasons[i], subject) && streq(s->reasons[i + 1], reason))
                        return 0;
        if (free_and_strdup(&s->boot_id, boot_id) < 0 || strv_extend(&s->reasons, subject) < 0)
                return -ENOMEM;
        if (strv_extend(&s->reasons, reason) < 0) {
                /* Keep pairs whole. */
                size_t n = strv_length(s->reasons);
                free(s->reasons[n - 1]);
                s->reasons[n - 1] = NULL;
                return -ENOMEM;
        }
        return 1;
}
