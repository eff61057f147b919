/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Decoding the daemon's replies into the host model (host.h). Unknown
 * properties and interfaces are skipped, so that the daemon may grow; a
 * known property of the wrong type is an error.
 */

#include <systemd/sd-bus.h>

#include "host.h"

/* The a{sv} of Properties.GetAll on the manager. */
int hd_decode_manager(sd_bus_message *m, HdHost *h);
/* The a{oa{sa{sv}}} of ObjectManager.GetManagedObjects: devices and groups are added to h. */
int hd_decode_objects(sd_bus_message *m, HdHost *h);
/* Reads a plan, a(ssss), into a strv of address, from, to, reason quadruples. */
int hd_read_plan(sd_bus_message *m, char ***ret);
