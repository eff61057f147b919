/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "claim.h"
#include "device.h"

/* Handles: what a consumer passes to its hypervisor to use a claimed
 * device. Pure string builders: the roots come from the caller's paths.
 *
 * PCI, one device alone in its host slot:
 *   qemu     vfio-pci,host=0000:01:00.0
 *   libvirt  <hostdev mode='subsystem' type='pci' managed='no'><source><address
 *            domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>
 * and the hypervisor picks the guest address.
 *
 * PCI, functions of one host slot that go together in one member (a GPU
 * and its audio function): the guest must see them as functions of one
 * slot, or the guest driver does not find the audio function beside the
 * GPU. They get one guest slot (HandleOptions.guest_slot, then the next
 * one for the next such member), their functions numbered 0, 1, … in
 * address order (so the guest always has a function 0), and function 0
 * is marked multifunction:
 *   qemu     vfio-pci,host=0000:01:00.0,addr=10.0,multifunction=on
 *            vfio-pci,host=0000:01:00.1,addr=10.1
 *            (",bus=B" before addr when HandleOptions.qemu_bus is set)
 *   libvirt  the element above with, after </source>,
 *            <address type='pci' domain='0x0000' bus='0x00' slot='0x10' function='0x0' multifunction='on'/>
 *            (and function='0x1' without multifunction on the others)
 * Once the guest slots run out (past 0x1f) such members get no guest
 * address, as single functions do.
 *
 * USB: qemu "usb-host,hostbus=2,hostaddr=5,hostdevice=/dev/bus/usb/002/005"
 *   (hostdevice: the node under HandleOptions.dev_root, which QEMU opens);
 *   libvirt
 *   <hostdev mode='subsystem' type='usb' managed='no'><source><vendor id='0x1050'/>
 *   <product id='0x0407'/><address bus='2' device='5'/></source></hostdev>
 *
 * Every value in the XML is a number formatted here (addresses are parsed
 * first), so nothing needs XML escaping. managed='no': hostdev, not
 * libvirt, binds the device to vfio-pci. */

#define HANDLE_GUEST_SLOT_FIRST 0x10
#define HANDLE_GUEST_SLOT_LAST 0x1f

typedef struct HandleOptions {
        const char *sysfs_root;         /* "/sys" */
        const char *dev_root;           /* "/dev" */
        const char *qemu_bus;           /* guest bus id for -device bus=; NULL: QEMU's default bus */
        unsigned guest_bus;             /* the libvirt guest address's bus */
        unsigned guest_slot;            /* first guest slot for functions that go together; 0: HANDLE_GUEST_SLOT_FIRST */
} HandleOptions;

/* Where a device appears in the guest; NULL where the hypervisor picks. */
typedef struct HandleGuestAddress {
        const char *qemu_bus;   /* NULL: none */
        unsigned bus;
        unsigned slot;
        unsigned function;
        bool multifunction;
} HandleGuestAddress;

typedef struct Handle {
        char *address;
        char *sysfs;            /* <sysfs_root>/bus/pci/devices/<address>, …/bus/usb/devices/<address> */
        char *vfio_group;       /* <dev_root>/vfio/N; "" for USB or a function without an IOMMU group */
        char *qemu;             /* one -device argument */
        char *libvirt;          /* one <hostdev> element */
} Handle;

typedef struct HandleList {
        Handle *handles;
        size_t n_handles;
        unsigned next_slot;     /* the next guest slot for functions that go together; 0 before the first */
} HandleList;

void handle_list_done(HandleList *l);

/* Appends a handle for each device of one member (its devices as the
 * claim lists them, any order; they are handled in address order). -EINVAL
 * for a malformed PCI address, -ENOMEM; the list is unchanged then. */
int handle_list_add_member(HandleList *l, const Device *const *devices, size_t n, const HandleOptions *o);

/* Handles for every member of a claim, in member order; devices the
 * inventory does not have (unplugged for now) get none, nor does a USB
 * member whose port now holds another device. */
int handle_list_add_claim(HandleList *l, const Claim *c, const Inventory *inv, const HandleOptions *o);

/* The builders, one string each (NULL on ENOMEM or a malformed address). */
char *handle_sysfs_path(const char *sysfs_root, const Device *d);
char *handle_vfio_group_path(const char *dev_root, int iommu_group);   /* "" when < 0 */
char *handle_qemu_pci(const char *address, const HandleGuestAddress *guest);
char *handle_libvirt_pci(const char *address, const HandleGuestAddress *guest);
/* <dev_root>/bus/usb/BBB/AAA, the device's usbfs node. */
char *handle_usb_node_path(const char *dev_root, const Device *d);
char *handle_qemu_usb(const char *dev_root, const Device *d);
char *handle_libvirt_usb(const Device *d);
