/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "kernel/critical.h"
#include "kernel/kernel.h"
#include "kernel/monitor.h"
#include "model/claim.h"
#include "model/inventory.h"
#include "model/plan.h"
#include "model/resource.h"
#include "model/usb-prepared.h"
#include "model/vf.h"
#include "service.h"
#include "shared/paths.h"

/* The running service: kernel → model, on one event loop; a front end
 * (src/bus) reads the model and hears of changes through the listener. */
struct Daemon {
        Paths paths;
        sd_event *event;
        /* The system bus as a client: NetworkManager's connections tell
         * which NICs the host needs. May be NULL. */
        sd_bus *system_bus;
        Kernel *kernel;
        Monitor *monitor;
        Inventory inventory;
        MdevSet mdevs;                  /* mediated devices: parents and instances (mdev.c) */
        struct MdevOp *mdev_ops;        /* creates and removes in flight */
        MdevRecordSet mdev_records;     /* the instances hostdev made, kept in the store */
        bool mdev_definitions_read;     /* mdevctl's, once at start-up */
        struct VgpuClaimOp *vgpu_claims;        /* vgpu claims being carried out (vgpu.c) */
        const DaemonListener *listener;
        void *listener_userdata;
        sd_event_source *flush_source;
        Hashmap *dirty_pfs;     /* PF address → itself (owned), re-read at flush */
        /* What clients last heard, for the objects changed in this batch:
         * address → Device as it was, group number → blockers text. */
        Hashmap *baselines;
        Hashmap *group_baselines;

        bool iommu_enabled;
        char *iommu_message;

        ResourceSet resources;
        PreparedSet prepared;
        UsbPreparedSet usb_prepared;    /* USB devices with detached interfaces (usb-prepare.c) */
        struct UsbChange *usb_changes;  /* their Prepares and Releases in flight */
        SriovConfigSet sriov;           /* stored VF counts and settings (sriov.c) */
        unsigned sriov_reapplying;      /* start-up: VF counts still on their way */
        char **sriov_vf_problems;       /* address, problem: VF settings start-up could not reapply */
        ClaimSet claims;        /* consumers' claims on resource group members */
        RebootState reboot;
        char *boot_id;
        bool converged;
        bool converge_dirty;            /* records changed while converging */
        char **converge_problems;       /* address, problem, … */
        uint64_t bind_timeout_usec;
        /* The change engine (change.c). */
        struct Change *changes;         /* in flight, newest first */
        Hashmap *busy;                  /* address → the Change holding it */
        Hashmap *watches;               /* address → Watch: a late kernel reaction may come */
        /* Start-up is done (converged) once ready_done. */
        bool ready_done;
        void (*ready)(void *userdata);
        void *ready_userdata;
        struct Store *store;
        bool store_dirty;       /* membership notes to write at the next flush */
        bool devices_changed;   /* since the last flush: who is critical may have changed */
        CriticalWatch *critical_watch;
        sd_event_source *critical_source;       /* recompute once the watch saw a change */
        CriticalHit *critical_hits;             /* what the kernel said last */
        size_t n_critical_hits;
};

/* Tells the listener, if any, of a change. */
#define NOTIFY(d, cb, ...)                                                               \
        do {                                                                             \
                if ((d)->listener && (d)->listener->cb)                                  \
                        (d)->listener->cb((d)->listener_userdata, __VA_ARGS__);          \
        } while (0)
#define NOTIFY0(d, cb)                                                                   \
        do {                                                                             \
                if ((d)->listener && (d)->listener->cb)                                  \
                        (d)->listener->cb((d)->listener_userdata);                       \
        } while (0)

int daemon_new(Daemon **ret);
Daemon *daemon_free(Daemon *d);
static inline void daemon_freep(Daemon **d) {
        daemon_free(*d);
}

/* Opens the monitor, reads the host and the store, starts converging.
 * system_bus (may be NULL) is kept for NetworkManager queries. ready is
 * called from the loop once the recorded devices were brought in line:
 * then a front end may publish. Nothing is notified until a listener is set. */
int daemon_start(Daemon *d, sd_bus *system_bus, void (*ready)(void *userdata), void *userdata);
int daemon_run(Daemon *d);

/* Brings the kernel in line with the recorded prepared devices (start-up),
 * through the change engine; calls d->ready when done. */
int daemon_converge(Daemon *d);
/* A step of a converge change finished: r < 0 with error when it failed
 * (and was undone). */
