/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "check.h"
#include "model/vf.h"
#include "shared/macro.h"

static void test_mac(void) {
        uint8_t mac[6];
        char buf[18];
        _cleanup_free_ char *err = NULL;

        CHECK(vf_mac_parse("52:54:00:AB:cd:0f", mac, NULL) == 0);
        CHECK_STREQ(vf_mac_format(mac, buf), "52:54:00:ab:cd:0f");
        /* all zero clears the VF's MAC */
        CHECK(vf_mac_parse("00:00:00:00:00:00", mac, NULL) == 0);
        CHECK(vf_mac_parse("01:00:5e:00:00:01", mac, &err) == -EINVAL);
        CHECK(err && strstr(err, "multicast"));
        CHECK(vf_mac_parse("ff:ff:ff:ff:ff:ff", mac, NULL) == -EINVAL);
        CHECK(vf_mac_parse("52:54:00:ab:cd", mac, NULL) == -EINVAL);
        CHECK(vf_mac_parse("52-54-00-ab-cd-0f", mac, NULL) == -EINVAL);
        CHECK(vf_mac_parse("52:54:00:ab:cd:0g", mac, NULL) == -EINVAL);
        CHECK(vf_mac_parse("", mac, NULL) == -EINVAL);
        CHECK(vf_mac_parse(NULL, mac, NULL) == -EINVAL);
}

static int validate(const VfSettings *s, unsigned num_vfs) {
        _cleanup_free_ char *err = NULL;
        int r = vf_settings_validate(s, num_vfs, &err);

        CHECK(r == 0 || (err && *err));
        return r;
}

static void test_validate(void) {
        VfSettings s;

        vf_settings_init(&s, 3);
        CHECK(vf_settings_empty(&s));
        CHECK(validate(&s, 4) == 0);
        CHECK(validate(&s, 3) == -EINVAL);      /* index out of range */
        s.vlan = 4094;
        CHECK(validate(&s, 4) == 0);
        s.vlan = 4095;
        CHECK(validate(&s, 4) == -EINVAL);
        s.vlan = 5000;
        CHECK(validate(&s, 4) == -EINVAL);
        s.vlan = 100;
        s.qos = 7;
        CHECK(validate(&s, 4) == 0);
        s.qos = 8;
        CHECK(validate(&s, 4) == -EINVAL);
        s.vlan = 0;
        s.qos = 3;                              /* a priority needs a VLAN */
        CHECK(validate(&s, 4) == -EINVAL);
        vf_settings_init(&s, 0);
        s.max_tx_rate = 1000;
        s.min_tx_rate = 100;
        CHECK(validate(&s, 1) == 0);
        s.min_tx_rate = 2000;
        CHECK(validate(&s, 1) == -EINVAL);
        s.min_tx_rate = -1;
        s.max_tx_rate = (int64_t) VF_RATE_MAX + 1;
        CHECK(validate(&s, 1) == -EINVAL);
        vf_settings_init(&s, 0);
        s.trust = 2;
        CHECK(validate(&s, 1) == -EINVAL);

        CHECK(vf_link_state_from_string("enable") == VF_LINK_ENABLE);
        CHECK(vf_link_state_from_string("up") == VF_LINK_UNSET);
        CHECK_STREQ(vf_link_state_to_string(VF_LINK_AUTO), "auto");
}

static void test_config_set(void) {
        _cleanup_(sriov_config_set_done) SriovConfigSet set = {};
        SriovConfig *c = NULL, *d = NULL;
        VfSettings a, b;

        CHECK(sriov_config_get(&set, "0000:03:00.0", "aa-bb", &c) == 0);
        c->num_vfs = 4;
        CHECK(sriov_config_get(&set, "0000:03:00.1", NULL, &d) == 0);
        CHECK(set.n_items == 2);
        /* found by serial at another address (the card moved) */
        CHECK(sriov_config_find(&set, "0000:05:00.0", "aa-bb") == &set.items[0]);
        /* the other port of the same card shares its serial: not the same PF */
        CHECK(!sriov_config_find(&set, "0000:05:00.1", "aa-bb"));
        CHECK(sriov_config_find(&set, "0000:03:00.1", NULL) == &set.items[1]);
        CHECK(!sriov_config_find(&set, "0000:05:00.0", NULL));

        c = &set.items[0];
        vf_settings_init(&a, 1);
        a.vlan = 10;
        CHECK(vf_mac_parse("52:54:00:00:00:01", a.mac, NULL) == 0);
        a.has_mac = true;
        CHECK(sriov_config_set_vf(c, &a) == 0);
        vf_settings_init(&b, 1);
        b.trust = 1;
        CHECK(sriov_config_set_vf(c, &b) == 0);
        CHECK(c->n_vfs == 1);
        CHECK(sriov_config_vf(c, 1) && sriov_config_vf(c, 1)->vlan == 10 && sriov_config_vf(c, 1)->trust == 1 &&
              sriov_config_vf(c, 1)->has_mac);
        CHECK(!sriov_config_vf(c, 0));
        CHECK(sriov_config_remove(&set, "0000:03:00.1") == 0);
        CHECK(sriov_config_remove(&set, "0000:03:00.1") == -ENOENT);
        CHECK(set.n_items == 1);
}

int main(void) {
        test_mac();
        test_validate();
        test_config_set();
        CHECK_DONE();
}
