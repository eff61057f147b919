/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Claims, members and tenants: the pure model under ResourceGroup.Claim,
 * Claim.Release, AssignToTenant and ReturnToParent. */
#include "check.h"
#include "model/claim.h"
#include "shared/macro.h"
#include "shared/strv.h"

static Device *pci(const char *address, uint16_t vendor, uint16_t product, uint32_t class, const char *serial,
                   int group, int numa) {
        Device *d = device_new(DEVICE_PCI, address);

        d->vendor_id = vendor;
        d->product_id = product;
        d->pci.class = class;
        d->serial = serial ? strdup(serial) : NULL;
        d->iommu_group = group;
        d->numa_node = numa;
        return d;
}

static void add(Inventory *inv, Device *d) {
        CHECK(inventory_add(inv, d, NULL) == 0);
}

static Device *dev(const Inventory *inv, const char *address) {
        Device *d = inventory_get(inv, address);

        if (!d) {
                fprintf(stderr, "no device %s in the test host\n", address);
                abort();
        }
        return d;
}

/* A pool with one rule of a D-Bus type 'u' or 'q' field. */
static ResourceGroup *pool(ResourceSet *set, const char *id, const char *name, ResourceType type, const char *key,
                           uint32_t value) {
        ResourceGroup *g = resource_group_new(id, name, type);
        RuleValue v = { .type = rule_field_type(rule_field_from_string(key)), .u = value };

        g->rules = calloc(1, sizeof(Rule));
        g->n_rules = 1;
        CHECK(rule_set(g->rules, type, key, &v, NULL) == 0);
        CHECK(resource_set_add(set, g) == 0);
        return g;
}

/* Space-separated addresses of a claim, in address order. */
static char *claim_text(const Claim *c) {
        _cleanup_free_ const char **l = claim_addresses(c);
        char *s = strdup(""), *t;

        for (size_t i = 0; l && l[i]; i++) {
                CHECK(asprintf(&t, "%s%s%s", s, i ? " " : "", l[i]) > 0);
                free(s);
                s = t;
        }
        return s;
}

static char *picked_text(const Member *const *l, size_t n) {
        char *s = strdup(""), *t;

        for (size_t i = 0; i < n; i++) {
                CHECK(asprintf(&t, "%s%s%s", s, i ? " " : "", l[i]->own[0]->address) > 0);
                free(s);
                s = t;
        }
        return s;
}

static size_t n_free(const ResourceSet *set, const Inventory *inv, const ClaimSet *claims, const ResourceGroup *g) {
        _cleanup_(member_list_done) MemberList l = {};

        CHECK(resource_group_members(set, inv, claims, g, &l) == 0);
        return l.n_free;
}

/* Claims from g into claims; returns the errno, *ret_error the message. */
static int claim(const ResourceSet *set, const Inventory *inv, ClaimSet *claims, const ResourceGroup *g,
                 const char *id, const char *consumer, const ClaimRequest *q, char **ret_error) {
        Claim *c = NULL;
        int r;

        r = claim_make(set, inv, claims, g, id, consumer, q, 1000, NULL, &c, ret_error);
        if (r < 0)
                return r;
        r = claim_set_add(claims, c, NULL);
        CHECK(r == 0);
        return r;
}

#define GPU1_SERIAL "1a-2b-3c-4d-5e-6f-70-81"
#define GPU2_SERIAL "1a-2b-3c-4d-5e-6f-70-82"

/* Two GPUs, each with its audio function in its IOMMU group (and the
 * root port above, which stays with the host), on NUMA nodes 0 and 1. */
static void gpu_host(Inventory *inv) {
        CHECK(inventory_init(inv) == 0);
        add(inv, pci("0000:00:01.0", 0x8086, 0x1901, 0x060400, NULL, 12, 0));
        add(inv, pci("0000:01:00.0", 0x10de, 0x1eb8, 0x030200, GPU1_SERIAL, 12, 0));
        add(inv, pci("0000:01:00.1", 0x10de, 0x10f8, 0x040300, GPU1_SERIAL, 12, 0));
        add(inv, pci("0000:02:00.0", 0x10de, 0x1eb8, 0x030200, GPU2_SERIAL, 13, 1));
        add(inv, pci("0000:02:00.1", 0x10de, 0x10f8, 0x040300, GPU2_SERIAL, 13, 1));
        add(inv, pci("0000:03:00.0", 0x8086, 0x1572, 0x020000, NULL, 14, 0));
        dev(inv, "0000:00:01.0")->driver = strdup("pcieport");
        dev(inv, "0000:01:00.0")->driver = strdup("nvidia");
        dev(inv, "0000:01:00.1")->driver = strdup("snd_hda_intel");
}

/* A GPU's audio function goes along and is not a member of its own. */
static void test_members(void) {
        _cleanup_(member_list_done) MemberList l = {};
        ResourceSet set = {};
        Inventory inv;

        gpu_host(&inv);
        ResourceGroup *gpus = pool(&set, "gpus", "gpus", RESOURCE_PCI, "class", 0x030200);
        CHECK(resource_group_members(&set, &inv, NULL, gpus, &l) == 0);
        CHECK(l.group == gpus);
        CHECK(l.n_members == 2 && l.n_free == 2);
        CHECK(l.members[0].n_own == 1 && l.members[0].own[0] == dev(&inv, "0000:01:00.0"));
        /* The root port shares IOMMU group 12 but is no companion. */
        CHECK(l.members[0].n_devices == 2);
        CHECK(l.members[0].devices[0] == dev(&inv, "0000:01:00.0"));
        CHECK(l.members[0].devices[1] == dev(&inv, "0000:01:00.1"));
        CHECK(l.members[0].iommu_group == 12 && l.members[0].numa_node == 0);
        CHECK(l.members[1].own[0] == dev(&inv, "0000:02:00.0") && l.members[1].numa_node == 1);
        CHECK(l.members[0].block == MEMBER_FREE && !l.members[0].reason);
        CHECK(member_list_find(&l, dev(&inv, "0000:02:00.0")) == l.members + 1);
        CHECK(!member_list_find(&l, dev(&inv, "0000:02:00.1")));
        member_list_done(&l);

        /* A pool of the whole cards: GPU and audio are one member. */
        ResourceGroup *nvidia = pool(&set, "nvidia", "nvidia", RESOURCE_PCI, "vendor-id", 0x10de);
        resource_group_free(resource_set_take(&set, "gpus"));
        CHECK(resource_group_members(&set, &inv, NULL, nvidia, &l) == 0);
        CHECK(l.n_members == 2 && l.members[0].n_own == 2 && l.members[0].n_devices == 2);
        resource_set_done(&set);
        inventory_done(&inv);
}

