/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "client.h"
#include "errors.h"
#include "output.h"

/* Exit statuses, see hostdevctl(1). */
#define EXIT_USAGE 2

/* Options, set by main(). All are parsed up front, wherever they stand. */
extern bool arg_json;
extern bool arg_legend;
extern bool arg_ask_password;
extern bool arg_dry_run;
extern bool arg_include_companions;
extern bool arg_override_critical;
extern bool arg_all;
extern bool arg_no_autoprobe;          /* sriov set-vfs */
extern char *arg_type;                  /* NULL when not given */
extern char *arg_name;
extern char *arg_description;
extern char *arg_class;
extern char **arg_rules;                /* one entry per --rule */
extern char *arg_uuid;                  /* mdev create --uuid */
/* claim, tenant assign */
extern unsigned arg_count;              /* --count; 0 when not given */
extern char *arg_consumer;              /* --consumer */
extern int arg_numa;                    /* --numa; -1 when not given */
extern bool arg_numa_strict;
extern char **arg_devices;              /* one entry per --device */
extern unsigned arg_lease_pid;          /* --lease-pid; 0 when not given */
extern bool arg_no_prepare;
extern char *arg_format;                /* --format: text, libvirt, qemu or json; NULL when not given */
extern char *arg_mac;                   /* claim --mac: the VF's MAC address; NULL when not given */
extern int arg_vlan;                    /* claim --vlan; -1 when not given */

/* The options only some commands take; a Verb lists those it accepts. */
enum {
        OPT_TYPE               = 1 << 0,
        OPT_NAME               = 1 << 1,
        OPT_DESCRIPTION        = 1 << 2,
        OPT_CLASS              = 1 << 3,
        OPT_RULE               = 1 << 4,
        OPT_DRY_RUN            = 1 << 5,
        OPT_INCLUDE_COMPANIONS = 1 << 6,
        OPT_OVERRIDE_CRITICAL  = 1 << 7,
        OPT_ALL                = 1 << 8,
        OPT_NO_AUTOPROBE       = 1 << 9,
        OPT_UUID               = 1 << 10,
        OPT_COUNT              = 1 << 11,
        OPT_CONSUMER           = 1 << 12,
        OPT_NUMA               = 1 << 13,
        OPT_NUMA_STRICT        = 1 << 14,
        OPT_DEVICE             = 1 << 15,
        OPT_LEASE_PID          = 1 << 16,
        OPT_NO_PREPARE         = 1 << 17,
        OPT_FORMAT             = 1 << 18,
        OPT_MAC                = 1 << 19,
        OPT_VLAN               = 1 << 20,
};

/* Verbs: argv[0] is the verb's name; they return an exit status. */
typedef struct Verb {
        const char *name;
        const char *args;       /* for the help text and usage errors */
        unsigned min_args;
        unsigned max_args;
        unsigned options;       /* OPT_* accepted */
        int (*run)(int argc, char *argv[]);
        const char *description;        /* NULL: left out of the help */
} Verb;

#define ARGS_MAX ((unsigned) -1)

/* Finds argv[0] in verbs and runs it, after checking arguments and options. */
int dispatch_verb(const Verb *verbs, size_t n_verbs, const char *prefix, int argc, char *argv[]);

int verb_list(int argc, char *argv[]);
int verb_show(int argc, char *argv[]);
int verb_iommu_list(int argc, char *argv[]);
int verb_iommu_show(int argc, char *argv[]);
int verb_complete(int argc, char *argv[]);
int verb_monitor(int argc, char *argv[]);
int verb_status(int argc, char *argv[]);
int verb_prepare(int argc, char *argv[]);
int verb_release(int argc, char *argv[]);
/* "group create NAME DEVICE..." (and the old "make-resource"): argv[1] is the name. */
int group_create_of_devices(int argc, char *argv[]);
int verb_group(int argc, char *argv[]);
/* "sriov show|set-vfs" (sriov.c). */
int verb_sriov(int argc, char *argv[]);
extern const Verb sriov_verbs[];
extern const size_t n_sriov_verbs;
int verb_mdev(int argc, char *argv[]);
/* "usb": the USB tree by port (usb.c). */
int verb_usb(int argc, char *argv[]);
extern const Verb mdev_verbs[];
extern const size_t n_mdev_verbs;
/* "claim GROUP", "claim list|show|release", "claims", "unclaim" (claim.c). */
int verb_claim(int argc, char *argv[]);
int verb_claims(int argc, char *argv[]);
int verb_unclaim(int argc, char *argv[]);
extern const Verb claim_verbs[];
extern const size_t n_claim_verbs;
extern const Verb claim_group_verb;
/* "tenant assign|return" (tenant.c). */
int verb_tenant(int argc, char *argv[]);
extern const Verb tenant_verbs[];
extern const size_t n_tenant_verbs;

