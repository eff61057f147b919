/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "check.h"
#include "common/address.h"
#include "model/inventory.h"
#include "shared/macro.h"

static Device *pci(const char *address, uint32_t class, const char *driver, int group) {
        Device *d = device_new(DEVICE_PCI, address);

        d->pci.class = class;
        d->driver = driver ? strdup(driver) : NULL;
        d->iommu_group = group;
        return d;
}

/* A GPU and its audio function in one group behind a root port in another. */
static void test_gpu_group(void) {
        Inventory inv;
        IommuGroup *g;
        bool created = false;
        _cleanup_free_ char *text = NULL;

        CHECK(inventory_init(&inv) == 0);
        CHECK(inventory_add(&inv, pci("0000:01:00.1", 0x040300, "snd_hda_intel", 7), &created) == 0);
        CHECK(created);
        CHECK(inventory_add(&inv, pci("0000:01:00.0", 0x030000, "nouveau", 7), &created) == 0);
        CHECK(!created);
        CHECK(inventory_add(&inv, pci("0000:00:01.0", 0x060400, "pcieport", 1), NULL) == 0);
        Device *twin = pci("0000:00:01.0", 0x060400, "pcieport", 1);
        CHECK(inventory_add(&inv, twin, NULL) == -EEXIST);
        device_free(twin);

        g = inventory_group(&inv, 7);
        CHECK(g && g->n_members == 2);
        /* Members sorted by address whatever the order they came in. */
        CHECK_STREQ(g->members[0]->address, "0000:01:00.0");
        CHECK_STREQ(g->members[1]->address, "0000:01:00.1");
        CHECK(!iommu_group_viable(g));
        text = iommu_group_blockers_text(g);
        CHECK_STREQ(text, "0000:01:00.0 is bound to nouveau\n0000:01:00.1 is bound to snd_hda_intel\n");

        /* A root port bound to pcieport does not block its group. */
        CHECK(iommu_group_viable(inventory_group(&inv, 1)));

        /* The GPU moves to vfio-pci: still blocked by the audio function. */
        free_and_strdup(&inventory_get(&inv, "0000:01:00.0")->driver, "vfio-pci");
        CHECK(!iommu_group_viable(g));
        /* A vendor variant of vfio-pci counts, and so does no driver. */
        free_and_strdup(&inventory_get(&inv, "0000:01:00.1")->driver, "mlx5-vfio-pci");
        CHECK(iommu_group_viable(g));
        free_and_strdup(&inventory_get(&inv, "0000:01:00.1")->driver, "mlx5_vfio_pci");
        CHECK(iommu_group_viable(g));
        free_and_strdup(&inventory_get(&inv, "0000:01:00.1")->driver, NULL);
        CHECK(iommu_group_viable(g));
        free_and_strdup(&inventory_get(&inv, "0000:01:00.1")->driver, "pci-stub");
        CHECK(iommu_group_viable(g));
        CHECK(device_state(inventory_get(&inv, "0000:01:00.0")) == DEVICE_STATE_PREPARED);
        CHECK(device_state(inventory_get(&inv, "0000:01:00.1")) == DEVICE_STATE_HOST);

        /* pcieport on something that is not a bridge is a host driver. */
        Device *odd = pci("0000:02:00.0", 0x020000, "pcieport", 9);
        _cleanup_free_ char *b = device_group_blocker(odd);
        CHECK_STREQ(b, "0000:02:00.0 is bound to pcieport");
        device_free(odd);

        /* Taking members out leaves an empty group that gc drops. */
        device_free(inventory_take(&inv, "0000:01:00.0"));
        device_free(inventory_take(&inv, "0000:01:00.1"));
        CHECK(inventory_group(&inv, 7)->n_members == 0);
        CHECK(inventory_gc_group(&inv, 7));
        CHECK(!inventory_group(&inv, 7));
        CHECK(inv.n_groups == 1);
        inventory_done(&inv);
}

static void test_diff(void) {
        Device *a = pci("0000:01:00.0", 0x030000, "nouveau", 7), *b = pci("0000:01:00.0", 0x030000, "vfio-pci", 7);

        CHECK(device_diff(a, b) == (DEVICE_FIELD_DRIVER | DEVICE_FIELD_STATE));
        free_and_strdup(&b->driver, "nouveau");
        CHECK(device_diff(a, b) == 0);
        b->vendor_id = 1;
        CHECK(device_diff(a, b) & DEVICE_FIELD_IDENTITY);
        device_free(a);
        device_free(b);
}

/* The inventory's sorted view follows adds and removals, whatever their order. */
static void test_sorted(void) {
        static const char *const addresses[] = {
                "0000:06:1f.7", "0000:00:01.0", "0000:06:00.0", "10000:00:00.0", "0000:af:00.1",
                "0000:06:00.1", "0000:0a:00.0", "0000:06:02.3",
        };
        static const char *const usb[] = { "1-3.10", "1-3.2", "2-1", "1-3" };
        Inventory inv;
        Device *const *l;
        size_t n = 0;

        CHECK(inventory_init(&inv) == 0);
        CHECK(*inventory_sorted(&inv) == NULL);
        for (size_t i = 0; i < ELEMENTSOF(addresses); i++)
                CHECK(inventory_add(&inv, pci(addresses[i], 0x020000, NULL, (int) i), NULL) == 0);
        for (size_t i = 0; i < ELEMENTSOF(usb); i++)
                CHECK(inventory_add(&inv, device_new(DEVICE_USB, usb[i]), NULL) == 0);
        /* More than the first allocation holds. */
        for (unsigned i = 0; i < 100; i++) {
                char a[16];

                snprintf(a, sizeof a, "0000:%02x:%02x.%u", 0x80 + i % 7, i / 7, i % 8);
                if (!inventory_get(&inv, a))
                        CHECK(inventory_add(&inv, pci(a, 0x020000, NULL, -1), NULL) == 0);
        }
        device_free(inventory_take(&inv, "0000:06:00.0"));
        device_free(inventory_take(&inv, "1-3.2"));
        device_free(inventory_take(&inv, "10000:00:00.0"));
        CHECK(inventory_take(&inv, "0000:06:00.0") == NULL);

        l = inventory_sorted(&inv);
        for (; l[n]; n++) {
                CHECK(inventory_get(&inv, l[n]->address) == l[n]);
                if (n > 0)
                        CHECK(address_compare(l[n - 1]->address, l[n]->address) < 0);
        }
        CHECK(n == inventory_n_devices(&inv));
        CHECK_STREQ(l[0]->address, "0000:00:01.0");
        /* PCI before USB, USB paths by number. */
        CHECK_STREQ(l[n - 3]->address, "1-3");
        CHECK_STREQ(l[n - 2]->address, "1-3.10");
        CHECK_STREQ(l[n - 1]->address, "2-1");
        inventory_done(&inv);
}

int main(void) {
        test_gpu_group();
        test_diff();
        test_sorted();
        CHECK_DONE();
}
