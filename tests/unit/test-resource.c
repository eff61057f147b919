/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-bus.h>

#include "check.h"
#include "model/resource.h"
#include "shared/macro.h"

/* A small host: two identical GPUs with their audio functions (the
 * functions of a card share its serial), a dual-port NIC whose ports share
 * a serial, two of its VFs, a root port, and two USB devices. */
static Device *pci(const char *address, uint16_t vendor, uint16_t product, uint32_t class,
                   const char *serial, const char *slot, int group) {
        Device *d = device_new(DEVICE_PCI, address);

        d->vendor_id = vendor;
        d->product_id = product;
        d->pci.class = class;
        d->pci.subsystem_vendor_id = vendor;
        d->pci.subsystem_id = 0x1234;
        d->serial = serial ? strdup(serial) : NULL;
        d->pci.slot = slot ? strdup(slot) : NULL;
        d->iommu_group = group;
        return d;
}

static Device *usb(const char *address, uint16_t vendor, uint16_t product, const char *serial) {
        Device *d = device_new(DEVICE_USB, address);

        d->vendor_id = vendor;
        d->product_id = product;
        d->serial = serial ? strdup(serial) : NULL;
        return d;
}

#define GPU1_SERIAL "1a-2b-3c-4d-5e-6f-70-81"
#define GPU2_SERIAL "1a-2b-3c-4d-5e-6f-70-82"

static void host_init(Inventory *inv) {
        Device *v;

        CHECK(inventory_init(inv) == 0);
        CHECK(inventory_add(inv, pci("0000:00:01.0", 0x8086, 0x1901, 0x060400, NULL, NULL, 1), NULL) == 0);
        CHECK(inventory_add(inv, pci("0000:01:00.0", 0x10de, 0x1eb8, 0x030200, GPU1_SERIAL, "1", 12), NULL) == 0);
        CHECK(inventory_add(inv, pci("0000:01:00.1", 0x10de, 0x10f8, 0x040300, GPU1_SERIAL, "1", 12), NULL) == 0);
        CHECK(inventory_add(inv, pci("0000:02:00.0", 0x10de, 0x1eb8, 0x030200, GPU2_SERIAL, "2", 13), NULL) == 0);
        CHECK(inventory_add(inv, pci("0000:02:00.1", 0x10de, 0x10f8, 0x040300, GPU2_SERIAL, "2", 13), NULL) == 0);
        CHECK(inventory_add(inv, pci("0000:03:00.0", 0x8086, 0x1572, 0x020000, "3CFDFEA1B2C0", NULL, 14), NULL) == 0);
        CHECK(inventory_add(inv, pci("0000:03:00.1", 0x8086, 0x1572, 0x020000, "3CFDFEA1B2C0", NULL, 14), NULL) == 0);
        for (int i = 0; i < 2; i++) {
                char a[16];

                snprintf(a, sizeof a, "0000:03:02.%d", i);
                /* A VF may report its PF's Device Serial Number. */
                v = pci(a, 0x8086, 0x154c, 0x020000, "3CFDFEA1B2C0", NULL, 17 + i);
                v->pci.physfn = strdup("0000:03:00.0");
                v->pci.vf_index = i;
                CHECK(inventory_add(inv, v, NULL) == 0);
        }
        CHECK(inventory_add(inv, usb("2-1", 0x1050, 0x0407, "4C530001090927117045"), NULL) == 0);
        CHECK(inventory_add(inv, usb("1-3", 0x046d, 0xc52b, NULL), NULL) == 0);
}

static const Device *dev(const Inventory *inv, const char *address) {
        const Device *d = inventory_get(inv, address);

        if (!d) {
                fprintf(stderr, "no device %s in the test host\n", address);
                abort();
        }
        return d;
}

/* The addresses of the devices a set of rules accepts, space-separated, in address order. */
static char *accepted(const Inventory *inv, ResourceType type, const Rule *rules, size_t n) {
        ResourceGroup *g = resource_group_new("probe", "probe", type);
        ResourceSet set = {};
        const Device **l = NULL;
        size_t n_l = 0;
        char *text = strdup("");

        g->rules = (Rule *) rules;
        g->n_rules = n;
        CHECK(resource_set_add(&set, g) == 0);
        CHECK(resource_group_devices(&set, inv, g, &l, &n_l) == 0);
        for (size_t i = 0; i < n_l; i++) {
                char *t;

                CHECK(asprintf(&t, "%s%s%s", text, i ? " " : "", l[i]->address) > 0);
                free(text);
                text = t;
        }
        free(l);
        g->rules = NULL;
        g->n_rules = 0;
        resource_set_done(&set);
        return text;
}

