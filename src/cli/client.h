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
        char *state;

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

/* Everything the daemon publishes, devices and groups sorted (see hd_host_sort). */
typedef struct HdHost {
        char *version;
        bool iommu_enabled;
        char *iommu_message;

        HdDevice **devices;
        size_t n_devices;
        HdGroup **groups;
        size_t n_groups;
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

/* The group's number, or -1 when the device has none. */
int64_t hd_device_group_number(const HdHost *h, const HdDevice *d);

/* The device's address if the path is a known device, else the path itself. */
const char *hd_host_path_to_address(const HdHost *h, const char *path);

/* Logs an sd-bus failure: the daemon's message when it sent one. */
void log_bus_error(const sd_bus_error *error, int r, const char *what);
