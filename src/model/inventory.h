/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "device.h"
#include "shared/hashmap.h"

typedef struct IommuGroup {
        unsigned number;
        Device **members;       /* sorted by address */
        size_t n_members;
} IommuGroup;

/* The kernel allocates group numbers densely from 0; a number beyond this
 * is not a real group and is ignored. */
#define IOMMU_GROUP_MAX 65535

/* All devices and IOMMU groups of the host. Pure bookkeeping: callers read
 * the kernel and report what changed; the inventory keeps indexes straight. */
typedef struct Inventory {
        Hashmap *devices;       /* address → Device */
        Device **sorted;        /* the same devices by address (address_compare) */
        size_t n_sorted_alloc;
        IommuGroup **groups;    /* by number, NULL where none */
        size_t n_groups_alloc;
        size_t n_groups;
} Inventory;

int inventory_init(Inventory *inv);
void inventory_done(Inventory *inv);

Device *inventory_get(const Inventory *inv, const char *address);
IommuGroup *inventory_group(const Inventory *inv, int number);

/* Takes ownership of d. Joins d to its IOMMU group, creating the group when
 * needed (*ret_group_created). -EEXIST when the address is taken. */
int inventory_add(Inventory *inv, Device *d, bool *ret_group_created);
/* Removes the device and hands it back; its group stays, possibly empty. */
Device *inventory_take(Inventory *inv, const char *address);
/* Drops the group when it has no members; true if it did. */
bool inventory_gc_group(Inventory *inv, unsigned number);

size_t inventory_n_devices(const Inventory *inv);
/* Every device, by address: walks that hand out sorted lists need no sort. */
Device *const *inventory_sorted(const Inventory *inv);

/* The VF's index under its PF: its position in the PF's virtfn list, -1 if
 * the PF does not list it (yet). */
int inventory_vf_index(const Inventory *inv, const Device *vf);

/* Viability: no member blocks the group. */
bool iommu_group_viable(const IommuGroup *g);
/* One line per blocking member, "\n"-joined; "" when viable. Used to tell
 * whether Viable/Blockers changed. */
char *iommu_group_blockers_text(const IommuGroup *g);