static bool rule_string_is(const Rule *r, RuleField f, const char *v) {
        return rule_has(r, f) && streq(r->strings[f], v);
}

/* Two identical GPUs, each with a serial: two serial rules that find
 * exactly those two, not their audio functions that share the serials. */
static void test_make_gpus_with_serials(const Inventory *inv) {
        const Device *sel[] = { dev(inv, "0000:01:00.0"), dev(inv, "0000:02:00.0") };
        _cleanup_free_ char *text = NULL;
        ResourceType type = _RESOURCE_TYPE_INVALID;
        Rule *rules = NULL;
        size_t n = 0;

        CHECK(resource_make_rules(sel, 2, &type, &rules, &n, NULL) == 0);
        CHECK(type == RESOURCE_PCI);
        CHECK(n == 2);
        for (size_t i = 0; i < n; i++) {
                CHECK(rule_validate(rules + i, NULL) == 0);
                /* The serial, with the ids and the function number. */
                CHECK(rules[i].fields == (1u << RULE_VENDOR_ID | 1u << RULE_PRODUCT_ID | 1u << RULE_SERIAL |
                                          1u << RULE_ADDRESS));
                CHECK(rules[i].vendor_id == 0x10de && rules[i].product_id == 0x1eb8);
                CHECK(rule_string_is(rules + i, RULE_ADDRESS, "*.0"));
        }
        CHECK(rule_string_is(rules + 0, RULE_SERIAL, GPU1_SERIAL));
        CHECK(rule_string_is(rules + 1, RULE_SERIAL, GPU2_SERIAL));
        text = accepted(inv, type, rules, n);
        CHECK_STREQ(text, "0000:01:00.0 0000:02:00.0");

        /* The serial rule follows the card to another bus. */
        Device *moved = pci("0000:05:00.0", 0x10de, 0x1eb8, 0x030200, GPU1_SERIAL, "4", 20);
        CHECK(rule_matches(rules + 0, moved));
        device_free(moved);
        rules_free(rules, n);
}

/* A GPU without a serial: its ids, its slot and its function number. */
static void test_make_gpu_in_slot(void) {
        Device *a = pci("0000:01:00.0", 0x10de, 0x1eb8, 0x030200, NULL, "1", 12);
        Device *b = pci("0000:02:00.0", 0x10de, 0x1eb8, 0x030200, NULL, "2", 13);
        const Device *sel[] = { a, b, a };
        ResourceType type;
        Rule *rules = NULL;
        size_t n = 0;

        CHECK(resource_make_rules(sel, 1, &type, &rules, &n, NULL) == 0);
        CHECK(type == RESOURCE_PCI && n == 1);
        CHECK(rules[0].fields == (1u << RULE_VENDOR_ID | 1u << RULE_PRODUCT_ID | 1u << RULE_SUBSYSTEM_VENDOR_ID |
                                  1u << RULE_SUBSYSTEM_ID | 1u << RULE_SLOT | 1u << RULE_ADDRESS));
        CHECK(rules[0].vendor_id == 0x10de && rules[0].product_id == 0x1eb8);
        CHECK(rules[0].subsystem_vendor_id == 0x10de && rules[0].subsystem_id == 0x1234);
        CHECK(rule_string_is(rules, RULE_SLOT, "1"));
        CHECK(rule_string_is(rules, RULE_ADDRESS, "*.0"));
        CHECK(rule_matches(rules, a));
        CHECK(!rule_matches(rules, b));
        /* Still found after the bus numbers change behind the same slot. */
        free(a->address);
        a->address = strdup("0000:41:00.0");
        CHECK(rule_matches(rules, a));
        rules_free(rules, n);

        /* Two identical GPUs in two slots: two rules; the same one twice: merged. */
        CHECK(resource_make_rules(sel, 3, &type, &rules, &n, NULL) == 0);
        CHECK(n == 2);
        CHECK(rule_string_is(rules + 0, RULE_SLOT, "1"));
        CHECK(rule_string_is(rules + 1, RULE_SLOT, "2"));
        rules_free(rules, n);
        device_free(a);
        device_free(b);
}

