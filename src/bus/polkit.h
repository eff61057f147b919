/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "bus.h"
#include "options.h"

/* Authorization of mutating methods through polkit, asynchronously.
 *
 * One gate: the bus filter looks every call to an org.hostdev1 interface
 * (and Properties.Set) up in the tables below before any handler runs. A
 * method that is neither read-only nor guarded by an action is refused
 * there (deny by default), so a handler cannot forget to ask.
 *
 * A guarded handler validates, computes what it will change, describes it
 * as checks (one action and its details each) and calls
 * bus_verify_polkit(). The first call sends CheckAuthorization and returns
 * 0 (the handler returns 1 and sends no reply); when polkitd has answered
 * every check, the message is rewound and put back into sd-bus's read
 * queue, and the handler runs again. It recomputes its checks: when they
 * equal what polkit answered, it gets 1 (allowed) or a negative error with
 * *error set (denied); when they differ (the host changed meanwhile),
 * polkit is asked again. Handlers must therefore be safe to run twice.
 * polkitd missing, failing or not answering means denied. */

#define ACTION_MANAGE_GROUPS     "org.hostdev1.manage-resource-groups"
#define ACTION_PREPARE           "org.hostdev1.prepare-devices"
#define ACTION_OVERRIDE_CRITICAL "org.hostdev1.override-critical"
#define ACTION_CONFIGURE_SRIOV   "org.hostdev1.configure-sriov"
#define ACTION_MANAGE_MDEV       "org.hostdev1.manage-mdev"
#define ACTION_CLAIM             "org.hostdev1.claim-devices"
#define ACTION_ASSIGN_TENANT     "org.hostdev1.assign-tenant"

/* Pending checks one bus connection may have, and all connections of one
 * user together; more get Busy. */
#define POLKIT_PENDING_PER_SENDER 16
#define POLKIT_PENDING_PER_USER   32
/* Pending checks in all: stays below the bus's limit of pending replies
 * per connection (128 on the system bus), so that hostdevd answers Busy
 * instead of failing the next caller with the bus's error. */
#define POLKIT_PENDING_MAX 96
/* How often one call may be asked about again because what it asks
 * changed while polkit decided. */
#define POLKIT_ROUNDS_MAX 4
/* How long polkit may take to answer one question (the timeout sd-bus
 * gives a call); HOSTDEV_POLKIT_TIMEOUT_MSEC changes it. */
#define POLKIT_TIMEOUT_USEC (25 * 1000 * 1000ULL)

typedef struct PolkitQuery PolkitQuery;

/* What a call asks polkit, in order; every check must be granted. A check
 * with action NULL asks for the method's action from the table. */
typedef struct PolkitChecks {
        char **actions;         /* n entries, NULL = the method's action */
        char ***details;        /* n strvs: key, value, key, value… */
        size_t n;
} PolkitChecks;

void polkit_checks_done(PolkitChecks *c);
/* Appends a check; takes the details (also on failure). */
int polkit_checks_add(PolkitChecks *c, const char *action, char **details);
bool polkit_checks_equal(const PolkitChecks *a, const PolkitChecks *b);

/* Detail builders; a NULL value adds nothing, a key already there gets
 * the new value. */
int polkit_details_add(char ***details, const char *key, const char *value);
/* device, vendor-id, product-id, serial (when it has one), and
 * resource-group + resource-group-name of the group it belongs to. */
int polkit_details_for_device(char ***details, const Device *dev);
/* resource-group (id) and resource-group-name. */
int polkit_details_for_group(char ***details, const ResourceGroup *g);
/* "devices": the addresses, comma-separated, in the order given. */
int polkit_details_for_devices(char ***details, const Device *const *devs, size_t n);

/* "devices": what a group of this type with these rules would hold. */
int polkit_details_for_rules(char ***details, const Inventory *inv, ResourceType type, const Rule *rules,
                             size_t n);
/* A details list of key, value pairs (NULL values are left out). */
char **polkit_details_new(const char *key, const char *value, ...);

/* One check of the method's action per device, each with the device's
 * details, "devices" (all of them), the group's details when group is not
 * NULL (it replaces the device's own) and polkit.message; then one check
 * of org.hostdev1.override-critical per critical device when `critical`,
 * with the reasons in its message. */
int polkit_checks_for_devices(PolkitChecks *c, const Device *const *devs, size_t n, const ResourceGroup *group,
                              bool critical, const char *message);

/* Prepare/Release of USB devices (usb-prepare.c): the devices asked for. */
int bus_usb_polkit_checks(PolkitChecks *c, Bus *b, sd_bus_message *m, const Device *const *devs, size_t n,
                          bool prepare);

/* Prepare/Release: the devices the plan moves, asked about one by one
 * (override-critical too for the critical ones when prepare); on a
 * ResourceGroup object with that group's details. */
int polkit_checks_for_plan(PolkitChecks *c, Bus *b, sd_bus_message *m, const Plan *plan, bool prepare);

/* One check about an existing group: resource-group, resource-group-name,
 * the extra details (taken, may be NULL) and polkit.message. */
int polkit_checks_for_group(PolkitChecks *c, const ResourceGroup *g, char **extra, const char *message);
/* CreateResourceGroup: resource-group-name, devices (what its rules
 * take) and polkit.message; the id does not exist yet. */
int polkit_checks_for_new_group(PolkitChecks *c, const Inventory *inv, const char *name, ResourceType type,
                                const RuleList *rules);

/* no_user_interaction: the caller's auth.no_user_interaction option.
 * Interaction is allowed only when the call carries the D-Bus
 * ALLOW_INTERACTIVE_AUTHORIZATION flag and the option does not forbid it. */
int bus_verify_polkit(Bus *b, sd_bus_message *m, const PolkitChecks *checks, bool no_user_interaction,
                      sd_bus_error *error);

/* The action guarding a method, NULL when none. */
const char *bus_polkit_action(const char *interface, const char *member);

/* Methods anyone may call; every other method must have an action. */
bool bus_method_is_read_only(const char *interface, const char *member);

typedef enum PolkitGate {
        POLKIT_GATE_OPEN,       /* read-only, or not ours to decide */
        POLKIT_GATE_GUARDED,    /* the handler asks polkit */
        POLKIT_GATE_DENIED,     /* neither: refused before any handler */
} PolkitGate;

/* What the dispatch gate does with a call of interface.member. */
PolkitGate bus_polkit_gate(const char *interface, const char *member);

/* Frees every query (exit). */
void bus_polkit_flush(Bus *b);
/* POLKIT_TIMEOUT_USEC, or HOSTDEV_POLKIT_TIMEOUT_MSEC when set. */
uint64_t bus_polkit_timeout_usec(void);
/* Frees answered queries whose call did not come back for them. */
void bus_polkit_gc(Bus *b);
