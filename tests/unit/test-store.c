/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store's loading checks, on gdbm files written here: each record
 * that is not what a save writes is refused with a message naming the
 * record, and nothing is loaded (all or nothing). Records are written in
 * schema version 1 (no check lines), so that each check is reached on its
 * own; version 2's check lines are covered by a round trip and a record
 * without one. */
#include <gdbm.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "shared/macro.h"
#include "store/store.h"

static char dir[] = "/tmp/test-store.XXXXXX";
static char path[sizeof dir + sizeof STORE_FILE + 1];

#define GROUP "name=a\ndescription=\nclass=\ntype=pci\n"

/* Writes a file holding KEY_VERSION=version and the key, value pairs. */
static void write_db(const char *version, ...) {
        GDBM_FILE db;
        va_list ap;
        const char *k;

        (void) unlink(path);
        db = gdbm_open(path, 0, GDBM_NEWDB | GDBM_NOLOCK, 0600, NULL);
        if (!db) {
                fprintf(stderr, "cannot write %s: %s\n", path, gdbm_strerror(gdbm_errno));
                exit(EXIT_FAILURE);
        }
        va_start(ap, version);
        for (k = "schema-version"; k; k = va_arg(ap, const char *)) {
                const char *v = streq(k, "schema-version") ? version : va_arg(ap, const char *);
                datum dk = { .dptr = (char *) k, .dsize = (int) strlen(k) };
                datum dv = { .dptr = (char *) v, .dsize = (int) strlen(v) };

                CHECK(gdbm_store(db, dk, dv, GDBM_REPLACE) == 0);
        }
        va_end(ap);
        gdbm_close(db);
}

/* store_open on the file: its result, the message, and whether anything
 * was left in the sets after a failure. */
static int load(char **error, size_t *n_groups) {
        ResourceSet rs = {};
        PreparedSet ps = {};
        RebootState rb = {};
        StoreState st = { &rs, &ps, &rb };
        Store *s = NULL;
        int r;

        r = store_open(dir, &st, &s, error);
        if (r < 0)
                CHECK(rs.n_groups == 0 && ps.n_items == 0 && !rb.reasons && !s);
        if (n_groups)
                *n_groups = rs.n_groups;
        store_free(s);
        resource_set_done(&rs);
        prepared_set_done(&ps);
        reboot_state_done(&rb);
        return r;
}

static void refused(int line, const char *key, const char *word) {
        _cleanup_free_ char *error = NULL;
        int r = load(&error, NULL);

        if (r != -EBADMSG || !error || !strstr(error, path) || !strstr(error, key) || !strstr(error, word)) {
                fprintf(stderr, "%s:%d: expected a refusal naming '%s' and '%s', got %d: %s\n", __FILE__, line,
                        key, word, r, error ? error : "(no message)");
                check_failures++;
        }
}
#define REFUSED(key, word) refused(__LINE__, key, word)

static void test_valid(void) {
        size_t n = 0;

        write_db("1", "group/gabc", GROUP "rule=driver:bttv,vendor-id:4318\nknown=S%2C1,0000:01:00.0\n",
                 "group/9f00", "name=b\ndescription=caf\xc3\xa9 50%25\nclass=gpu\ntype=usb\nrule=port-path:1-3.*\n",
                 "prepared/0000:01:00.0", "ids=10de:2206\noriginal-driver=nouveau\nreleasing=0\n",
                 "reboot", "boot-id=1234\nreason=/org/hostdev1,Turn the IOMMU on.\n", NULL);
        CHECK(load(NULL, &n) == 0);
        CHECK(n == 2);
}

static void test_keys(void) {
        write_db("1", "group/", GROUP, NULL);
        REFUSED("'group/'", "id");
        write_db("1", "group/a/b", GROUP, NULL);
        REFUSED("'group/a/b'", "id");
        write_db("1", "group/ABC", GROUP, NULL);
        REFUSED("'group/ABC'", "id");
        write_db("1", "group/g\xff", GROUP, NULL);
        REFUSED("'group/g\\xff'", "UTF-8");
        write_db("1", "grp/x", GROUP, NULL);
        REFUSED("'grp/x'", "no such record");
}

