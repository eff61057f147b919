/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "check.h"
#include "shared/strv.h"
#include "model/rules.h"
#include "shared/macro.h"

static const RuleValue *q(uint32_t v) {
        static RuleValue r;
        r = (RuleValue) { .type = 'q', .u = v };
        return &r;
}

static const RuleValue *u(uint32_t v) {
        static RuleValue r;
        r = (RuleValue) { .type = 'u', .u = v };
        return &r;
}

static const RuleValue *i32(int32_t v) {
        static RuleValue r;
        r = (RuleValue) { .type = 'i', .i = v };
        return &r;
}

static const RuleValue *s(const char *v) {
        static RuleValue r;
        r = (RuleValue) { .type = 's', .s = v };
        return &r;
}

/* A GPU in slot 1 on NUMA node 0, bound to nouveau. */
static Device *gpu(void) {
        Device *d = device_new(DEVICE_PCI, "0000:01:00.0");

        d->vendor_id = 0x10de;
        d->product_id = 0x1eb8;
        d->vendor_name = "NVIDIA Corporation";
        d->product_name = "TU104GL [Tesla T4]";
        d->serial = strdup("1a-2b-3c-4d-5e-6f-70-81");
        d->driver = strdup("nouveau");
        d->numa_node = 0;
        d->pci.class = 0x030200;
        d->pci.subsystem_vendor_id = 0x10de;
        d->pci.subsystem_id = 0x12a2;
        d->pci.slot = strdup("1");
        return d;
}

/* A VF of the NIC at 0000:03:00.0. */
static Device *vf(void) {
        Device *d = device_new(DEVICE_PCI, "0000:03:02.0");

        d->vendor_id = 0x8086;
        d->product_id = 0x154c;
        d->vendor_name = "Intel Corporation";
        d->product_name = "Ethernet Virtual Function 700 Series";
        d->driver = strdup("iavf");
        d->pci.class = 0x020000;
        d->pci.physfn = strdup("0000:03:00.0");
        d->pci.vf_index = 0;
        return d;
}

/* A USB security key at 2-1. */
static Device *key(void) {
        Device *d = device_new(DEVICE_USB, "2-1");

        d->vendor_id = 0x1050;
        d->product_id = 0x0407;
        d->vendor_name = "Yubico.com";
        d->product_name = "Yubikey 4/5 OTP+U2F+CCID";
        d->serial = strdup("4C530001090927117045");
        d->driver = strdup("usb");
        d->usb.port_path = strdup("1");
        return d;
}

/* Does a rule of this one field match the device? */
static bool match1(ResourceType t, const Device *d, const char *key1, const RuleValue *v1) {
        Rule r = {};
        bool m;

        if (rule_set(&r, t, key1, v1, NULL) < 0 || rule_validate(&r, NULL) < 0) {
                fprintf(stderr, "rule %s refused\n", key1);
                check_failures++;
                rule_done(&r);
                return false;
        }
        m = rule_matches(&r, d);
        rule_done(&r);
        return m;
}

static void test_names(void) {
        CHECK_STREQ(resource_type_to_string(RESOURCE_SRIOV_NIC), "sriov-nic");
        CHECK(resource_type_from_string("usb") == RESOURCE_USB);
        CHECK(resource_type_from_string("vgpu") == RESOURCE_VGPU);
        CHECK(resource_type_from_string("gpu") == _RESOURCE_TYPE_INVALID);
        CHECK(!resource_type_to_string(_RESOURCE_TYPE_MAX));

        for (RuleField f = 0; f < _RULE_FIELD_MAX; f++) {
                CHECK(rule_field_to_string(f));
                CHECK(rule_field_from_string(rule_field_to_string(f)) == f);
                CHECK(strchr("quis", rule_field_type(f)));
        }
        CHECK(rule_field_from_string("colour") == _RULE_FIELD_INVALID);
        CHECK(rule_field_from_string("colour") < 0);
        CHECK(rule_field_type(RULE_VENDOR_ID) == 'q');
        CHECK(rule_field_type(RULE_CLASS) == 'u');
        CHECK(rule_field_type(RULE_NUMA_NODE) == 'i');
        CHECK(rule_field_type(RULE_PORT_PATH) == 's');
}

