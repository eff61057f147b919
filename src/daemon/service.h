/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "model/device.h"
#include "model/inventory.h"
#include "model/mdev.h"
#include "model/plan.h"
#include "model/resource.h"
#include "model/vf.h"

/* The service API of the daemon core: what a front end (src/bus) reads,
 * asks for and hears about. The core knows nothing of D-Bus: it speaks of
 * devices, IOMMU groups and resource groups; the front end names them
 * (object paths), signals them and maps errors to names.
 *
 * Queries: the Daemon's model fields (inventory, resources, prepared,
 * reboot, converged, converge_problems, iommu_*) are read directly and only
 * between iterations of the loop; the front end never changes a device.
 *
 * Notifications: the front end registers one DaemonListener. Calls come
 * during an iteration of the loop as the model changes; `flush` ends a
 * burst (the front end sends what it queued). */

typedef struct Daemon Daemon;

/* IOMMU group fields, for iommu_group_changed. */
enum {
        GROUP_FIELD_DEVICES   = 1u << 0,
        GROUP_FIELD_BLOCKERS  = 1u << 1,
        GROUP_FIELD_VIABLE    = 1u << 2,
        GROUP_FIELD_VFIO      = 1u << 3,  /* VfioDevice: a member's driver changed */
        GROUP_FIELD_VIABILITY = GROUP_FIELD_BLOCKERS | GROUP_FIELD_VIABLE,
};

/* Resource group fields, for resource_group_changed. */
enum {
        RG_FIELD_NAME        = 1u << 0,
        RG_FIELD_DESCRIPTION = 1u << 1,
        RG_FIELD_CLASS       = 1u << 2,
        RG_FIELD_RULES       = 1u << 3,
        RG_FIELD_DEVICES     = 1u << 4,  /* Devices, Total, Available */
        RG_FIELD_RETURN_TO_HOST = 1u << 5,
        RG_FIELD_COUNTS      = 1u << 6,  /* Available, Claimed: a claim came or went */
};

/* Service-wide state, for manager_changed. */
enum {
        MANAGER_FIELD_REBOOT    = 1u << 0,  /* RebootRequired, RebootReasons */
        MANAGER_FIELD_CONVERGED = 1u << 1,  /* Converged, ConvergeProblems */
        MANAGER_FIELD_CRITICAL  = 1u << 2,  /* the set of critical devices */
};

/* Reboot reasons name a device by its address, or the whole host. */
#define REBOOT_SUBJECT_HOST "host"

typedef struct DaemonListener {
        void (*device_added)(void *userdata, const Device *dev);
        /* dev is the last reading, freed after the call. */
        void (*device_removed)(void *userdata, const Device *dev);
        /* fields: DEVICE_FIELD_* bits. */
        void (*device_changed)(void *userdata, const Device *dev, unsigned fields);
        /* End of a burst: of the `known` fields announced for dev in it,
         * only `actual` differ from before the burst (A→B→A is no change). */
        void (*device_settled)(void *userdata, const Device *dev, unsigned known, unsigned actual);
        /* A member with a serial of a resource group showed up elsewhere. */
        void (*device_moved)(void *userdata, const ResourceGroup *g, const char *serial, const char *old_address,
                             const char *new_address);
        void (*iommu_group_added)(void *userdata, const IommuGroup *g);
        void (*iommu_group_removed)(void *userdata, unsigned number);
        /* fields: GROUP_FIELD_* bits. */
        void (*iommu_group_changed)(void *userdata, const IommuGroup *g, unsigned fields);
        void (*iommu_group_settled)(void *userdata, const IommuGroup *g, unsigned known, unsigned actual);
        /* fields: RG_FIELD_* bits. */
        void (*resource_group_changed)(void *userdata, const ResourceGroup *g, unsigned fields);
        /* fields: MANAGER_FIELD_* bits. */
        void (*manager_changed)(void *userdata, unsigned fields);
        /* A mediated device appeared / is gone (m freed after the call). */
        void (*mdev_added)(void *userdata, const Mdev *m);
        void (*mdev_removed)(void *userdata, const Mdev *m);
        /* Its Active, IommuGroup or Source changed (an mdevctl definition
         * started or stopped, or imported). */
        void (*mdev_changed)(void *userdata, const Mdev *m);
        /* A parent's types or their available instances changed. */
        void (*mdev_parent_changed)(void *userdata, const MdevParent *p);
        /* A device that stays became a parent (an SR-IOV GPU whose VFs now
         * offer vGPU types), or stopped being one. */
        void (*mdev_parent_added)(void *userdata, const MdevParent *p);
        void (*mdev_parent_removed)(void *userdata, const char *address);
        /* The burst is over. */
        void (*flush)(void *userdata);
} DaemonListener;

void daemon_set_listener(Daemon *d, const DaemonListener *listener, void *userdata);

