/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Handles: the strings a consumer hands to QEMU or libvirt. */
#include "check.h"
#include "model/handle.h"
#include "shared/macro.h"

static Device *pci(const char *address, int group) {
        Device *d = device_new(DEVICE_PCI, address);

        d->iommu_group = group;
        return d;
}

static const HandleOptions host_roots = { .sysfs_root = "/sys", .dev_root = "/dev" };

static void add_member(HandleList *l, const HandleOptions *o, Device **devs, size_t n) {
        CHECK(handle_list_add_member(l, (const Device *const *) devs, n, o) == 0);
        for (size_t i = 0; i < n; i++)
                device_free(devs[i]);
}

/* A GPU and its audio function: one guest slot, function 0 multifunction. */
static void test_gpu_with_audio(void) {
        HandleList l = {};
        /* Handed in the other order: handles follow the addresses. */
        Device *card[] = { pci("0000:01:00.1", 12), pci("0000:01:00.0", 12) };
        Device *card2[] = { pci("0000:02:00.0", 13), pci("0000:02:00.1", 13) };

        add_member(&l, &host_roots, card, 2);
        CHECK(l.n_handles == 2);
        CHECK_STREQ(l.handles[0].address, "0000:01:00.0");
        CHECK_STREQ(l.handles[0].sysfs, "/sys/bus/pci/devices/0000:01:00.0");
        CHECK_STREQ(l.handles[0].vfio_group, "/dev/vfio/12");
        CHECK_STREQ(l.handles[0].qemu, "vfio-pci,host=0000:01:00.0,addr=10.0,multifunction=on");
        CHECK_STREQ(l.handles[0].libvirt,
                    "<hostdev mode='subsystem' type='pci' managed='no'><source>"
                    "<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>"
                    "<address type='pci' domain='0x0000' bus='0x00' slot='0x10' function='0x0' multifunction='on'/>"
                    "</hostdev>");
        CHECK_STREQ(l.handles[1].address, "0000:01:00.1");
        CHECK_STREQ(l.handles[1].vfio_group, "/dev/vfio/12");
        CHECK_STREQ(l.handles[1].qemu, "vfio-pci,host=0000:01:00.1,addr=10.1");
        CHECK_STREQ(l.handles[1].libvirt,
                    "<hostdev mode='subsystem' type='pci' managed='no'><source>"
                    "<address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source>"
                    "<address type='pci' domain='0x0000' bus='0x00' slot='0x10' function='0x1'/>"
                    "</hostdev>");

        /* The next card of the claim takes the next guest slot. */
        add_member(&l, &host_roots, card2, 2);
        CHECK(l.n_handles == 4);
        CHECK_STREQ(l.handles[2].qemu, "vfio-pci,host=0000:02:00.0,addr=11.0,multifunction=on");
        CHECK_STREQ(l.handles[3].qemu, "vfio-pci,host=0000:02:00.1,addr=11.1");
        CHECK(strstr(l.handles[3].libvirt, "<address type='pci' domain='0x0000' bus='0x00' slot='0x11' function='0x1'/>"));
        handle_list_done(&l);
        CHECK(l.n_handles == 0 && !l.handles);
}

/* One function alone: the hypervisor picks where it goes. */
static void test_single(void) {
        const HandleOptions roots = { .sysfs_root = "/run/sim/sys/", .dev_root = "/run/sim/dev" };
        HandleList l = {};
        Device *vf[] = { pci("0000:03:02.0", 17) };
        Device *far[] = { pci("0001:a0:1f.7", 40) };

        add_member(&l, &roots, vf, 1);
        CHECK_STREQ(l.handles[0].sysfs, "/run/sim/sys/bus/pci/devices/0000:03:02.0");
        CHECK_STREQ(l.handles[0].vfio_group, "/run/sim/dev/vfio/17");
        CHECK_STREQ(l.handles[0].qemu, "vfio-pci,host=0000:03:02.0");
        CHECK_STREQ(l.handles[0].libvirt,
                    "<hostdev mode='subsystem' type='pci' managed='no'><source>"
                    "<address domain='0x0000' bus='0x03' slot='0x02' function='0x0'/></source></hostdev>");
        add_member(&l, &roots, far, 1);
        CHECK_STREQ(l.handles[1].qemu, "vfio-pci,host=0001:a0:1f.7");
        CHECK_STREQ(l.handles[1].libvirt,
                    "<hostdev mode='subsystem' type='pci' managed='no'><source>"
                    "<address domain='0x0001' bus='0xa0' slot='0x1f' function='0x7'/></source></hostdev>");
        /* No guest slot was used. */
        CHECK(l.next_slot == HANDLE_GUEST_SLOT_FIRST);
        handle_list_done(&l);
}

/* Companions in another host slot (behind a bridge without ACS) are not
 * functions of one card; functions 0 and 3 of a card become guest 0 and 1. */