static void test_match_pci(void) {
        Device *d = gpu(), *v = vf();

        CHECK(match1(RESOURCE_PCI, d, "vendor-id", q(0x10de)));
        CHECK(!match1(RESOURCE_PCI, d, "vendor-id", q(0x1002)));
        CHECK(match1(RESOURCE_PCI, d, "product-id", q(0x1eb8)));
        CHECK(!match1(RESOURCE_PCI, d, "product-id", q(0x1eb9)));
        CHECK(match1(RESOURCE_PCI, d, "subsystem-vendor-id", q(0x10de)));
        CHECK(!match1(RESOURCE_PCI, d, "subsystem-vendor-id", q(0x1043)));
        CHECK(match1(RESOURCE_PCI, d, "subsystem-id", q(0x12a2)));
        CHECK(!match1(RESOURCE_PCI, d, "subsystem-id", q(0x12a3)));

        /* class alone compares all 24 bits. */
        CHECK(match1(RESOURCE_PCI, d, "class", u(0x030200)));
        CHECK(!match1(RESOURCE_PCI, d, "class", u(0x030000)));

        /* Names are case-insensitive globs. */
        CHECK(match1(RESOURCE_PCI, d, "vendor-name", s("nvidia*")));
        CHECK(match1(RESOURCE_PCI, d, "vendor-name", s("NVIDIA Corporation")));
        CHECK(!match1(RESOURCE_PCI, d, "vendor-name", s("NVIDIA")));
        CHECK(match1(RESOURCE_PCI, d, "product-name", s("*tesla t?]")));
        CHECK(!match1(RESOURCE_PCI, d, "product-name", s("*A100*")));

        /* Addresses are globs; a plain one is normalized. */
        CHECK(match1(RESOURCE_PCI, d, "address", s("0000:0[12]:00.*")));
        CHECK(match1(RESOURCE_PCI, d, "address", s("01:00.0")));
        CHECK(match1(RESOURCE_PCI, d, "address", s("*.0")));
        CHECK(!match1(RESOURCE_PCI, d, "address", s("0000:01:00.1")));
        CHECK(!match1(RESOURCE_PCI, d, "address", s("0000:0[23]:*")));

        /* Slot, serial and driver are exact. */
        CHECK(match1(RESOURCE_PCI, d, "slot", s("1")));
        CHECK(!match1(RESOURCE_PCI, d, "slot", s("1*")));
        CHECK(!match1(RESOURCE_PCI, v, "slot", s("1")));       /* no slot at all */
        CHECK(match1(RESOURCE_PCI, d, "serial", s("1a-2b-3c-4d-5e-6f-70-81")));
        CHECK(!match1(RESOURCE_PCI, d, "serial", s("1A-2B-3C-4D-5E-6F-70-81")));
        CHECK(!match1(RESOURCE_PCI, v, "serial", s("1a-2b-3c-4d-5e-6f-70-81")));
        CHECK(match1(RESOURCE_PCI, d, "driver", s("nouveau")));
        CHECK(!match1(RESOURCE_PCI, d, "driver", s("nouv*")));
        free_and_strdup(&d->driver, NULL);
        CHECK(!match1(RESOURCE_PCI, d, "driver", s("nouveau")));

        CHECK(match1(RESOURCE_PCI, d, "numa-node", i32(0)));
        CHECK(!match1(RESOURCE_PCI, d, "numa-node", i32(1)));
        CHECK(match1(RESOURCE_PCI, v, "numa-node", i32(-1)));

        /* The physical function is compared in its normalized form. */
        CHECK(match1(RESOURCE_SRIOV_NIC, v, "physical-function", s("0000:03:00.0")));
        CHECK(match1(RESOURCE_SRIOV_NIC, v, "physical-function", s("03:00.0")));
        CHECK(!match1(RESOURCE_SRIOV_NIC, v, "physical-function", s("0000:03:00.1")));
        CHECK(!match1(RESOURCE_SRIOV_NIC, d, "physical-function", s("0000:03:00.0")));

        device_free(d);
        device_free(v);
}

static void test_class_mask(void) {
        Device *d = gpu();
        Rule r = {};

        /* Any display controller: base class 0x03. */
        CHECK(rule_set(&r, RESOURCE_PCI, "class", u(0x030000), NULL) == 0);
        CHECK(rule_set(&r, RESOURCE_PCI, "class-mask", u(0xff0000), NULL) == 0);
        CHECK(rule_validate(&r, NULL) == 0);
        CHECK(rule_matches(&r, d));
        d->pci.class = 0x040300;
        CHECK(!rule_matches(&r, d));
        rule_done(&r);

        /* A mask alone is no rule: it matches nothing. */
        CHECK(rule_set(&r, RESOURCE_PCI, "class-mask", u(0xff0000), NULL) == 0);
        CHECK(!rule_matches(&r, d));
        rule_done(&r);
        device_free(d);
}

