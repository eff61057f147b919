/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "resource.h"
#include "shared/hashmap.h"

/* Claims: a consumer (a VM) takes members of a resource group; tenants:
 * members moved out of a group into a tenant's own group. Pure C: the bus
 * turns a{sv} into a ClaimRequest and the errors below into
 * org.hostdev1.Error.*; the change engine prepares what a claim selects.
 *
 * A member is a whole IOMMU group's worth: the group's devices in one
 * IOMMU group plus that IOMMU group's other non-bridge functions (its
 * companions, e.g. a GPU's audio function when the group holds only GPUs),
 * which go along and are not counted. A USB device, or a PCI function
 * without an IOMMU group, is a member of its own.
 *
 * Errors (negative errno, with a message in *ret_error):
 *   -EINVAL   bad input: consumer, count, lease, options, a device not in the group
 *   -ENOENT   a listed device does not exist
 *   -EBUSY    claimed, or held by a tenant (names the claim or the group)
 *   -EPERM    the host needs the device (critical)
 *   -ENODEV   its IOMMU group cannot go to VFIO (not viable)
 *   -ENOSPC   not enough free members (says how many are free)
 * The bus maps them to InvalidArgument, NotFound, Busy, CriticalDevice,
 * GroupNotViable and InsufficientDevices. */

#define CLAIM_CONSUMER_MAX 256
#define CLAIM_COUNT_MAX 4096
#define TENANT_NAME_MAX 128

/* Consumers and tenants: opaque ids (a VM name or UUID, a tenant name),
 * 1..max bytes of UTF-8 without control characters. */
int claim_consumer_validate(const char *consumer, char **ret_error);
int tenant_validate(const char *tenant, char **ret_error);
/* 1..CLAIM_COUNT_MAX. */
int claim_count_validate(unsigned count, char **ret_error);

typedef enum ClaimLeaseType {
        CLAIM_LEASE_NONE,       /* stays until released */
        CLAIM_LEASE_PEER,       /* until the peer (a unique bus name) leaves the bus */
        CLAIM_LEASE_PID,        /* until the process exits */
        _CLAIM_LEASE_TYPE_MAX,
} ClaimLeaseType;

typedef struct ClaimLease {
        ClaimLeaseType type;
        char *peer;             /* ":1.42" for CLAIM_LEASE_PEER, else NULL */
        pid_t pid;              /* for CLAIM_LEASE_PID, else 0 */
} ClaimLease;

void claim_lease_done(ClaimLease *l);
/* The `lease` option as a caller passes it: "peer" (tied to sender, the
 * caller's unique name) or "pid:N"; NULL or "" means none. */
int claim_lease_parse(const char *option, const char *sender, ClaimLease *ret, char **ret_error);
/* The Lease property and the stored form: "", "peer::1.42", "pid:1234";
 * claim_lease_from_string reads that form back. */
/* The `persistent` option (-1 when not given; default true) says what a
 * claim without lease does; persistent=true with a lease contradicts it,
 * and persistent=false without one would be a claim nothing releases:
 * both -EINVAL. */
int claim_persistent_check(int persistent, const ClaimLease *l, char **ret_error);
char *claim_lease_to_string(const ClaimLease *l);
int claim_lease_from_string(const char *s, ClaimLease *ret);
bool bus_unique_name_valid(const char *s);

/* One member of a claim: the addresses of its devices in address order,
 * the group's own devices and companions alike. */
typedef struct ClaimMember {
        char **addresses;       /* NULL-terminated */
        char *identity;         /* USB: how the device is found again (usb-member.h); NULL for PCI */
} ClaimMember;

typedef struct Claim {
        char *id;               /* [a-z][a-z0-9]*, e.g. "c" + 32 hex digits: its object path's last element */
        char *consumer;
        char *resource_group;   /* the group's id */
        ClaimMember *members;
        size_t n_members;
        uint64_t since;         /* CLOCK_REALTIME, µs */
        ClaimLease lease;
        bool prepared;          /* its devices were handed to vfio-pci for it */
        struct ClaimVfList *vf_settings;        /* sriov-nic: MAC and VLAN per VF (sriov-pool.h); NULL: none */
} Claim;

