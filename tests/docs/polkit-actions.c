/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prints the polkit actions hostdevd asks for, from its own action table:
 * one "action<TAB>interface.method" line per guarded method, and
 * "action<TAB>+" for an action asked in addition to a method's own (the
 * override of a host-critical device). check-polkit-policy.py compares
 * them with polkit/org.hostdev1.policy, so the policy file cannot drift
 * from what the daemon asks. */
#include <stdio.h>

#include "bus/bus.h"
#include "bus/polkit.h"

int main(void) {
        for (size_t i = 0; i < bus_n_interfaces; i++)
                for (const sd_bus_vtable *v = bus_interfaces[i].vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                        const char *iface = bus_interfaces[i].interface, *action;

                        if (v->type != _SD_BUS_VTABLE_METHOD)
                                continue;
                        action = bus_polkit_action(iface, v->x.method.member);
                        if (action)
                                printf("%s\t%s.%s\n", action, iface, v->x.method.member);
                }
        printf("%s\t+\n", ACTION_OVERRIDE_CRITICAL);
        return fflush(stdout) == 0 ? 0 : 1;
}
