/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <net/if_arp.h>

#include "check.h"
#include "model/handle.h"
#include "model/sriov-pool.h"
#include "shared/macro.h"

static const RuleValue *s(const char *v) {
        static RuleValue r;
        r = (RuleValue) { .type = 's', .s = v };
        return &r;
}

static void test_ranges(void) {
        char *c = NULL, *err = NULL;

        CHECK(vf_ranges_parse("0-7,12", &c, &err) == 0);
        CHECK_STREQ(c, "0-7,12");
        free(c);
        CHECK(vf_ranges_parse("12,3,0-1,5-5", &c, &err) == 0);
        CHECK_STREQ(c, "0-1,3,5,12");
        CHECK(vf_ranges_contain(c, 0) && vf_ranges_contain(c, 1) && vf_ranges_contain(c, 5) &&
              vf_ranges_contain(c, 12));
        CHECK(!vf_ranges_contain(c, 2) && !vf_ranges_contain(c, 4) && !vf_ranges_contain(c, 13));
        free(c);

        /* Refused, each with a sentence. */
        static const char *const bad[] = { "7-3", "", ",", "1,", "-1", "1-", "a", "1 - 3", "0-7,5",
                                           "3,3", "65536", "0x3", "1--2" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                c = NULL;
                CHECK(vf_ranges_parse(bad[i], &c, &err) == -EINVAL);
                CHECK(c == NULL);
                CHECK(err && strstr(err, "vf-index"));
                free(err);
                err = NULL;
        }
        CHECK(vf_ranges_parse("7-3", &c, &err) == -EINVAL);
        CHECK(err && strstr(err, "reversed"));
        free(err);
}

static Device *pf_dev(void) {
        Device *d = device_new(DEVICE_PCI, "0000:03:00.0");

        d->vendor_id = 0x8086;
        d->product_id = 0x1572;
        d->serial = strdup("3CFDFEA1B2C0");
        d->pci.sriov_capable = true;
        d->pci.total_vfs = 64;
        d->pci.num_vfs = 2;
        d->pci.vfs = calloc(3, sizeof(char *));
        d->pci.vfs[0] = strdup("0000:03:02.0");
        d->pci.vfs[1] = strdup("0000:03:02.1");
        return d;
}

static Device *vf_dev(const char *address, int index) {
        Device *d = device_new(DEVICE_PCI, address);

        d->vendor_id = 0x8086;
        d->product_id = 0x154c;
        d->iommu_group = 17 + index;
        d->pci.physfn = strdup("0000:03:00.0");
        d->pci.vf_index = index;
        d->pci.pf_serial = strdup("3CFDFEA1B2C0");
        d->pci.pf_netdev = strdup("enp3s0f0");
        d->pci.pf_link_type = ARPHRD_ETHER;
        return d;
}

static int set(Rule *r, const char *key, const char *value, char **err) {
        return rule_set(r, RESOURCE_SRIOV_NIC, key, s(value), err);
}

static void test_match(void) {
        _cleanup_(device_freep) Device *pf = pf_dev(), *v0 = vf_dev("0000:03:02.0", 0), *v1 = vf_dev("0000:03:02.1", 1);
        char *err = NULL;
        Rule r = {};

        CHECK(set(&r, "physical-function", "03:00.0", &err) == 0);
        CHECK(set(&r, "vf-index", "1-7", &err) == 0);
        CHECK(!rule_matches(&r, v0) && rule_matches(&r, v1));
        /* A PF is never a member of a sriov-nic group, whatever the rules. */
        CHECK(!resource_type_accepts(RESOURCE_SRIOV_NIC, pf) && resource_type_accepts(RESOURCE_SRIOV_NIC, v1));
        CHECK(!rule_matches(&r, pf));
        rule_done(&r);

        CHECK(set(&r, "pf-serial", "3CFDFEA1B2C0", &err) == 0);
        CHECK(set(&r, "pf-netdev", "enp3s0f*", &err) == 0);
        CHECK(set(&r, "link-type", "ethernet", &err) == 0);
        CHECK(rule_matches(&r, v0) && rule_matches(&r, v1) && !rule_matches(&r, pf));
        rule_done(&r);
        CHECK(set(&r, "link-type", "infiniband", &err) == 0);
        CHECK(!rule_matches(&r, v0));
        rule_done(&r);
        CHECK(set(&r, "pf-netdev", "enp3s0f1", &err) == 0);
        CHECK(!rule_matches(&r, v0));
        rule_done(&r);

        /* Fields for sriov-nic only; bad values. */
        CHECK(rule_set(&r, RESOURCE_PCI, "vf-index", s("0"), &err) == -EINVAL);
        CHECK(err && strstr(err, "sriov-nic"));
        free(err), err = NULL;
        CHECK(set(&r, "link-type", "token-ring", &err) == -EINVAL);
        free(err), err = NULL;
        CHECK(set(&r, "pf-netdev", "a/b", &err) == -EINVAL);
        free(err), err = NULL;
        CHECK(set(&r, "vf-index", "7-3", &err) == -EINVAL);
        free(err), err = NULL;
        CHECK(r.fields == 0);
        rule_done(&r);
}

