/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "options.h"
#include "polkit.h"
#include "shared/macro.h"

/* The USB side of Prepare and Release (bus_prepare_release): the plan's
 * steps are interfaces, so the critical reasons and the polkit questions
 * are about the devices asked for. */

char *bus_usb_critical_summary(const Device *const *devs, size_t n) {
        char *s = NULL, *t;

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; devs[i]->critical && devs[i]->critical[j] && devs[i]->critical[j + 1]; j += 2) {
                        if (asprintf(&t, "%s%s%s: %s", strempty(s), s ? "; " : "", devs[i]->address,
                                     devs[i]->critical[j + 1]) < 0) {
                                free(s);
                                return NULL;
                        }
                        free(s);
                        s = t;
                }
        return s;
}

int bus_usb_polkit_checks(PolkitChecks *c, Bus *b, sd_bus_message *m, const Device *const *devs, size_t n,
                          bool prepare) {
        _cleanup_free_ char *addresses = bus_join_addresses(devs, n), *msg = NULL;
        const ResourceGroup *group = NULL;

        if (!addresses)
                return -ENOMEM;
        if (streq_ptr(sd_bus_message_get_interface(m), "org.hostdev1.ResourceGroup"))
                group = bus_resource_group_from_path(b, sd_bus_message_get_path(m));
        if ((prepare ? asprintf(&msg, "Authentication is required to prepare the USB device%s %s%s%s for "
                                "passthrough: the host's drivers let go of %s.", n == 1 ? "" : "s", addresses,
                                group ? " of the resource group " : "", group ? group->name : "",
                                n == 1 ? "it" : "them")
                     : asprintf(&msg, "Authentication is required to give the USB device%s %s%s%s back to the "
                                "host's drivers.", n == 1 ? "" : "s", addresses,
                                group ? " of the resource group " : "", group ? group->name : "")) < 0)
                return -ENOMEM;
        return polkit_checks_for_devices(c, devs, n, group, prepare, msg);
}