/* NULL on a malformed id (ids are the daemon's, never a user's) or ENOMEM.
 * Takes the lease's strings (it is cleared). */
Claim *claim_new(const char *id, const char *consumer, const char *resource_group, uint64_t since,
                 ClaimLease *lease);
Claim *claim_free(Claim *c);
static inline void claim_freep(Claim **c) {
        claim_free(*c);
}
bool claim_id_valid(const char *id);
/* Appends a member (addresses copied and sorted). */
int claim_add_member(Claim *c, const char *const *addresses, size_t n);
/* Every device address of the claim, in address order (NULL-terminated;
 * the strings are the claim's: free only the array). */
const char **claim_addresses(const Claim *c);
size_t claim_n_devices(const Claim *c);

/* All claims, in creation order; no device is in two claims. A claim
 * being prepared is reserved: it holds its devices (nobody else can select
 * them) but is not listed in claims until it is committed, or is cancelled
 * and holds nothing again. */
typedef struct ClaimSet {
        Claim **claims;
        size_t n_claims;
        Claim **pending;        /* reserved, in reservation order */
        size_t n_pending;
        Hashmap *by_device;     /* address → Claim, listed ones */
        Hashmap *reserved;      /* address → Claim, reserved ones (NULL until one is) */
        /* Device.resource_group is up to date (the daemon keeps it after
         * every change): member lists read it instead of testing rules. */
        bool memberships_kept;
} ClaimSet;

int claim_set_init(ClaimSet *s);
void claim_set_done(ClaimSet *s);
Claim *claim_set_find_id(const ClaimSet *s, const char *id);
/* The listed claim holding a device: what the bus shows (Device.Claim). */
Claim *claim_set_find_device(const ClaimSet *s, const char *address);
/* The claim holding a device, listed or reserved: what selection avoids. */
Claim *claim_set_find_holder(const ClaimSet *s, const char *address);
/* Takes ownership on success. -EEXIST when the id is taken, -EBUSY when a
 * device of it is in another claim (*ret_other names that claim); nothing
 * changes then. */
int claim_set_add(ClaimSet *s, Claim *c, const Claim **ret_other);
/* Removes the claim and hands it back; NULL when there is none. */
Claim *claim_set_take(ClaimSet *s, const char *id);
/* Reservation: as claim_set_add, but c only holds its devices for
 * selection (claim_set_find_holder) and counts in claim_set_of_group;
 * claim_set_find_device and claim_set_find_id do not see it. Commit lists
 * it (-ENOENT when not reserved), cancel hands it back unlisted (NULL
 * when not reserved). */
int claim_set_reserve(ClaimSet *s, Claim *c, const Claim **ret_other);
int claim_set_commit(ClaimSet *s, const char *id);
Claim *claim_set_cancel(ClaimSet *s, const char *id);
Claim *claim_set_find_reserved(const ClaimSet *s, const char *id);
/* Claims on a resource group, in creation order, then the reserved ones
 * (caller frees the array). */
int claim_set_of_group(const ClaimSet *s, const char *group_id, const Claim ***ret, size_t *ret_n);

/* Why a member cannot be claimed, in the order they are checked. */
typedef enum MemberBlock {
        MEMBER_FREE,
        MEMBER_TENANT,          /* a device of it is held by another group, a tenant's */
        MEMBER_CLAIMED,         /* a device of it is in a claim */
        MEMBER_CRITICAL,        /* the host needs a device of it */
        MEMBER_NOT_VIABLE,      /* its IOMMU group cannot go to VFIO */
        _MEMBER_BLOCK_MAX,
} MemberBlock;

/* "free", "tenant", "claimed", "critical", "not-viable". */
const char *member_block_to_string(MemberBlock b);

typedef struct Member {
        const Device **devices; /* all, in address order */
        size_t n_devices;
        const Device **own;     /* the group's devices among them, in address order */
        size_t n_own;
        int iommu_group;        /* -1 when none */
        int numa_node;          /* of own[0]; -1 when unknown */
        MemberBlock block;
        char *reason;           /* NULL when free, else a sentence naming the device */
        const ResourceGroup *tenant_group;      /* MEMBER_TENANT: the holder */
        const Claim *claim;     /* MEMBER_CLAIMED: the claim */
} Member;