/* Change requests. A change is carried out step by step on the event
 * loop (see change.c): each step advances on uevents and on the completion
 * of its kernel writes, with a timer per wait. New kinds of change (claims,
 * VF counts, mdevs) are new ChangeKinds with their own steps. */
typedef enum ChangeKind {
        CHANGE_PREPARE,         /* plan steps to vfio-pci; recorded as prepared */
        CHANGE_RELEASE,         /* plan steps back to the host driver; records dropped */
        CHANGE_CONVERGE,        /* start-up: recorded devices brought in line, step by step */
        CHANGE_RECONCILE,       /* a device a late kernel reaction left astray, back where it belongs */
        CHANGE_SRIOV_NUMVFS,    /* a PF's VF count, through 0; see daemon_sriov_set_num_vfs() */
        CHANGE_MDEV_CREATE,     /* an mdev instance written to create, its add uevent awaited (mdev.c) */
        CHANGE_MDEV_REMOVE,     /* an mdev instance written to remove, its remove uevent awaited */
        CHANGE_USB_DETACH,      /* USB interfaces unbound from their drivers; see daemon_usb_change_start() */
        CHANGE_USB_ATTACH,      /* USB interfaces probed back to the drivers recorded */
        _CHANGE_KIND_MAX,
} ChangeKind;

/* r: 0 when every step was carried out; -EIO when one failed and every
 * step was undone, error naming the step; another -errno when it could
 * not start. plan is the change's own, valid during the call. */
typedef void (*ChangeDone)(void *userdata, const Plan *plan, int r, const char *error);

/* -EBUSY, with *ret_error naming the holding change, when a device of the
 * plan (or one of devs) is in the hands of a change in flight; else 0. */
int daemon_change_check_busy(Daemon *d, const Plan *plan, const Device *const *devs, size_t n, char **ret_error);

/* Records the intent durably, then starts carrying the plan out (taken
 * over: *plan is emptied). requester names who asked (a bus name). done
 * is called once, from the event loop, never from within this call. On
 * failure to start (-EBUSY, -EIO with *ret_error) nothing was done. */
int daemon_change_start(Daemon *d, ChangeKind kind, Plan *plan, const char *requester, ChangeDone done,
                        void *userdata, char **ret_error);

/* Sets the number of VFs of pf (through 0 when changing between non-zero
 * counts, as the kernel wants); autoprobe < 0 leaves sriov_drivers_autoprobe
 * alone, else writes it first. done is called, from the loop, once the VF
 * devices exist (or are gone): its plan has one step, pf from the old
 * count to the new one. Errors of the kernel write come as r: -ENOMEM or
 * -ERANGE (no bus numbers or space for the VFs; a reboot reason suggests
 * pci=realloc), -ETIMEDOUT, else -EIO; error says what happened. The
 * caller checked the request (count ≤ TotalVfs, no VF in use). */
int daemon_sriov_set_num_vfs(Daemon *d, const Device *pf, unsigned count, int autoprobe, const char *requester,
                             ChangeDone done, void *userdata, char **ret_error);

/* SR-IOV VF settings (sriov-vf.c). Applied at once through the PF's
 * network interface: NetworkManager's sriov setting of the PF's connection
 * when NetworkManager manages it, else rtnetlink (IFLA_VF_*). s is checked
 * first (vf_settings_validate, the VF index below the PF's NumVfs); nothing
 * is written when it is refused. persist stores the settings by PF
 * identity (merged into what is stored for that VF): they are reapplied at
 * start-up after the VF count, before bindings and claims. Errors, each
 * with *ret_error: -EINVAL (bad settings, nothing to set), -ENODEV (not a
 * PF / not a VF of a known PF), -EOPNOTSUPP (neither rtnetlink nor
 * NetworkManager can reach the VFs: no netdev, or the driver lacks the
 * setting), -EBUSY (a change holds the PF), -EIO (refused or failed). */
int daemon_sriov_set_vf_config(Daemon *d, const Device *pf, const VfSettings *s, bool persist, char **ret_error);
/* The same for the VF at vf_address (its own PCI address), through its PF;
 * s->index is ignored (the VF's own index is used). */
int daemon_sriov_apply_vf(Daemon *d, const char *vf_address, const VfSettings *s, bool persist, char **ret_error);
/* Puts back what is stored for the VF (claim release): the stored MAC, else
 * none (cleared), the stored VLAN/QoS else 0, trust as stored else off, and
 * the other stored fields. Not persisted. 0, or -errno (logged). */
int daemon_sriov_restore_vf(Daemon *d, const char *vf_address);
/* One VfSettings per VF of pf (index 0 … NumVfs-1): the kernel's values,
 * completed with the stored ones where the kernel tells nothing. */
int daemon_sriov_vf_config(Daemon *d, const Device *pf, VfSettings **ret, size_t *ret_n);

/* USB devices (usb-prepare.c). Prepare of USB devices detaches their
 * interfaces from the host's drivers; Release probes them back. The plan's
 * steps name interfaces ("2-1:1.0"). *ret_records: the records change even
 * when the plan is empty (a device without bound interfaces is prepared
 * too). -EINVAL with *ret_error for a hub or a PCI device among devs. */