void daemon_converge_step_done(Daemon *d, const PlanStep *step, int r, const char *error, bool stuck);
/* Bookkeeping once the converge change is over. */
void daemon_converge_done(Daemon *d);

/* Start-up (sriov.c): brings each stored PF to its VF count, then
 * converges the bindings (daemon_converge). */
int daemon_sriov_reapply(Daemon *d);
/* Records a PF's VF count (and sriov_drivers_autoprobe, when >= 0) as the
 * one to reapply at start-up; a count of 0 with nothing else stored drops
 * the record. Saved at once. */
int daemon_sriov_record(Daemon *d, const Device *pf, unsigned count, int autoprobe);
/* The PF a stored record is about (by serial and function, else address). */
Device *daemon_sriov_locate_pf(Daemon *d, const SriovConfig *c);
/* Start-up, once the counts are there (sriov-vf.c): the stored VF settings
 * the kernel does not have yet are applied; failures become problems. */
void daemon_sriov_reapply_vf_settings(Daemon *d);
/* The MAC and VLAN of sriov-nic claims' VFs, set again where the VF lost
 * them (a reboot); problems go to ConvergeProblems (claim-vf.c). */
void daemon_claims_reapply_vf_settings(Daemon *d);
/* Those problems, appended as address, problem. */
int daemon_sriov_vf_problems(Daemon *d, char ***problems);
/* A claim let its devices go: each VF gets its stored settings back. */
void daemon_sriov_claim_released(Daemon *d, const Claim *c);
/* The stored VF counts the kernel does not have now, as address, problem. */
int daemon_sriov_converge_problems(Daemon *d, char ***problems);
/* Adds a start-up problem for Converged/ConvergeProblems. */
int daemon_converge_problem(Daemon *d, const char *address, const char *problem);

/* The change engine (change.c). */
int change_record_intent(Daemon *d, const Plan *plan, bool prepare, PreparedSet *ret_saved);
int change_plan_add(Plan *p, const char *address, const char *from, const char *to, const char *reason);
/* A uevent for address: changes and watches waiting on it look again. */
void changes_on_uevent(Daemon *d, const char *address);
/* Frees every change (without calling back) and watch: exit. */
void changes_free_all(Daemon *d);
/* What a stuck driver means for the admin, and what clears it. */
char *daemon_stuck_reason(Daemon *d, const char *address, const char *error);
/* Recomputes Converged/ConvergeProblems from the records and the kernel. */
void daemon_update_converged(Daemon *d);
/* Re-reads a PF's NumVfs and VF list, and its VFs' indexes. */
void daemon_refresh_pf(Daemon *d, const char *address);
/* A VF count change holds the PF. */
bool changes_vf_count_in_flight(Daemon *d, const char *pf);
/* Re-reads a device after we changed it, so its properties are current. */
void daemon_refresh_device(Daemon *d, const char *address);
/* Adds a reboot reason (persisted) and signals it. */
void daemon_add_reboot_reason(Daemon *d, const char *subject, const char *reason);

/* USB devices (usb-prepare.c). */
/* An interface ("2-1:1.0") came, went or changed drivers. */
void daemon_usb_on_interface_uevent(Daemon *d, UeventAction action, const char *syspath);
/* Start-up: recorded devices detached again. */
int daemon_usb_converge(Daemon *d);
/* A device was added: prepared again if a record names it. */
void daemon_usb_device_added(Daemon *d, Device *dev);
/* Exit: what is still in flight is dropped. */
void daemon_usb_done(Daemon *d);

/* Mediated devices (mdev.c). */
int daemon_mdev_init(Daemon *d);
void daemon_mdev_done(Daemon *d);
/* Parents and instances as the kernel has them now (start-up). */
int daemon_mdev_enumerate(Daemon *d);
/* A uevent of the mdev bus. */
void daemon_mdev_on_uevent(Daemon *d, UeventAction action, const char *syspath);
/* The device at address may have become, stayed or stopped being a parent. */
void daemon_mdev_parent_update(Daemon *d, const char *address);
/* A uevent of a device on no bus hostdevd follows (mtty, ccw, ap): it
 * may be an mdev parent that came or went. */
void daemon_mdev_on_other_uevent(Daemon *d, const char *syspath);
/* Start-up: recorded instances that are missing are created again. */
void daemon_mdev_recreate(Daemon *d);
/* Frees the vgpu claims in flight (exit). */
void daemon_vgpu_done(Daemon *d);
/* Recorded instances that are missing (none in flight), as address,
 * problem pairs appended to *problems; how many. */
int daemon_mdev_converge_problems(Daemon *d, char ***problems);
