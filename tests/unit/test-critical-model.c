/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* critical_compute: hits, boot VGA, bridges, and IOMMU group peers. */
#include "check.h"
#include "model/critical.h"
#include "model/inventory.h"
#include "shared/macro.h"
#include "shared/strv.h"

static void add(Inventory *inv, const char *address, uint32_t class, int group, bool boot_vga) {
        Device *d = device_new(DEVICE_PCI, address);

        d->pci.class = class;
        d->iommu_group = group;
        d->pci.boot_vga = boot_vga;
        CHECK(inventory_add(inv, d, NULL) == 0);
}

static bool has(Hashmap *m, const char *address, const char *code, const char *text) {
        char **r = hashmap_get(m, address);

        for (size_t i = 0; r && r[i] && r[i + 1]; i += 2)
                if (streq(r[i], code) && streq(r[i + 1], text))
                        return true;
        return false;
}

static size_t n_reasons(Hashmap *m, const char *address) {
        return strv_length(hashmap_get(m, address)) / 2;
}

/* The simulated host's layout, cut down to what matters here. */
static void build(Inventory *inv) {
        CHECK(inventory_init(inv) == 0);
        add(inv, "0000:00:00.0", 0x060000, 0, false);     /* host bridge */
        add(inv, "0000:00:01.0", 0x060400, 1, false);     /* root port, alone */
        add(inv, "0000:01:00.0", 0x030000, 12, false);    /* GPU */
        add(inv, "0000:01:00.1", 0x040300, 12, false);    /* its audio */
        /* Group 9: two PCH root ports, the boot NVMe and the I210. */
        add(inv, "0000:00:1c.0", 0x060400, 9, false);
        add(inv, "0000:00:1c.4", 0x060400, 9, false);
        add(inv, "0000:07:00.0", 0x010802, 9, false);
        add(inv, "0000:08:00.0", 0x020000, 9, false);
        /* Group 11: the LPC (ISA) bridge with the PCH audio. */
        add(inv, "0000:00:1f.0", 0x060100, 11, false);
        add(inv, "0000:00:1f.3", 0x040300, 11, false);
        /* Group 15: a PCIe-to-PCI bridge with a capture card behind it. */
        add(inv, "0000:04:00.0", 0x060401, 15, false);
        add(inv, "0000:05:00.0", 0x040000, 15, false);
        /* Group 16: the BMC's bridge and VGA, the boot display. */
        add(inv, "0000:09:00.0", 0x060400, 16, false);
        add(inv, "0000:0a:00.0", 0x030000, 16, true);
        /* No IOMMU group at all. */
        add(inv, "0000:0b:00.0", 0x020000, -1, false);
}

static void test_compute(void) {
        _cleanup_(critical_map_freep) Hashmap *m = NULL;
        const CriticalHit hits[] = {
                { "0000:07:00.0", "root-filesystem", "holds / (/dev/nvme0n1p2)" },
                { "0000:07:00.0", "boot-filesystem", "holds /boot/efi (/dev/nvme0n1p1)" },
                { "0000:0b:00.0", "default-route", "carries the default route (eno2)" },
                /* Not in the inventory (not published): ignored. */
                { "0000:ff:00.0", "swap", "holds swap (/dev/sdz2)" },
                /* The same hit twice counts once. */
                { "0000:07:00.0", "root-filesystem", "holds / (/dev/nvme0n1p2)" },
        };
        Inventory inv;

        build(&inv);
        CHECK(critical_compute(&inv, hits, ELEMENTSOF(hits), &m) == 0);

        /* The hits, in order, first. */
        char **nvme = hashmap_get(m, "0000:07:00.0");
        CHECK(nvme && strv_length(nvme) >= 4);
        CHECK_STREQ(nvme ? nvme[0] : NULL, "root-filesystem");
        CHECK_STREQ(nvme ? nvme[1] : NULL, "holds / (/dev/nvme0n1p2)");
        CHECK_STREQ(nvme ? nvme[2] : NULL, "boot-filesystem");
        CHECK(n_reasons(m, "0000:07:00.0") == 2);
        CHECK(has(m, "0000:0b:00.0", "default-route", "carries the default route (eno2)"));
        CHECK(!hashmap_get(m, "0000:ff:00.0"));

        /* Every bridge, whatever kind. */
        CHECK(has(m, "0000:00:00.0", "bridge", "is a host bridge"));
        CHECK(has(m, "0000:00:01.0", "bridge", "is a PCI bridge"));
        CHECK(has(m, "0000:00:1f.0", "bridge", "is an ISA bridge"));
        CHECK(has(m, "0000:04:00.0", "bridge", "is a PCI bridge"));
        CHECK(n_reasons(m, "0000:00:01.0") == 1);

        CHECK(has(m, "0000:0a:00.0", "boot-vga", "is the boot VGA device"));

        /* Peers of the NVMe, named with its first reason; the root ports
         * keep their own reason first. */
        CHECK(has(m, "0000:08:00.0", "iommu-peer", "shares IOMMU group 9 with 0000:07:00.0 (holds / (/dev/nvme0n1p2))"));
        CHECK(n_reasons(m, "0000:08:00.0") == 1);
        char **port = hashmap_get(m, "0000:00:1c.0");
        CHECK_STREQ(port ? port[0] : NULL, "bridge");
        CHECK(has(m, "0000:00:1c.0", "iommu-peer", "shares IOMMU group 9 with 0000:07:00.0 (holds / (/dev/nvme0n1p2))"));
        CHECK(has(m, "0000:00:1c.4", "iommu-peer", "shares IOMMU group 9 with 0000:07:00.0 (holds / (/dev/nvme0n1p2))"));
        /* Root ports do not make their group critical: the NVMe has no
         * peer reason from them. */
        CHECK(n_reasons(m, "0000:00:1c.4") == 2);

        /* The ISA bridge does: the PCH audio cannot go without it. */
        CHECK(has(m, "0000:00:1f.3", "iommu-peer", "shares IOMMU group 11 with 0000:00:1f.0 (is an ISA bridge)"));
        /* The PCIe-to-PCI bridge does not: the capture card stays free. */
        CHECK(!hashmap_get(m, "0000:05:00.0"));
        /* The boot VGA's bridge is its peer. */
        CHECK(has(m, "0000:09:00.0", "iommu-peer", "shares IOMMU group 16 with 0000:0a:00.0 (is the boot VGA device)"));
        CHECK(n_reasons(m, "0000:0a:00.0") == 1);

        /* Nothing critical about the GPU and its audio function. */
        CHECK(!hashmap_get(m, "0000:01:00.0"));
        CHECK(!hashmap_get(m, "0000:01:00.1"));

        inventory_done(&inv);
}

