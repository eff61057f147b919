/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "shared/log.h"
#include "shared/macro.h"
#include "sriov.h"
#include "sysfs.h"

static char *attr_path(Kernel *k, const char *pf, const char *attr) {
        char *p;

        if (asprintf(&p, "%s/bus/pci/devices/%s/%s", k->paths->sysfs, pf, attr) < 0)
                return NULL;
        return p;
}

int kernel_sriov_set_numvfs_async(Kernel *k, sd_event *e, const char *pf, unsigned count, KernelWriteDone done,
                                  void *userdata, KernelWrite **ret) {
        _cleanup_free_ char *path = attr_path(k, pf, "sriov_numvfs");
        char value[16];

        if (!path)
                return -ENOMEM;
        snprintf(value, sizeof value, "%u", count);
        log_debug("%s: sriov_numvfs ← %u", pf, count);
        return kernel_write_async(e, path, value, done, userdata, ret);
}

int kernel_sriov_set_autoprobe(Kernel *k, const char *pf, bool on) {
        _cleanup_free_ char *path = attr_path(k, pf, "sriov_drivers_autoprobe");
        _cleanup_close_ int fd = -1;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (write(fd, on ? "1" : "0", 1) != 1)
                return errno ? -errno : -EIO;
        log_debug("%s: sriov_drivers_autoprobe ← %d", pf, on);
        return 0;
}

int kernel_sriov_num_vfs(Kernel *k, const char *pf, unsigned *ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int dfd = -1;
        uint32_t v;
        int r;

        if (asprintf(&path, "%s/bus/pci/devices/%s", k->paths->sysfs, pf) < 0)
                return -ENOMEM;
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = sysfs_read_u32(dfd, "sriov_numvfs", 10, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}
