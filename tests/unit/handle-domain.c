/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prints a minimal libvirt <domain> holding the libvirt handles of a claim:
 * a GPU with its audio function, a VF alone, a USB key. libvirt-validate.sh
 * checks it against libvirt's schema with virt-xml-validate. */
#include <stdio.h>

#include "model/handle.h"
#include "shared/macro.h"

static int add(HandleList *l, const HandleOptions *o, Device **devs, size_t n) {
        int r = handle_list_add_member(l, (const Device *const *) devs, n, o);

        for (size_t i = 0; i < n; i++)
                device_free(devs[i]);
        return r;
}

static Device *pci(const char *address, int group) {
        Device *d = device_new(DEVICE_PCI, address);

        d->iommu_group = group;
        return d;
}

int main(void) {
        const HandleOptions o = { .sysfs_root = "/sys", .dev_root = "/dev" };
        _cleanup_(handle_list_done) HandleList l = {};
        Device *card[] = { pci("0000:01:00.0", 12), pci("0000:01:00.1", 12) };
        Device *vf[] = { pci("0000:03:02.0", 17) };
        Device *key[] = { device_new(DEVICE_USB, "2-1") };

        key[0]->vendor_id = 0x1050;
        key[0]->product_id = 0x0407;
        key[0]->usb.busnum = 2;
        key[0]->usb.devnum = 5;
        if (add(&l, &o, card, 2) < 0 || add(&l, &o, vf, 1) < 0 || add(&l, &o, key, 1) < 0) {
                fprintf(stderr, "cannot make the handles\n");
                return EXIT_FAILURE;
        }
        printf("<domain type='kvm'>\n"
               "  <name>hostdev-handles</name>\n"
               "  <memory unit='MiB'>512</memory>\n"
               "  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
               "  <devices>\n");
        for (size_t i = 0; i < l.n_handles; i++)
                printf("    %s\n", l.handles[i].libvirt);
        printf("  </devices>\n"
               "</domain>\n");
        return EXIT_SUCCESS;
}
