/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The host as hostdevctl sees it: what the daemon publishes, as plain
 * structs, with lookups by object path, address and name. No bus here:
 * decode.c fills it from messages.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"
#include "shared/strv.h"

/* One org.hostdev1 device object, with the properties of all its interfaces. */
typedef struct HdDevice {
        char *path;

        /* org.hostdev1.Device */
        char *kind;
        char *address;
        char *sysfs_path;
        uint16_t vendor_id;
        uint16_t product_id;
        char *vendor_name;
        char *product_name;
        char *serial;
        char *driver;
        int32_t numa_node;
        char *iommu_group;              /* object path, "/" when none */
        char *resource_group;           /* object path, "/" when none */
        char *state;
        char *claim;                    /* object path of the claim holding it, "/" when none */
        /* Critical, CriticalReasons: has_critical is false when the daemon publishes neither. */
        bool has_critical;
        bool critical;
        char **critical_reasons;        /* code, text, code, text, ... */

        /* org.hostdev1.PciDevice */
        bool is_pci;
        uint32_t class;
        char *class_name;
        uint16_t subsystem_vendor_id;
        uint16_t subsystem_id;
        char *slot;
        char *link_speed;
        uint32_t link_width;
        char **reset_methods;
        bool boot_vga;
        char *physical_function;        /* object path, "/" when none */
        int32_t virtual_function_index;

        /* org.hostdev1.SriovPhysicalFunction */
        bool is_sriov_pf;
        uint32_t total_vfs;
        uint32_t num_vfs;
        char **virtual_functions;

        /* org.hostdev1.UsbDevice */
        bool is_usb;
        uint32_t bus_number;
        uint32_t device_number;
        char *port_path;
        char *speed;
        char *dev_node;
        bool authorized;
} HdDevice;

typedef struct HdBlocker {
        char *device;                   /* object path */
        char *reason;
} HdBlocker;

typedef struct HdGroup {
        char *path;
        uint32_t number;
        char **devices;                 /* object paths, the daemon's order */
        bool viable;
        HdBlocker *blockers;
        size_t n_blockers;
} HdGroup;

/* One field of a resource group rule, with its D-Bus type. */
typedef struct HdRuleField {
        char *name;
        char type;                      /* 'q', 'u', 'i', 's'; '?' for a type we do not know */
        int64_t number;                 /* q, u, i */
        char *string;                   /* s */
} HdRuleField;

typedef struct HdRule {
        HdRuleField *fields;
        size_t n_fields;
} HdRule;

typedef struct HdResourceGroup {
        char *path;
        char *id;
        char *name;
        char *description;
        char *type;
        char *class_hint;
        HdRule *rules;
        size_t n_rules;
        char **devices;                 /* object paths, sorted by address */
        uint32_t total;
        uint32_t available;
        uint32_t claimed;
        char *tenant;                   /* "" for an ordinary group */
        char *parent;                   /* object path, "/" for an ordinary group */
} HdResourceGroup;

/* One dictionary of Claim.Handles: what a hypervisor needs for one device. */
typedef struct HdHandle {
        char *device;                   /* object path */
        char *address;
        char *sysfs;
        char *vfio_group;               /* "" for USB */
        char *qemu;                     /* one -device argument */
        char *libvirt;                  /* one <hostdev> element */
        char *libvirt_interface;        /* a VF of a sriov-nic claim: one <interface type='hostdev'> */
} HdHandle;

typedef struct HdClaim {
        char *path;
        char *id;
        char *consumer;
        char *resource_group;           /* object path, "/" when the group is gone */
        char **devices;                 /* object paths, sorted by address */
        HdHandle *handles;
        size_t n_handles;
        uint64_t since;                 /* µs since the epoch */
        char *lease;                    /* "" when none */
        char **missing;                 /* object paths of its unplugged devices (they are in devices too) */
} HdClaim;

/* Everything the daemon publishes, devices and groups sorted (see hd_host_sort). */
typedef struct HdHost {
        char *version;
        bool iommu_enabled;
        char *iommu_message;
        bool reboot_required;
        char **reboot_reasons;          /* object, text, ... */
        bool converged;
        char **converge_problems;       /* address, problem, ... */
        /* Critical: has_critical is false when the daemon does not publish it. */
        bool has_critical;
        char **critical;                /* object paths */

        HdDevice **devices;
        size_t n_devices;
        HdGroup **groups;
        size_t n_groups;
        HdResourceGroup **resource_groups;      /* sorted by name */
        size_t n_resource_groups;
        HdClaim **claims;                       /* oldest first */
        size_t n_claims;
} HdHost;

HdHost *hd_host_free(HdHost *h);
static inline void hd_host_freep(HdHost **h) {
        hd_host_free(*h);
}
#define _cleanup_host_free_ _cleanup_(hd_host_freep)

/* Constructors and destructors for decode.c; every _free returns NULL. */
HdDevice *hd_device_new(const char *path);
HdDevice *hd_device_free(HdDevice *d);
HdGroup *hd_group_new(const char *path);
HdGroup *hd_group_free(HdGroup *g);
void hd_group_free_blockers(HdGroup *g);
HdResourceGroup *hd_resource_group_new(const char *path);
HdResourceGroup *hd_resource_group_free(HdResourceGroup *g);
void hd_rules_free(HdRule *rules, size_t n);
HdClaim *hd_claim_new(const char *path);
HdClaim *hd_claim_free(HdClaim *c);
void hd_claim_free_handles(HdClaim *c);

/* Appends an item the host then owns; -ENOMEM leaves it with the caller. */
int hd_host_add_device(HdHost *h, HdDevice *d);
int hd_host_add_group(HdHost *h, HdGroup *g);
int hd_host_add_resource_group(HdHost *h, HdResourceGroup *g);
int hd_host_add_claim(HdHost *h, HdClaim *c);
/* Devices by kind (PCI, USB, others) and address as people read them,
 * IOMMU groups by number, resource groups by name, claims by age. */
void hd_host_sort(HdHost *h);

HdDevice *hd_host_find_device(const HdHost *h, const char *path);
/* By address as a user types it ("01:00.0", "0000:01:00.0", "3-1.2"); NULL when none. */
HdDevice *hd_host_find_device_by_address(const HdHost *h, const char *address);
HdGroup *hd_host_find_group(const HdHost *h, const char *path);
HdResourceGroup *hd_host_find_resource_group(const HdHost *h, const char *path);
/* By name first, then by id, then by object path; NULL when none matches. */
HdResourceGroup *hd_host_lookup_resource_group(const HdHost *h, const char *what);
/* A claim by object path, or by id or object path as a user types it; NULL when none. */
HdClaim *hd_host_find_claim(const HdHost *h, const char *path);
HdClaim *hd_host_lookup_claim(const HdHost *h, const char *what);
/* The name of a resource group by object path, else the path itself ("/" stays "/"). */
const char *hd_host_resource_group_name(const HdHost *h, const char *path);
/* The name of the device's resource group, or NULL when it has none. */
const char *hd_device_resource_group_name(const HdHost *h, const HdDevice *d);

/* A USB device's port path as hostdevctl prints it everywhere: the same
 * "bus-port.port" string as its address and the port-path rule field
 * ("1-3.2"), not the kernel's devpath without the bus ("3.2"). */
const char *hd_device_port_path(const HdDevice *d);

/* The group's number, or -1 when the device has none. */
int64_t hd_device_group_number(const HdHost *h, const HdDevice *d);

/* The device's address if the path is a known device, else the path itself. */
const char *hd_host_path_to_address(const HdHost *h, const char *path);

