/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>

#include "common/address.h"
#include "host.h"

static void rule_field_done(HdRuleField *f) {
        free(f->name);
        free(f->string);
}

void hd_rules_free(HdRule *rules, size_t n) {
        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < rules[i].n_fields; j++)
                        rule_field_done(rules[i].fields + j);
                free(rules[i].fields);
        }
        free(rules);
}

/* One a{sv} rule; values of types the contract does not use are kept as '?'. */
void hd_group_free_blockers(HdGroup *g) {
        for (size_t i = 0; i < g->n_blockers; i++) {
                free(g->blockers[i].device);
                free(g->blockers[i].reason);
        }
        free(g->blockers);
        g->blockers = NULL;
        g->n_blockers = 0;
}

/* Blockers, a(os): the field is the group itself (offset 0). */
HdDevice *hd_device_free(HdDevice *d) {
        if (!d)
                return NULL;
        free(d->path);
        free(d->kind);
        free(d->address);
        free(d->sysfs_path);
        free(d->vendor_name);
        free(d->product_name);
        free(d->serial);
        free(d->driver);
        free(d->iommu_group);
        free(d->resource_group);
        free(d->state);
        free(d->claim);
        strv_free(d->critical_reasons);
        free(d->class_name);
        free(d->slot);
        free(d->link_speed);
        strv_free(d->reset_methods);
        free(d->physical_function);
        strv_free(d->virtual_functions);
        free(d->port_path);
        free(d->speed);
        free(d->dev_node);
        free(d);
        return NULL;
}

HdGroup *hd_group_free(HdGroup *g) {
        if (!g)
                return NULL;
        free(g->path);
        strv_free(g->devices);
        hd_group_free_blockers(g);
        free(g);
        return NULL;
}

HdResourceGroup *hd_resource_group_free(HdResourceGroup *g) {
        if (!g)
                return NULL;
        free(g->path);
        free(g->id);
        free(g->name);
        free(g->description);
        free(g->type);
        free(g->class_hint);
        hd_rules_free(g->rules, g->n_rules);
        strv_free(g->devices);
        free(g->tenant);
        free(g->parent);
        free(g);
        return NULL;
}

void hd_claim_free_handles(HdClaim *c) {
        for (size_t i = 0; i < c->n_handles; i++) {
                HdHandle *x = c->handles + i;

                free(x->device);
                free(x->address);
                free(x->sysfs);
                free(x->vfio_group);
                free(x->qemu);
                free(x->libvirt);
                free(x->libvirt_interface);
        }
        free(c->handles);
        c->handles = NULL;
        c->n_handles = 0;
}

HdClaim *hd_claim_free(HdClaim *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->id);
        free(c->consumer);
        free(c->resource_group);
        strv_free(c->devices);
        strv_free(c->missing);
        hd_claim_free_handles(c);
        free(c->lease);
        free(c);
        return NULL;
}

HdClaim *hd_claim_new(const char *path) {
        HdClaim *c = calloc(1, sizeof(HdClaim));

        if (!c)
                return NULL;
        c->path = strdup(path);
        if (!c->path)
                return hd_claim_free(c);
        return c;
}

HdHost *hd_host_free(HdHost *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_devices; i++)
                hd_device_free(h->devices[i]);
        for (size_t i = 0; i < h->n_groups; i++)
                hd_group_free(h->groups[i]);
        for (size_t i = 0; i < h->n_resource_groups; i++)
                hd_resource_group_free(h->resource_groups[i]);
        for (size_t i = 0; i < h->n_claims; i++)
                hd_claim_free(h->claims[i]);
        free(h->claims);
        free(h->devices);
        free(h->groups);
        free(h->resource_groups);
        free(h->version);
        free(h->iommu_message);
        strv_free(h->reboot_reasons);
        strv_free(h->converge_problems);
        strv_free(h->critical);
        free(h);
        return NULL;
}