/* Two GPUs with audio in a pool: claim 1 takes GPU + audio, 1 stays free;
 * 2 more are refused saying 1 is free, and nothing changes; release → 2. */
static void test_gpu_pool(void) {
        _cleanup_free_ char *e = NULL, *text = NULL;
        ClaimRequest q = CLAIM_REQUEST_INIT;
        ClaimSet claims;
        ResourceSet set = {};
        Inventory inv;

        gpu_host(&inv);
        CHECK(claim_set_init(&claims) == 0);
        ResourceGroup *gpus = pool(&set, "gpus", "gpus", RESOURCE_PCI, "class", 0x030200);
        ResourceGroup *audio = pool(&set, "audio", "audio", RESOURCE_PCI, "class", 0x040300);

        q.count = 1;
        CHECK(claim(&set, &inv, &claims, gpus, "c1", "vm-1", &q, NULL) == 0);
        Claim *c = claim_set_find_id(&claims, "c1");
        CHECK(c && c->n_members == 1);
        text = claim_text(c);
        CHECK_STREQ(text, "0000:01:00.0 0000:01:00.1");
        CHECK_STREQ(c->resource_group, "gpus");
        CHECK(c->since == 1000 && c->lease.type == CLAIM_LEASE_NONE && !c->prepared);
        CHECK(claim_set_find_device(&claims, "0000:01:00.1") == c);
        CHECK(!claim_set_find_device(&claims, "0000:00:01.0"));
        CHECK(n_free(&set, &inv, &claims, gpus) == 1);

        /* The audio function went with its GPU: the audio pool cannot hand it out. */
        {
                _cleanup_(member_list_done) MemberList l = {};
                CHECK(resource_group_members(&set, &inv, &claims, audio, &l) == 0);
                CHECK(l.n_members == 2 && l.n_free == 1);
                CHECK(l.members[0].block == MEMBER_CLAIMED && l.members[0].claim == c);
                CHECK_STREQ(l.members[0].reason, "0000:01:00.0 is claimed by c1 (consumer vm-1).");
        }

        q.count = 2;
        CHECK(claim(&set, &inv, &claims, gpus, "c2", "vm-2", &q, &e) == -ENOSPC);
        CHECK_STREQ(e, "gpus: 1 free of 2 members (1 claimed), 2 asked for.");
        CHECK(claims.n_claims == 1 && !claim_set_find_device(&claims, "0000:02:00.0"));
        CHECK(n_free(&set, &inv, &claims, gpus) == 1);

        /* The devices a claim holds, for the change engine. */
        _cleanup_free_ const Device **l = NULL;
        size_t n = 0;
        CHECK(claim_devices(c, &inv, &l, &n) == 0);
        CHECK(n == 2 && l[0] == dev(&inv, "0000:01:00.0") && l[1] == dev(&inv, "0000:01:00.1"));

        /* Release. */
        Claim *t = claim_set_take(&claims, "c1");
        CHECK(t == c && claims.n_claims == 0);
        CHECK(!claim_set_find_device(&claims, "0000:01:00.0"));
        CHECK(!claim_set_take(&claims, "c1"));
        claim_free(t);
        CHECK(n_free(&set, &inv, &claims, gpus) == 2);

        claim_set_done(&claims);
        resource_set_done(&set);
        inventory_done(&inv);
}

/* 240 VFs, each in its own IOMMU group; 32 consumers ask for 8 each. */
static void vf_host(Inventory *inv, size_t n) {
        CHECK(inventory_init(inv) == 0);
        add(inv, pci("0000:1f:00.0", 0x8086, 0x1592, 0x020000, NULL, 50, 0));
        for (size_t i = 0; i < n; i++) {
                char a[16];
                Device *v;

                snprintf(a, sizeof a, "0000:%02zx:%02zx.%zu", 0x20 + i / 256, (i / 8) % 32, i % 8);
                v = pci(a, 0x8086, 0x1889, 0x020000, NULL, (int) (100 + i), (int) (i % 2));
                v->pci.physfn = strdup("0000:1f:00.0");
                v->pci.vf_index = (int) i;
                add(inv, v);
        }
}

static void test_vf_pool(void) {
        _cleanup_(hashmap_freep) Hashmap *seen = hashmap_new();
        ClaimRequest q = CLAIM_REQUEST_INIT;
        size_t ok = 0, full = 0, n_devices = 0;
        ClaimSet claims;
        ResourceSet set = {};
        Inventory inv;

        vf_host(&inv, 240);
        CHECK(claim_set_init(&claims) == 0);
        ResourceGroup *vfs = pool(&set, "vfs", "vfs", RESOURCE_SRIOV_NIC, "vendor-id", 0x8086);
        CHECK(n_free(&set, &inv, &claims, vfs) == 240);

        q.count = 8;
        for (unsigned i = 0; i < 32; i++) {
                _cleanup_free_ char *e = NULL;
                char id[16], consumer[16];
                int r;

                snprintf(id, sizeof id, "c%u", i);
                snprintf(consumer, sizeof consumer, "vm-%u", i);
                r = claim(&set, &inv, &claims, vfs, id, consumer, &q, &e);
                if (r == 0)
                        ok++;
                else if (r == -ENOSPC && e && strstr(e, "vfs: 0 free of 240 members (240 claimed), 8 asked for."))
                        full++;
        }
        CHECK(ok == 30 && full == 2);
        CHECK(claims.n_claims == 30);
        /* No device in two claims, and every VF in one. */
        for (size_t i = 0; i < claims.n_claims; i++) {
                const Claim *c = claims.claims[i];

                CHECK(c->n_members == 8);
                for (size_t j = 0; j < c->n_members; j++)
                        for (char **a = c->members[j].addresses; *a; a++) {
                                CHECK(hashmap_put(seen, *a, (void *) c) == 0);
                                CHECK(claim_set_find_device(&claims, *a) == c);
                                n_devices++;
                        }
        }
        CHECK(n_devices == 240 && hashmap_size(seen) == 240);
        CHECK(n_free(&set, &inv, &claims, vfs) == 0);
        /* Creation order is kept. */
        CHECK_STREQ(claims.claims[0]->id, "c0");
        CHECK_STREQ(claims.claims[29]->id, "c29");

        /* The set itself refuses a second claim on a claimed device. */
        Claim *dup = claim_new("cdup", "vm-x", "vfs", 1, NULL);
        const Claim *other = NULL;
        const char *a[] = { "0000:20:00.0" };
        CHECK(claim_add_member(dup, a, 1) == 0);
        CHECK(claim_set_add(&claims, dup, &other) == -EBUSY);
        CHECK(other == claims.claims[0]);
        CHECK(claim_set_find_device(&claims, "0000:20:00.0") == claims.claims[0]);
        CHECK(claims.n_claims == 30);
        claim_free(dup);
        /* And a second claim with a taken id. */
        dup = claim_new("c3", "vm-x", "vfs", 1, NULL);
        CHECK(claim_set_add(&claims, dup, NULL) == -EEXIST);
        claim_free(dup);

        /* Claims on a group, for Delete. */
        _cleanup_free_ const Claim **l = NULL;
        size_t n = 0;
        CHECK(claim_set_of_group(&claims, "vfs", &l, &n) == 0 && n == 30);

        claim_set_done(&claims);
        resource_set_done(&set);
        inventory_done(&inv);
}

