/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kernel.h"
#include "shared/macro.h"
#include "sysfs.h"
#include "usb-class.h"

/* "DEVNAME=bus/usb/001/002" from the uevent file → "/dev/bus/usb/001/002". */
static char *read_devnode(int dfd) {
        _cleanup_free_ char *uevent = malloc(SYSFS_ATTR_MAX + 1);
        const char *p;
        char *s;
        ssize_t n;

        if (!uevent)
                return NULL;
        n = sysfs_read_binary(dfd, "uevent", uevent, SYSFS_ATTR_MAX);
        if (n <= 0)
                return NULL;
        uevent[n] = 0;
        for (p = uevent; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                const char *v = startswith(p, "DEVNAME=");
                if (!v)
                        continue;
                if (asprintf(&s, "%s%.*s", *v == '/' ? "" : "/dev/", (int) strcspn(v, "\n"), v) < 0)
                        return NULL;
                return s;
        }
        return NULL;
}

static int read_usb(Kernel *k, int dfd, Device *d) {
        _cleanup_free_ char *manufacturer = NULL, *product = NULL;
        uint32_t v;

        if (sysfs_read_u32(dfd, "idVendor", 16, &v) < 0 || v > 0xffff)
                return -ENODEV;
        d->vendor_id = (uint16_t) v;
        if (sysfs_read_u32(dfd, "idProduct", 16, &v) < 0 || v > 0xffff)
                return -ENODEV;
        d->product_id = (uint16_t) v;
        if (sysfs_read_u32(dfd, "busnum", 10, &v) >= 0)
                d->usb.busnum = v;
        if (sysfs_read_u32(dfd, "devnum", 10, &v) >= 0)
                d->usb.devnum = v;
        d->usb.authorized = !(sysfs_read_u32(dfd, "authorized", 10, &v) >= 0 && v == 0);
        (void) sysfs_read(dfd, "devpath", &d->usb.port_path);
        (void) sysfs_read(dfd, "speed", &d->usb.speed);
        (void) sysfs_read(dfd, "serial", &d->serial);
        if (d->serial && !*d->serial)
                d->serial = (free(d->serial), NULL);
        (void) sysfs_read_link_basename(dfd, "driver", &d->driver);
        d->usb.devnode = read_devnode(dfd);
        kernel_usb_read_classes(dfd, d);

        names_usb(k->names, d->vendor_id, d->product_id, &d->vendor_name, &d->product_name);
        /* usb.ids lacks many devices; their own descriptor strings are the next best. */
        if (!*d->vendor_name && sysfs_read(dfd, "manufacturer", &manufacturer) >= 0)
                d->vendor_name = names_intern(k->names, manufacturer);
        if (!*d->product_name && sysfs_read(dfd, "product", &product) >= 0)
                d->product_name = names_intern(k->names, product);
        return 0;
}

int kernel_usb_read(Kernel *k, const char *address, const char *syspath, int dfd, Device **ret) {
        _cleanup_(device_freep) Device *d = NULL;
        int r;

        /* Interfaces ("1-3:1.0") and root hubs ("usb1") fail to parse. */
        if (usb_address_parse(address, NULL) < 0)
                return -ENODEV;
        d = device_new(DEVICE_USB, address);
        if (!d || !(d->syspath = strdup(syspath)))
                return -ENOMEM;
        r = read_usb(k, dfd, d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}
