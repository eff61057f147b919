/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "check.h"
#include "kernel/names.h"

int main(int argc, char *argv[]) {
        char pci_ids[4096], usb_ids[4096];
        const char *v, *p, *v2, *p2;
        Names *n;

        snprintf(pci_ids, sizeof pci_ids, "%s/pci.ids", argv[1]);
        snprintf(usb_ids, sizeof usb_ids, "%s/usb.ids", argv[1]);
        n = names_new(pci_ids, usb_ids);
        CHECK(n);

        names_pci(n, 0x10de, 0x2206, &v, &p);
        CHECK_STREQ(v, "NVIDIA Corporation");
        CHECK_STREQ(p, "GA102 [GeForce RTX 3080]");
        /* Cached and interned: the same model gives the same pointers. */
        names_pci(n, 0x10de, 0x2206, &v2, &p2);
        CHECK(v == v2 && p == p2);
        names_pci(n, 0x10de, 0xffff, &v, &p);
        CHECK_STREQ(v, "NVIDIA Corporation");
        CHECK_STREQ(p, "");
        CHECK_STREQ(names_pci_class(n, 0x030000), "VGA compatible controller");
        /* Unknown subclass: the base class name. */
        CHECK_STREQ(names_pci_class(n, 0x038000), "Display controller");

        /* After trimming, names not yet cached are still found. */
        names_trim(n);
        names_pci(n, 0x8086, 0x1572, &v, &p);
        CHECK_STREQ(v, "Intel Corporation");
        CHECK_STREQ(p, "Ethernet Controller X710 for 10GbE SFP+");

        names_usb(n, 0x0781, 0x5581, &v, &p);
        CHECK_STREQ(v, "SanDisk Corp.");
        CHECK_STREQ(p, "Ultra");
        names_usb(n, 0x0bda, 0x1234, &v, &p);
        CHECK_STREQ(v, "Realtek Semiconductor Corp.");
        CHECK_STREQ(p, "");
        names_usb(n, 0x0999, 0x0001, &v, &p);
        CHECK_STREQ(v, "");
        names_free(n);

        /* Missing databases: empty names, no crash. */
        n = names_new("/nonexistent/pci.ids", "/nonexistent/usb.ids");
        names_pci(n, 0x10de, 0x2206, &v, &p);
        CHECK_STREQ(v, "");
        names_usb(n, 0x0781, 0x5581, &v, &p);
        CHECK_STREQ(v, "");
        names_free(n);
        CHECK_DONE();
}
