/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "util.h"

#define HOSTDEV_SERVICE "org.hostdev1"
#define HOSTDEV_MANAGER_PATH "/org/hostdev1"
#define HOSTDEV_MANAGER_INTERFACE "org.hostdev1.Manager"
#define HOSTDEV_DEVICE_INTERFACE "org.hostdev1.Device"
#define HOSTDEV_PCI_INTERFACE "org.hostdev1.PciDevice"
#define HOSTDEV_SRIOV_PF_INTERFACE "org.hostdev1.SriovPhysicalFunction"
#define HOSTDEV_USB_INTERFACE "org.hostdev1.UsbDevice"
#define HOSTDEV_GROUP_INTERFACE "org.hostdev1.IommuGroup"
#define HOSTDEV_RESOURCE_GROUP_INTERFACE "org.hostdev1.ResourceGroup"

/* How long a call that changes something may take: polkit may ask the user. */
#define HD_MUTATING_TIMEOUT_USEC (300ULL * 1000000ULL)

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
} HdResourceGroup;

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
} HdHost;

HdHost *hd_host_free(HdHost *h);
static inline void hd_host_freep(HdHost **h) {
        hd_host_free(*h);
}
#define _cleanup_host_free_ _cleanup_(hd_host_freep)

/* Opens the system bus ($DBUS_SYSTEM_BUS_ADDRESS is honoured); logs on failure. */
int hd_bus_open(sd_bus **ret);

/* Fetches the manager's properties and all objects; logs on failure. */
int hd_host_fetch(sd_bus *bus, HdHost **ret);

/* Manager.GetDevice; on failure logs the daemon's error message. */
int hd_get_device(sd_bus *bus, const char *address, char **ret_path);

HdDevice *hd_host_find_device(const HdHost *h, const char *path);
HdGroup *hd_host_find_group(const HdHost *h, const char *path);
HdResourceGroup *hd_host_find_resource_group(const HdHost *h, const char *path);
/* By name first, then by id, then by object path; NULL when none matches. */
HdResourceGroup *hd_host_lookup_resource_group(const HdHost *h, const char *what);
/* The name of the device's resource group, or NULL when it has none. */
const char *hd_device_resource_group_name(const HdHost *h, const HdDevice *d);

/* The group's number, or -1 when the device has none. */
int64_t hd_device_group_number(const HdHost *h, const HdDevice *d);

/* The device's address if the path is a known device, else the path itself. */
const char *hd_host_path_to_address(const HdHost *h, const char *path);

/* Logs an sd-bus failure: the daemon's message when it sent one. */
void log_bus_error(const sd_bus_error *error, int r, const char *what);

/*
 * Calls that change something. hd_new_call() makes a method call that
 * allows interactive authorization when `interactive` (no
 * --no-ask-password); hd_close_options() appends the matching
 * "auth.no_user_interaction" entry, the last of every options a{sv}, and
 * closes the a{sv}. hd_call() sends it and, on failure, logs the daemon's
 * own message ("hostdevctl: <message>").
 */
int hd_new_call(sd_bus *bus, sd_bus_message **ret, const char *path, const char *interface, const char *member,
                bool interactive);
int hd_close_options(sd_bus_message *m, bool interactive);
int hd_call(sd_bus *bus, sd_bus_message *m, sd_bus_message **ret_reply);
/* Appends an ao. */
int hd_append_object_paths(sd_bus_message *m, char **paths);
/* Logs what went wrong building or parsing a message. */
int log_message_error(int r);

/* Reads a plan, a(ssss), into a strv of address, from, to, reason quadruples. */
int hd_read_plan(sd_bus_message *m, char ***ret);
