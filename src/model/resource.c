/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "resource.h"
#include "shared/macro.h"
#include "shared/text.h"

ResourceGroup *resource_group_new(const char *id, const char *name, ResourceType type) {
        ResourceGroup *g;

        /* Ids are made by the daemon, never typed by a user: anything else is a bug. */
        if (resource_id_validate(id, NULL) < 0 || !resource_type_to_string(type))
                return NULL;
        g = calloc(1, sizeof(ResourceGroup));
        if (!g)
                return NULL;
        g->type = type;
        g->id = strdup(id);
        g->name = strdup(name);
        g->description = strdup("");
        g->class_hint = strdup("");
        g->tenant = strdup("");
        g->parent = strdup("");
        if (!g->id || !g->name || !g->description || !g->class_hint || !g->tenant || !g->parent)
                return resource_group_free(g);
        return g;
}

ResourceGroup *resource_group_free(ResourceGroup *g) {
        if (!g)
                return NULL;
        free(g->id);
        free(g->name);
        free(g->description);
        free(g->class_hint);
        rules_free(g->rules, g->n_rules);
        for (size_t i = 0; i < g->n_known; i++) {
                free(g->known_serials[i]);
                free(g->known_addresses[i]);
        }
        free(g->known_serials);
        free(g->known_addresses);
        free(g->tenant);
        free(g->parent);
        free(g);
        return NULL;
}

int resource_group_set_tenant(ResourceGroup *g, const char *tenant, const char *parent_id) {
        _cleanup_free_ char *t = strdup(tenant), *p = strdup(parent_id);

        if (!t || !p)
                return -ENOMEM;
        free(g->tenant);
        free(g->parent);
        g->tenant = TAKE_PTR(t);
        g->parent = TAKE_PTR(p);
        return 0;
}

static int text_validate(const char *what, const char *s, size_t max, bool may_be_empty, char **ret_error) {
        if (!s || (!may_be_empty && !*s))
                return error_setf(ret_error, "%s must not be empty.", what);
        if (strnlen(s, max + 1) > max)
                return error_setf(ret_error, "%s is longer than %zu bytes.", what, max);
        if (!utf8_is_valid(s))
                return error_setf(ret_error, "%s is not valid UTF-8.", what);
        if (text_has_control(s))
                return error_setf(ret_error, "%s contains control characters.", what);
        return 0;
}

int resource_name_validate(const char *name, char **ret_error) {
        return text_validate("Name", name, RESOURCE_NAME_MAX, false, ret_error);
}

int resource_description_validate(const char *s, char **ret_error) {
        return text_validate("Description", s, RESOURCE_DESCRIPTION_MAX, true, ret_error);
}