/* The sub-commands of "device", "iommu", "group" and "group rule", for dispatch and the help text. */
extern const Verb device_verbs[];
extern const size_t n_device_verbs;
extern const Verb iommu_verbs[];
extern const size_t n_iommu_verbs;
extern const Verb group_verbs[];
extern const size_t n_group_verbs;
extern const Verb group_rule_verbs[];
extern const size_t n_group_rule_verbs;

/*
 * Prepare and Release, of the manager or of a resource group: appends the
 * options (--dry-run, --override-critical) to m, whose other arguments are
 * in place, calls, and prints the plan of the reply, a(ssss), as a table or
 * JSON. Returns an exit status.
 */
int call_with_plan(sd_bus *bus, sd_bus_message *m);

/* Turns a negative result of printing into an exit status, with a message. */
int output_result(int r);

/* A message could not be built or read: says so, and gives the exit status. */
static inline int exit_message_error(int r) {
        log_message_error(r);
        return EXIT_FAILURE;
}

/* An address or object path given by the user, as an object path. */
int resolve_device(sd_bus *bus, const char *what, char **ret_path);
/* Connects, then resolves what[0..n-1] into a strv of object paths; logs on failure. */
int resolve_devices(char **what, size_t n, sd_bus **ret_bus, char ***ret_paths);

/*
 * Shared between list and show: one device as a JSON object (keys in
 * hostdevctl(1)); with_group adds the "group" member that show prints.
 */
void json_write_device(JsonWriter *w, const HdHost *h, const HdDevice *d, bool with_group);
/* The members of an IOMMU or resource group as a JSON array, by object path. */
void json_write_members(JsonWriter *w, const HdHost *h, char **paths);
/* Shared between iommu list, iommu show and show: one IOMMU group as a JSON object. */
void json_write_group(JsonWriter *w, const HdHost *h, const HdGroup *g);

/* The vendor and product columns: names, or the hex ids when there are none. */
const char *device_vendor(const HdDevice *d, char buf[static 8]);
const char *device_product(const HdDevice *d, char buf[static 8]);

/* "0000:01:00.0  Vendor Product  (driver)", for group member lists; NULL on OOM. */
char *group_member_line(const HdHost *h, const char *path);

/* One resource group as a JSON object (keys in hostdevctl(1)). */
void json_write_resource_group(JsonWriter *w, const HdHost *h, const HdResourceGroup *g);
/* One resource group as `group show` prints it. */
int print_resource_group(const HdHost *h, const HdResourceGroup *g);

/* Connects and fetches everything, and finds the resource group the user
 * named (name, id or object path); logs when there is none. */
int fetch_resource_group(const char *what, sd_bus **ret_bus, HdHost **ret_host, HdResourceGroup **ret_group);
/* After a change: prints the resource group at path as "group show" does. Returns an exit status. */
int show_resource_group_path(sd_bus *bus, const char *path);
/* The devices of --device as object paths, resolved on bus; logs on failure. */
int resolve_device_options(sd_bus *bus, char ***ret_paths);
/* How many members claim and tenant assign ask for: --count, else one per --device, else 1. */
unsigned requested_count(void);

/* Tells the user about a missing IOMMU, on stderr. */
void note_iommu(const HdHost *h);