/* Members on the preferred node first; strict: only there. */
static void test_numa(void) {
        _cleanup_(member_list_done) MemberList l = {};
        ClaimRequest q = CLAIM_REQUEST_INIT;
        ResourceSet set = {};
        Inventory inv;

        /* Eight VFs, alternating between NUMA nodes 0 and 1. */
        vf_host(&inv, 8);
        ResourceGroup *vfs = pool(&set, "vfs", "vfs", RESOURCE_SRIOV_NIC, "vendor-id", 0x8086);
        CHECK(resource_group_members(&set, &inv, NULL, vfs, &l) == 0);

        const struct {
                unsigned count;
                int node;
                bool strict;
                int result;
                const char *text;       /* picked, or the error */
        } cases[] = {
                { 2, -1, false, 0, "0000:20:00.0 0000:20:00.1" },
                { 2, 1, false, 0, "0000:20:00.1 0000:20:00.3" },
                /* Four on node 1, then the first of node 0; in address order. */
                { 5, 1, false, 0, "0000:20:00.0 0000:20:00.1 0000:20:00.3 0000:20:00.5 0000:20:00.7" },
                { 4, 1, true, 0, "0000:20:00.1 0000:20:00.3 0000:20:00.5 0000:20:00.7" },
                { 5, 1, true, -ENOSPC, "vfs: 4 free on NUMA node 1, 5 asked for (8 free of 8 members in all)." },
                { 1, 3, true, -ENOSPC, "vfs: 0 free on NUMA node 3, 1 asked for (8 free of 8 members in all)." },
                /* A node without members is only a preference. */
                { 1, 3, false, 0, "0000:20:00.0" },
                { 1, -1, true, -EINVAL, "numa-strict needs numa-node." },
                { 9, -1, false, -ENOSPC, "vfs: 8 free of 8 members, 9 asked for." },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ const Member **picked = NULL;
                _cleanup_free_ char *e = NULL, *text = NULL;
                size_t n = 0;

                q.count = cases[i].count;
                q.numa_node = cases[i].node;
                q.numa_strict = cases[i].strict;
                CHECK(claim_select(&l, &inv, &q, &picked, &n, &e) == cases[i].result);
                if (cases[i].result == 0) {
                        text = picked_text(picked, n);
                        CHECK_STREQ(text, cases[i].text);
                } else
                        CHECK_STREQ(e, cases[i].text);
        }
        resource_set_done(&set);
        inventory_done(&inv);
}

static void check_listed(const MemberList *l, const Inventory *inv, unsigned count, const char *const *devices,
                         size_t n, int result, const char *text) {
        ClaimRequest q = CLAIM_REQUEST_INIT;
        _cleanup_free_ const Member **picked = NULL;
        _cleanup_free_ char *e = NULL, *got = NULL;
        size_t n_picked = 0;

        q.count = count;
        q.devices = devices;
        q.n_devices = n;
        CHECK(claim_select(l, inv, &q, &picked, &n_picked, &e) == result);
        if (result == 0) {
                got = picked_text(picked, n_picked);
                CHECK_STREQ(got, text);
        } else {
                CHECK_STREQ(e, text);
                CHECK(!picked);
        }
}

