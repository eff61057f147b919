/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "bus.h"

/* Longest object path: a device, an IOMMU group or a resource group. */
#define BUS_OBJECT_PATH_MAX 160

/* GetManagedObjects and InterfacesAdded written from the model in one pass.
 *
 * sd-bus answers GetManagedObjects by enumerating every node, looking each
 * path up again through the fallback vtables' find callbacks, and adding
 * empty entries for Peer, Introspectable and Properties to every object.
 * Here the objects come straight from the inventory and the resource
 * groups, and each interface's properties are written by the getters of its
 * vtable (the same code Properties.Get and GetAll run), so the reply says
 * exactly what GetAll says. Only the objects' own interfaces are listed,
 * as in InterfacesAdded and InterfacesRemoved. */

/* Takes GetManagedObjects on BUS_PATH over from sd-bus's object manager
 * (which stays for introspection) and has the emitter announce new objects
 * with the same writer. */
int bus_object_manager_register(Bus *b);

/* Sends InterfacesAdded for the object at path; -ENOENT if there is none. */
int bus_emit_object_added(sd_bus *bus, const char *path, void *userdata);
