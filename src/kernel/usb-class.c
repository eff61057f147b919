/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "shared/macro.h"
#include "sysfs.h"
#include "usb-class.h"

static void note_interface(int dfd, const char *name, Device *d) {
        _cleanup_close_ int ifd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint32_t v;

        if (ifd < 0 || sysfs_read_u32(ifd, "bInterfaceClass", 16, &v) < 0 || v > 0xff)
                return;
        d->usb.interface_classes[v / 64] |= UINT64_C(1) << (v % 64);
}

void kernel_usb_read_classes(int dfd, Device *d) {
        size_t prefix = strlen(d->address);
        struct dirent *de;
        uint32_t v;
        int fd;
        DIR *dir;

        if (sysfs_read_u32(dfd, "bDeviceClass", 16, &v) >= 0 && v <= 0xff)
                d->usb.device_class = (uint8_t) v;
        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return;
        }
        /* Interfaces are "1-3.2:1.0": the device's name, a colon. */
        while ((de = readdir(dir)))
                if (strncmp(de->d_name, d->address, prefix) == 0 && de->d_name[prefix] == ':')
                        note_interface(dirfd(dir), de->d_name, d);
        closedir(dir);
}