static void test_match_usb(void) {
        Device *d = key(), *g = gpu();

        CHECK(match1(RESOURCE_USB, d, "vendor-id", q(0x1050)));
        CHECK(!match1(RESOURCE_USB, d, "vendor-id", q(0x1051)));
        CHECK(match1(RESOURCE_USB, d, "product-id", q(0x0407)));
        CHECK(!match1(RESOURCE_USB, d, "product-id", q(0x0406)));
        CHECK(match1(RESOURCE_USB, d, "vendor-name", s("YUBICO*")));
        CHECK(!match1(RESOURCE_USB, d, "vendor-name", s("Logitech*")));
        CHECK(match1(RESOURCE_USB, d, "product-name", s("yubikey*")));
        CHECK(match1(RESOURCE_USB, d, "serial", s("4C530001090927117045")));
        CHECK(!match1(RESOURCE_USB, d, "serial", s("4C53000109092711704")));
        CHECK(match1(RESOURCE_USB, d, "driver", s("usb")));

        /* Port paths are globs over "bus-port.port". */
        CHECK(match1(RESOURCE_USB, d, "port-path", s("2-1")));
        CHECK(match1(RESOURCE_USB, d, "port-path", s("2-*")));
        CHECK(!match1(RESOURCE_USB, d, "port-path", s("1-*")));
        CHECK(!match1(RESOURCE_USB, d, "port-path", s("2-1.*")));
        free(d->address);
        d->address = strdup("2-1.4");
        CHECK(match1(RESOURCE_USB, d, "port-path", s("2-1.*")));

        /* A field that does not apply to the device's kind never matches,
         * whatever the device's memory holds. */
        d->pci.class = 0x0c0330;
        d->pci.slot = strdup("1");
        CHECK(!match1(RESOURCE_PCI, d, "class", u(0x0c0330)));
        CHECK(!match1(RESOURCE_PCI, d, "slot", s("1")));
        CHECK(!match1(RESOURCE_PCI, d, "address", s("*")));
        CHECK(!match1(RESOURCE_PCI, d, "numa-node", i32(-1)));
        CHECK(!match1(RESOURCE_PCI, d, "subsystem-vendor-id", q(0)));
        CHECK(!match1(RESOURCE_PCI, d, "subsystem-id", q(0)));
        CHECK(!match1(RESOURCE_USB, g, "port-path", s("*")));

        device_free(d);
        device_free(g);
}

static void test_all_fields_must_match(void) {
        Device *d = gpu();
        Rule r = {};

        CHECK(rule_set(&r, RESOURCE_PCI, "vendor-id", q(0x10de), NULL) == 0);
        CHECK(rule_set(&r, RESOURCE_PCI, "slot", s("1"), NULL) == 0);
        CHECK(rule_matches(&r, d));
        free_and_strdup(&d->pci.slot, "2");
        CHECK(!rule_matches(&r, d));
        rule_done(&r);

        /* An empty rule matches nothing. */
        CHECK(!rule_matches(&r, d));
        device_free(d);
}

/* rule_set refuses the value with exactly this message, and leaves the rule as it was. */
static void check_refused(ResourceType t, const char *key1, const RuleValue *v, const char *message) {
        _cleanup_free_ char *e = NULL;
        Rule r = {};

        CHECK(rule_set(&r, t, key1, v, &e) == -EINVAL);
        CHECK_STREQ(e, message);
        CHECK(r.fields == 0);
        rule_done(&r);
}