/* Same identity, two serials: two serial rules, not one merged id rule. */
static void test_make_same_ids_two_serials(const Inventory *inv) {
        const Device *sel[] = { dev(inv, "0000:01:00.1"), dev(inv, "0000:02:00.1") };
        ResourceType type;
        Rule *rules = NULL;
        size_t n = 0;

        CHECK(resource_make_rules(sel, 2, &type, &rules, &n, NULL) == 0);
        CHECK(n == 2);
        CHECK(rule_string_is(rules + 0, RULE_SERIAL, GPU1_SERIAL));
        CHECK(rule_string_is(rules + 1, RULE_SERIAL, GPU2_SERIAL));
        CHECK(rule_string_is(rules + 0, RULE_ADDRESS, "*.1"));
        rules_free(rules, n);
}

/* One port of a dual-port NIC: the serial alone would take both ports
 * and the VFs that report the PF's serial. */
static void test_make_one_port(const Inventory *inv) {
        const Device *sel[] = { dev(inv, "0000:03:00.1") };
        _cleanup_free_ char *text = NULL;
        ResourceType type;
        Rule *rules = NULL;
        size_t n = 0;

        CHECK(resource_make_rules(sel, 1, &type, &rules, &n, NULL) == 0);
        CHECK(n == 1);
        text = accepted(inv, type, rules, n);
        CHECK_STREQ(text, "0000:03:00.1");
        rules_free(rules, n);
}

/* A device in no named slot and without a serial: ids and its address. */
static void test_make_no_slot(void) {
        Device *d = pci("0000:0a:00.0", 0x1a03, 0x2000, 0x030000, NULL, NULL, 16);
        const Device *sel[] = { d };
        ResourceType type;
        Rule *rules = NULL;
        size_t n = 0;

        CHECK(resource_make_rules(sel, 1, &type, &rules, &n, NULL) == 0);
        CHECK(n == 1);
        CHECK(rule_string_is(rules, RULE_ADDRESS, "0000:0a:00.0"));
        CHECK(rule_has(rules, RULE_VENDOR_ID) && rule_has(rules, RULE_SUBSYSTEM_ID) && !rule_has(rules, RULE_SLOT));
        CHECK(rule_matches(rules, d));
        rules_free(rules, n);

        /* A serial that cannot be a rule value falls back to the address. */
        d->serial = strdup("bad\tserial");
        CHECK(resource_make_rules(sel, 1, &type, &rules, &n, NULL) == 0);
        CHECK(n == 1 && !rule_has(rules, RULE_SERIAL));
        CHECK(rule_string_is(rules, RULE_ADDRESS, "0000:0a:00.0"));
        rules_free(rules, n);
        device_free(d);
}

static void test_make_vfs(const Inventory *inv) {
        const Device *sel[] = { dev(inv, "0000:03:02.0"), dev(inv, "0000:03:02.1") };
        const Device *mixed[] = { dev(inv, "0000:03:02.0"), dev(inv, "0000:03:00.0") };
        _cleanup_free_ char *text = NULL;
        ResourceType type;
        Rule *rules = NULL;
        size_t n = 0;

        CHECK(resource_make_rules(sel, 2, &type, &rules, &n, NULL) == 0);
        CHECK(type == RESOURCE_SRIOV_NIC);
        /* The serial of a VF is its PF's: each VF is named as VF n of its PF. */
        CHECK(n == 2);
        CHECK(!rule_has(rules + 0, RULE_SERIAL) && !rule_has(rules + 0, RULE_ADDRESS));
        CHECK(rule_string_is(rules + 0, RULE_PHYSICAL_FUNCTION, "0000:03:00.0"));
        CHECK(rule_string_is(rules + 0, RULE_VF_INDEX, "0"));
        CHECK(rule_string_is(rules + 1, RULE_PHYSICAL_FUNCTION, "0000:03:00.0"));
        CHECK(rule_string_is(rules + 1, RULE_VF_INDEX, "1"));
        text = accepted(inv, type, rules, n);
        CHECK_STREQ(text, "0000:03:02.0 0000:03:02.1");
        rules_free(rules, n);

        /* A VF with a PF is a plain pci group, where a VF is named by its address. */
        CHECK(resource_make_rules(mixed, 2, &type, &rules, &n, NULL) == 0);
        CHECK(type == RESOURCE_PCI);
        CHECK(n == 2 && rule_string_is(rules + 0, RULE_ADDRESS, "0000:03:02.0"));
        rules_free(rules, n);
}

