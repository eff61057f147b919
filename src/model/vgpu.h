/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "claim.h"
#include "mdev.h"
#include "resource.h"

/* Resource groups of type vgpu. Their members are capacity, not devices:
 * a rule names parents (by the fields of a pci rule, matched against the
 * parent device: an mdev parent, or the PF of an SR-IOV GPU with vGPU
 * VFs) and types (mdev-type: a glob on the type id, mdev-type-name: a
 * case-insensitive glob on its name). A claim of N takes N instances of
 * one type: free ones that exist (made by hostdev, claimed by nobody)
 * first, then new ones on parents with room, in address order.
 * Pure: the daemon carries the plan out. */

bool vgpu_rule_matches(const Rule *r, const Device *parent, const MdevType *t);
bool vgpu_group_takes(const ResourceGroup *g, const Device *parent, const MdevType *t);

/* What a group offers of one type. */
typedef struct VgpuOffer {
        char *type;
        char **take;            /* keys of free instances, sorted */
        char **parents;         /* one parent address per instance to create */
        unsigned n_free;        /* strv_length(take) + strv_length(parents) */
} VgpuOffer;

void vgpu_offer_done(VgpuOffer *o);

/* The offer of type (NULL: of the type with the most free instances, the
 * first by id among equals) for g: -EINVAL with a message when type is
 * given and no rule of g takes it on any parent; with no type at all the
 * offer is empty (type NULL). */
int vgpu_group_offer(const ResourceGroup *g, const Inventory *inv, const MdevSet *mdevs, const ClaimSet *claims,
                     const char *type, VgpuOffer *ret, char **ret_error);

/* Cuts the offer to count instances (free ones first): -ENOSPC with a
 * message saying how many are free when it has fewer. */
int vgpu_offer_take(VgpuOffer *o, unsigned count, char **ret_error);

/* Instances the claims on g hold. */
unsigned vgpu_group_claimed(const ClaimSet *claims, const ResourceGroup *g);