static void test_refused(void) {
        char big[RULE_STRING_MAX + 2];

        check_refused(RESOURCE_PCI, "colour", s("red"), "Unknown rule field 'colour'.");
        check_refused(RESOURCE_PCI, "", s("red"), "Unknown rule field ''.");
        check_refused(RESOURCE_PCI, "a\nb", s("red"), "Unknown rule field 'a?b'.");
        check_refused(RESOURCE_PCI, "vendor-id", s("10de"), "Rule field 'vendor-id' must be of type 'q', not 's'.");
        check_refused(RESOURCE_PCI, "class", q(3), "Rule field 'class' must be of type 'u', not 'q'.");
        check_refused(RESOURCE_PCI, "numa-node", u(0), "Rule field 'numa-node' must be of type 'i', not 'u'.");
        check_refused(RESOURCE_PCI, "serial", u(0), "Rule field 'serial' must be of type 's', not 'u'.");

        check_refused(RESOURCE_PCI, "physical-function", s("0000:03:00.0"),
                      "Rule field 'physical-function' is only valid for groups of type sriov-nic.");
        check_refused(RESOURCE_PCI, "port-path", s("1-3.*"),
                      "Rule field 'port-path' is only valid for groups of type usb.");
        check_refused(RESOURCE_USB, "class", u(0x0c0330),
                      "Rule field 'class' of a usb group is a USB class code, 0x00 to 0xff "
                      "(e.g. 0x03 for HID, 0x0b for smart cards).");
        check_refused(RESOURCE_USB, "class-mask", u(0xff),
                      "Rule field 'class-mask' is only valid for groups of type pci, sriov-nic or vgpu.");
        check_refused(RESOURCE_USB, "address", s("0000:00:14.0"),
                      "Rule field 'address' is only valid for groups of type pci, sriov-nic or vgpu.");

        check_refused(RESOURCE_PCI, "serial", s(""), "Rule field 'serial' must not be empty.");
        check_refused(RESOURCE_PCI, "driver", s(NULL), "Rule field 'driver' must not be empty.");
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        check_refused(RESOURCE_PCI, "product-name", s(big), "Rule field 'product-name' is longer than 256 bytes.");
        big[RULE_STRING_MAX] = 0;
        {
                Rule r = {};
                CHECK(rule_set(&r, RESOURCE_PCI, "product-name", s(big), NULL) == 0);   /* exactly the limit */
                rule_done(&r);
        }
        check_refused(RESOURCE_PCI, "slot", s("1\n2"), "Rule field 'slot' contains control characters.");
        check_refused(RESOURCE_PCI, "serial", s("ab\x7f"), "Rule field 'serial' contains control characters.");
        check_refused(RESOURCE_PCI, "serial", s("ab\xc2\x85"), "Rule field 'serial' contains control characters.");
        check_refused(RESOURCE_PCI, "vendor-name", s("\xff\xfe"), "Rule field 'vendor-name' is not valid UTF-8.");

        check_refused(RESOURCE_PCI, "address", s("gpu0"),
                      "Rule field 'address' must be a PCI address such as 0000:01:00.0, or a glob such as 0000:0[12]:00.*.");
        check_refused(RESOURCE_PCI, "address", s("0000:01:20.0"),
                      "Rule field 'address' must be a PCI address such as 0000:01:00.0, or a glob such as 0000:0[12]:00.*.");
        check_refused(RESOURCE_PCI, "address", s("0000:01:*;"),
                      "Rule field 'address' must be a PCI address such as 0000:01:00.0, or a glob such as 0000:0[12]:00.*.");
        check_refused(RESOURCE_USB, "port-path", s("3-0"),
                      "Rule field 'port-path' must be a USB port path such as 3-1.2, or a glob such as 1-3.*.");
        check_refused(RESOURCE_USB, "port-path", s("usb*"),
                      "Rule field 'port-path' must be a USB port path such as 3-1.2, or a glob such as 1-3.*.");
        check_refused(RESOURCE_SRIOV_NIC, "physical-function", s("0000:03:00.*"),
                      "Rule field 'physical-function' must be the PCI address of a physical function, such as 0000:03:00.0.");

        check_refused(RESOURCE_PCI, "vendor-id", q(0x10000), "Rule field 'vendor-id' must be at most 0xffff.");
        check_refused(RESOURCE_PCI, "class", u(0x1000000),
                      "Rule field 'class' must be at most 0xffffff (base class, subclass, programming interface).");
        check_refused(RESOURCE_PCI, "class-mask", u(0), "Rule field 'class-mask' must not be 0: it would match every class.");
        check_refused(RESOURCE_PCI, "numa-node", i32(-2), "Rule field 'numa-node' must be -1 (no node) to 1023.");
        check_refused(RESOURCE_PCI, "numa-node", i32(1024), "Rule field 'numa-node' must be -1 (no node) to 1023.");

        /* Without a place for the message, the error alone. */
        {
                Rule r = {};
                CHECK(rule_set(&r, RESOURCE_PCI, "colour", s("red"), NULL) == -EINVAL);
        }
}

static void test_validate(void) {
        _cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL;
        Rule r = {};

        CHECK(rule_validate(&r, &e1) == -EINVAL);
        CHECK_STREQ(e1, "A rule needs at least one field.");

        CHECK(rule_set(&r, RESOURCE_PCI, "class-mask", u(0xff0000), NULL) == 0);
        CHECK(rule_validate(&r, &e2) == -EINVAL);
        CHECK_STREQ(e2, "Rule field 'class-mask' needs the field 'class'.");
        CHECK(rule_set(&r, RESOURCE_PCI, "class", u(0x030000), NULL) == 0);
        CHECK(rule_validate(&r, NULL) == 0);

        CHECK(rule_set(&r, RESOURCE_PCI, "class", u(0x020000), &e3) == -EINVAL);
        CHECK_STREQ(e3, "Rule field 'class' is given twice.");
        CHECK(r.class == 0x030000);
        rule_done(&r);
}