/* devices: these members exactly, or a precise error naming the device. */
static void test_devices_option(void) {
        _cleanup_(member_list_done) MemberList l = {};
        ClaimRequest q = CLAIM_REQUEST_INIT;
        ClaimSet claims;
        ResourceSet set = {};
        Inventory inv;

        gpu_host(&inv);
        /* A third GPU the host needs, a fourth without an IOMMU group. */
        add(&inv, pci("0000:04:00.0", 0x10de, 0x1eb8, 0x030200, NULL, 15, 0));
        add(&inv, pci("0000:05:00.0", 0x10de, 0x1eb8, 0x030200, NULL, -1, 0));
        CHECK(strv_extend(&dev(&inv, "0000:04:00.0")->critical, "console") == 0);
        CHECK(strv_extend(&dev(&inv, "0000:04:00.0")->critical, "shows the console") == 0);
        CHECK(claim_set_init(&claims) == 0);
        ResourceGroup *gpus = pool(&set, "gpus", "gpus", RESOURCE_PCI, "class", 0x030200);

        q.count = 1;
        q.devices = (const char *[]) { "0000:02:00.0" };
        q.n_devices = 1;
        CHECK(claim(&set, &inv, &claims, gpus, "c1", "vm-1", &q, NULL) == 0);
        CHECK(claim_set_find_device(&claims, "0000:02:00.1") == claim_set_find_id(&claims, "c1"));
        CHECK(resource_group_members(&set, &inv, &claims, gpus, &l) == 0);
        CHECK(l.n_members == 4 && l.n_free == 1);
        CHECK(member_list_count(&l, MEMBER_CLAIMED) == 1);
        CHECK(member_list_count(&l, MEMBER_CRITICAL) == 1);
        CHECK(member_list_count(&l, MEMBER_NOT_VIABLE) == 1);

        check_listed(&l, &inv, 1, (const char *[]) { "0000:01:00.0" }, 1, 0, "0000:01:00.0");
        check_listed(&l, &inv, 1, (const char *[]) { "0000:09:00.0" }, 1, -ENOENT, "There is no device 0000:09:00.0.");
        check_listed(&l, &inv, 1, (const char *[]) { "0000:03:00.0" }, 1, -EINVAL,
                     "0000:03:00.0 is not in resource group gpus.");
        check_listed(&l, &inv, 1, (const char *[]) { "0000:01:00.1" }, 1, -EINVAL,
                     "0000:01:00.1 is not in resource group gpus: it goes along with 0000:01:00.0; name that instead.");
        check_listed(&l, &inv, 1, (const char *[]) { "0000:02:00.0" }, 1, -EBUSY,
                     "0000:02:00.0 is not free: 0000:02:00.0 is claimed by c1 (consumer vm-1).");
        check_listed(&l, &inv, 1, (const char *[]) { "0000:04:00.0" }, 1, -EPERM,
                     "0000:04:00.0 is not free: 0000:04:00.0 is needed by the host: shows the console.");
        check_listed(&l, &inv, 1, (const char *[]) { "0000:05:00.0" }, 1, -ENODEV,
                     "0000:05:00.0 is not free: 0000:05:00.0 is in no IOMMU group: VFIO cannot take it.");
        check_listed(&l, &inv, 2, (const char *[]) { "0000:01:00.0", "0000:01:00.0" }, 2, -EINVAL,
                     "0000:01:00.0: its member (0000:01:00.0, IOMMU group 12) is named twice.");
        check_listed(&l, &inv, 2, (const char *[]) { "0000:01:00.0" }, 1, -EINVAL,
                     "Count is 2 but the devices option names 1 member.");
        check_listed(&l, &inv, 1, (const char *[]) { NULL }, 0, -EINVAL, "The devices option names no device.");
        /* Control characters and length do not reach the message. */
        check_listed(&l, &inv, 1, (const char *[]) { "\x1b[2J0000:01:00.0" }, 1, -ENOENT,
                     "There is no device ?[2J0000:01:00.0.");

        /* A refused claim changes nothing. */
        q.devices = (const char *[]) { "0000:01:00.0", "0000:04:00.0" };
        q.n_devices = 2;
        q.count = 2;
        CHECK(claim(&set, &inv, &claims, gpus, "c2", "vm-2", &q, NULL) == -EPERM);
        CHECK(claims.n_claims == 1 && !claim_set_find_device(&claims, "0000:01:00.0"));

        claim_set_done(&claims);
        resource_set_done(&set);
        inventory_done(&inv);
}

/* Two NIC functions without ACS between them share an IOMMU group: one member
 * of two own devices; naming both names it twice. */
static void test_shared_group(void) {
        _cleanup_(member_list_done) MemberList l = {};
        ResourceSet set = {};
        Inventory inv;

        CHECK(inventory_init(&inv) == 0);
        add(&inv, pci("0000:30:00.1", 0x8086, 0x1889, 0x020000, NULL, 60, 0));
        add(&inv, pci("0000:30:00.2", 0x8086, 0x1889, 0x020000, NULL, 60, 0));
        add(&inv, pci("0000:30:00.3", 0x8086, 0x1889, 0x020000, NULL, 61, 0));
        ResourceGroup *nics = pool(&set, "nics", "nics", RESOURCE_PCI, "vendor-id", 0x8086);
        CHECK(resource_group_members(&set, &inv, NULL, nics, &l) == 0);
        CHECK(l.n_members == 2 && l.n_free == 2);
        CHECK(l.members[0].n_own == 2 && l.members[0].n_devices == 2);
        CHECK(member_list_find(&l, dev(&inv, "0000:30:00.2")) == l.members);
        check_listed(&l, &inv, 1, (const char *[]) { "0000:30:00.2" }, 1, 0, "0000:30:00.1");
        check_listed(&l, &inv, 2, (const char *[]) { "0000:30:00.1", "0000:30:00.2" }, 2, -EINVAL,
                     "0000:30:00.2: its member (0000:30:00.1, IOMMU group 60) is named twice.");
        resource_set_done(&set);
        inventory_done(&inv);
}

/* A bridge that blocks its IOMMU group blocks it after Prepare too. */
static void test_not_viable(void) {
        _cleanup_(member_list_done) MemberList l = {};
        ResourceSet set = {};
        Inventory inv;

        CHECK(inventory_init(&inv) == 0);
        add(&inv, pci("0000:06:00.0", 0x1b21, 0x1080, 0x060400, NULL, 20, 0));
        add(&inv, pci("0000:07:00.0", 0x1131, 0x7160, 0x048000, NULL, 20, 0));
        add(&inv, pci("0000:08:00.0", 0x1131, 0x7160, 0x048000, NULL, 21, 0));
        dev(&inv, "0000:06:00.0")->driver = strdup("shpchp");
        /* A companion on its host driver is fine: Prepare moves it. */
        dev(&inv, "0000:08:00.0")->driver = strdup("saa7164");
        ResourceGroup *tv = pool(&set, "tv", "tv", RESOURCE_PCI, "vendor-id", 0x1131);
        CHECK(resource_group_members(&set, &inv, NULL, tv, &l) == 0);
        CHECK(l.n_members == 2 && l.n_free == 1);
        CHECK(l.members[0].block == MEMBER_NOT_VIABLE);
        CHECK_STREQ(l.members[0].reason, "IOMMU group 20 cannot go to VFIO: 0000:06:00.0 is bound to shpchp.");
        CHECK(l.members[1].block == MEMBER_FREE);
        CHECK_STREQ(member_block_to_string(MEMBER_NOT_VIABLE), "not-viable");
        resource_set_done(&set);
        inventory_done(&inv);
}

