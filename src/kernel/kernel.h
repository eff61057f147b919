/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "model/device.h"
#include "model/inventory.h"
#include "names.h"
#include "shared/hashmap.h"
#include "shared/paths.h"

/* The kernel as hostdev sees it: sysfs below paths->sysfs, plus libpci for
 * config space. Reading only; every device comes out as a model Device. */
typedef struct Kernel {
        const Paths *paths;
        Names *names;
        struct pci_access *pacc;
        Hashmap *slots;         /* "0000:01:00" → slot name */
} Kernel;

int kernel_new(const Paths *paths, Kernel **ret);
Kernel *kernel_free(Kernel *k);

/* Reads one device by its kernel name ("/sys/devices/…"). -ENODEV when it
 * is gone or is nothing we publish (a USB interface or root hub). */
int kernel_read_device(Kernel *k, DeviceKind kind, const char *syspath, Device **ret);

/* Reads every PCI function and USB device into the inventory. Devices that
 * vanish or cannot be read while we walk are skipped. */
int kernel_enumerate(Kernel *k, Inventory *inv);

/* Re-reads a PF's NumVfs and VF list (the kernel sends the PF no event when
 * VFs come and go). */
int kernel_refresh_sriov(Kernel *k, Device *pf);

/* Physical slot names change on hotplug of a slot driver; re-read them. */
int kernel_load_slots(Kernel *k);
/* Sets the device's slot name from the slots read last. */
int kernel_pci_update_slot(Kernel *k, Device *d);

/* Whether the kernel has IOMMU groups, and if not what the admin can do. */
int kernel_iommu_status(Kernel *k, bool *ret_enabled, char **ret_message);

/* The kernel's id of this boot (PROC/sys/kernel/random/boot_id); NULL
 * when unreadable. */
char *kernel_boot_id(Kernel *k);

/* Within src/kernel: libpci set-up, and one device read from its sysfs
 * directory (dfd) by pci.c and usb.c. */
int kernel_pci_init(Kernel *k);
int kernel_pci_read(Kernel *k, const char *address, const char *syspath, int dfd, Device **ret);
int kernel_usb_read(Kernel *k, const char *address, const char *syspath, int dfd, Device **ret);

/* Called once start-up is done: drop what only enumeration needed. */
void kernel_trim(Kernel *k);
