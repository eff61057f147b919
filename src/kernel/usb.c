/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>

#include "kernel.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "sysfs.h"

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

/* One interface directory ("2-1:1.0") as name, class, driver. */
static int read_interface(int dfd, const char *name, char ***list) {
        _cleanup_free_ char *driver = NULL, *cls = NULL;
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint32_t c = 0, s = 0, p = 0;

        if (fd < 0)
                return 0;
        (void) sysfs_read_u32(fd, "bInterfaceClass", 16, &c);
        (void) sysfs_read_u32(fd, "bInterfaceSubClass", 16, &s);
        (void) sysfs_read_u32(fd, "bInterfaceProtocol", 16, &p);
        (void) sysfs_read_link_basename(fd, "driver", &driver);
        if (asprintf(&cls, "%02x/%02x/%02x", c & 0xff, s & 0xff, p & 0xff) < 0)
                return -ENOMEM;
        if (strv_extend(list, name) < 0 || strv_extend(list, cls) < 0 || strv_extend(list, strempty(driver)) < 0)
                return -ENOMEM;
        return 0;
}

/* The interfaces of the active configuration, in name order: the
 * directories "<address>:<config>.<number>" of the device. */
static int read_interfaces(int dfd, const char *address, char ***ret) {
        _cleanup_strv_free_ char **names = NULL, **list = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        size_t l = strlen(address);
        struct dirent *de;
        int fd, r;

        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(dir)))
                if (strncmp(de->d_name, address, l) == 0 && de->d_name[l] == ':' &&
                    usb_interface_parse(de->d_name, NULL) >= 0 && strv_extend(&names, de->d_name) < 0)
                        return -ENOMEM;
        if (names)
                qsort(names, strv_length(names), sizeof(char *), cmp_strp);
        for (char **n = names; n && *n; n++) {
                r = read_interface(dfd, *n, &list);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(list);
        return 0;
}

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
        if (sysfs_read_u32(dfd, "bDeviceClass", 16, &v) >= 0)
                d->usb.device_class = (uint8_t) v;
        if (read_interfaces(dfd, d->address, &d->usb.interfaces) == -ENOMEM)
                return -ENOMEM;
        /* The kernel's name, "1-3.2": what rules, handles and the CLI
         * take. sysfs's devpath ("3.2") leaves out the bus. */
        d->usb.port_path = strdup(d->address);
        if (!d->usb.port_path)
                return -ENOMEM;
        (void) sysfs_read(dfd, "speed", &d->usb.speed);
        (void) sysfs_read(dfd, "serial", &d->serial);
        if (d->serial && !*d->serial)
                d->serial = (free(d->serial), NULL);
        (void) sysfs_read_link_basename(dfd, "driver", &d->driver);
        d->usb.devnode = read_devnode(dfd);

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