/* AssignToTenant thick-provisions; ReturnToParent and Delete wait for claims. */
static void test_tenants(void) {
        _cleanup_free_ char *e = NULL, *name = NULL;
        _cleanup_free_ const Device **l = NULL;
        ClaimRequest q = CLAIM_REQUEST_INIT;
        ResourceGroup *ta = NULL, *back = NULL, *x = NULL;
        ClaimSet claims;
        ResourceSet set = {};
        Inventory inv;
        size_t n = 0;

        gpu_host(&inv);
        CHECK(claim_set_init(&claims) == 0);
        ResourceGroup *gpus = pool(&set, "gpus", "gpus", RESOURCE_PCI, "class", 0x030200);
        free(gpus->class_hint);
        gpus->class_hint = strdup("gpu");
        CHECK(!resource_group_is_tenant(gpus) && streq(gpus->tenant, "") && streq(gpus->parent, ""));

        name = tenant_group_name(&set, gpus, "tenant-a");
        CHECK_STREQ(name, "gpus (tenant-a)");
        q.count = 1;
        CHECK(tenant_assign(&set, &inv, &claims, gpus, "tenant-a", "ta", name, &q, &ta, NULL) == 0);
        CHECK(ta && resource_set_find_id(&set, "ta") == ta);
        CHECK(resource_group_is_tenant(ta));
        CHECK_STREQ(ta->tenant, "tenant-a");
        CHECK_STREQ(ta->parent, "gpus");
        CHECK_STREQ(ta->class_hint, "gpu");
        CHECK(ta->type == RESOURCE_PCI);
        /* Rules that pin that very GPU: its serial, ids and function. */
        CHECK(ta->n_rules == 1 && rule_has(ta->rules, RULE_SERIAL));
        CHECK_STREQ(ta->rules[0].strings[RULE_SERIAL], GPU1_SERIAL);
        CHECK(resource_group_devices(&set, &inv, ta, &l, &n) == 0);
        CHECK(n == 1 && l[0] == dev(&inv, "0000:01:00.0"));
        free(l);
        l = NULL;
        /* The parent still lists it but no longer offers it. */
        CHECK(resource_set_owner(&set, dev(&inv, "0000:01:00.0")) == gpus);
        CHECK(resource_set_holder(&set, dev(&inv, "0000:01:00.0")) == ta);
        CHECK(resource_set_holder(&set, dev(&inv, "0000:02:00.0")) == gpus);
        CHECK(resource_group_devices(&set, &inv, gpus, &l, &n) == 0 && n == 2);
        {
                _cleanup_(member_list_done) MemberList ml = {};
                CHECK(resource_group_members(&set, &inv, &claims, gpus, &ml) == 0);
                CHECK(ml.n_free == 1 && ml.members[0].block == MEMBER_TENANT && ml.members[0].tenant_group == ta);
                CHECK_STREQ(ml.members[0].reason, "0000:01:00.0 is assigned to tenant tenant-a (group gpus (tenant-a)).");
        }
        CHECK(n_free(&set, &inv, &claims, ta) == 1);

        /* The tenant claims from its own group; the parent has one left. */
        CHECK(claim(&set, &inv, &claims, ta, "c1", "vm-a", &q, NULL) == 0);
        CHECK_STREQ(claim_set_find_device(&claims, "0000:01:00.1")->resource_group, "ta");
        q.count = 2;
        CHECK(claim(&set, &inv, &claims, gpus, "c2", "vm-b", &q, &e) == -ENOSPC);
        CHECK_STREQ(e, "gpus: 1 free of 2 members (1 assigned to tenants), 2 asked for.");
        free(e);
        e = NULL;

        /* No assignment of claimed members, none beyond what is free, none from a tenant's group. */
        free(name);
        name = NULL;
        CHECK(tenant_assign(&set, &inv, &claims, gpus, "tenant-b", "tb", "gpus (tenant-b)", &q, &x, &e) == -ENOSPC);
        CHECK(!x && !resource_set_find_id(&set, "tb"));
        free(e);
        e = NULL;
        q.count = 1;
        CHECK(tenant_assign(&set, &inv, &claims, ta, "tenant-c", "tc", "c", &q, &x, &e) == -EINVAL);
        CHECK_STREQ(e, "gpus (tenant-a) is tenant tenant-a's group: it hands out no tenant groups.");
        free(e);
        e = NULL;
        CHECK(tenant_assign(&set, &inv, &claims, gpus, "tenant-b", "tb", "gpus", &q, &x, &e) == -EEXIST);
        CHECK_STREQ(e, "A resource group named gpus exists.");
        free(e);
        e = NULL;
        CHECK(tenant_assign(&set, &inv, &claims, gpus, "", "tb", "b", &q, &x, &e) == -EINVAL);
        CHECK_STREQ(e, "Tenant must not be empty.");
        free(e);
        e = NULL;
        /* A second group for the same tenant gets a name of its own. */
        name = tenant_group_name(&set, gpus, "tenant-a");
        CHECK_STREQ(name, "gpus (tenant-a) 2");

        /* Return and delete wait for the claim. */
        CHECK(tenant_return(&set, &inv, &claims, "ta", &back, &e) == -EBUSY);
        CHECK_STREQ(e, "gpus (tenant-a) has claim c1 (consumer vm-a): release it first.");
        CHECK(!back && resource_set_find_id(&set, "ta") == ta);
        free(e);
        e = NULL;
        CHECK(resource_group_delete_check(&set, &claims, gpus, &e) == -EBUSY);
        CHECK_STREQ(e, "gpus has tenant group gpus (tenant-a) (tenant tenant-a): return it to it first.");
        free(e);
        e = NULL;
        CHECK(tenant_return(&set, &inv, &claims, "gpus", &back, &e) == -EINVAL);
        CHECK_STREQ(e, "gpus is no tenant's group: there is no parent to return it to.");
        free(e);
        e = NULL;

        claim_free(claim_set_take(&claims, "c1"));
        /* The tenant's GPU keeps its audio function out of an audio pool... */
        ResourceGroup *audio = pool(&set, "audio", "audio", RESOURCE_PCI, "class", 0x040300);
        q.count = 1;
        CHECK(claim(&set, &inv, &claims, audio, "c8", "vm-8", &q, NULL) == 0);
        CHECK(!claim_set_find_device(&claims, "0000:01:00.1"));
        claim_free(claim_set_take(&claims, "c8"));
        /* ...but a claim from the store that holds them keeps the tenant's group busy. */
        Claim *old = claim_new("c9", "vm-9", "audio", 1, NULL);
        CHECK(claim_add_member(old, (const char *[]) { "0000:01:00.1", "0000:01:00.0" }, 2) == 0);
        CHECK(claim_set_add(&claims, old, NULL) == 0);
        CHECK(tenant_return(&set, &inv, &claims, "ta", &back, &e) == -EBUSY && !back);
        CHECK_STREQ(e, "gpus (tenant-a): 0000:01:00.0 is claimed by c9 (consumer vm-9). Release it first.");
        free(e);
        e = NULL;
        claim_free(claim_set_take(&claims, "c9"));
        resource_group_free(resource_set_take(&set, audio->id));
        CHECK(tenant_return(&set, &inv, &claims, "ta", &back, NULL) == 0);
        CHECK(back == ta && !resource_set_find_id(&set, "ta"));
        resource_group_free(back);
        CHECK(resource_set_holder(&set, dev(&inv, "0000:01:00.0")) == gpus);
        CHECK(n_free(&set, &inv, &claims, gpus) == 2);
        CHECK(resource_group_delete_check(&set, &claims, gpus, NULL) == 0);

        /* Listed devices go to the tenant; a claim on the parent blocks Delete. */
        q.devices = (const char *[]) { "0000:02:00.0" };
        q.n_devices = 1;
        CHECK(tenant_assign(&set, &inv, &claims, gpus, "tenant-b", "tb", "gpus (tenant-b)", &q, &x, NULL) == 0);
        CHECK(resource_set_holder(&set, dev(&inv, "0000:02:00.0")) == x);
        q.devices = NULL;
        q.n_devices = 0;
        CHECK(claim(&set, &inv, &claims, gpus, "c3", "vm-c", &q, NULL) == 0);
        CHECK_STREQ(claim_set_find_device(&claims, "0000:01:00.0")->id, "c3");
        CHECK(tenant_return(&set, &inv, &claims, "tb", &back, NULL) == 0);
        resource_group_free(back);
        CHECK(resource_group_delete_check(&set, &claims, gpus, &e) == -EBUSY);
        CHECK_STREQ(e, "gpus has claim c3 (consumer vm-c): release it first to delete it.");

        claim_set_done(&claims);
        resource_set_done(&set);
        inventory_done(&inv);
}

