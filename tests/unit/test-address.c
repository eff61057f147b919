/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "check.h"
#include "bus/bus.h"
#include "common/address.h"
#include "shared/macro.h"

static void expect(const char *in, DeviceKind kind, const char *out) {
        _cleanup_free_ char *a = NULL;
        DeviceKind k;
        int r = address_parse(in, &k, &a);

        if (!out) {
                CHECK(r == -EINVAL);
                if (r != -EINVAL)
                        fprintf(stderr, "  accepted '%s' as '%s'\n", in, a);
                return;
        }
        CHECK(r == 0);
        CHECK(k == kind);
        CHECK_STREQ(a, out);
}

static void test_parse(void) {
        expect("0000:01:00.0", DEVICE_PCI, "0000:01:00.0");
        expect("01:00.0", DEVICE_PCI, "0000:01:00.0");
        expect("0000:AF:1F.7", DEVICE_PCI, "0000:af:1f.7");
        expect("10000:e1:00.0", DEVICE_PCI, "10000:e1:00.0");
        expect("3-1.2", DEVICE_USB, "3-1.2");
        expect("1-3", DEVICE_USB, "1-3");
        expect("12-1.2.3.4.5.6.7", DEVICE_USB, "12-1.2.3.4.5.6.7");

        expect("", 0, NULL);
        expect("garbage", 0, NULL);
        expect("0000:01:00", 0, NULL);
        expect("0000:01:20.0", 0, NULL);      /* device > 0x1f */
        expect("0000:01:00.8", 0, NULL);      /* function > 7 */
        expect("000:01:00.0", 0, NULL);       /* short domain */
        expect("0000:1:00.0", 0, NULL);
        expect("0000:01:00.0 ", 0, NULL);
        expect("0000:01:00.0\n", 0, NULL);
        expect("0x00:01:00.0", 0, NULL);
        expect("usb1", 0, NULL);
        expect("3-", 0, NULL);
        expect("3-1.", 0, NULL);
        expect("3-01", 0, NULL);
        expect("0-1", 0, NULL);
        expect("3-1:1.0", 0, NULL);           /* an interface, not a device */
        expect("3-256", 0, NULL);
        expect("3-1.2.3.4.5.6.7.8", 0, NULL); /* deeper than USB allows */
        expect("-1", 0, NULL);
}

static void expect_slot(const char *in, const char *out) {
        _cleanup_free_ char *a = NULL;
        int r = pci_slot_parse(in, &a);

        if (!out) {
                CHECK(r == -EINVAL);
                return;
        }
        CHECK(r == 0);
        CHECK_STREQ(a, out);
}

/* A slot as admins type it means every function of it. */
static void test_slot(void) {
        expect_slot("01:00", "0000:01:00");
        expect_slot("01:00.*", "0000:01:00");
        expect_slot("0000:AF:1f", "0000:af:1f");
        expect_slot("0000:01:00.*", "0000:01:00");
        expect_slot("01:00.0", NULL);
        expect_slot("01:00.", NULL);
        expect_slot("01:00*", NULL);
        expect_slot("01:20", NULL);
        expect_slot("1-3", NULL);
        expect_slot("", NULL);
        expect_slot(".*", NULL);
}

static void test_long(void) {
        char *big = malloc(1 << 20);

        memset(big, '1', (1 << 20) - 1);
        big[(1 << 20) - 1] = 0;
        CHECK(address_parse(big, NULL, NULL) == -EINVAL);
        big[3] = '-';
        CHECK(address_parse(big, NULL, NULL) == -EINVAL);
        free(big);
}