int daemon_usb_plan(Daemon *d, const Device *const *devs, size_t n, bool prepare, Plan *ret, bool *ret_records,
                    char **ret_error);
/* Records (Prepare) durably and carries the plan out as daemon_change_start
 * does; the records of a Prepare that failed are dropped, those of a
 * Release that succeeded too. */
int daemon_usb_change_start(Daemon *d, const Device *const *devs, size_t n, bool prepare, Plan *plan,
                            const char *requester, ChangeDone done, void *userdata, char **ret_error);
bool daemon_usb_is_prepared(Daemon *d, const char *address);
/* Drops the record of a prepared USB device that is not present (its
 * claim was released meanwhile): 0 also when there is none (usb-claim.c). */
int daemon_usb_forget(Daemon *d, const char *address);

/* Writes groups to the store; 0 once durable. */
int daemon_save(Daemon *d);
/* Recomputes every device's resource group after groups or rules changed. */
void daemon_update_memberships(Daemon *d);
/* Drops references to a group that is being deleted. */
void daemon_forget_group(Daemon *d, const ResourceGroup *g);
/* Notifications queued now end with a flush at the end of this iteration. */
void daemon_schedule_flush(Daemon *d);

/* Mediated devices (mdev.c). The Daemon's `mdevs` set is read like the
 * inventory. r: 0 once the kernel's event came; -ETIMEDOUT when it did not
 * within the bind timeout; error says why. */
typedef void (*MdevDone)(void *userdata, const char *uuid, int r, const char *error);

/* Checks, writes <parent>/mdev_supported_types/<type>/create and waits for
 * the instance. uuid must be valid and lower case. Fails before writing
 * anything: -ENODEV (no such parent), -ENOENT (no such type), -EEXIST
 * (uuid taken), -ENOSPC (no instance left), -EBUSY (a change on that uuid
 * in flight), -EIO (the write was refused), each with *ret_error. */
int daemon_mdev_create(Daemon *d, const char *parent, const char *type, const char *uuid, const char *requester,
                       MdevDone done, void *userdata, char **ret_error);
/* daemon_mdev_create for a claim: the record names the claim (see
 * daemon_vgpu_release). */
int daemon_mdev_create_claimed(Daemon *d, const char *parent, const char *type, const char *uuid,
                               const char *requester, const char *claim, MdevDone done, void *userdata,
                               char **ret_error);
/* NVIDIA vGPU on an SR-IOV GPU's VFs: sets the type on vf (NULL: the
 * first free VF that lists it) of the PF pf and waits until the driver
 * shows it; the instance's key (see mdev_key) is the VF's address. claim
 * (may be NULL) is recorded as the claim that made it. Errors as
 * daemon_mdev_create; -ENOSPC when no free VF lists the type now. */
int daemon_vgpu_create(Daemon *d, const char *pf, const char *type, const char *vf, const char *requester,
                       const char *claim, MdevDone done, void *userdata, char **ret_error);
/* vgpu resource groups (vgpu.c). Claims on one group are carried out one
 * at a time, in the order asked. A claim of count instances of type takes
 * the free instances the group offers then (model/vgpu.h), and creates
 * the rest one after the other, each on the first parent (by address) the
 * group takes that has room then (a parent whose room turns out to be
 * gone, as an NVIDIA GPU's VFs may show more than the GPU holds, is
 * skipped), each recorded as the claim's; then done gets every key, in
 * order (NULL-terminated, the callee's). All or nothing: when too few are
 * free or a create fails, those made are removed again before done gets
 * r < 0 (-ENOSPC: not enough room, else -EIO) and error. */
typedef void (*VgpuClaimDone)(void *userdata, int r, const char *error, char *const *keys);
int daemon_vgpu_claim(Daemon *d, const char *group_id, const char *type, unsigned count, const char *claim,
                      const char *requester, VgpuClaimDone done, void *userdata);
/* Removes the instances recorded as made by claim; done (may be NULL)
 * once all are gone or failed. Returns how many it started. */
int daemon_vgpu_release(Daemon *d, const char *claim, void (*done)(void *userdata), void *userdata);
/* Takes an mdevctl definition into the store: from now on hostdev keeps
 * it (Source "hostdev"); one not started is created as at start-up.
 * -ENOENT, -EALREADY (not an mdevctl definition), -EIO. */
int daemon_mdev_import(Daemon *d, const char *uuid, char **ret_error);
/* Writes remove (a vGPU on a VF: type 0) and waits until it is gone:
 * -ENOENT, -EBUSY (a change in flight, or claimed), -EPERM (not ours: an
 * mdevctl definition), -EIO. */
int daemon_mdev_remove(Daemon *d, const char *uuid, const char *requester, MdevDone done, void *userdata,
                       char **ret_error);