static void test_make_usb(const Inventory *inv) {
        const Device *sel[] = { dev(inv, "2-1"), dev(inv, "1-3") };
        _cleanup_free_ char *text = NULL;
        ResourceType type;
        Rule *rules = NULL;
        size_t n = 0;

        CHECK(resource_make_rules(sel, 2, &type, &rules, &n, NULL) == 0);
        CHECK(type == RESOURCE_USB);
        CHECK(n == 2);
        /* A USB serial is unique only per vendor and product. */
        CHECK(rules[0].fields == (1u << RULE_VENDOR_ID | 1u << RULE_PRODUCT_ID | 1u << RULE_SERIAL));
        CHECK(rule_string_is(rules + 0, RULE_SERIAL, "4C530001090927117045"));
        CHECK(rule_string_is(rules + 1, RULE_PORT_PATH, "1-3"));
        CHECK(rules[1].vendor_id == 0x046d && rules[1].product_id == 0xc52b);
        text = accepted(inv, type, rules, n);
        CHECK_STREQ(text, "1-3 2-1");
        rules_free(rules, n);
}

static void check_make_refused(const Device *const *sel, size_t n, const char *message) {
        _cleanup_free_ char *e = NULL;
        ResourceType type = _RESOURCE_TYPE_INVALID;
        Rule *rules = NULL;
        size_t n_rules = 0;

        CHECK(resource_make_rules(sel, n, &type, &rules, &n_rules, &e) == -EINVAL);
        CHECK_STREQ(e, message);
        CHECK(!rules && n_rules == 0 && type == _RESOURCE_TYPE_INVALID);
}

static void test_make_refused(const Inventory *inv) {
        const Device *mixed[] = { dev(inv, "0000:01:00.0"), dev(inv, "2-1") };
        const Device *bridge[] = { dev(inv, "0000:01:00.0"), dev(inv, "0000:00:01.0") };

        check_make_refused(mixed, 2, "USB devices and PCI functions cannot be in one resource group.");
        check_make_refused(bridge, 2, "0000:00:01.0 is a PCI bridge: bridges cannot be in a resource group.");
        check_make_refused(mixed, 0, "No devices given.");
}

static void test_companions(const Inventory *inv) {
        const Device *gpu[] = { dev(inv, "0000:01:00.0") };
        const Device *both[] = { dev(inv, "0000:02:00.1"), dev(inv, "0000:01:00.0") };
        const Device *card[] = { dev(inv, "0000:01:00.0"), dev(inv, "0000:01:00.1") };
        const Device *other[] = { dev(inv, "2-1"), dev(inv, "0000:03:02.0") };
        const Device **l = NULL;
        size_t n = 99;

        /* A GPU's companion is its audio function. */
        CHECK(resource_companions(inv, gpu, 1, &l, &n) == 0);
        CHECK(n == 1 && l && streq(l[0]->address, "0000:01:00.1"));
        free(l);

        CHECK(resource_companions(inv, both, 2, &l, &n) == 0);
        CHECK(n == 2);
        CHECK(n == 2 && streq(l[0]->address, "0000:01:00.1") && streq(l[1]->address, "0000:02:00.0"));
        free(l);

        /* Nothing is missing from a whole card, a USB device, or a VF alone in its group. */
        CHECK(resource_companions(inv, card, 2, &l, &n) == 0);
        CHECK(n == 0);
        free(l);
        CHECK(resource_companions(inv, other, 2, &l, &n) == 0);
        CHECK(n == 0);
        free(l);
}