static void test_get_copy_equal(void) {
        Rule a = {}, b = {};
        RuleValue v;

        CHECK(rule_set(&a, RESOURCE_PCI, "vendor-id", q(0x10de), NULL) == 0);
        CHECK(rule_set(&a, RESOURCE_PCI, "address", s("0000:0A:00.*"), NULL) == 0);
        CHECK(rule_set(&a, RESOURCE_PCI, "numa-node", i32(1), NULL) == 0);
        CHECK(rule_has(&a, RULE_VENDOR_ID) && rule_has(&a, RULE_ADDRESS) && !rule_has(&a, RULE_SERIAL));

        v = rule_get(&a, RULE_VENDOR_ID);
        CHECK(v.type == 'q' && v.u == 0x10de);
        v = rule_get(&a, RULE_NUMA_NODE);
        CHECK(v.type == 'i' && v.i == 1);
        /* Globs are kept in the kernel's lower case. */
        v = rule_get(&a, RULE_ADDRESS);
        CHECK(v.type == 's');
        CHECK_STREQ(v.s, "0000:0a:00.*");

        CHECK(rule_copy(&b, &a) == 0);
        CHECK(b.strings[RULE_ADDRESS] != a.strings[RULE_ADDRESS]);
        CHECK(rule_equal(&a, &b));
        free_and_strdup(&b.strings[RULE_ADDRESS], "0000:0b:00.*");
        CHECK(!rule_equal(&a, &b));
        rule_done(&b);
        CHECK(!rule_equal(&a, &b));
        CHECK(b.fields == 0 && !b.strings[RULE_ADDRESS]);
        rule_done(&a);
}

static void test_type_accepts(void) {
        Device *g = gpu(), *v = vf(), *k = key(), *bridge = device_new(DEVICE_PCI, "0000:00:01.0");

        bridge->pci.class = 0x060400;
        CHECK(resource_type_accepts(RESOURCE_PCI, g));
        CHECK(resource_type_accepts(RESOURCE_PCI, v));
        CHECK(!resource_type_accepts(RESOURCE_PCI, k));
        CHECK(!resource_type_accepts(RESOURCE_PCI, bridge));
        CHECK(resource_type_accepts(RESOURCE_SRIOV_NIC, v));
        CHECK(!resource_type_accepts(RESOURCE_SRIOV_NIC, g));
        CHECK(resource_type_accepts(RESOURCE_USB, k));
        CHECK(!resource_type_accepts(RESOURCE_USB, g));
        CHECK(!resource_type_accepts(RESOURCE_VGPU, g));
        CHECK(!resource_type_accepts(RESOURCE_VGPU, k));
        device_free(g);
        device_free(v);
        device_free(k);
        device_free(bridge);
}

/* USB classes: bDeviceClass, or any interface's class when the device
 * gives its class per interface; hubs are never members of a usb group. */
static void test_usb_class(void) {
        Device *d = key();

        d->usb.interfaces = strv_split_whitespace("2-1:1.0 0b/00/00 usbfs 2-1:1.1 03/01/01 usbhid");
        CHECK(match1(RESOURCE_USB, d, "class", u(0x0b)));
        CHECK(match1(RESOURCE_USB, d, "class", u(0x03)));
        CHECK(!match1(RESOURCE_USB, d, "class", u(0x08)));
        d->usb.device_class = 0xff;
        CHECK(match1(RESOURCE_USB, d, "class", u(0xff)));
        CHECK(resource_type_accepts(RESOURCE_USB, d));
        d->usb.device_class = 0x09;
        CHECK(!resource_type_accepts(RESOURCE_USB, d));
        CHECK(device_is_usb_hub(d));
        /* A hub interface makes a hub too. */
        d->usb.device_class = 0x00;
        strv_free(d->usb.interfaces);
        d->usb.interfaces = strv_split_whitespace("2-1:1.0 09/00/00 hub");
        CHECK(device_is_usb_hub(d) && !resource_type_accepts(RESOURCE_USB, d));
        device_free(d);
}

int main(void) {
        test_names();
        test_match_pci();
        test_class_mask();
        test_match_usb();
        test_all_fields_must_match();
        test_refused();
        test_validate();
        test_get_copy_equal();
        test_type_accepts();
        test_usb_class();
        CHECK_DONE();
}
