/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "inventory.h"
#include "shared/hashmap.h"

/* Why the host cannot do without a device. The kernel side
 * (src/kernel/critical.h) finds what the running host uses; this turns
 * that, together with what the inventory says about each device, into
 * per-device reasons. Pure C: no sysfs, no bus. */

/* One device the host uses, as the kernel side found it. */
typedef struct CriticalHit {
        char *address;  /* PCI address of the function, or USB port path of the device, the host needs */
        char *code;     /* "root-filesystem", "boot-filesystem", "usr-filesystem",
                         * "var-filesystem", "swap", "default-route",
                         * "nm-connection", "console"; for USB devices also
                         * "mounted-filesystem" */
        char *text;     /* "holds / (/dev/mapper/vg-root on md0, nvme0n1)" */
} CriticalHit;

void critical_hits_free(CriticalHit *hits, size_t n);
/* Appends a copy of (address, code, text) unless the same triple is there. */
int critical_hits_add(CriticalHit **hits, size_t *n, const char *address, const char *code, const char *text);

/* Each device's reasons as a NULL-terminated strv of code, text pairs:
 *   the hits, in their order;
 *   "boot-vga" for the firmware's boot display;
 *   "bridge" for class 0x06 functions (host, ISA, PCI bridges, root ports…);
 *   "only-keyboard" for the one USB device with a boot keyboard interface
 *   (HID 03/01/01), when there is exactly one;
 *   "iommu-peer" for each critical device in the same IOMMU group, with the
 *   peer's first reason: "shares IOMMU group 9 with 0000:07:00.0 (holds /)".
 * PCI-to-PCI bridges (0x0604, 0x0609) do not make their group critical: the
 * kernel lets a group with a bridge bound to pcieport go to VFIO, and the
 * bridge stays with the host. Every other reason does.
 * Devices without reasons are not in the map; hits naming devices the
 * inventory does not have are ignored. Returns address → char** (keys and
 * values owned by the map; free with critical_map_free). */
int critical_compute(const Inventory *inv, const CriticalHit *hits, size_t n, Hashmap **ret);
void critical_map_free(Hashmap *m);

/* Sets every device's Device.critical from a map critical_compute made
 * (NULL for devices the map does not name), calling changed() for each
 * device whose reasons differ from what it had. Takes the map and frees
 * it. Returns how many devices changed. */
size_t critical_apply(Inventory *inv, Hashmap *map, void (*changed)(Device *d, void *userdata), void *userdata);
static inline void critical_map_freep(Hashmap **m) {
        critical_map_free(*m);
}

/* Reason codes of the model itself. */
#define CRITICAL_BOOT_VGA   "boot-vga"
#define CRITICAL_BRIDGE     "bridge"
#define CRITICAL_IOMMU_PEER "iommu-peer"
#define CRITICAL_ONLY_KEYBOARD "only-keyboard"   /* the one USB device with a keyboard interface */