static void test_group_fields(void) {
        char long_desc[1100] = "name=a\nclass=\ntype=pci\ndescription=";
        size_t l = strlen(long_desc);

        write_db("1", "group/g1", "name=caf\xe9\ndescription=\nclass=\ntype=pci\n", NULL);
        REFUSED("group/g1", "UTF-8");
        write_db("1", "group/g1", "name=a%01\ndescription=\nclass=\ntype=pci\n", NULL);
        REFUSED("group/g1", "control");
        write_db("1", "group/g1", "name=\ndescription=\nclass=\ntype=pci\n", NULL);
        REFUSED("group/g1", "empty");
        memset(long_desc + l, 'x', 1030);
        long_desc[l + 1030] = '\n';
        write_db("1", "group/g1", long_desc, NULL);
        REFUSED("group/g1", "longer");
        write_db("1", "group/g1", "name=a\ndescription=\nclass=\xc0\xaf\ntype=pci\n", NULL);
        REFUSED("group/g1", "class");
        write_db("1", "group/g1", "name=a\ndescription=\nclass=\ntype=nope\n", NULL);
        REFUSED("group/g1", "type");
        write_db("1", "group/g1", "name=a\ndescription=\nclass=\n", NULL);
        REFUSED("group/g1", "needs");
        write_db("1", "group/g1", GROUP "name=b\n", NULL);
        REFUSED("group/g1", "twice");
        write_db("1", "group/g1", GROUP "colour=red\n", NULL);
        REFUSED("group/g1", "unknown field");
        write_db("1", "group/g1", GROUP "rule=driver:x", NULL);
        REFUSED("group/g1", "cut short");
        write_db("1", "group/g1", GROUP "\n", NULL);
        REFUSED("group/g1", "field=value");
        write_db("1", "group/g1", "name=a=b\ndescription=\nclass=\ntype=pci\n", NULL);
        REFUSED("group/g1", "unescaped");
        write_db("1", "group/g1", "name=a%4\ndescription=\nclass=\ntype=pci\n", NULL);
        REFUSED("group/g1", "escape");
        write_db("1", "group/g1", "name=a%00\ndescription=\nclass=\ntype=pci\n", NULL);
        REFUSED("group/g1", "escape");
        write_db("1", "group/g1", GROUP, "group/g2", GROUP, NULL);
        REFUSED("group/g", "another group");
}

static void test_rules(void) {
        write_db("1", "group/g1", GROUP "rule=vendor-id:70000\n", NULL);
        REFUSED("group/g1", "0xffff");
        write_db("1", "group/g1", GROUP "rule=vendor-id:-1\n", NULL);
        REFUSED("group/g1", "not a number");
        write_db("1", "group/g1", GROUP "rule=vendor-id: 1\n", NULL);
        REFUSED("group/g1", "not a number");
        write_db("1", "group/g1", GROUP "rule=class-mask:255\n", NULL);
        REFUSED("group/g1", "class");
        write_db("1", "group/g1", GROUP "rule=port-path:1-3\n", NULL);
        REFUSED("group/g1", "usb");
        write_db("1", "group/g1", GROUP "rule=\n", NULL);
        REFUSED("group/g1", "at least one field");
        write_db("1", "group/g1", GROUP "rule=driver:a,\n", NULL);
        REFUSED("group/g1", "ends in ','");
        write_db("1", "group/g1", GROUP "rule=colour:red\n", NULL);
        REFUSED("group/g1", "unknown rule field");
        write_db("1", "group/g1", GROUP "known=S,0000:1:0.0\n", NULL);
        REFUSED("group/g1", "address");
        write_db("1", "group/g1", GROUP "known=S,0000:01:00.0\nknown=S,0000:02:00.0\n", NULL);
        REFUSED("group/g1", "twice");
}