static void check_consumer(const char *s, const char *message) {
        _cleanup_free_ char *e = NULL;

        CHECK(claim_consumer_validate(s, &e) == -EINVAL);
        CHECK_STREQ(e, message);
}

static void test_validation(void) {
        _cleanup_free_ char *e = NULL;
        char big[CLAIM_CONSUMER_MAX + 2];

        CHECK(claim_consumer_validate("vm-1", NULL) == 0);
        CHECK(claim_consumer_validate("6f1c2a4e-9b0d-4c39-8a57-3e2f1d0c9b8a", NULL) == 0);
        CHECK(claim_consumer_validate("Büro-VM ✓", NULL) == 0);
        check_consumer("", "Consumer must not be empty.");
        check_consumer(NULL, "Consumer must not be empty.");
        check_consumer("vm\n1", "Consumer contains control characters.");
        check_consumer("vm\xc2\x85", "Consumer contains control characters.");
        check_consumer("caf\xe9", "Consumer is not valid UTF-8.");
        memset(big, 'v', CLAIM_CONSUMER_MAX);
        big[CLAIM_CONSUMER_MAX] = 0;
        CHECK(claim_consumer_validate(big, NULL) == 0);
        big[CLAIM_CONSUMER_MAX] = 'v';
        big[CLAIM_CONSUMER_MAX + 1] = 0;
        check_consumer(big, "Consumer is longer than 256 bytes.");
        CHECK(tenant_validate("tenant-a", NULL) == 0);

        CHECK(claim_count_validate(1, NULL) == 0);
        CHECK(claim_count_validate(CLAIM_COUNT_MAX, NULL) == 0);
        CHECK(claim_count_validate(0, &e) == -EINVAL);
        CHECK_STREQ(e, "Count must be 1 to 4096, not 0.");
        free(e);
        e = NULL;
        CHECK(claim_count_validate(4097, &e) == -EINVAL);
        CHECK_STREQ(e, "Count must be 1 to 4096, not 4097.");
        free(e);
        e = NULL;

        /* claim_make checks the consumer and count before it looks at devices. */
        ResourceSet set = {};
        Inventory inv;
        ClaimRequest q = CLAIM_REQUEST_INIT;
        Claim *c = NULL;

        gpu_host(&inv);
        ResourceGroup *gpus = pool(&set, "gpus", "gpus", RESOURCE_PCI, "class", 0x030200);
        CHECK(claim_make(&set, &inv, NULL, gpus, "c1", "vm-1", &q, 0, NULL, &c, &e) == -EINVAL);
        CHECK_STREQ(e, "Count must be 1 to 4096, not 0.");
        free(e);
        e = NULL;
        q.count = 1;
        CHECK(claim_make(&set, &inv, NULL, gpus, "c1", "\t", &q, 0, NULL, &c, &e) == -EINVAL && !c);
        CHECK_STREQ(e, "Consumer contains control characters.");
        /* Ids are the daemon's: [a-z][a-z0-9]*. */
        CHECK(claim_make(&set, &inv, NULL, gpus, "1c", "vm-1", &q, 0, NULL, &c, NULL) == -EINVAL && !c);
        CHECK(!claim_new("c/1", "vm", "gpus", 0, NULL));
        CHECK(!claim_new("C1", "vm", "gpus", 0, NULL));
        CHECK(!claim_new("c1", "", "gpus", 0, NULL));
        CHECK(claim_id_valid("c0123456789abcdef0123456789abcdef"));
        resource_set_done(&set);
        inventory_done(&inv);
}

static void check_lease(const char *option, const char *sender, int result, const char *text) {
        _cleanup_free_ char *e = NULL, *s = NULL;
        ClaimLease l = { .type = _CLAIM_LEASE_TYPE_MAX }, back = {};

        CHECK(claim_lease_parse(option, sender, &l, &e) == result);
        if (result < 0) {
                CHECK_STREQ(e, text);
                return;
        }
        s = claim_lease_to_string(&l);
        CHECK_STREQ(s, text);
        /* The stored form reads back the same. */
        CHECK(claim_lease_from_string(s, &back) == 0);
        CHECK(back.type == l.type && back.pid == l.pid && streq_ptr(back.peer, l.peer));
        claim_lease_done(&l);
        claim_lease_done(&back);
}