static void test_rules_check(void) {
        _cleanup_(inventory_done) Inventory inv = {};
        char *err = NULL;
        Rule r = {};

        CHECK(inventory_init(&inv) == 0);
        CHECK(inventory_add(&inv, pf_dev(), NULL) == 0);
        CHECK(inventory_add(&inv, vf_dev("0000:03:02.0", 0), NULL) == 0);
        CHECK(inventory_add(&inv, vf_dev("0000:03:02.1", 1), NULL) == 0);

        CHECK(set(&r, "physical-function", "0000:03:00.0", &err) == 0);
        CHECK(set(&r, "vf-index", "0-7,12", &err) == 0);
        CHECK(sriov_rules_check(&inv, RESOURCE_SRIOV_NIC, &r, 1, &err) == 0);
        rule_done(&r);

        /* No PF there. */
        CHECK(set(&r, "physical-function", "0000:42:00.0", &err) == 0);
        CHECK(sriov_rules_check(&inv, RESOURCE_SRIOV_NIC, &r, 1, &err) == -EINVAL);
        CHECK(err && strstr(err, "0000:42:00.0") && strstr(err, "Rule 1"));
        free(err), err = NULL;
        rule_done(&r);
        /* A VF is no PF. */
        CHECK(set(&r, "physical-function", "0000:03:02.0", &err) == 0);
        CHECK(sriov_rules_check(&inv, RESOURCE_SRIOV_NIC, &r, 1, &err) == -EINVAL);
        CHECK(err && strstr(err, "no SR-IOV physical function"));
        free(err), err = NULL;
        rule_done(&r);
        /* Contradictions with what the PF is. */
        CHECK(set(&r, "physical-function", "0000:03:00.0", &err) == 0);
        CHECK(set(&r, "pf-netdev", "eth9", &err) == 0);
        CHECK(sriov_rules_check(&inv, RESOURCE_SRIOV_NIC, &r, 1, &err) == -EINVAL);
        CHECK(err && strstr(err, "enp3s0f0"));
        free(err), err = NULL;
        rule_done(&r);
        CHECK(set(&r, "physical-function", "0000:03:00.0", &err) == 0);
        CHECK(set(&r, "vf-index", "64-70", &err) == 0);
        CHECK(sriov_rules_check(&inv, RESOURCE_SRIOV_NIC, &r, 1, &err) == -EINVAL);
        free(err), err = NULL;
        rule_done(&r);
        CHECK(set(&r, "physical-function", "0000:03:00.0", &err) == 0);
        CHECK(set(&r, "pf-serial", "OTHER", &err) == 0);
        CHECK(sriov_rules_check(&inv, RESOURCE_SRIOV_NIC, &r, 1, &err) == -EINVAL);
        free(err), err = NULL;
        /* Other group types are not looked at. */
        CHECK(sriov_rules_check(&inv, RESOURCE_PCI, &r, 1, &err) == 0);
        rule_done(&r);
}

static void test_blocker(void) {
        _cleanup_(claim_set_done) ClaimSet set = {};
        ClaimLease lease = {};
        const char *a[] = { "0000:03:02.1" };
        Claim *c;
        char *why;

        CHECK(claim_set_init(&set) == 0);
        c = claim_new("c1", "vm-1", "g1", 1, &lease);
        CHECK(c && claim_add_member(c, a, 1) == 0);
        CHECK(claim_set_add(&set, c, NULL) == 0);
        why = sriov_vf_blocker(&set, false, "0000:03:02.1");
        CHECK(why && strstr(why, "c1") && strstr(why, "vm-1"));
        free(why);
        why = sriov_vf_blocker(&set, true, "0000:03:02.0");
        CHECK(why && strstr(why, "prepared"));
        free(why);
        CHECK(!sriov_vf_blocker(&set, false, "0000:03:02.0"));
}

