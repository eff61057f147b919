/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "inventory.h"
#include "rules.h"

#define RESOURCE_NAME_MAX 128
#define RESOURCE_DESCRIPTION_MAX 1024
#define RESOURCE_ID_MAX 64

typedef struct ResourceGroup {
        char *id;               /* stable, "g" + 32 hex digits: its object path's last element */
        char *name;             /* unique among groups */
        char *description;
        char *class_hint;       /* icon hint only, e.g. "gpu", "nic", "usb" */
        ResourceType type;
        Rule *rules;
        size_t n_rules;
        /* Serial → last address of members that have a serial, to tell a
         * moved device (same serial, new address). */
        char **known_serials;
        char **known_addresses;
        size_t n_known;
        /* A tenant's group: devices a tenant took from the parent group and
         * owns exclusively. Both "" for an ordinary group. */
        char *tenant;
        char *parent;           /* the parent group's id */
        /* ReturnToHost false: Claim.Release leaves prepared devices on
         * vfio. Stored inverted so that a new group defaults to true. */
        bool keep_prepared;
} ResourceGroup;

ResourceGroup *resource_group_new(const char *id, const char *name, ResourceType type);
ResourceGroup *resource_group_free(ResourceGroup *g);
static inline void resource_group_freep(ResourceGroup **g) {
        resource_group_free(*g);
}
/* Makes g the tenant's group under the parent (copies both strings). */
int resource_group_set_tenant(ResourceGroup *g, const char *tenant, const char *parent_id);
static inline bool resource_group_is_tenant(const ResourceGroup *g) {
        return g->parent && g->parent[0];
}

/* Names: 1..RESOURCE_NAME_MAX bytes of printable UTF-8 without control
 * characters; descriptions may be empty. -EINVAL with a message. */
int resource_name_validate(const char *name, char **ret_error);
int resource_description_validate(const char *s, char **ret_error);
/* Ids: 1..RESOURCE_ID_MAX lowercase letters and digits (made by the
 * daemon; older stores hold ids without the leading "g"). */
int resource_id_validate(const char *id, char **ret_error);

/* A group accepts a device when the type allows it and any rule matches. */
bool resource_group_accepts(const ResourceGroup *g, const Device *d);

/* The set of groups, in creation order: a device belongs to the first
 * group that accepts it. Tenant groups take no part in that: a device
 * belongs to the parent, and the tenant group holds it on top. */
typedef struct ResourceSet {
        ResourceGroup **groups;
        size_t n_groups;
} ResourceSet;

void resource_set_done(ResourceSet *s);
ResourceGroup *resource_set_find_id(const ResourceSet *s, const char *id);
ResourceGroup *resource_set_find_name(const ResourceSet *s, const char *name);
/* Takes ownership on success; -EEXIST when the id or name is taken. */
int resource_set_add(ResourceSet *s, ResourceGroup *g);
ResourceGroup *resource_set_take(ResourceSet *s, const char *id);
/* Puts a group back at a position (undoing a take). */
int resource_set_insert(ResourceSet *s, ResourceGroup *g, size_t position);
ResourceGroup *resource_set_owner(const ResourceSet *s, const Device *d);
/* The group that hands the device out: the first tenant group of its owner
 * that accepts it, else the owner. */
ResourceGroup *resource_set_holder(const ResourceSet *s, const Device *d);

/* Would a group with these rules (and type) take a device that another
 * group holds now? -EBUSY with the first such device and its group;
 * "self" (may be NULL) is the group being changed and does not count. */
int resource_set_check_conflicts(const ResourceSet *s, const Inventory *inv, const ResourceGroup *self,
                                 ResourceType type, const Rule *rules, size_t n_rules,
                                 const Device **ret_device, const ResourceGroup **ret_owner);

/* Devices of a group, sorted by address (caller frees the array). A
 * parent lists the devices its tenant groups hold too; a tenant group
 * lists those it holds. */
int resource_group_devices(const ResourceSet *s, const Inventory *inv, const ResourceGroup *g,
                           const Device ***ret, size_t *ret_n);

/* The rules of g (numbered from 1) that no device of the host matches
 * (of a kind the group's type accepts), in order; caller frees *ret. */
int resource_group_unmatched_rules(const ResourceGroup *g, const Inventory *inv, unsigned **ret, size_t *ret_n);

/* "Make resource": rules that find these devices again after their
 * address changes: a serial rule where the device has a serial
 * (vendor-id + product-id + serial, and for PCI the function number as
 * address "*.N": the functions of a card share its serial), else
 * vendor-id + product-id (+ subsystem ids) + slot + "*.N", or + address
 * (PCI) / port-path (USB) when the device sits in no named slot. VFs get
 * no serial rule (a VF may report its PF's serial). The group type
 * follows from the devices (usb, sriov-nic for VFs, else pci); mixing
 * kinds or selecting a bridge is -EINVAL with a message. Duplicate rules
 * are merged. */
int resource_make_rules(const Device *const *devices, size_t n, ResourceType *ret_type,
                        Rule **ret_rules, size_t *ret_n_rules, char **ret_error);

/* Companions: the other non-bridge members of the IOMMU groups of the
 * given PCI devices, not among them, sorted by address. */
int resource_companions(const Inventory *inv, const Device *const *devices, size_t n,
                        const Device ***ret, size_t *ret_n);

/* Record the current members' serials (call after membership changes);
 * returns the old address when a member with this serial was known at
 * another address — the device moved (returns 1; 0 otherwise). */
int resource_group_note_member(ResourceGroup *g, const Device *d, char **ret_old_address);