static void test_slots(void) {
        const HandleOptions o = { .sysfs_root = "/sys", .dev_root = "/dev", .qemu_bus = "pcie.0", .guest_bus = 0,
                                  .guest_slot = 0x1e };
        HandleList l = {};
        Device *apart[] = { pci("0000:05:00.0", 30), pci("0000:06:00.0", 30) };
        Device *sparse[] = { pci("0000:07:00.0", 31), pci("0000:07:00.3", 31) };
        Device *more[] = { pci("0000:08:00.0", 32), pci("0000:08:00.1", 32) };
        Device *last[] = { pci("0000:09:00.0", 33), pci("0000:09:00.1", 33) };

        add_member(&l, &o, apart, 2);
        CHECK_STREQ(l.handles[0].qemu, "vfio-pci,host=0000:05:00.0");
        CHECK_STREQ(l.handles[1].qemu, "vfio-pci,host=0000:06:00.0");
        add_member(&l, &o, sparse, 2);
        CHECK_STREQ(l.handles[2].qemu, "vfio-pci,host=0000:07:00.0,bus=pcie.0,addr=1e.0,multifunction=on");
        CHECK_STREQ(l.handles[3].qemu, "vfio-pci,host=0000:07:00.3,bus=pcie.0,addr=1e.1");
        add_member(&l, &o, more, 2);
        CHECK_STREQ(l.handles[4].qemu, "vfio-pci,host=0000:08:00.0,bus=pcie.0,addr=1f.0,multifunction=on");
        /* Past slot 0x1f: no guest address. */
        add_member(&l, &o, last, 2);
        CHECK_STREQ(l.handles[6].qemu, "vfio-pci,host=0000:09:00.0");
        CHECK_STREQ(l.handles[7].qemu, "vfio-pci,host=0000:09:00.1");
        CHECK(l.n_handles == 8);
        handle_list_done(&l);
}

static void test_usb(void) {
        HandleList l = {};
        Device *key = device_new(DEVICE_USB, "2-1");

        key->vendor_id = 0x1050;
        key->product_id = 0x0407;
        key->usb.busnum = 2;
        key->usb.devnum = 5;
        add_member(&l, &host_roots, &key, 1);
        CHECK(l.n_handles == 1);
        CHECK_STREQ(l.handles[0].sysfs, "/sys/bus/usb/devices/2-1");
        CHECK_STREQ(l.handles[0].vfio_group, "");
        CHECK_STREQ(l.handles[0].qemu, "usb-host,hostbus=2,hostaddr=5,hostdevice=/dev/bus/usb/002/005");
        CHECK_STREQ(l.handles[0].libvirt,
                    "<hostdev mode='subsystem' type='usb' managed='no'><source>"
                    "<vendor id='0x1050'/><product id='0x0407'/><address bus='2' device='5'/>"
                    "</source></hostdev>");
        handle_list_done(&l);
}

/* A malformed address adds nothing, not half a member. */
static void test_refused(void) {
        HandleList l = {};
        Device *bad[] = { pci("0000:01:00.0", 12), pci("0000:01:00.1", 12) };

        free(bad[1]->address);
        bad[1]->address = strdup("0000:01:00.1'/>");
        CHECK(handle_list_add_member(&l, (const Device *const *) bad, 2, &host_roots) == -EINVAL);
        CHECK(l.n_handles == 0 && l.next_slot == 0);
        device_free(bad[0]);
        device_free(bad[1]);

        CHECK(!handle_qemu_pci("01:00.0", NULL));
        CHECK(!handle_libvirt_pci("0000:01:20.0", NULL));
        CHECK(!handle_libvirt_pci("0000:01:00.8", NULL));
        CHECK(!handle_libvirt_pci("0000:01:00.0 ", NULL));

        char *s = handle_vfio_group_path("/", 3);
        CHECK_STREQ(s, "/vfio/3");
        free(s);
        s = handle_vfio_group_path("/dev", -1);
        CHECK_STREQ(s, "");
        free(s);
}

/* A claim of two cards, as the bus builds Claim.Handles. */
static void test_claim(void) {
        HandleList l = {};
        Inventory inv;
        Claim *c = claim_new("c1", "vm-1", "gpus", 1, NULL);

        CHECK(inventory_init(&inv) == 0);
        CHECK(inventory_add(&inv, pci("0000:01:00.0", 12), NULL) == 0);
        CHECK(inventory_add(&inv, pci("0000:01:00.1", 12), NULL) == 0);
        CHECK(inventory_add(&inv, pci("0000:02:00.0", 13), NULL) == 0);
        CHECK(claim_add_member(c, (const char *[]) { "0000:02:00.0", "0000:02:00.1" }, 2) == 0);
        CHECK(claim_add_member(c, (const char *[]) { "0000:01:00.0", "0000:01:00.1" }, 2) == 0);
        /* 02:00.1 is not there (unplugged): its card is one function now. */
        CHECK(handle_list_add_claim(&l, c, &inv, &host_roots) == 0);
        CHECK(l.n_handles == 3);
        CHECK_STREQ(l.handles[0].qemu, "vfio-pci,host=0000:02:00.0");
        CHECK_STREQ(l.handles[1].qemu, "vfio-pci,host=0000:01:00.0,addr=10.0,multifunction=on");
        CHECK_STREQ(l.handles[2].qemu, "vfio-pci,host=0000:01:00.1,addr=10.1");
        CHECK_STREQ(l.handles[2].vfio_group, "/dev/vfio/12");
        handle_list_done(&l);
        claim_free(c);
        inventory_done(&inv);
}

int main(void) {
        test_gpu_with_audio();
        test_single();
        test_slots();
        test_usb();
        test_refused();
        test_claim();
        CHECK_DONE();
}
