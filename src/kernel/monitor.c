/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-device.h>

#include "monitor.h"
#include "shared/log.h"
#include "shared/macro.h"

struct Monitor {
        sd_device_monitor *monitor;
        MonitorHandler handler;
        void *userdata;
        MonitorMdevHandler mdev_handler;
        void *mdev_userdata;
        MonitorUsbInterfaceHandler usb_interface_handler;
        void *usb_interface_userdata;
        sd_device_monitor *other;       /* every subsystem: mdev parents on no bus we follow */
        MonitorOtherHandler other_handler;
        void *other_userdata;
};

static int on_other_device(sd_device_monitor *m, sd_device *device, void *userdata) {
        Monitor *mon = userdata;
        const char *syspath, *subsystem = NULL;
        sd_device_action_t action;

        if (sd_device_get_syspath(device, &syspath) < 0 || sd_device_get_action(device, &action) < 0)
                return 0;
        (void) sd_device_get_subsystem(device, &subsystem);
        if (action != SD_DEVICE_ADD && action != SD_DEVICE_REMOVE)
                return 0;
        if (subsystem && (streq(subsystem, "pci") || streq(subsystem, "usb") || streq(subsystem, "mdev")))
                return 0;
        mon->other_handler(mon->other_userdata, syspath);
        return 0;
}

int monitor_set_other_handler(Monitor *m, sd_event *event, MonitorOtherHandler handler, void *userdata) {
        int r;

        m->other_handler = handler;
        m->other_userdata = userdata;
        r = sd_device_monitor_new(&m->other);
        if (r >= 0)
                r = sd_device_monitor_attach_event(m->other, event);
        if (r >= 0)
                r = sd_device_monitor_start(m->other, on_other_device, m);
        if (r < 0)
                return log_error_errno(r, "Cannot start the udev monitor for other devices: %m");
        return 0;
}

void monitor_set_usb_interface_handler(Monitor *m, MonitorUsbInterfaceHandler handler, void *userdata) {
        m->usb_interface_handler = handler;
        m->usb_interface_userdata = userdata;
}

void monitor_set_mdev_handler(Monitor *m, MonitorMdevHandler handler, void *userdata) {
        m->mdev_handler = handler;
        m->mdev_userdata = userdata;
}

static int on_device(sd_device_monitor *m, sd_device *device, void *userdata) {
        Monitor *mon = userdata;
        const char *syspath, *subsystem, *devtype = NULL;
        sd_device_action_t action;
        DeviceKind kind;

        if (sd_device_get_syspath(device, &syspath) < 0 ||
            sd_device_get_subsystem(device, &subsystem) < 0 ||
            sd_device_get_action(device, &action) < 0)
                return 0;
        (void) sd_device_get_devtype(device, &devtype);

        if (streq(subsystem, "mdev")) {
                if (mon->mdev_handler && (action == SD_DEVICE_ADD || action == SD_DEVICE_REMOVE))
                        mon->mdev_handler(mon->mdev_userdata, action == SD_DEVICE_ADD ? UEVENT_ADD : UEVENT_REMOVE,
                                          syspath);
                return 0;
        }
        if (streq(subsystem, "usb") && streq_ptr(devtype, "usb_interface")) {
                if (mon->usb_interface_handler)
                        mon->usb_interface_handler(mon->usb_interface_userdata,
                                                   action == SD_DEVICE_ADD ? UEVENT_ADD
                                                   : action == SD_DEVICE_REMOVE ? UEVENT_REMOVE : UEVENT_CHANGE,
                                                   syspath);
                return 0;
        }
        if (streq(subsystem, "pci"))
                kind = DEVICE_PCI;
        else if (streq(subsystem, "usb") && streq_ptr(devtype, "usb_device"))
                kind = DEVICE_USB;
        else
                return 0;

        log_debug("uevent %s %s", syspath, action == SD_DEVICE_ADD ? "add" : action == SD_DEVICE_REMOVE ? "remove" : "change");
        mon->handler(mon->userdata,
                     action == SD_DEVICE_ADD ? UEVENT_ADD : action == SD_DEVICE_REMOVE ? UEVENT_REMOVE : UEVENT_CHANGE,
                     kind, syspath);
        return 0;
}

int monitor_new(sd_event *event, MonitorHandler handler, void *userdata, Monitor **ret) {
        _cleanup_(monitor_freep) Monitor *m = NULL;
        int r;

        m = calloc(1, sizeof(Monitor));
        if (!m)
                return -ENOMEM;
        m->handler = handler;
        m->userdata = userdata;

        r = sd_device_monitor_new(&m->monitor);
        if (r < 0)
                return log_error_errno(r, "Cannot open the udev monitor: %m");
        /* Bursts (hundreds of VFs at once) must not overflow the socket. */
        (void) sd_device_monitor_set_receive_buffer_size(m->monitor, 128 * 1024 * 1024);
        r = sd_device_monitor_filter_add_match_subsystem_devtype(m->monitor, "pci", NULL);
        if (r >= 0)
                r = sd_device_monitor_filter_add_match_subsystem_devtype(m->monitor, "usb", "usb_device");
        if (r >= 0)
                r = sd_device_monitor_filter_add_match_subsystem_devtype(m->monitor, "usb", "usb_interface");
        if (r >= 0)
                r = sd_device_monitor_filter_add_match_subsystem_devtype(m->monitor, "mdev", NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the udev monitor filter: %m");
        r = sd_device_monitor_attach_event(m->monitor, event);
        if (r < 0)
                return r;
        r = sd_device_monitor_start(m->monitor, on_device, m);
        if (r < 0)
                return log_error_errno(r, "Cannot start the udev monitor: %m");
        *ret = TAKE_PTR(m);
        return 0;
}

Monitor *monitor_free(Monitor *m) {
        if (!m)
                return NULL;
        sd_device_monitor_unref(m->monitor);
        sd_device_monitor_unref(m->other);
        free(m);
        return NULL;
}
