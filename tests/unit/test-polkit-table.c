/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus/bus.h"
#include "bus/polkit.h"
#include "check.h"

/* Every method the daemon serves is either open to everyone (read-only)
 * or guarded by a polkit action; a method that is neither would be refused
 * at run time, and this catches it at build time. */
int main(void) {
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
                        /* sd-bus would otherwise demand CAP_SYS_ADMIN itself. */
                        CHECK(v->flags & SD_BUS_VTABLE_UNPRIVILEGED);
                }
        CHECK(methods >= 6);
        /* Deny by default. */
        CHECK(bus_polkit_action("org.hostdev1.Manager", "NoSuchMethod") == NULL);
        CHECK(bus_polkit_action("org.hostdev1.ResourceGroup", "GetDevice") == NULL);
        CHECK_STREQ(bus_polkit_action("org.hostdev1.ResourceGroup", "Delete"), "org.hostdev1.manage-resource-groups");
        CHECK_DONE();
}
