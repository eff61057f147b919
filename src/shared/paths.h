/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Every file system location hostdev reads or writes comes from here, so
 * that tests can root all of them in a simulated host. See docs/env.md. */

typedef struct Paths {
        char *sysfs;       /* HOSTDEV_SYSFS_ROOT, /sys */
        char *dev;         /* HOSTDEV_DEV_ROOT, /dev */
        char *proc;        /* HOSTDEV_PROC_ROOT, /proc */
        char *run;         /* HOSTDEV_RUN_ROOT, /run */
        char *etc;         /* HOSTDEV_ETC_ROOT, /etc (mdevctl.d: read only) */
        char *state_dir;   /* HOSTDEV_STATE_DIRECTORY, /var/lib/hostdev */
        char *pci_ids;     /* HOSTDEV_PCI_IDS, /usr/share/misc/pci.ids */
        char *usb_ids;     /* HOSTDEV_USB_IDS, /usr/share/misc/usb.ids */
        char *rtnl_socket; /* HOSTDEV_RTNL_SOCKET, NULL: the kernel's rtnetlink (tests: an emulator) */
} Paths;

int paths_init_from_env(Paths *p);
void paths_done(Paths *p);

/* "/sys/devices/x" → "<sysfs root>/devices/x". The kernel (and udev) name
 * devices by their path under /sys; this maps such a name into our root.
 * Returns NULL for a path outside /sys or on OOM. */
char *paths_sysfs(const Paths *p, const char *kernel_syspath);
