/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "common/address.h"

typedef enum UeventAction {
        UEVENT_ADD,
        UEVENT_REMOVE,
        UEVENT_CHANGE,   /* change, bind, unbind, move, online, offline */
} UeventAction;

typedef void (*MonitorHandler)(void *userdata, UeventAction action, DeviceKind kind, const char *syspath);

typedef struct Monitor Monitor;

/* Listens to udev's events for PCI functions and USB devices. Opened before
 * enumeration, so that nothing that happens meanwhile is missed. */
/* Events of the mdev bus (mediated devices come and go), when set. */
typedef void (*MonitorMdevHandler)(void *userdata, UeventAction action, const char *syspath);
void monitor_set_mdev_handler(Monitor *m, MonitorMdevHandler handler, void *userdata);

/* Events of USB interfaces ("2-1:1.0": added, removed, bound, unbound), when set. */
typedef void (*MonitorUsbInterfaceHandler)(void *userdata, UeventAction action, const char *syspath);
void monitor_set_usb_interface_handler(Monitor *m, MonitorUsbInterfaceHandler handler, void *userdata);

/* add and remove events of devices on any other subsystem (an mdev parent
 * such as mtty's), from a second monitor opened here. */
typedef void (*MonitorOtherHandler)(void *userdata, const char *syspath);
int monitor_set_other_handler(Monitor *m, sd_event *event, MonitorOtherHandler handler, void *userdata);

int monitor_new(sd_event *event, MonitorHandler handler, void *userdata, Monitor **ret);
Monitor *monitor_free(Monitor *m);
static inline void monitor_freep(Monitor **m) {
        monitor_free(*m);
}