/* The members of a group, in address order of own[0]. */
typedef struct MemberList {
        const ResourceGroup *group;
        Member *members;
        const Device **lists;   /* every member's own and devices, in one block */
        size_t n_members;
        size_t n_free;
} MemberList;

void member_list_done(MemberList *l);

/* Members of g and whether each is free. Not viable means VFIO cannot have
 * it even after Prepare: a PCI function without an IOMMU group, or a bridge
 * in the IOMMU group on a driver other than pcieport (Prepare leaves
 * bridges alone). What drivers the members are on now does not matter:
 * claiming prepares them. */
int resource_group_members(const ResourceSet *s, const Inventory *inv, const ClaimSet *claims,
                           const ResourceGroup *g, MemberList *ret);
/* The member a device is one of the group's own devices of; NULL if none. */
const Member *member_list_find(const MemberList *l, const Device *d);
/* How many members are blocked for a reason. */
size_t member_list_count(const MemberList *l, MemberBlock b);

/* The options of ResourceGroup.Claim and AssignToTenant. */
typedef struct ClaimRequest {
        unsigned count;
        int numa_node;                  /* -1: no preference */
        bool numa_strict;               /* only members on numa_node */
        const char *const *devices;     /* addresses naming these members exactly; NULL when not given */
        size_t n_devices;
} ClaimRequest;

#define CLAIM_REQUEST_INIT { .numa_node = -1 }

/* Picks request->count free members, all or nothing. Without devices:
 * in address order, members on numa_node first when one is given (only
 * those with numa_strict). With devices: each must be one of the group's
 * own devices (not a companion), name a free member, and name a member
 * no other listed device names; count must equal the number of members
 * named; numa_strict still applies, numa_node alone is moot. *ret holds
 * pointers into l, in address order (caller frees the array). */
int claim_select(const MemberList *l, const Inventory *inv, const ClaimRequest *request,
                 const Member ***ret, size_t *ret_n, char **ret_error);

/* ResourceGroup.Claim as one step: validate consumer and request, select
 * from g and return a new claim (not yet in the set: the caller adds it
 * once the change engine prepared it, or at once with prepare=false). */
int claim_make(const ResourceSet *s, const Inventory *inv, const ClaimSet *claims, const ResourceGroup *g,
               const char *id, const char *consumer, const ClaimRequest *request, uint64_t since,
               ClaimLease *lease, Claim **ret, char **ret_error);

/* The devices a claim holds that the inventory has, in address order
 * (caller frees the array): what the change engine prepares and releases. */
int claim_devices(const Claim *c, const Inventory *inv, const Device ***ret, size_t *ret_n);

/* Tenants. AssignToTenant: select members of parent as claim_select
 * does, make rules that pin exactly their own devices (resource_make_rules)
 * and add a group of the parent's type to the set for the tenant. The
 * parent keeps listing the devices but no longer offers them. A tenant's
 * group hands out no tenant groups of its own (-EINVAL). name: unique
 * among groups, see tenant_group_name. */
int tenant_assign(ResourceSet *s, const Inventory *inv, const ClaimSet *claims, const ResourceGroup *parent,
                  const char *tenant, const char *id, const char *name, const ClaimRequest *request,
                  ResourceGroup **ret, char **ret_error);
/* "gpus (tenant-a)", then "gpus (tenant-a) 2", … the first one free;
 * NULL on ENOMEM. Cut to RESOURCE_NAME_MAX at a character boundary. */
char *tenant_group_name(const ResourceSet *s, const ResourceGroup *parent, const char *tenant);
/* ReturnToParent: -ENOENT when there is no group id, -EINVAL when it is
 * no tenant group, -EBUSY naming the claim while a member of it is
 * claimed (from it, or a companion from another group); else takes the
 * group out of the set and returns it (the caller frees it, or puts it
 * back with resource_set_insert). */
int tenant_return(ResourceSet *s, const Inventory *inv, const ClaimSet *claims, const char *id, ResourceGroup **ret,
                  char **ret_error);
/* May g be deleted? -EBUSY naming its tenant groups, or its claims. */
int resource_group_delete_check(const ResourceSet *s, const ClaimSet *claims, const ResourceGroup *g,
                                char **ret_error);