static void test_leases(void) {
        ClaimLease l = {};

        check_lease(NULL, ":1.7", 0, "");
        check_lease("", ":1.7", 0, "");
        check_lease("peer", ":1.42", 0, "peer::1.42");
        check_lease("pid:1234", NULL, 0, "pid:1234");
        check_lease("pid:2147483647", NULL, 0, "pid:2147483647");
        check_lease("peer", NULL, -EINVAL, "A peer lease needs a caller with a unique bus name.");
        check_lease("peer", "org.hostdev1", -EINVAL, "A peer lease needs a caller with a unique bus name.");
        check_lease("pid:0", NULL, -EINVAL, "Lease must be \"peer\" or \"pid:N\" with N a process id, not \"pid:0\".");
        check_lease("pid:-1", NULL, -EINVAL, "Lease must be \"peer\" or \"pid:N\" with N a process id, not \"pid:-1\".");
        check_lease("pid:01", NULL, -EINVAL, "Lease must be \"peer\" or \"pid:N\" with N a process id, not \"pid:01\".");
        check_lease("pid:2147483648", NULL, -EINVAL,
                    "Lease must be \"peer\" or \"pid:N\" with N a process id, not \"pid:2147483648\".");
        check_lease("pid:12 ", NULL, -EINVAL, "Lease must be \"peer\" or \"pid:N\" with N a process id, not \"pid:12 \".");
        check_lease("forever", NULL, -EINVAL, "Lease must be \"peer\" or \"pid:N\" with N a process id, not \"forever\".");

        CHECK(bus_unique_name_valid(":1.42"));
        CHECK(bus_unique_name_valid(":abc.d-e_f.9"));
        CHECK(!bus_unique_name_valid(":1"));
        CHECK(!bus_unique_name_valid(":1..2"));
        CHECK(!bus_unique_name_valid(":1.2."));
        CHECK(!bus_unique_name_valid("1.2"));
        CHECK(!bus_unique_name_valid(":1.2/3"));
        CHECK(claim_lease_from_string("peer:org.x", &l) == -EINVAL);

        /* persistent: the default without a lease, a contradiction with one. */
        ClaimLease none = {}, pid = { .type = CLAIM_LEASE_PID, .pid = 7 };
        _cleanup_free_ char *e = NULL;
        CHECK(claim_persistent_check(-1, &none, NULL) == 0);
        CHECK(claim_persistent_check(1, &none, NULL) == 0);
        CHECK(claim_persistent_check(-1, &pid, NULL) == 0);
        CHECK(claim_persistent_check(0, &pid, NULL) == 0);
        CHECK(claim_persistent_check(1, &pid, &e) == -EINVAL);
        CHECK_STREQ(e, "A claim with a lease is not persistent: pass persistent=false or leave it out.");
        free(e);
        e = NULL;
        CHECK(claim_persistent_check(0, &none, &e) == -EINVAL);
        CHECK_STREQ(e, "A claim that is not persistent needs a lease: \"peer\" or \"pid:N\".");

        /* A claim takes its lease. */
        CHECK(claim_lease_parse("peer", ":1.9", &l, NULL) == 0);
        Claim *c = claim_new("c1", "vm", "gpus", 5, &l);
        CHECK(c && c->lease.type == CLAIM_LEASE_PEER && streq(c->lease.peer, ":1.9"));
        CHECK(l.type == CLAIM_LEASE_NONE && !l.peer);
        claim_free(c);
}

/* A tenant takes 8 VFs on NUMA node 1 from the pool: address rules pin
 * exactly those, and claims from either group never overlap. */
static void test_vf_tenant(void) {
        _cleanup_free_ const Device **l = NULL;
        ClaimRequest q = CLAIM_REQUEST_INIT;
        ResourceGroup *t = NULL;
        ClaimSet claims;
        ResourceSet set = {};
        Inventory inv;
        size_t n = 0;

        vf_host(&inv, 32);
        CHECK(claim_set_init(&claims) == 0);
        ResourceGroup *vfs = pool(&set, "vfs", "vfs", RESOURCE_SRIOV_NIC, "vendor-id", 0x8086);
        q.count = 8;
        q.numa_node = 1;
        q.numa_strict = true;
        CHECK(tenant_assign(&set, &inv, &claims, vfs, "tenant-a", "ta", "vfs (tenant-a)", &q, &t, NULL) == 0);
        CHECK(t->type == RESOURCE_SRIOV_NIC && t->n_rules == 8);
        CHECK(resource_group_devices(&set, &inv, t, &l, &n) == 0);
        CHECK(n == 8);
        for (size_t i = 0; i < n; i++)
                CHECK(l[i]->numa_node == 1 && resource_set_holder(&set, l[i]) == t);
        CHECK(n_free(&set, &inv, &claims, vfs) == 24);
        CHECK(n_free(&set, &inv, &claims, t) == 8);

        q = (ClaimRequest) CLAIM_REQUEST_INIT;
        q.count = 24;
        CHECK(claim(&set, &inv, &claims, vfs, "c1", "vm-1", &q, NULL) == 0);
        q.count = 8;
        CHECK(claim(&set, &inv, &claims, t, "c2", "vm-a", &q, NULL) == 0);
        CHECK(claims.n_claims == 2 && hashmap_size(claims.by_device) == 32);
        q.count = 1;
        CHECK(claim(&set, &inv, &claims, vfs, "c3", "vm-3", &q, NULL) == -ENOSPC);
        CHECK(claim(&set, &inv, &claims, t, "c3", "vm-3", &q, NULL) == -ENOSPC);

        claim_set_done(&claims);
        resource_set_done(&set);
        inventory_done(&inv);
}

/* A claim being prepared is reserved: its members are taken for every
 * other selection (and for Delete) but it is not listed; commit lists it,
 * cancel frees its members again. */
