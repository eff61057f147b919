/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus/bus.h"
#include "bus/polkit.h"
#include "check.h"
#include "shared/macro.h"
#include "shared/strv.h"

/* Every method the daemon serves is either open to everyone (read-only)
 * or guarded by a polkit action; a method that is neither would be refused
 * at run time by the dispatch gate, and this catches it at build time. */
static void test_table_complete(void) {
        size_t methods = 0;

        for (size_t i = 0; i < bus_n_interfaces; i++)
                for (const sd_bus_vtable *v = bus_interfaces[i].vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                        const char *iface = bus_interfaces[i].interface, *member;
                        bool ro, guarded;

                        if (v->type != _SD_BUS_VTABLE_METHOD)
                                continue;
                        member = v->x.method.member;
                        methods++;
                        ro = bus_method_is_read_only(iface, member);
                        guarded = bus_polkit_action(iface, member) != NULL;
                        if (ro == guarded)
                                fprintf(stderr, "%s.%s: %s\n", iface, member,
                                        ro ? "read-only and guarded" : "neither read-only nor guarded");
                        CHECK(ro != guarded);
                        CHECK(bus_polkit_gate(iface, member) ==
                              (guarded ? POLKIT_GATE_GUARDED : POLKIT_GATE_OPEN));
                        /* sd-bus would otherwise demand CAP_SYS_ADMIN itself. */
                        CHECK(v->flags & SD_BUS_VTABLE_UNPRIVILEGED);
                }
        CHECK(methods >= 6);
}

/* The gate denies what no table names. */
static void test_gate_denies_by_default(void) {
        CHECK(bus_polkit_action("org.hostdev1.Manager", "NoSuchMethod") == NULL);
        CHECK(bus_polkit_action("org.hostdev1.ResourceGroup", "GetDevice") == NULL);
        CHECK_STREQ(bus_polkit_action("org.hostdev1.ResourceGroup", "Delete"), "org.hostdev1.manage-resource-groups");
        CHECK(bus_polkit_gate("org.hostdev1.Manager", "NoSuchMethod") == POLKIT_GATE_DENIED);
        CHECK(bus_polkit_gate("org.hostdev1.ResourceGroup", "GetDevice") == POLKIT_GATE_DENIED);
        CHECK(bus_polkit_gate("org.hostdev1.Claim", "Frobnicate") == POLKIT_GATE_DENIED);
        CHECK(bus_polkit_gate("org.freedesktop.DBus.Properties", "Set") == POLKIT_GATE_DENIED);
        CHECK(bus_polkit_gate("org.freedesktop.DBus.Properties", "Get") == POLKIT_GATE_OPEN);
        CHECK(bus_polkit_gate("org.freedesktop.DBus.ObjectManager", "GetManagedObjects") == POLKIT_GATE_OPEN);
}

/* A re-dispatched call is compared with what polkit answered, check by
 * check: action and every detail. */
static void test_checks_compare(void) {
        _cleanup_(polkit_checks_done) PolkitChecks a = {}, b = {};

        CHECK(polkit_checks_add(&a, NULL, polkit_details_new("device", "0000:00:17.0", "serial", NULL, NULL)) == 0);
        CHECK(polkit_checks_add(&b, NULL, polkit_details_new("device", "0000:00:17.0", NULL)) == 0);
        CHECK(strv_length(a.details[0]) == 2);
        CHECK(polkit_details_add(&a.details[0], "device", "0000:00:17.0") == 0);
        CHECK(strv_length(a.details[0]) == 2);
        CHECK(polkit_checks_equal(&a, &b));
        CHECK(polkit_checks_add(&b, ACTION_OVERRIDE_CRITICAL, polkit_details_new("device", "0000:00:17.0", NULL)) == 0);
        CHECK(!polkit_checks_equal(&a, &b));
        CHECK(polkit_checks_add(&a, ACTION_OVERRIDE_CRITICAL, polkit_details_new("device", "0000:00:17.1", NULL)) == 0);
        CHECK(!polkit_checks_equal(&a, &b));
}

int main(void) {
        test_table_complete();
        test_gate_denies_by_default();
        test_checks_compare();
        CHECK_DONE();
}