static void test_prepared_and_reboot(void) {
        write_db("1", "prepared/01:00.0", "ids=10de:2206\noriginal-driver=x\nreleasing=0\n", NULL);
        REFUSED("prepared/01:00.0", "PCI address");
        write_db("1", "prepared/0000:01:00.0", "ids=10de:2206\noriginal-driver=..%2Fx\nreleasing=0\n", NULL);
        REFUSED("prepared/0000:01:00.0", "original-driver");
        write_db("1", "prepared/0000:01:00.0", "ids=10de:22\noriginal-driver=x\nreleasing=0\n", NULL);
        REFUSED("prepared/0000:01:00.0", "ids");
        write_db("1", "prepared/0000:01:00.0", "ids=10de:2206\noriginal-driver=x\nreleasing=yes\n", NULL);
        REFUSED("prepared/0000:01:00.0", "releasing");
        write_db("1", "reboot", "boot-id=1\n", NULL);
        REFUSED("reboot", "no reason");
        write_db("1", "reboot", "boot-id=1\nreason=/x,why\nreason=/x,why\n", NULL);
        REFUSED("reboot", "twice");
}

static void test_versions(void) {
        _cleanup_free_ char *error = NULL;

        write_db("4", NULL);
        CHECK(load(&error, NULL) == -EPROTONOSUPPORT);
        CHECK(error && strstr(error, "newer"));
        write_db("01", NULL);
        REFUSED("schema-version", "not a schema version");
        write_db("2", "group/g1", GROUP, NULL);
        REFUSED("group/g1", "check line");
        write_db("2", "group/g1", GROUP "check=00000000\n", NULL);
        REFUSED("group/g1", "checksum");
}

/* sriov/ records: loaded with a set to hold them. */
static int load_sriov(SriovConfigSet *sv, char **error) {
        ResourceSet rs = {};
        PreparedSet ps = {};
        RebootState rb = {};
        StoreState st = { &rs, &ps, &rb, sv };
        Store *s = NULL;
        int r = store_open(dir, &st, &s, error);

        store_free(s);
        resource_set_done(&rs);
        prepared_set_done(&ps);
        reboot_state_done(&rb);
        return r;
}

static void sriov_refused(int line, const char *body, const char *word) {
        _cleanup_(sriov_config_set_done) SriovConfigSet sv = {};
        _cleanup_free_ char *error = NULL;
        int r;

        write_db("1", "sriov/0000:03:00.0", body, NULL);
        r = load_sriov(&sv, &error);
        if (r != -EBADMSG || sv.n_items != 0 || !error || !strstr(error, word)) {
                fprintf(stderr, "%s:%d: expected a refusal naming '%s', got %d: %s\n", __FILE__, line, word, r,
                        error ? error : "(no message)");
                check_failures++;
        }
}

