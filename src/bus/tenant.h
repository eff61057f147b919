/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "bus.h"

/* ResourceGroup.AssignToTenant(s tenant, u count, a{sv}) → o and
 * ResourceGroup.ReturnToParent(a{sv}); org.hostdev1.assign-tenant. */
int bus_method_assign_to_tenant(sd_bus_message *m, void *userdata, sd_bus_error *error);
int bus_method_return_to_parent(sd_bus_message *m, void *userdata, sd_bus_error *error);
/* The Parent property: the parent group's path, "/" for none. */
int bus_append_parent(sd_bus_message *reply, Bus *b, const ResourceGroup *g);
