/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "check.h"
#include "model/mdev.h"
#include "model/vgpu.h"
#include "shared/macro.h"

/* creatable_vgpu_types as the NVIDIA vGPU host driver prints it. */
static void test_parse_creatable(void) {
        MdevType *t = NULL;
        size_t n = 0;

        CHECK(vgpu_parse_creatable("ID    : vGPU Name\n1136 : NVIDIA L40-12Q\n1147 :  NVIDIA L40-12A \n", &t, &n) == 0);
        CHECK(n == 2);
        CHECK(n == 2 && streq(t[0].id, "1136") && streq(t[0].name, "NVIDIA L40-12Q"));
        CHECK(n == 2 && streq(t[1].id, "1147") && streq(t[1].name, "NVIDIA L40-12A"));
        for (size_t i = 0; i < n; i++)
                mdev_type_done(&t[i]);
        free(t);

        /* a header only, or nothing: no type; lines not starting with a number are skipped */
        CHECK(vgpu_parse_creatable("ID    : vGPU Name\n", &t, &n) == 0 && n == 0);
        free(t);
        CHECK(vgpu_parse_creatable("", &t, &n) == 0 && n == 0);
        free(t);
        CHECK(vgpu_parse_creatable("x12 : a\n12x : b\n : c\n", &t, &n) == 0 && n == 0);
        free(t);
}

static MdevType type(const char *id, const char *name) {
        return (MdevType) { strdup(id), strdup(name), strdup(""), strdup(""), 0 };
}

/* Three VFs: one a vGPU of 1136, two free listing 1136 (one also 1147). */
static void test_parent_from_vfs(void) {
        VgpuVf vfs[3] = {
                { strdup("0000:0b:00.4"), 30, 1136, NULL, 0 },
                { strdup("0000:0b:00.5"), 31, 0, calloc(2, sizeof(MdevType)), 2 },
                { strdup("0000:0b:00.6"), 32, 0, calloc(1, sizeof(MdevType)), 1 },
        };
        MdevParent *p = NULL, *q = NULL;

        vfs[1].creatable[0] = type("1147", "NVIDIA L40-12A");
        vfs[1].creatable[1] = type("1136", "NVIDIA L40-12Q");
        vfs[2].creatable[0] = type("1136", "NVIDIA L40-12Q");

        CHECK(vgpu_parent_from_vfs("0000:0b:00.0", vfs, 3, NULL, &p) == 0);
        CHECK(p && p->vf_based && p->n_types == 2);
        CHECK(p && streq(p->types[0].id, "1136") && p->types[0].available == 2);
        CHECK(p && streq(p->types[1].id, "1147") && p->types[1].available == 1);
        CHECK(vgpu_free_vf(vfs, 3, "1147") == &vfs[1]);
        CHECK(vgpu_free_vf(vfs, 3, "1136") == &vfs[1]);
        CHECK(!vgpu_free_vf(vfs, 3, "1138"));

        /* the free VFs list nothing now: the types stay, with none left */
        for (size_t i = 1; i < 3; i++) {
                for (size_t j = 0; j < vfs[i].n_creatable; j++)
                        mdev_type_done(&vfs[i].creatable[j]);
                vfs[i].n_creatable = 0;
        }
        CHECK(vgpu_parent_from_vfs("0000:0b:00.0", vfs, 3, p, &q) == 0);
        CHECK(q && q->n_types == 2 && q->types[0].available == 0 && q->types[1].available == 0);
        CHECK(q && streq(q->types[0].name, "NVIDIA L40-12Q"));
        CHECK(!mdev_parent_equal(p, q));
        mdev_parent_free(p);
        mdev_parent_free(q);
        for (size_t i = 0; i < 3; i++)
                vgpu_vf_done(&vfs[i]);
}

static void test_rules(void) {
        Device *gpu = device_new(DEVICE_PCI, "0000:01:00.0");
        MdevType t6 = type("nvidia-558", "GRID A10-6Q"), t12 = type("nvidia-559", "GRID A10-12Q");
        Rule r = {}, any = {};
        RuleValue v;
        _cleanup_free_ char *err = NULL;

        gpu->vendor_id = 0x10de;
        v = (RuleValue) { .type = 'q', .u = 0x10de };
        CHECK(rule_set(&r, RESOURCE_VGPU, "vendor-id", &v, NULL) == 0);
        v = (RuleValue) { .type = 's', .s = "*-6q" };
        CHECK(rule_set(&r, RESOURCE_VGPU, "mdev-type-name", &v, NULL) == 0);
        CHECK(vgpu_rule_matches(&r, gpu, &t6));
        CHECK(!vgpu_rule_matches(&r, gpu, &t12));
        gpu->vendor_id = 0x1002;
        CHECK(!vgpu_rule_matches(&r, gpu, &t6));

        /* type fields alone take the type on any parent */
        v = (RuleValue) { .type = 's', .s = "nvidia-55?" };
        CHECK(rule_set(&any, RESOURCE_VGPU, "mdev-type", &v, NULL) == 0);
        CHECK(vgpu_rule_matches(&any, gpu, &t6) && vgpu_rule_matches(&any, gpu, &t12));

        /* only vgpu groups have type fields */
        rule_done(&any);
        CHECK(rule_set(&any, RESOURCE_PCI, "mdev-type", &v, &err) == -EINVAL);
        CHECK(err && strstr(err, "vgpu"));

        rule_done(&r);
        rule_done(&any);
        mdev_type_done(&t6);
        mdev_type_done(&t12);
        device_free(gpu);
}

static void test_offer_take(void) {
        VgpuOffer o = { strdup("1136"), calloc(3, sizeof(char *)), calloc(4, sizeof(char *)), 5 };
        _cleanup_free_ char *err = NULL;

        o.take[0] = strdup("0000:0b:00.4");
        o.take[1] = strdup("0000:0b:00.5");
        o.parents[0] = strdup("0000:0b:00.0");
        o.parents[1] = strdup("0000:0b:00.0");
        o.parents[2] = strdup("0000:0c:00.0");
        CHECK(vgpu_offer_take(&o, 6, &err) == -ENOSPC);
        CHECK(err && strstr(err, "Only 5 instances"));
        CHECK(vgpu_offer_take(&o, 3, NULL) == 0);
        CHECK(o.take[0] && o.take[1] && !o.take[2]);
        CHECK(o.parents[0] && !o.parents[1]);
        CHECK(vgpu_offer_take(&o, 1, NULL) == 0);
        CHECK(o.take[0] && !o.take[1] && !o.parents[0]);
        vgpu_offer_done(&o);
}

int main(void) {
        test_parse_creatable();
        test_parent_from_vfs();
        test_rules();
        test_offer_take();
        CHECK_DONE();
}
