/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "claim.h"
#include "inventory.h"
#include "rules.h"
#include "vf.h"

/* SR-IOV NIC pools: resource groups of type sriov-nic, whose members are
 * VFs, and what a claim on them carries (a MAC and VLAN per VF). Pure C. */

/* VF indexes are below TotalVFs, a 16-bit field of the SR-IOV capability. */
#define VF_INDEX_MAX 65535

/* "0-7,12": indexes and inclusive ranges, comma-separated, none reversed
 * ("7-3") or overlapping another. Returns the canonical form (ranges in
 * ascending order, "0-7,12"); -EINVAL with a sentence in *ret_error. */
int vf_ranges_parse(const char *s, char **ret, char **ret_error);
/* Whether a canonical (or any valid) range list holds index. */
bool vf_ranges_contain(const char *ranges, unsigned index);

/* link-type rule values: "ethernet" (ARPHRD_ETHER), "infiniband"
 * (ARPHRD_INFINIBAND); -EINVAL for anything else. */
int link_type_from_string(const char *s);
const char *link_type_to_string(int arphrd);

/* Rules of a sriov-nic group against the host now: physical-function must
 * name an SR-IOV physical function the host has, and the PF fields of one
 * rule must not contradict what that PF is (pf-serial, pf-netdev,
 * link-type, vf-index past its TotalVFs): such a rule could never match.
 * -EINVAL with "Rule N: …" in *ret_error. Other group types: 0. */
int sriov_rules_check(const Inventory *inv, ResourceType type, const Rule *rules, size_t n_rules,
                      char **ret_error);

/* Why a VF may not go away (a SetNumVfs shrinking past it): it is in a
 * claim (named), or prepared for passthrough. NULL when it may; else a
 * sentence to follow "…, but it " (caller frees). */
char *sriov_vf_blocker(const ClaimSet *claims, bool prepared, const char *vf_address);

/* The VF settings a claim carries: one entry per VF it set something on. */
typedef struct ClaimVf {
        char *address;
        bool has_mac;
        uint8_t mac[6];
        int vlan;               /* -1 unset, 0 … VF_VLAN_MAX */
} ClaimVf;

typedef struct ClaimVfList {
        ClaimVf *items;
        size_t n_items;
} ClaimVfList;

void claim_vf_list_free(ClaimVfList *l);
const ClaimVf *claim_vf_list_find(const ClaimVfList *l, const char *address);
/* Adds (or replaces) the settings of one VF; nothing happens when neither
 * a MAC nor a VLAN is given. */
int claim_vf_list_set(ClaimVfList *l, const char *address, const uint8_t *mac, int vlan);
/* The settings as the VF-settings engine takes them (index: the VF's). */
void claim_vf_to_settings(const ClaimVf *v, unsigned index, VfSettings *ret);

/* A claim's VF as the store keeps it: "ADDRESS,MAC,VLAN", MAC and VLAN
 * empty when not set. claim_vf_from_string adds one to c->vf_settings:
 * the address must be one of c's devices, the values valid, each VF once;
 * -EINVAL with a reason otherwise. */
char *claim_vf_to_string(const ClaimVf *v);
int claim_vf_from_string(Claim *c, const char *s, char **ret_error);

/* One member's requested settings, as the Claim options give them. */
typedef struct ClaimVfRequest {
        bool has_mac;
        uint8_t mac[6];
        int vlan;               /* -1 unset */
} ClaimVfRequest;

/* Parses "mac" (unicast, not all zero) and checks "vlan" (0 … 4094; a
 * value above UINT32 range is the caller's: pass it as is). -EINVAL with
 * a sentence; mac NULL and vlan < 0 leave that part unset. */
int claim_vf_request_parse(const char *mac, int64_t vlan, ClaimVfRequest *ret, char **ret_error);

typedef struct ClaimVfRequests {
        ClaimVfRequest *items;
        size_t n_items;
} ClaimVfRequests;

void claim_vf_requests_done(ClaimVfRequests *l);
int claim_vf_requests_append(ClaimVfRequests *l, const ClaimVfRequest *q);

/* Binds requests to the VFs a claim picked: requests[i] to the i-th
 * member, each member being one VF (sriov-nic members are VFs in IOMMU
 * groups of their own; a companion is never a VF to set). n_requests
 * must equal the number of members; -EINVAL otherwise, or when a member's
 * own device is no VF. Two VFs with one MAC are refused too. */
int claim_vf_bind(const Claim *c, const Inventory *inv, const ClaimVfRequest *requests, size_t n_requests,
                  ClaimVfList *ret, char **ret_error);