static void test_requests_and_interface(void) {
        _cleanup_(inventory_done) Inventory inv = {};
        ClaimVfRequest q[2];
        ClaimVfList l = {};
        ClaimLease lease = {};
        const char *a0[] = { "0000:03:02.0" }, *a1[] = { "0000:03:02.1" };
        _cleanup_(claim_freep) Claim *c = claim_new("c1", "vm-1", "g1", 1, &lease);
        char *err = NULL, *x;

        CHECK(claim_vf_request_parse("52:54:00:12:34:56", 100, &q[0], &err) == 0);
        CHECK(claim_vf_request_parse(NULL, -1, &q[1], &err) == 0);
        CHECK(!q[1].has_mac && q[1].vlan == -1);
        CHECK(claim_vf_request_parse("01:00:5e:00:00:01", -1, &q[1], &err) == -EINVAL);
        free(err), err = NULL;
        CHECK(claim_vf_request_parse("00:00:00:00:00:00", -1, &q[1], &err) == -EINVAL);
        free(err), err = NULL;
        CHECK(claim_vf_request_parse(NULL, 4095, &q[1], &err) == -EINVAL);
        free(err), err = NULL;
        CHECK(claim_vf_request_parse("52:54:00:12:34:57", 0, &q[1], &err) == 0);

        CHECK(inventory_init(&inv) == 0);
        CHECK(inventory_add(&inv, pf_dev(), NULL) == 0);
        CHECK(inventory_add(&inv, vf_dev("0000:03:02.0", 0), NULL) == 0);
        CHECK(inventory_add(&inv, vf_dev("0000:03:02.1", 1), NULL) == 0);
        CHECK(claim_add_member(c, a0, 1) == 0 && claim_add_member(c, a1, 1) == 0);
        CHECK(claim_vf_bind(c, &inv, q, 1, &l, &err) == -EINVAL);
        free(err), err = NULL;
        CHECK(claim_vf_bind(c, &inv, q, 2, &l, &err) == 0);
        CHECK(l.n_items == 2);
        c->vf_settings = calloc(1, sizeof(ClaimVfList));
        *c->vf_settings = l;

        x = handle_libvirt_interface("0000:03:02.1", q[0].mac, 100);
        CHECK_STREQ(x, "<interface type='hostdev' managed='no'><source><address type='pci' domain='0x0000' "
                       "bus='0x03' slot='0x02' function='0x1'/></source><mac address='52:54:00:12:34:56'/>"
                       "<vlan><tag id='100'/></vlan></interface>");
        free(x);
        x = handle_libvirt_interface("0000:03:02.1", NULL, 0);
        CHECK_STREQ(x, "<interface type='hostdev' managed='no'><source><address type='pci' domain='0x0000' "
                       "bus='0x03' slot='0x02' function='0x1'/></source></interface>");
        free(x);

        /* The store's form, and back. */
        {
                _cleanup_(claim_freep) Claim *back = claim_new("c2", "vm-1", "g1", 1, &lease);
                _cleanup_free_ char *t0 = claim_vf_to_string(l.items), *t1 = claim_vf_to_string(l.items + 1);

                CHECK_STREQ(t0, "0000:03:02.0,52:54:00:12:34:56,100");
                CHECK_STREQ(t1, "0000:03:02.1,52:54:00:12:34:57,0");
                CHECK(claim_add_member(back, a0, 1) == 0 && claim_add_member(back, a1, 1) == 0);
                CHECK(claim_vf_from_string(back, t0, &err) == 0);
                CHECK(claim_vf_from_string(back, "0000:03:02.1,,7", &err) == 0);
                CHECK(back->vf_settings && back->vf_settings->n_items == 2);
                CHECK(back->vf_settings && !back->vf_settings->items[1].has_mac &&
                      back->vf_settings->items[1].vlan == 7);
                static const char *const bad[] = { "0000:03:02.0,52:54:00:12:34:56,100" /* twice */,
                                                   "0000:03:02.5,,1", "0000:03:02.1", "0000:03:02.1,,",
                                                   "0000:03:02.1,zz,1", "0000:03:02.1,,4095",
                                                   "0000:03:02.1,,-1", "0000:03:02.1,,1,2" };
                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        CHECK(claim_vf_from_string(back, bad[i], &err) == -EINVAL);
                        free(err), err = NULL;
                }
        }

        {
                _cleanup_(handle_list_done) HandleList h = {};
                HandleOptions o = { .sysfs_root = "/sys", .dev_root = "/dev", .vf_interfaces = true,
                                    .vf_settings = c->vf_settings };

                CHECK(handle_list_add_claim(&h, c, &inv, &o) == 0);
                CHECK(h.n_handles == 2);
                CHECK(h.n_handles == 2 && strstr(h.handles[0].libvirt_interface, "52:54:00:12:34:56") &&
                      strstr(h.handles[0].libvirt_interface, "<tag id='100'/>"));
                CHECK(h.n_handles == 2 && strstr(h.handles[1].libvirt_interface, "52:54:00:12:34:57") &&
                      !strstr(h.handles[1].libvirt_interface, "<vlan>"));
        }
        {
                _cleanup_(handle_list_done) HandleList h = {};
                HandleOptions o = { .sysfs_root = "/sys", .dev_root = "/dev" };

                CHECK(handle_list_add_claim(&h, c, &inv, &o) == 0);
                CHECK(h.n_handles == 2 && !h.handles[0].libvirt_interface);
        }
}

int main(void) {
        test_ranges();
        test_match();
        test_rules_check();
        test_blocker();
        test_requests_and_interface();
        CHECK_DONE();
}