/* The bridge sharing an IOMMU group with a device is no companion. */
static void test_companions_skip_bridges(void) {
        Inventory inv;
        const Device **l = NULL;
        size_t n = 99;

        CHECK(inventory_init(&inv) == 0);
        CHECK(inventory_add(&inv, pci("0000:09:00.0", 0x1a03, 0x1150, 0x060400, NULL, NULL, 16), NULL) == 0);
        CHECK(inventory_add(&inv, pci("0000:0a:00.0", 0x1a03, 0x2000, 0x030000, NULL, NULL, 16), NULL) == 0);
        const Device *sel[] = { inventory_get(&inv, "0000:0a:00.0") };
        CHECK(resource_companions(&inv, sel, 1, &l, &n) == 0);
        CHECK(n == 0);
        free(l);
        inventory_done(&inv);
}

static ResourceGroup *group(const char *id, const char *name, ResourceType type, const char *key, RuleValue v) {
        ResourceGroup *g = resource_group_new(id, name, type);

        g->rules = calloc(1, sizeof(Rule));
        g->n_rules = 1;
        CHECK(rule_set(g->rules, type, key, &v, NULL) == 0);
        return g;
}

static void test_membership(const Inventory *inv) {
        ResourceSet set = {};
        ResourceGroup *gpus, *nvidia, *keys;
        const Device *d = NULL, **l = NULL;
        const ResourceGroup *owner = NULL;
        Rule *rules = NULL;
        ResourceType type;
        size_t n = 0;

        /* Both groups match the GPUs: the older one, gpus, holds them. */
        gpus = group("a1", "gpus", RESOURCE_PCI, "class", (RuleValue) { .type = 'u', .u = 0x030200 });
        nvidia = group("b2", "nvidia", RESOURCE_PCI, "vendor-id", (RuleValue) { .type = 'q', .u = 0x10de });
        keys = group("c3", "keys", RESOURCE_USB, "vendor-id", (RuleValue) { .type = 'q', .u = 0x1050 });
        CHECK(resource_set_add(&set, gpus) == 0);
        CHECK(resource_set_add(&set, nvidia) == 0);
        CHECK(resource_set_add(&set, keys) == 0);

        CHECK(resource_set_owner(&set, dev(inv, "0000:01:00.0")) == gpus);
        CHECK(resource_set_owner(&set, dev(inv, "0000:01:00.1")) == nvidia);
        CHECK(resource_set_owner(&set, dev(inv, "2-1")) == keys);
        CHECK(!resource_set_owner(&set, dev(inv, "1-3")));
        CHECK(resource_group_accepts(nvidia, dev(inv, "0000:02:00.0")));

        CHECK(resource_group_devices(&set, inv, gpus, &l, &n) == 0);
        CHECK(n == 2 && streq(l[0]->address, "0000:01:00.0") && streq(l[1]->address, "0000:02:00.0"));
        free(l);
        CHECK(resource_group_devices(&set, inv, nvidia, &l, &n) == 0);
        CHECK(n == 2 && streq(l[0]->address, "0000:01:00.1") && streq(l[1]->address, "0000:02:00.1"));
        free(l);

        /* A new group for the second card would take what gpus and nvidia hold:
         * the conflict names the lowest address and its holder. */
        const Device *card[] = { dev(inv, "0000:02:00.1"), dev(inv, "0000:02:00.0") };
        CHECK(resource_make_rules(card, 2, &type, &rules, &n, NULL) == 0);
        CHECK(resource_set_check_conflicts(&set, inv, NULL, type, rules, n, &d, &owner) == -EBUSY);
        CHECK(d && streq(d->address, "0000:02:00.0"));
        CHECK(owner == gpus);

        /* nvidia changing to these rules: 02:00.1 is its own, 02:00.0 is gpus'. */
        d = NULL;
        owner = NULL;
        CHECK(resource_set_check_conflicts(&set, inv, nvidia, type, rules, n, &d, &owner) == -EBUSY);
        CHECK(d && streq(d->address, "0000:02:00.0") && owner == gpus);
        /* gpus changing to them: it holds 02:00.0 already; 02:00.1 is nvidia's. */
        CHECK(resource_set_check_conflicts(&set, inv, gpus, type, rules, n, &d, &owner) == -EBUSY);
        CHECK(streq(d->address, "0000:02:00.1") && owner == nvidia);
        rules_free(rules, n);

        /* Rules that take only free devices, or the group's own, are fine. */
        Rule free_rule = {};
        CHECK(rule_set(&free_rule, RESOURCE_USB, "port-path", &(RuleValue) { .type = 's', .s = "1-*" }, NULL) == 0);
        CHECK(resource_set_check_conflicts(&set, inv, NULL, RESOURCE_USB, &free_rule, 1, NULL, NULL) == 0);
        rule_done(&free_rule);
        CHECK(resource_set_check_conflicts(&set, inv, keys, RESOURCE_USB, keys->rules, 1, NULL, NULL) == 0);
        /* The type filters too: a pci group matching vendor 0x1050 takes no USB key. */
        CHECK(resource_set_check_conflicts(&set, inv, NULL, RESOURCE_PCI, keys->rules, 1, NULL, NULL) == 0);

        /* Deleting gpus hands the GPUs to nvidia; order is kept. */
        ResourceGroup *t = resource_set_take(&set, "a1");
        CHECK(t == gpus);
        CHECK(!resource_set_take(&set, "a1"));
        CHECK(set.n_groups == 2 && set.groups[0] == nvidia && set.groups[1] == keys);
        CHECK(resource_set_owner(&set, dev(inv, "0000:01:00.0")) == nvidia);
        /* Undoing the take puts it back in front, and the GPUs with it. */
        CHECK(resource_set_insert(&set, t, 0) == 0);
        CHECK(set.n_groups == 3 && set.groups[0] == gpus && set.groups[1] == nvidia);
        CHECK(resource_set_owner(&set, dev(inv, "0000:01:00.0")) == gpus);
        t = resource_set_take(&set, "a1");
        resource_group_free(t);
        resource_set_done(&set);
        CHECK(set.n_groups == 0 && !set.groups);
}