int resource_id_validate(const char *id, char **ret_error) {
        if (isempty(id))
                return error_setf(ret_error, "A group id must not be empty.");
        if (strlen(id) > RESOURCE_ID_MAX || id[strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789")] != 0)
                return error_setf(ret_error, "A group id is at most %d lowercase letters and digits.",
                                  RESOURCE_ID_MAX);
        return 0;
}

static bool rules_accept(ResourceType type, const Rule *rules, size_t n_rules, const Device *d) {
        if (!resource_type_accepts(type, d))
                return false;
        for (size_t i = 0; i < n_rules; i++)
                if (rule_matches(rules + i, d))
                        return true;
        return false;
}

bool resource_group_accepts(const ResourceGroup *g, const Device *d) {
        return rules_accept(g->type, g->rules, g->n_rules, d);
}

void resource_set_done(ResourceSet *s) {
        for (size_t i = 0; i < s->n_groups; i++)
                resource_group_free(s->groups[i]);
        free(s->groups);
        *s = (ResourceSet) {};
}

ResourceGroup *resource_set_find_id(const ResourceSet *s, const char *id) {
        for (size_t i = 0; i < s->n_groups; i++)
                if (streq(s->groups[i]->id, id))
                        return s->groups[i];
        return NULL;
}

ResourceGroup *resource_set_find_name(const ResourceSet *s, const char *name) {
        for (size_t i = 0; i < s->n_groups; i++)
                if (streq(s->groups[i]->name, name))
                        return s->groups[i];
        return NULL;
}

/* On failure (-EEXIST when the id or name is taken, -ENOMEM) the caller
 * keeps the group. */
int resource_set_add(ResourceSet *s, ResourceGroup *g) {
        ResourceGroup **t;

        if (resource_set_find_id(s, g->id) || resource_set_find_name(s, g->name))
                return -EEXIST;
        t = realloc(s->groups, (s->n_groups + 1) * sizeof(ResourceGroup *));
        if (!t)
                return -ENOMEM;
        t[s->n_groups++] = g;
        s->groups = t;
        return 0;
}

int resource_set_insert(ResourceSet *s, ResourceGroup *g, size_t position) {
        int r = resource_set_add(s, g);

        if (r < 0)
                return r;
        if (position >= s->n_groups)
                return 0;
        memmove(s->groups + position + 1, s->groups + position, (s->n_groups - 1 - position) * sizeof(ResourceGroup *));
        s->groups[position] = g;
        return 0;
}

ResourceGroup *resource_set_take(ResourceSet *s, const char *id) {
        for (size_t i = 0; i < s->n_groups; i++) {
                ResourceGroup *g = s->groups[i];

                if (!streq(g->id, id))
                        continue;
                /* Keep the order: it decides which group a device belongs to. */
                memmove(s->groups + i, s->groups + i + 1, (s->n_groups - i - 1) * sizeof(ResourceGroup *));
                s->n_groups--;
                return g;
        }
        return NULL;
}

ResourceGroup *resource_set_owner(const ResourceSet *s, const Device *d) {
        for (size_t i = 0; i < s->n_groups; i++)
                if (!resource_group_is_tenant(s->groups[i]) && resource_group_accepts(s->groups[i], d))
                        return s->groups[i];
        return NULL;
}

static ResourceGroup *tenant_holder(const ResourceSet *s, const ResourceGroup *owner, const Device *d) {
        for (size_t i = 0; i < s->n_groups; i++) {
                ResourceGroup *g = s->groups[i];

                if (resource_group_is_tenant(g) && streq(g->parent, owner->id) && resource_group_accepts(g, d))
                        return g;
        }
        return NULL;
}

ResourceGroup *resource_set_holder(const ResourceSet *s, const Device *d) {
        ResourceGroup *owner = resource_set_owner(s, d);

        if (!owner)
                return NULL;
        return tenant_holder(s, owner, d) ?: owner;
}

int resource_set_check_conflicts(const ResourceSet *s, const Inventory *inv, const ResourceGroup *self,
                                 ResourceType type, const Rule *rules, size_t n_rules,
                                 const Device **ret_device, const ResourceGroup **ret_owner) {
        const Device *found = NULL;
        const ResourceGroup *found_owner = NULL;
        size_t i = 0;
        Device *d;

        while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL)) {
                const ResourceGroup *owner;

                if (!rules_accept(type, rules, n_rules, d))
                        continue;
                /* The holder now is the first group that accepts the device;
                 * when that is the group being changed, it keeps it. */
                owner = resource_set_owner(s, d);
                if (!owner || owner == self)
                        continue;
                /* Report the lowest address, not whatever the hash order gives. */
                if (!found || address_compare(d->address, found->address) < 0) {
                        found = d;
                        found_owner = owner;
                }
        }
        if (!found)
                return 0;
        if (ret_device)
                *ret_device = found;
        if (ret_owner)
                *ret_owner = found_owner;
        return -EBUSY;
}

