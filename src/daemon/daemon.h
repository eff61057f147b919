/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "kernel/critical.h"
#include "kernel/kernel.h"
#include "kernel/monitor.h"
#include "model/inventory.h"
#include "model/plan.h"
#include "model/resource.h"
#include "shared/paths.h"

typedef struct Emitter Emitter;

/* The running service: kernel → model → bus, on one event loop. */
typedef struct Daemon {
        Paths paths;
        sd_event *event;
        sd_bus *bus;
        Kernel *kernel;
        Monitor *monitor;
        Inventory inventory;
        Emitter *emitter;
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
        RebootState reboot;
        char *boot_id;
        bool converged;
        char **converge_problems;       /* address, problem, … */
        uint64_t bind_timeout_usec;
        struct Store *store;
        bool store_dirty;       /* membership notes to write at the next flush */
        Hashmap *polkit_queries;        /* message → PolkitQuery */
        CriticalWatch *critical_watch;
        sd_event_source *critical_source;       /* recompute once the watch saw a change */
        CriticalHit *critical_hits;             /* what the kernel said last */
        size_t n_critical_hits;
} Daemon;

int daemon_new(Daemon **ret);
Daemon *daemon_free(Daemon *d);
static inline void daemon_freep(Daemon **d) {
        daemon_free(*d);
}

/* Open the monitor, read the host, publish it, take the bus name. */
int daemon_start(Daemon *d);
int daemon_run(Daemon *d);

/* Writes groups to the store; 0 once durable. */
int daemon_save(Daemon *d);
/* Recomputes every device's resource group after groups or rules changed. */
void daemon_update_memberships(Daemon *d);
/* Drops references to a group that is being deleted. */
void daemon_forget_group(Daemon *d, const ResourceGroup *g);
/* Signals queued by a method go out at the end of this iteration. */
void daemon_schedule_flush(Daemon *d);

/* Carries out a Prepare (prepare=true) or Release plan: records the
 * intent durably, moves the drivers, and on a failure undoes every step
 * and returns -EIO with *ret_error naming the step. A driver that does not
 * let go also adds a reboot reason. */
int daemon_apply_plan(Daemon *d, const Plan *plan, bool prepare, char **ret_error);
/* Brings the kernel in line with the recorded prepared devices (start-up). */
void daemon_converge(Daemon *d);
/* Recomputes Converged/ConvergeProblems from the records and the kernel. */
void daemon_update_converged(Daemon *d);
/* Re-reads a device after we changed it, so its properties are current. */
void daemon_refresh_device(Daemon *d, const char *address);
/* Adds a reboot reason (persisted) and signals it. */
void daemon_add_reboot_reason(Daemon *d, const char *subject, const char *reason);
