/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/address.h"

/* One PCI function or USB device as the kernel shows it. Plain data: filled
 * by src/kernel, read by src/bus. Name strings (vendor_name, product_name,
 * class_name) are interned and not owned; every other string is owned. */
struct ResourceGroup;

typedef struct Device {
        DeviceKind kind;
        char *address;
        char *syspath;          /* kernel name, "/sys/devices/…" */

        uint16_t vendor_id;
        uint16_t product_id;
        const char *vendor_name;
        const char *product_name;
        char *serial;
        char *driver;           /* NULL when unbound */
        int numa_node;
        int iommu_group;        /* -1 when none */
        struct ResourceGroup *resource_group;   /* membership, kept by the daemon */
        char **critical;        /* code, text, … why the host needs it; kept by the daemon */

        struct {
                uint32_t class;
                const char *class_name;
                uint16_t subsystem_vendor_id;
                uint16_t subsystem_id;
                char *slot;
                char *link_speed;
                unsigned link_width;
                char **reset_methods;   /* NULL-terminated, may be NULL */
                bool boot_vga;
                bool sriov_capable;     /* has sriov_totalvfs: a PF */
                bool mdev_parent;       /* has mdev_supported_types */
                unsigned total_vfs;
                unsigned num_vfs;
                bool drivers_autoprobe; /* sriov_drivers_autoprobe: new VFs get their driver */
                char **vfs;             /* VF addresses by index, NULL-terminated */
                char *physfn;           /* on a VF, its PF's address */
                int vf_index;           /* on a VF, its index; -1 otherwise */
                /* On a VF, its PF as sriov-nic rules see it (read through
                 * the physfn link with the VF): serial, first network
                 * interface and that interface's ARPHRD_* type (-1: none). */
                char *pf_serial;
                char *pf_netdev;
                int pf_link_type;
        } pci;

        struct {
                unsigned busnum;
                unsigned devnum;
                char *port_path;
                char *speed;
                char *devnode;
                bool authorized;
                uint8_t device_class;   /* bDeviceClass: 0x09 for a hub */
                /* Each interface as name, "class/subclass/protocol" in hex,
                 * driver ("" none): "2-1:1.0", "08/06/50", "usb-storage", … */
                char **interfaces;
                bool prepared;          /* interfaces detached by Prepare; kept by the daemon */
        } usb;
} Device;

Device *device_new(DeviceKind kind, const char *address);
Device *device_free(Device *d);
static inline void device_freep(Device **d) {
        device_free(*d);
}

/* What differs between two readings of the same device, as DEVICE_FIELD_* bits. */
typedef enum DeviceField {
        DEVICE_FIELD_DRIVER         = 1u << 0,
        DEVICE_FIELD_STATE          = 1u << 1,
        DEVICE_FIELD_LINK           = 1u << 2,
        DEVICE_FIELD_RESET_METHODS  = 1u << 3,
        DEVICE_FIELD_SRIOV          = 1u << 4,  /* NumVfs, VirtualFunctions */
        DEVICE_FIELD_AUTHORIZED     = 1u << 5,
        DEVICE_FIELD_IOMMU_GROUP    = 1u << 6,
        DEVICE_FIELD_PHYSFN         = 1u << 7,  /* PhysicalFunction, VirtualFunctionIndex */
        DEVICE_FIELD_IDENTITY       = 1u << 8,
        DEVICE_FIELD_RESOURCE_GROUP = 1u << 9,
        DEVICE_FIELD_CRITICAL       = 1u << 10,  /* ids, serial, class, …: only a new device changes them */
        DEVICE_FIELD_VF_CONFIG      = 1u << 20,  /* a PF's VfConfig: announced by the core, never diffed */
} DeviceField;

unsigned device_diff(const Device *a, const Device *b);

/* qsort comparator over (const) Device pointers, by address_compare. */
int device_address_compare(const void *a, const void *b);

typedef enum DeviceState {
        DEVICE_STATE_HOST,
        DEVICE_STATE_PREPARED,
        _DEVICE_STATE_MAX,
} DeviceState;

DeviceState device_state(const Device *d);
const char *device_state_to_string(DeviceState s);

/* Drivers that hand a device to VFIO: vfio-pci and vendor variants such
 * as mlx5-vfio-pci. */
bool driver_is_vfio(const char *driver);
bool device_is_bridge(const Device *d);
/* A USB hub (bDeviceClass 0x09, or a hub interface): hubs and root hubs
 * are never resource group members, and stay with the host. */
bool device_is_usb_hub(const Device *d);
/* Has the USB device this class, as bDeviceClass or as a bInterfaceClass? */
bool device_usb_has_class(const Device *d, unsigned cls);

/* NULL when the device does not keep its IOMMU group from being viable,
 * else a sentence saying why (caller frees). */
char *device_group_blocker(const Device *d);