/* Two critical devices in one group: each names the other, and a third
 * member gets one reason per critical peer. */
static void test_two_critical_peers(void) {
        _cleanup_(critical_map_freep) Hashmap *m = NULL;
        const CriticalHit hits[] = {
                { "0000:07:00.0", "root-filesystem", "holds / (/dev/nvme0n1p2)" },
                { "0000:08:00.0", "default-route", "carries the default route (eno1)" },
        };
        Inventory inv;

        build(&inv);
        CHECK(critical_compute(&inv, hits, ELEMENTSOF(hits), &m) == 0);
        CHECK(has(m, "0000:07:00.0", "iommu-peer", "shares IOMMU group 9 with 0000:08:00.0 (carries the default route (eno1))"));
        CHECK(has(m, "0000:08:00.0", "iommu-peer", "shares IOMMU group 9 with 0000:07:00.0 (holds / (/dev/nvme0n1p2))"));
        CHECK(n_reasons(m, "0000:00:1c.0") == 3);
        inventory_done(&inv);
}

static void test_empty(void) {
        _cleanup_(critical_map_freep) Hashmap *m = NULL;
        Inventory inv;

        CHECK(inventory_init(&inv) == 0);
        CHECK(critical_compute(&inv, NULL, 0, &m) == 0);
        CHECK(m && hashmap_size(m) == 0);
        inventory_done(&inv);
}

static void test_hits_add(void) {
        CriticalHit *hits = NULL;
        size_t n = 0;

        CHECK(critical_hits_add(&hits, &n, "0000:07:00.0", "swap", "holds swap (/dev/nvme0n1p3)") == 0);
        CHECK(critical_hits_add(&hits, &n, "0000:07:00.0", "swap", "holds swap (/dev/nvme0n1p3)") == 0);
        CHECK(critical_hits_add(&hits, &n, "0000:07:00.0", "root-filesystem", "holds / (/dev/nvme0n1p2)") == 0);
        CHECK(n == 2);
        critical_hits_free(hits, n);
}

static void count_changed(Device *d, void *userdata) {
        (*(unsigned *) userdata)++;
}

/* Reasons move into the devices; only differences count as changes. */
static void test_apply(void) {
        const CriticalHit root = { "0000:07:00.0", "root-filesystem", "holds / (/dev/nvme0n1p2)" };
        const CriticalHit route = { "0000:08:00.0", "default-route", "carries the default route (eno1)" };
        const CriticalHit both[] = { root, route };
        Hashmap *m = NULL;
        unsigned changed = 0;
        size_t n;
        Inventory inv;

        build(&inv);
        CHECK(critical_compute(&inv, both, 2, &m) == 0);
        n = critical_apply(&inv, m, count_changed, &changed);
        /* Seven bridges, the boot VGA, the NVMe, the I210, the PCH audio
         * beside the LPC bridge. */
        CHECK(n == changed);
        CHECK(n == 11);
        CHECK_STREQ(inventory_get(&inv, "0000:08:00.0")->critical[0], "default-route");
        CHECK(!inventory_get(&inv, "0000:01:00.0")->critical);

        /* The same again: nothing changes. */
        changed = 0;
        CHECK(critical_compute(&inv, both, 2, &m) == 0);
        CHECK(critical_apply(&inv, m, count_changed, &changed) == 0);
        CHECK(changed == 0);

        /* The route goes: the I210 keeps its peer reason; the NVMe loses
         * its peer reason from the I210, the root ports one of two. */
        CHECK(critical_compute(&inv, &root, 1, &m) == 0);
        CHECK(critical_apply(&inv, m, count_changed, &changed) == 4);
        CHECK(strv_length(inventory_get(&inv, "0000:08:00.0")->critical) == 2);
        CHECK_STREQ(inventory_get(&inv, "0000:08:00.0")->critical[0], "iommu-peer");

        /* No hits: only what the inventory itself says remains; the NVMe
         * and the I210 are free, the root ports lose their peer reason. */
        CHECK(critical_compute(&inv, NULL, 0, &m) == 0);
        CHECK(critical_apply(&inv, m, NULL, NULL) == 4);
        CHECK(!inventory_get(&inv, "0000:07:00.0")->critical);
        CHECK(!inventory_get(&inv, "0000:08:00.0")->critical);
        CHECK(inventory_get(&inv, "0000:00:1c.0")->critical);
        inventory_done(&inv);
}

int main(void) {
        test_compute();
        test_two_critical_peers();
        test_empty();
        test_hits_add();
        test_apply();
        CHECK_DONE();
}