HdDevice *hd_device_new(const char *path) {
        HdDevice *d = calloc(1, sizeof(HdDevice));

        if (!d)
                return NULL;
        d->numa_node = -1;
        d->virtual_function_index = -1;
        d->path = strdup(path);
        if (!d->path)
                return hd_device_free(d);
        return d;
}

HdGroup *hd_group_new(const char *path) {
        HdGroup *g = calloc(1, sizeof(HdGroup));

        if (!g)
                return NULL;
        g->path = strdup(path);
        if (!g->path)
                return hd_group_free(g);
        return g;
}

HdResourceGroup *hd_resource_group_new(const char *path) {
        HdResourceGroup *g = calloc(1, sizeof(HdResourceGroup));

        if (!g)
                return NULL;
        g->path = strdup(path);
        if (!g->path)
                return hd_resource_group_free(g);
        return g;
}

static int append(void *array, size_t *n, void *item) {
        void ***a = array;
        void **x = realloc(*a, (*n + 1) * sizeof(void *));

        if (!x)
                return -ENOMEM;
        x[(*n)++] = item;
        *a = x;
        return 0;
}

/* One object's a{sa{sv}}: which struct it fills depends on its interfaces. */
static int kind_rank(const HdDevice *d) {
        if (streq_ptr(d->kind, "pci"))
                return 0;
        if (streq_ptr(d->kind, "usb"))
                return 1;
        return 2;
}

static int compare_unsigned(unsigned a, unsigned b) {
        return a < b ? -1 : a > b;
}

/* The daemon's order of addresses (common/address.c): PCI by domain, bus,
 * slot, function; USB by bus, then port by port, a hub before what is behind it. */
static int device_compare(const void *a, const void *b) {
        const HdDevice *x = *(HdDevice * const *) a, *y = *(HdDevice * const *) b;
        int c = compare_unsigned((unsigned) kind_rank(x), (unsigned) kind_rank(y));

        if (c != 0)
                return c;
        if (x->address && y->address && kind_rank(x) < 2) {
                c = address_compare(x->address, y->address);
                if (c != 0)
                        return c;
        }
        return strcmp(x->address ? x->address : x->path, y->address ? y->address : y->path);
}

static int group_compare(const void *a, const void *b) {
        const HdGroup *x = *(HdGroup * const *) a, *y = *(HdGroup * const *) b;

        return compare_unsigned(x->number, y->number);
}

static int resource_group_compare(const void *a, const void *b) {
        const HdResourceGroup *x = *(HdResourceGroup * const *) a, *y = *(HdResourceGroup * const *) b;
        int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");

        return c != 0 ? c : strcmp(x->path, y->path);
}

/* Oldest first, as Manager.Claims lists them; the id breaks ties. */
static int claim_compare(const void *a, const void *b) {
        const HdClaim *x = *(HdClaim * const *) a, *y = *(HdClaim * const *) b;

        if (x->since != y->since)
                return x->since < y->since ? -1 : 1;
        return strcmp(x->path, y->path);
}

int hd_host_add_device(HdHost *h, HdDevice *d) {
        return append(&h->devices, &h->n_devices, d);
}

int hd_host_add_group(HdHost *h, HdGroup *g) {
        return append(&h->groups, &h->n_groups, g);
}

int hd_host_add_resource_group(HdHost *h, HdResourceGroup *g) {
        return append(&h->resource_groups, &h->n_resource_groups, g);
}

int hd_host_add_claim(HdHost *h, HdClaim *c) {
        return append(&h->claims, &h->n_claims, c);
}

void hd_host_sort(HdHost *h) {
        if (h->n_devices > 0)
                qsort(h->devices, h->n_devices, sizeof(HdDevice *), device_compare);
        if (h->n_groups > 0)
                qsort(h->groups, h->n_groups, sizeof(HdGroup *), group_compare);
        if (h->n_resource_groups > 0)
                qsort(h->resource_groups, h->n_resource_groups, sizeof(HdResourceGroup *),
                      resource_group_compare);
        if (h->n_claims > 0)
                qsort(h->claims, h->n_claims, sizeof(HdClaim *), claim_compare);
}