int resource_group_devices(const ResourceSet *s, const Inventory *inv, const ResourceGroup *g,
                           const Device ***ret, size_t *ret_n) {
        const Device **l = calloc(inventory_n_devices(inv) + 1, sizeof(Device *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        for (Device *const *p = inventory_sorted(inv); *p; p++) {
                const Device *d = *p;

                if (resource_group_accepts(g, d) &&
                    (resource_group_is_tenant(g) ? resource_set_holder(s, d) == g : resource_set_owner(s, d) == g))
                        l[n++] = d;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

int resource_group_unmatched_rules(const ResourceGroup *g, const Inventory *inv, unsigned **ret, size_t *ret_n) {
        _cleanup_free_ bool *matched = calloc(g->n_rules + 1, sizeof(bool));
        unsigned *l = calloc(g->n_rules + 1, sizeof(unsigned));
        size_t i = 0, n = 0;
        Device *d;

        if (!matched || !l) {
                free(l);
                return -ENOMEM;
        }
        while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL)) {
                if (!resource_type_accepts(g->type, d))
                        continue;
                for (size_t k = 0; k < g->n_rules; k++)
                        if (!matched[k] && rule_matches(g->rules + k, d))
                                matched[k] = true;
        }
        for (size_t k = 0; k < g->n_rules; k++)
                if (!matched[k])
                        l[n++] = (unsigned) k + 1;
        *ret = l;
        *ret_n = n;
        return 0;
}

/* The group type follows from the devices. */
static int make_type(const Device *const *devices, size_t n, ResourceType *ret, char **ret_error) {
        size_t n_usb = 0, n_vfs = 0;

        if (n == 0)
                return error_setf(ret_error, "No devices given.");
        for (size_t i = 0; i < n; i++) {
                const Device *d = devices[i];

                if (device_is_bridge(d))
                        return error_setf(ret_error, "%s is a PCI bridge: bridges cannot be in a resource group.",
                                          d->address);
                if (device_is_usb_hub(d))
                        return error_setf(ret_error, "%s is a USB hub: hubs cannot be in a resource group.",
                                          d->address);
                if (d->kind == DEVICE_USB)
                        n_usb++;
                else if (d->pci.physfn)
                        n_vfs++;
        }
        if (n_usb > 0 && n_usb < n)
                return error_setf(ret_error, "USB devices and PCI functions cannot be in one resource group.");
        *ret = n_usb > 0 ? RESOURCE_USB : n_vfs == n ? RESOURCE_SRIOV_NIC : RESOURCE_PCI;
        return 0;
}

static int set_q(Rule *r, ResourceType t, RuleField f, uint16_t v) {
        return rule_set(r, t, rule_field_to_string(f), &(RuleValue) { .type = 'q', .u = v }, NULL);
}

static int set_s(Rule *r, ResourceType t, RuleField f, const char *s) {
        return rule_set(r, t, rule_field_to_string(f), &(RuleValue) { .type = 's', .s = s }, NULL);
}

static int set_ids(Rule *r, ResourceType t, const Device *d, bool subsystem) {
        int k;

        if ((k = set_q(r, t, RULE_VENDOR_ID, d->vendor_id)) < 0 ||
            (k = set_q(r, t, RULE_PRODUCT_ID, d->product_id)) < 0)
                return k;
        if (subsystem && d->kind == DEVICE_PCI &&
            ((k = set_q(r, t, RULE_SUBSYSTEM_VENDOR_ID, d->pci.subsystem_vendor_id)) < 0 ||
             (k = set_q(r, t, RULE_SUBSYSTEM_ID, d->pci.subsystem_id)) < 0))
                return k;
        return 0;
}

/* "*.1": the function number outlives bus renumbering and tells apart the
 * functions of one card, which share its slot and its serial (PCIe wants
 * the same Device Serial Number on every function). */
static int set_function(Rule *r, ResourceType t, const Device *d) {
        char glob[8];

        snprintf(glob, sizeof glob, "*%s", strrchr(d->address, '.'));
        return set_s(r, t, RULE_ADDRESS, glob);
}

/* A serial with the ids: a USB serial is unique only per vendor and
 * product, and a VF may report its PF's serial (it names no single VF, so
 * VFs get no serial rule; the ids keep a PF's rule off its VFs). */
static int serial_rule(const Device *d, ResourceType t, Rule *r) {
        int k;

        if (!d->serial || (d->kind == DEVICE_PCI && d->pci.physfn))
                return -ENOENT;
        if ((k = set_ids(r, t, d, false)) < 0 || (k = set_s(r, t, RULE_SERIAL, d->serial)) < 0)
                return k;
        return d->kind == DEVICE_PCI ? set_function(r, t, d) : 0;
}

static int slot_rule(const Device *d, ResourceType t, Rule *r) {
        int k;

        if (d->kind != DEVICE_PCI || !d->pci.slot || d->pci.physfn)
                return -ENOENT;
        if ((k = set_ids(r, t, d, true)) < 0 || (k = set_s(r, t, RULE_SLOT, d->pci.slot)) < 0)
                return k;
        return set_function(r, t, d);
}

/* A VF as what it is: VF n of its PF. Its PF's serial would not do: the
 * ports of one card report the same one. */
static int vf_rule(const Device *d, ResourceType t, Rule *r) {
        char index[16];
        int k;

        if (d->kind != DEVICE_PCI || !d->pci.physfn || d->pci.vf_index < 0)
                return -ENOENT;
        snprintf(index, sizeof index, "%d", d->pci.vf_index);
        if ((k = set_ids(r, t, d, false)) < 0 || (k = set_s(r, t, RULE_PHYSICAL_FUNCTION, d->pci.physfn)) < 0)
                return k;
        return set_s(r, t, RULE_VF_INDEX, index);
}

static int address_rule(const Device *d, ResourceType t, Rule *r) {
        int k = set_ids(r, t, d, true);

        if (k < 0)
                return k;
        return set_s(r, t, d->kind == DEVICE_PCI ? RULE_ADDRESS : RULE_PORT_PATH, d->address);
}

/* The strongest identity the device has that makes a valid rule: a serial
 * or slot the kernel reports may still be unfit (too long, odd bytes). */
static int identity_rule(const Device *d, ResourceType t, Rule *ret) {
        static int (*const makers[])(const Device *, ResourceType, Rule *) = {
                vf_rule, serial_rule, slot_rule, address_rule,
        };
        int k = -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(makers); i++) {
                Rule r = {};

                k = makers[i](d, t, &r);
                if (k >= 0) {
                        *ret = r;
                        return 0;
                }
                rule_done(&r);
                if (k == -ENOMEM)
                        return k;
        }
        return k;
}

int resource_make_rules(const Device *const *devices, size_t n, ResourceType *ret_type,
                        Rule **ret_rules, size_t *ret_n_rules, char **ret_error) {
        ResourceType type = _RESOURCE_TYPE_INVALID;
        Rule *rules;
        size_t n_rules = 0;
        int k;

        k = make_type(devices, n, &type, ret_error);
        if (k < 0)
                return k;
        rules = calloc(n, sizeof(Rule));
        if (!rules)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                Rule r;
                bool dup = false;

                k = identity_rule(devices[i], type, &r);
                if (k < 0) {
                        rules_free(rules, n_rules);
                        return k == -ENOMEM ? k : error_setf(ret_error, "No rule can describe %s.",
                                                             devices[i]->address);
                }
                for (size_t j = 0; j < n_rules && !dup; j++)
                        dup = rule_equal(rules + j, &r);
                if (dup)
                        rule_done(&r);
                else
                        rules[n_rules++] = r;
        }
        *ret_type = type;
        *ret_rules = rules;
        *ret_n_rules = n_rules;
        return 0;
}