static void test_paths(void) {
        _cleanup_free_ char *p1 = bus_device_path_of(DEVICE_PCI, "0000:01:00.0");
        _cleanup_free_ char *p2 = bus_device_path_of(DEVICE_USB, "3-1.2");
        _cleanup_free_ char *a1 = address_from_path_component(DEVICE_PCI, "0000_01_00_0");
        _cleanup_free_ char *a2 = address_from_path_component(DEVICE_USB, "3_1_2");
        _cleanup_free_ char *bad1 = address_from_path_component(DEVICE_PCI, "01_00_0");
        _cleanup_free_ char *bad2 = address_from_path_component(DEVICE_PCI, "0000_01_00_0_");
        _cleanup_free_ char *bad3 = address_from_path_component(DEVICE_USB, "3_01");
        _cleanup_free_ char *o1 = address_from_object_path("/org/hostdev1/usb/3_1_2");
        _cleanup_free_ char *o2 = address_from_object_path("/org/hostdev1/pci/0000_01_00_0");
        _cleanup_free_ char *o3 = address_from_object_path("/org/hostdev1/claim/c1");
        _cleanup_free_ char *o4 = address_from_object_path("/org/hostdev1/usbx/3_1_2");

        CHECK_STREQ(p1, "/org/hostdev1/pci/0000_01_00_0");
        CHECK_STREQ(p2, "/org/hostdev1/usb/3_1_2");
        CHECK_STREQ(a1, "0000:01:00.0");
        CHECK_STREQ(a2, "3-1.2");
        CHECK_STREQ(o1, "3-1.2");
        CHECK_STREQ(o2, "0000:01:00.0");
        CHECK(!o3 && !o4);
        CHECK(!bad1);   /* only the canonical spelling names an object */
        CHECK(!bad2);
        CHECK(!bad3);
}

static void test_group_paths(void) {
        ResourceGroup *a = resource_group_new("0a1b", "gpus", RESOURCE_PCI);
        ResourceGroup *b = resource_group_new("ff", "gpus", RESOURCE_PCI);
        _cleanup_free_ char *pa = NULL, *pb = NULL, *want = NULL;
        char buf[BUS_GROUP_PATH_MAX];

        CHECK(a && b);
        /* Object paths as sd-bus encodes the id: a leading digit is escaped. */
        pa = bus_resource_group_path(a);
        pb = bus_resource_group_path(b);
        CHECK(sd_bus_path_encode("/org/hostdev1/resource_group", "0a1b", &want) >= 0);
        CHECK_STREQ(pa, want);
        CHECK_STREQ(pb, "/org/hostdev1/resource_group/ff");
        CHECK_STREQ(bus_iommu_group_path(65535, buf), "/org/hostdev1/iommu_group/65535");
        resource_group_free(a);
        resource_group_free(b);
}

static void test_order(void) {
        /* As people read them: numbers, not strings. */
        CHECK(address_compare("0000:01:00.0", "0000:01:00.1") < 0);
        CHECK(address_compare("0000:ff:00.0", "10000:00:00.0") < 0);
        CHECK(address_compare("0000:01:00.0", "1-1") < 0);
        CHECK(address_compare("1-3", "1-3.2") < 0);
        CHECK(address_compare("1-3.2", "2-1") < 0);
        CHECK(address_compare("1-9", "1-10") < 0);
        CHECK(address_compare("2-1", "10-1") < 0);
        CHECK(address_compare("1-3.2", "1-3.2") == 0);
        CHECK(address_compare("1-3.10", "1-3.9") > 0);
}

/* The kernel's names: "1-3.2" is a device, "1-3.2:1.0" one of its
 * interfaces; sysfs's devpath ("3.2") and root hubs ("usb1") are neither. */
static void test_usb(void) {
        _cleanup_free_ char *device = NULL;

        expect("3.2", 0, NULL);
        expect("usb1", 0, NULL);
        expect("1-3.2:1.0", 0, NULL);
        expect("1-0", 0, NULL);
        CHECK(usb_interface_parse("1-3.2:1.0", &device) == 0);
        CHECK_STREQ(device, "1-3.2");
        CHECK(usb_interface_parse("2-1:1.12", NULL) == 0);
        CHECK(usb_interface_parse("2-1", NULL) == -EINVAL);
        CHECK(usb_interface_parse("2-1:0.0", NULL) == -EINVAL);
        CHECK(usb_interface_parse("2-1:1.01", NULL) == -EINVAL);
        CHECK(usb_interface_parse("2-1:1.", NULL) == -EINVAL);
        CHECK(usb_interface_parse("1-0:1.0", NULL) == -EINVAL);
        CHECK(usb_interface_parse("2-1:1.0/x", NULL) == -EINVAL);
        CHECK(usb_interface_parse("3.2:1.0", NULL) == -EINVAL);
}

int main(void) {
        test_usb();
        test_slot();
        test_parse();
        test_order();
        test_long();
        test_paths();
        test_group_paths();
        CHECK_DONE();
}