HdDevice *hd_host_find_device(const HdHost *h, const char *path) {
        if (!path)
                return NULL;
        for (size_t i = 0; i < h->n_devices; i++)
                if (streq(h->devices[i]->path, path))
                        return h->devices[i];
        return NULL;
}

HdDevice *hd_host_find_device_by_address(const HdHost *h, const char *address) {
        _cleanup_free_ char *canonical = NULL;

        /* A root hub ("usb1") has no address of the parser's forms: then as typed. */
        if (address_parse(address, NULL, &canonical) < 0 && !(canonical = strdup(address)))
                return NULL;
        for (size_t i = 0; i < h->n_devices; i++)
                if (streq_ptr(h->devices[i]->address, canonical))
                        return h->devices[i];
        return NULL;
}

HdGroup *hd_host_find_group(const HdHost *h, const char *path) {
        if (!path)
                return NULL;
        for (size_t i = 0; i < h->n_groups; i++)
                if (streq(h->groups[i]->path, path))
                        return h->groups[i];
        return NULL;
}

HdResourceGroup *hd_host_find_resource_group(const HdHost *h, const char *path) {
        if (!path)
                return NULL;
        for (size_t i = 0; i < h->n_resource_groups; i++)
                if (streq(h->resource_groups[i]->path, path))
                        return h->resource_groups[i];
        return NULL;
}

HdResourceGroup *hd_host_lookup_resource_group(const HdHost *h, const char *what) {
        for (size_t i = 0; i < h->n_resource_groups; i++)
                if (streq_ptr(h->resource_groups[i]->name, what))
                        return h->resource_groups[i];
        for (size_t i = 0; i < h->n_resource_groups; i++)
                if (streq_ptr(h->resource_groups[i]->id, what))
                        return h->resource_groups[i];
        return what[0] == '/' ? hd_host_find_resource_group(h, what) : NULL;
}

HdClaim *hd_host_find_claim(const HdHost *h, const char *path) {
        if (!path)
                return NULL;
        for (size_t i = 0; i < h->n_claims; i++)
                if (streq(h->claims[i]->path, path))
                        return h->claims[i];
        return NULL;
}

HdClaim *hd_host_lookup_claim(const HdHost *h, const char *what) {
        for (size_t i = 0; i < h->n_claims; i++)
                if (streq_ptr(h->claims[i]->id, what))
                        return h->claims[i];
        return hd_host_find_claim(h, what);
}

const char *hd_host_resource_group_name(const HdHost *h, const char *path) {
        const HdResourceGroup *g = hd_host_find_resource_group(h, path);

        return g && !isempty(g->name) ? g->name : path;
}

const char *hd_device_resource_group_name(const HdHost *h, const HdDevice *d) {
        const HdResourceGroup *g = hd_host_find_resource_group(h, d->resource_group);

        return g && !isempty(g->name) ? g->name : NULL;
}

int64_t hd_device_group_number(const HdHost *h, const HdDevice *d) {
        const HdGroup *g;
        const char *slash;
        char *end;
        unsigned long n;

        if (isempty(d->iommu_group) || streq(d->iommu_group, "/"))
                return -1;

        g = hd_host_find_group(h, d->iommu_group);
        if (g)
                return g->number;

        /* The group object vanished between signals: its path still names the number. */
        slash = strrchr(d->iommu_group, '/');
        if (!slash || !slash[1])
                return -1;
        errno = 0;
        n = strtoul(slash + 1, &end, 10);
        if (errno != 0 || *end != '\0')
                return -1;
        return (int64_t) n;
}

const char *hd_host_path_to_address(const HdHost *h, const char *path) {
        const HdDevice *d = hd_host_find_device(h, path);

        return d && d->address ? d->address : path;
}

const char *hd_device_port_path(const HdDevice *d) {
        return d->port_path ? d->port_path : d->address;
}