static bool device_listed(const Device *const *l, size_t n, const Device *d) {
        for (size_t i = 0; i < n; i++)
                if (streq(l[i]->address, d->address))
                        return true;
        return false;
}

int resource_companions(const Inventory *inv, const Device *const *devices, size_t n,
                        const Device ***ret, size_t *ret_n) {
        const Device **l = NULL;
        size_t n_l = 0;

        for (size_t i = 0; i < n; i++) {
                const IommuGroup *g = devices[i]->kind == DEVICE_PCI ?
                        inventory_group(inv, devices[i]->iommu_group) : NULL;

                for (size_t j = 0; g && j < g->n_members; j++) {
                        const Device *m = g->members[j], **t;

                        if (device_is_bridge(m) || device_listed(devices, n, m) || device_listed(l, n_l, m))
                                continue;
                        t = realloc(l, (n_l + 1) * sizeof(Device *));
                        if (!t) {
                                free(l);
                                return -ENOMEM;
                        }
                        l = t;
                        l[n_l++] = m;
                }
        }
        if (l)
                qsort(l, n_l, sizeof(Device *), device_address_compare);
        *ret = l;
        *ret_n = n_l;
        return 0;
}

/* The functions of one PCI card share its serial: a serial names a device
 * only together with the function number. */
static bool same_function(const Device *d, const char *address) {
        return d->kind != DEVICE_PCI || streq_ptr(strrchr(d->address, '.'), strrchr(address, '.'));
}

static int known_append(ResourceGroup *g, const char *serial, const char *address) {
        _cleanup_free_ char *s = strdup(serial), *a = strdup(address);
        char **t;

        if (!s || !a)
                return -ENOMEM;
        t = realloc(g->known_serials, (g->n_known + 1) * sizeof(char *));
        if (!t)
                return -ENOMEM;
        g->known_serials = t;
        t = realloc(g->known_addresses, (g->n_known + 1) * sizeof(char *));
        if (!t)
                return -ENOMEM;
        g->known_addresses = t;
        g->known_serials[g->n_known] = TAKE_PTR(s);
        g->known_addresses[g->n_known] = TAKE_PTR(a);
        g->n_known++;
        return 0;
}

/* Returns 1 and the old address when the device moved, 0 otherwise. */
int resource_group_note_member(ResourceGroup *g, const Device *d, char **ret_old_address) {
        if (ret_old_address)
                *ret_old_address = NULL;
        /* A VF's serial is its PF's, shared by all its VFs. */
        if (!d->serial || (d->kind == DEVICE_PCI && d->pci.physfn))
                return 0;

        for (size_t i = 0; i < g->n_known; i++) {
                char *a;

                if (!streq(g->known_serials[i], d->serial) || !same_function(d, g->known_addresses[i]))
                        continue;
                if (streq(g->known_addresses[i], d->address))
                        return 0;
                a = strdup(d->address);
                if (!a)
                        return -ENOMEM;
                if (ret_old_address)
                        *ret_old_address = g->known_addresses[i];
                else
                        free(g->known_addresses[i]);
                g->known_addresses[i] = a;
                return 1;
        }
        return known_append(g, d->serial, d->address);
}