static void test_sriov(void) {
        _cleanup_(sriov_config_set_done) SriovConfigSet sv = {};
        ResourceSet rs = {};
        PreparedSet ps = {};
        RebootState rb = {};
        StoreState st = { &rs, &ps, &rb, &sv };
        Store *s = NULL;
        SriovConfig *c = NULL;
        VfSettings vf;
        _cleanup_free_ char *dump = NULL, *summary = NULL, *error = NULL;

        write_db("1", "sriov/0000:03:00.0",
                 "serial=3C%2CFD\nnum-vfs=4\nautoprobe=0\nvf=1;mac=52:54:00:00:00:01;vlan=10;trust=1\n", NULL);
        CHECK(load_sriov(&sv, &error) == 0);
        if (error)
                fprintf(stderr, "%s\n", error);
        CHECK(sv.n_items == 1 && sv.items[0].num_vfs == 4 && sv.items[0].autoprobe == 0 &&
              sv.items[0].n_vfs == 1 && sv.items[0].vfs[0].vlan == 10 && sv.items[0].vfs[0].trust == 1);
        CHECK_STREQ(sv.items[0].pf_serial, "3C,FD");
        sriov_config_set_done(&sv);

#define SRIOV_REFUSED(body, word) sriov_refused(__LINE__, body, word)
        SRIOV_REFUSED("num-vfs=x\n", "num-vfs");
        SRIOV_REFUSED("num-vfs=070\n", "num-vfs");
        SRIOV_REFUSED("num-vfs=2\nautoprobe=2\n", "autoprobe");
        SRIOV_REFUSED("num-vfs=2\nvf=2;vlan=1\n", "out of range");
        SRIOV_REFUSED("num-vfs=2\nvf=0;vlan=5000\n", "vf line");
        SRIOV_REFUSED("num-vfs=2\nvf=0;mac=01:00:5e:00:00:01\n", "vf line");
        SRIOV_REFUSED("num-vfs=2\nvf=0;color=red\n", "vf line");
        SRIOV_REFUSED("num-vfs=2\nvf=0; vlan=1\n", "vf line");
        SRIOV_REFUSED("num-vfs=2\nvf=0;vlan=1\nvf=0;trust=1\n", "twice");
        SRIOV_REFUSED("num-vfs=2\nspeed=1\n", "speed");
        write_db("1", "sriov/03:00.0", "num-vfs=1\n", NULL);
        CHECK(load_sriov(&sv, NULL) == -EBADMSG);

        /* round trip */
        (void) unlink(path);
        CHECK(store_open(dir, &st, &s, NULL) == 0);
        CHECK(sriov_config_get(&sv, "0000:03:00.1", NULL, &c) == 0);
        c->num_vfs = 8;
        vf_settings_init(&vf, 7);
        vf.link_state = VF_LINK_DISABLE;
        vf.max_tx_rate = 1000;
        CHECK(sriov_config_set_vf(c, &vf) == 0);
        CHECK(store_save(s, &st) == 0);
        store_free(s);
        sriov_config_set_done(&sv);
        CHECK(load_sriov(&sv, NULL) == 0);
        CHECK(sv.n_items == 1 && sv.items[0].num_vfs == 8 && sv.items[0].autoprobe == -1 && sv.items[0].n_vfs == 1 &&
              sv.items[0].vfs[0].index == 7 && sv.items[0].vfs[0].link_state == VF_LINK_DISABLE &&
              sv.items[0].vfs[0].max_tx_rate == 1000 && sv.items[0].vfs[0].vlan == -1);
        free(error);
        error = NULL;
        CHECK(store_verify(dir, &dump, &summary, &error) == 0);
        CHECK(dump && strstr(dump, "vf=7;link-state=disable;max-tx-rate=1000"));
        resource_set_done(&rs);
        prepared_set_done(&ps);
        reboot_state_done(&rb);
}

/* Loads the file with mediated device records and claims kept. */
static int load_mdevs(MdevRecordSet *mr, ClaimSet *cs, char **error) {
        ResourceSet rs = {};
        PreparedSet ps = {};
        RebootState rb = {};
        SriovConfigSet sv = {};
        StoreState st = { &rs, &ps, &rb, &sv, mr, cs };
        Store *s = NULL;
        int r;

        r = store_open(dir, &st, &s, error);
        store_free(s);
        resource_set_done(&rs);
        prepared_set_done(&ps);
        reboot_state_done(&rb);
        sriov_config_set_done(&sv);
        return r;
}

/* A vGPU type on a VF is recorded under the VF's address; an instance a
 * claim made names the claim; a vgpu claim's members are UUIDs. */