static void test_reserve(void) {
        ClaimRequest q = CLAIM_REQUEST_INIT;
        _cleanup_free_ char *e = NULL;
        Claim *a = NULL, *b = NULL, *c = NULL;
        const Claim *other = NULL;
        ClaimSet claims;
        ResourceSet set = {};
        Inventory inv;

        vf_host(&inv, 16);
        CHECK(claim_set_init(&claims) == 0);
        ResourceGroup *vfs = pool(&set, "vfs", "vfs", RESOURCE_SRIOV_NIC, "vendor-id", 0x8086);
        q.count = 8;
        CHECK(claim_make(&set, &inv, &claims, vfs, "ca", "vm-a", &q, 1, NULL, &a, NULL) == 0);
        CHECK(claim_set_reserve(&claims, a, NULL) == 0);
        CHECK(claims.n_claims == 0 && claims.n_pending == 1);
        CHECK(claim_set_find_id(&claims, "ca") == NULL && claim_set_find_reserved(&claims, "ca") == a);
        /* It holds its devices for selection; the bus does not show it yet. */
        CHECK(claim_set_find_holder(&claims, a->members[0].addresses[0]) == a);
        CHECK(claim_set_find_device(&claims, a->members[0].addresses[0]) == NULL);
        CHECK(n_free(&set, &inv, &claims, vfs) == 8);

        /* The next claim selects other members; a third finds none. */
        CHECK(claim_make(&set, &inv, &claims, vfs, "cb", "vm-b", &q, 1, NULL, &b, NULL) == 0);
        CHECK(!streq(a->members[0].addresses[0], b->members[0].addresses[0]));
        CHECK(claim_set_reserve(&claims, b, NULL) == 0);
        CHECK(claim_make(&set, &inv, &claims, vfs, "cc", "vm-c", &q, 1, NULL, &c, &e) == -ENOSPC);
        CHECK(e && strstr(e, "0 free of 16"));
        /* Nor can a reserved member be added twice, or a reserved id reused. */
        c = claim_new("cc", "vm-c", "vfs", 1, NULL);
        CHECK(claim_add_member(c, (const char *const *) a->members[0].addresses, 1) == 0);
        CHECK(claim_set_add(&claims, c, &other) == -EBUSY && other == a);
        claim_free(c);
        c = claim_new("ca", "vm-c", "vfs", 1, NULL);
        CHECK(claim_set_reserve(&claims, c, NULL) == -EEXIST);
        claim_free(c);

        /* Delete counts reserved claims. */
        CHECK(resource_group_delete_check(&set, &claims, vfs, NULL) == -EBUSY);

        CHECK(claim_set_commit(&claims, "ca") == 0);
        CHECK(claim_set_commit(&claims, "ca") == -ENOENT);
        CHECK(claims.n_claims == 1 && claims.n_pending == 1 && claim_set_find_id(&claims, "ca") == a);
        CHECK(claim_set_find_device(&claims, a->members[0].addresses[0]) == a);
        CHECK(claim_set_find_holder(&claims, a->members[0].addresses[0]) == a);
        CHECK(claim_set_find_reserved(&claims, "ca") == NULL);
        CHECK(claim_set_cancel(&claims, "ca") == NULL);
        c = claim_set_cancel(&claims, "cb");
        CHECK(c == b && claims.n_pending == 0);
        CHECK(n_free(&set, &inv, &claims, vfs) == 8);
        CHECK(claim_set_find_holder(&claims, b->members[0].addresses[0]) == NULL);
        claim_free(c);

        /* A reservation left at exit is freed with the set. */
        CHECK(claim_make(&set, &inv, &claims, vfs, "cd", "vm-d", &q, 1, NULL, &c, NULL) == 0);
        CHECK(claim_set_reserve(&claims, c, NULL) == 0);
        claim_set_done(&claims);
        resource_set_done(&set);
        inventory_done(&inv);
}

/* Member lists from kept memberships (Device.resource_group, as the
 * daemon keeps it) equal those from the rules, tenant groups included. */
static void members_equal(const ResourceSet *set, const Inventory *inv, ClaimSet *claims, const ResourceGroup *g) {
        _cleanup_(member_list_done) MemberList a = {}, b = {};

        claims->memberships_kept = false;
        CHECK(resource_group_members(set, inv, claims, g, &a) == 0);
        claims->memberships_kept = true;
        CHECK(resource_group_members(set, inv, claims, g, &b) == 0);
        claims->memberships_kept = false;
        CHECK(a.n_members == b.n_members && a.n_free == b.n_free);
        for (size_t i = 0; i < a.n_members && i < b.n_members; i++) {
                CHECK(a.members[i].n_own == b.members[i].n_own && a.members[i].n_devices == b.members[i].n_devices);
                CHECK(a.members[i].own[0] == b.members[i].own[0] && a.members[i].block == b.members[i].block);
                CHECK(a.members[i].tenant_group == b.members[i].tenant_group);
        }
}

static void test_kept_memberships(void) {
        ClaimRequest q = CLAIM_REQUEST_INIT;
        ResourceGroup *ta = NULL;
        ClaimSet claims;
        ResourceSet set = {};
        Inventory inv;
        Device *d;
        size_t i = 0;

        gpu_host(&inv);
        CHECK(claim_set_init(&claims) == 0);
        ResourceGroup *gpus = pool(&set, "gpus", "gpus", RESOURCE_PCI, "class", 0x030200);
        ResourceGroup *nics = pool(&set, "nics", "nics", RESOURCE_PCI, "vendor-id", 0x8086);
        q.count = 1;
        CHECK(tenant_assign(&set, &inv, &claims, gpus, "tenant-a", "ta", "gpus (tenant-a)", &q, &ta, NULL) == 0);
        while (hashmap_iterate(inv.devices, &i, (void **) &d, NULL))
                d->resource_group = resource_set_owner(&set, d);
        CHECK(n_free(&set, &inv, &claims, gpus) == 1);
        members_equal(&set, &inv, &claims, gpus);
        members_equal(&set, &inv, &claims, ta);
        members_equal(&set, &inv, &claims, nics);
        /* Kept memberships are what counts then: a device the daemon has
         * not (yet) put in the group is no member. */
        dev(&inv, "0000:02:00.0")->resource_group = NULL;
        claims.memberships_kept = true;
        CHECK(n_free(&set, &inv, &claims, gpus) == 0);
        CHECK(n_free(&set, &inv, &claims, ta) == 1);
        claim_set_done(&claims);
        resource_set_done(&set);
        inventory_done(&inv);
}

int main(void) {
        test_members();
        test_gpu_pool();
        test_vf_pool();
        test_numa();
        test_devices_option();
        test_shared_group();
        test_not_viable();
        test_tenants();
        test_vf_tenant();
        test_validation();
        test_leases();
        test_reserve();
        test_kept_memberships();
        CHECK_DONE();
}
