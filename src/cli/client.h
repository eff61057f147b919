/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

#include "host.h"

#define HOSTDEV_SERVICE "org.hostdev1"
#define HOSTDEV_MANAGER_PATH "/org/hostdev1"
#define HOSTDEV_MANAGER_INTERFACE "org.hostdev1.Manager"
#define HOSTDEV_DEVICE_INTERFACE "org.hostdev1.Device"
#define HOSTDEV_PCI_INTERFACE "org.hostdev1.PciDevice"
#define HOSTDEV_SRIOV_PF_INTERFACE "org.hostdev1.SriovPhysicalFunction"
#define HOSTDEV_USB_INTERFACE "org.hostdev1.UsbDevice"
#define HOSTDEV_GROUP_INTERFACE "org.hostdev1.IommuGroup"
#define HOSTDEV_RESOURCE_GROUP_INTERFACE "org.hostdev1.ResourceGroup"
#define HOSTDEV_CLAIM_INTERFACE "org.hostdev1.Claim"

/* How long a call that changes something may take: polkit may ask the user. */
#define HD_MUTATING_TIMEOUT_USEC (300ULL * 1000000ULL)

/* Opens the system bus ($DBUS_SYSTEM_BUS_ADDRESS is honoured); logs on failure. */
int hd_bus_open(sd_bus **ret);

/* Fetches the manager's properties and all objects; logs on failure. */
int hd_host_fetch(sd_bus *bus, HdHost **ret);

/* Manager.GetDevice; on failure logs the daemon's error message. */
int hd_get_device(sd_bus *bus, const char *address, char **ret_path);


/*
 * Calls that change something. hd_new_call() makes a method call that
 * allows interactive authorization when `interactive` (no
 * --no-ask-password); hd_close_options() appends the matching
 * "auth.no_user_interaction" entry, the last of every options a{sv}, and
 * closes the a{sv}. hd_call() sends it and, on failure, logs the daemon's
 * reason in hostdevctl's words (errors.h).
 */
int hd_new_call(sd_bus *bus, sd_bus_message **ret, const char *path, const char *interface, const char *member,
                bool interactive);
int hd_close_options(sd_bus_message *m, bool interactive);
int hd_call(sd_bus *bus, sd_bus_message *m, sd_bus_message **ret_reply);
/* Appends an ao. */
int hd_append_object_paths(sd_bus_message *m, char **paths);
/* Appends the {sv} entry "devices" → ao of paths (Claim, AssignToTenant). */
int hd_append_devices_option(sd_bus_message *m, char **paths);
/* Logs what went wrong building or parsing a message. */
int log_message_error(int r);