static void test_set(void) {
        ResourceSet set = {};
        ResourceGroup *a = resource_group_new("0a1b", "gpus", RESOURCE_PCI);
        ResourceGroup *b = resource_group_new("ff", "gpus", RESOURCE_PCI);
        ResourceGroup *c = resource_group_new("0a1b", "nics", RESOURCE_SRIOV_NIC);

        CHECK(a && b && c);
        CHECK_STREQ(a->description, "");
        CHECK(a->type == RESOURCE_PCI && a->n_rules == 0);

        CHECK(resource_set_add(&set, a) == 0);
        CHECK(resource_set_add(&set, b) == -EEXIST);      /* name taken */
        CHECK(resource_set_add(&set, c) == -EEXIST);      /* id taken */
        CHECK(resource_set_find_id(&set, "0a1b") == a);
        CHECK(resource_set_find_name(&set, "gpus") == a);
        CHECK(!resource_set_find_name(&set, "nics"));
        CHECK(!resource_set_find_id(&set, "ff"));
        resource_group_free(b);
        resource_group_free(c);
        resource_set_done(&set);

        /* Ids are ours, made of [a-z0-9]; types must exist. */
        CHECK(!resource_group_new("", "x", RESOURCE_PCI));
        CHECK(!resource_group_new("a/b", "x", RESOURCE_PCI));
        CHECK(!resource_group_new("AB", "x", RESOURCE_PCI));
        CHECK(!resource_group_new("ab", "x", _RESOURCE_TYPE_MAX));
}

static void check_text(int (*validate)(const char *, char **), const char *s, const char *message) {
        _cleanup_free_ char *e = NULL;

        CHECK(validate(s, &e) == -EINVAL);
        CHECK_STREQ(e, message);
}