static void test_mdev_records(void) {
        MdevRecordSet mr = {};
        ClaimSet cs = {};
        _cleanup_free_ char *error = NULL;

        write_db("1", "mdev/0000:0b:00.4", "type=1136\nparent=0000:0b:00.0\nserial=S1\nclaim=cabc\n",
                 "mdev/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", "type=nvidia-558\nparent=0000:01:00.0\n",
                 "claim/cabc", "consumer=vm\ngroup=gabc\nsince=1\nlease=\nprepared=0\n"
                 "member=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\nmember=0000:0b:00.4\n", NULL);
        CHECK(load_mdevs(&mr, &cs, &error) == 0);
        if (error)
                fprintf(stderr, "%s\n", error);
        CHECK(mr.n_items == 2);
        CHECK(mdev_record_find(&mr, "0000:0b:00.4") && streq_ptr(mdev_record_find(&mr, "0000:0b:00.4")->claim, "cabc"));
        CHECK(mdev_record_find(&mr, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001") &&
              !mdev_record_find(&mr, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001")->claim);
        CHECK(cs.n_claims == 1 && claim_set_find_device(&cs, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001") &&
              claim_set_find_device(&cs, "0000:0b:00.4"));
        mdev_record_set_done(&mr);
        claim_set_done(&cs);

        write_db("1", "mdev/0b:00.4", "type=1136\nparent=0000:0b:00.0\n", NULL);
        REFUSED("mdev/0b:00.4", "VF's address");
        write_db("1", "mdev/0000:0b:00.4", "type=1136\nparent=0000:0b:00.0\nclaim=Not a claim\n", NULL);
        free(error);
        error = NULL;
        CHECK(load_mdevs(&mr, &cs, &error) == -EBADMSG && error && strstr(error, "claim"));
        mdev_record_set_done(&mr);
        claim_set_done(&cs);
        write_db("1", "claim/cabc", "consumer=vm\ngroup=gabc\nsince=1\nlease=\nprepared=0\n"
                 "member=83B8F4F2-509F-382F-3C1E-E6BFE0FA1001\n", NULL);
        REFUSED("claim/cabc", "no device address");
}

/* What store_save writes, store_open and store_verify load back. */
static void test_round_trip(void) {
        ResourceSet rs = {};
        PreparedSet ps = {};
        RebootState rb = {};
        StoreState st = { &rs, &ps, &rb };
        _cleanup_free_ char *dump = NULL, *summary = NULL, *error = NULL;
        ResourceGroup *g = resource_group_new("gabc", "pool, 100% = \"real\"", RESOURCE_PCI);
        RuleValue v = { .type = 's', .s = "a,b=c%d:e" };
        Device d = { .address = (char *) "0000:01:00.0", .serial = (char *) "S1", .vendor_id = 0x10de };
        Store *s = NULL;
        size_t n = 0;

        (void) unlink(path);
        CHECK(store_open(dir, &st, &s, NULL) == 0);
        CHECK(g && resource_set_add(&rs, g) == 0);
        g->rules = calloc(1, sizeof(Rule));
        CHECK(g->rules && rule_set(&g->rules[0], RESOURCE_PCI, "serial", &v, NULL) == 0);
        g->n_rules = 1;
        CHECK(prepared_add(&ps, &d, "nouveau") == 0);
        CHECK(reboot_state_add(&rb, "b1", "/org/hostdev1", "Two\nlines") == 1);
        CHECK(store_save(s, &st) == 0);
        store_free(s);
        resource_set_done(&rs);
        prepared_set_done(&ps);
        reboot_state_done(&rb);

        CHECK(load(NULL, &n) == 0 && n == 1);
        CHECK(store_verify(dir, &dump, &summary, &error) == 0);
        CHECK(summary && strstr(summary, "1 group, 1 prepared device, 1 reboot reason"));
        CHECK(dump && strstr(dump, "name=pool%2C 100%25 %3D \"real\"\\n"));
        CHECK(dump && strstr(dump, "rule=serial:a%2Cb%3Dc%25d:e\\n"));
}

/* The file as store_verify dumps it holds want and not gone. */
static void check_saved(const char *want, const char *gone) {
        _cleanup_free_ char *dump = NULL, *summary = NULL, *error = NULL;

        CHECK(store_verify(dir, &dump, &summary, &error) == 0);
        CHECK(dump && strstr(dump, want));
        CHECK(dump && !strstr(dump, gone));
}

/* Saves keep the group records they wrote: one after the group changed
 * writes the group as it is now, not the kept record. */
static void test_cached_saves(void) {
        ResourceSet rs = {};
        PreparedSet ps = {};
        RebootState rb = {};
        StoreState st = { &rs, &ps, &rb };
        ResourceGroup *g = resource_group_new("gcache", "before", RESOURCE_PCI);
        RuleValue v = { .type = 's', .s = "S1" }, w = { .type = 's', .s = "S2" };
        Store *s = NULL;

        (void) unlink(path);
        CHECK(store_open(dir, &st, &s, NULL) == 0);
        CHECK(g && resource_set_add(&rs, g) == 0);
        if (!g || !s)
                return;
        g->rules = calloc(1, sizeof(Rule));
        CHECK(g->rules && rule_set(&g->rules[0], RESOURCE_PCI, "serial", &v, NULL) == 0);
        g->n_rules = 1;
        CHECK(store_save(s, &st) == 0);
        CHECK(store_save(s, &st) == 0);
        check_saved("rule=serial:S1\\n", "S2");
        rule_done(&g->rules[0]);
        CHECK(rule_set(&g->rules[0], RESOURCE_PCI, "serial", &w, NULL) == 0);
        CHECK(store_save(s, &st) == 0);
        check_saved("rule=serial:S2\\n", "S1");
        free(g->name);
        g->name = strdup("after");
        g->keep_prepared = true;
        CHECK(store_save(s, &st) == 0);
        check_saved("name=after\\n", "before");
        check_saved("return-to-host=no\\n", "S1");
        store_free(s);
        resource_set_done(&rs);
}

static char *saved_dump(void) {
        _cleanup_free_ char *summary = NULL, *error = NULL;
        char *dump = NULL;

        CHECK(store_verify(dir, &dump, &summary, &error) == 0);
        return dump;
}

/* The kept group records follow a change of any numeric rule field: the
 * change check hashes them as one span of the Rule. */
static void test_cached_numeric_fields(void) {
        for (RuleField f = 0; f < _RULE_FIELD_MAX; f++) {
                ResourceSet rs = {};
                PreparedSet ps = {};
                RebootState rb = {};
                StoreState st = { &rs, &ps, &rb };
                char type = rule_field_type(f);
                RuleValue one = { .type = type, .u = 1 }, two = { .type = type, .u = 2 };
                _cleanup_free_ char *before = NULL, *after = NULL;
                ResourceGroup *g = NULL;
                Store *s = NULL;
                int r = -EINVAL;

                if (type == 's')
                        continue;
                for (ResourceType t = 0; r < 0 && t < _RESOURCE_TYPE_MAX; t++) {
                        resource_group_free(g);
                        g = resource_group_new("gnum", "numeric", t);
                        g->rules = calloc(1, sizeof(Rule));
                        g->n_rules = 1;
                        r = rule_set(&g->rules[0], t, rule_field_to_string(f), &one, NULL);
                        /* class-mask needs a class */
                        if (r == 0 && f == RULE_CLASS_MASK)
                                r = rule_set(&g->rules[0], t, "class", &(RuleValue) { .type = 'u', .u = 3 }, NULL);
                }
                CHECK(r == 0);
                (void) unlink(path);
                CHECK(store_open(dir, &st, &s, NULL) == 0);
                CHECK(resource_set_add(&rs, g) == 0);
                CHECK(store_save(s, &st) == 0);
                before = saved_dump();
                g->rules[0].fields &= ~(1u << f);
                CHECK(rule_set(&g->rules[0], g->type, rule_field_to_string(f), &two, NULL) == 0);
                CHECK(store_save(s, &st) == 0);
                after = saved_dump();
                if (!before || !after || streq(before, after))
                        fprintf(stderr, "rule field %s: a changed value was not saved\n", rule_field_to_string(f));
                CHECK(before && after && !streq(before, after));
                store_free(s);
                resource_set_done(&rs);
        }
}

/* usb-prepared/<port path>: interfaces with the drivers they had, kept
 * across a save and a load; malformed records refused by name. */
static void test_usb_prepared(void) {
        ResourceSet rs = {};
        PreparedSet ps = {};
        RebootState rb = {};
        UsbPreparedSet us = {}, loaded = {};
        StoreState st = { &rs, &ps, &rb, .usb_prepared = &us };
        char *interfaces[] = { (char *) "2-1:1.0", (char *) "2-1:1.0", (char *) "08/06/50",
                               (char *) "usb-storage", (char *) "2-1:1.1", (char *) "ff/00/00", (char *) "", NULL };
        Device d = { .kind = DEVICE_USB, .address = (char *) "2-1", .serial = (char *) "4C53",
                     .vendor_id = 0x0781, .product_id = 0x5581 };
        const UsbPrepared *p;
        Store *s = NULL;

        d.usb.interfaces = interfaces + 1;
        (void) unlink(path);
        CHECK(store_open(dir, &st, &s, NULL) == 0);
        CHECK(usb_prepared_add(&us, &d) == 0);
        CHECK(usb_prepared_add(&us, &d) == -EEXIST);
        CHECK(store_save(s, &st) == 0);
        store_free(s);
        s = NULL;
        usb_prepared_set_done(&us);

        st.usb_prepared = &loaded;
        CHECK(store_open(dir, &st, &s, NULL) == 0);
        p = usb_prepared_find(&loaded, "2-1");
        CHECK(p && p->vendor_id == 0x0781 && p->product_id == 0x5581);
        CHECK(p && p->serial && streq(p->serial, "4C53"));
        CHECK(p && streq_ptr(usb_prepared_driver(p, "2-1:1.0"), "usb-storage"));
        CHECK(p && streq_ptr(usb_prepared_driver(p, "2-1:1.1"), ""));
        CHECK(usb_prepared_find_interface(&loaded, "2-1:1.1") == p);
        store_free(s);
        usb_prepared_set_done(&loaded);
        resource_set_done(&rs);
        prepared_set_done(&ps);
        reboot_state_done(&rb);

        write_db("1", "usb-prepared/3.2", "ids=0529:0001\n", NULL);
        REFUSED("usb-prepared/3.2", "port path");
        write_db("1", "usb-prepared/1-3.2", "ids=0529:0001\ninterface=1-3.2/x\n", NULL);
        REFUSED("usb-prepared/1-3.2", "interface");
        write_db("1", "usb-prepared/1-3.2", "ids=0529:0001\ninterface=1-3.2:1.0/..\n", NULL);
        REFUSED("usb-prepared/1-3.2", "driver");
        write_db("1", "usb-prepared/1-3.2", "interface=1-3.2:1.0/\n", NULL);
        REFUSED("usb-prepared/1-3.2", "ids");
        write_db("1", "usb-prepared/1-3.2", "ids=0529:0001\ninterface=1-3.2:1.0/\n", NULL);
        CHECK(load(NULL, NULL) == 0);
}

int main(void) {
        if (!mkdtemp(dir))
                return EXIT_FAILURE;
        snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);

        test_valid();
        test_keys();
        test_group_fields();
        test_rules();
        test_prepared_and_reboot();
        test_versions();
        test_round_trip();
        test_cached_saves();
        test_cached_numeric_fields();
        test_sriov();
        test_usb_prepared();
        test_mdev_records();

        (void) unlink(path);
        (void) rmdir(dir);
        CHECK_DONE();
}