static void test_names(void) {
        char big[RESOURCE_DESCRIPTION_MAX + 2];

        CHECK(resource_name_validate("GPU pool ✓", NULL) == 0);
        CHECK(resource_description_validate("", NULL) == 0);
        check_text(resource_name_validate, "", "Name must not be empty.");
        check_text(resource_name_validate, "a\tb", "Name contains control characters.");
        check_text(resource_name_validate, "\x1b[31mred", "Name contains control characters.");
        check_text(resource_name_validate, "caf\xe9", "Name is not valid UTF-8.");
        check_text(resource_description_validate, "line\n", "Description contains control characters.");

        memset(big, 'n', RESOURCE_NAME_MAX);
        big[RESOURCE_NAME_MAX] = 0;
        CHECK(resource_name_validate(big, NULL) == 0);
        big[RESOURCE_NAME_MAX] = 'n';
        big[RESOURCE_NAME_MAX + 1] = 0;
        check_text(resource_name_validate, big, "Name is longer than 128 bytes.");

        memset(big, 'd', sizeof big - 1);
        big[sizeof big - 1] = 0;
        check_text(resource_description_validate, big, "Description is longer than 1024 bytes.");
        big[RESOURCE_DESCRIPTION_MAX] = 0;
        CHECK(resource_description_validate(big, NULL) == 0);
}

/* A member with a serial that comes back at another address moved. */
static void test_moved(void) {
        ResourceGroup *g = resource_group_new("a1", "gpus", RESOURCE_PCI);
        Device *gpu = pci("0000:01:00.0", 0x10de, 0x1eb8, 0x030200, GPU1_SERIAL, "1", 12);
        Device *audio = pci("0000:01:00.1", 0x10de, 0x10f8, 0x040300, GPU1_SERIAL, "1", 12);
        Device *moved = pci("0000:05:00.0", 0x10de, 0x1eb8, 0x030200, GPU1_SERIAL, "4", 20);
        Device *plain = pci("0000:0a:00.0", 0x1a03, 0x2000, 0x030000, NULL, NULL, 16);
        Device *key = usb("2-1", 0x1050, 0x0407, "4C53"), *key_moved = usb("1-4.2", 0x1050, 0x0407, "4C53");
        Device *vf = pci("0000:03:02.0", 0x8086, 0x154c, 0x020000, "3CFDFEA1B2C0", NULL, 17);
        Device *vf2 = pci("0000:03:03.0", 0x8086, 0x154c, 0x020000, "3CFDFEA1B2C0", NULL, 19);
        char *old = (char *) "unset";

        vf->pci.physfn = strdup("0000:03:00.0");
        vf2->pci.physfn = strdup("0000:03:00.0");

        CHECK(resource_group_note_member(g, gpu, &old) == 0 && !old);
        CHECK(resource_group_note_member(g, gpu, &old) == 0 && !old);
        /* The audio function shares the card's serial but is another function. */
        CHECK(resource_group_note_member(g, audio, &old) == 0 && !old);
        CHECK(resource_group_note_member(g, plain, &old) == 0 && !old);
        CHECK(g->n_known == 2);

        CHECK(resource_group_note_member(g, moved, &old) == 1);
        CHECK_STREQ(old, "0000:01:00.0");
        free(old);
        CHECK(resource_group_note_member(g, moved, &old) == 0 && !old);
        /* And back again. */
        CHECK(resource_group_note_member(g, gpu, NULL) == 1);
        CHECK(g->n_known == 2);

        CHECK(resource_group_note_member(g, key, &old) == 0 && !old);
        CHECK(resource_group_note_member(g, key_moved, &old) == 1);
        CHECK_STREQ(old, "2-1");
        free(old);

        /* VFs carry their PF's serial: not an identity. */
        CHECK(resource_group_note_member(g, vf, &old) == 0 && !old);
        CHECK(resource_group_note_member(g, vf2, &old) == 0 && !old);
        CHECK(g->n_known == 3);

        device_free(gpu);
        device_free(audio);
        device_free(moved);
        device_free(plain);
        device_free(key);
        device_free(key_moved);
        device_free(vf);
        device_free(vf2);
        resource_group_free(g);
}

int main(void) {
        Inventory inv;

        host_init(&inv);
        test_make_gpus_with_serials(&inv);
        test_make_gpu_in_slot();
        test_make_same_ids_two_serials(&inv);
        test_make_one_port(&inv);
        test_make_no_slot();
        test_make_vfs(&inv);
        test_make_usb(&inv);
        test_make_refused(&inv);
        test_companions(&inv);
        test_companions_skip_bridges();
        test_membership(&inv);
        test_set();
        test_names();
        test_moved();
        inventory_done(&inv);
        CHECK_DONE();
}
