/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>

#include "shared/macro.h"
#include "sysfs.h"

ssize_t sysfs_read_binary(int dfd, const char *attr, void *buf, size_t max) {
        _cleanup_close_ int fd = openat(dfd, attr, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t done = 0;

        if (fd < 0)
                return -errno;
        while (done < max) {
                ssize_t n = read(fd, (char *) buf + done, max - done);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}

int sysfs_read(int dfd, const char *attr, char **ret) {
        char buf[SYSFS_ATTR_MAX + 1];
        ssize_t n = sysfs_read_binary(dfd, attr, buf, SYSFS_ATTR_MAX);

        if (n < 0)
                return (int) n;
        buf[n] = 0;
        /* Text attributes end in a newline; a NUL inside means it was not text. */
        buf[strcspn(buf, "\n")] = 0;
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

int sysfs_read_u32(int dfd, const char *attr, int base, uint32_t *ret) {
        _cleanup_free_ char *s = NULL;
        unsigned long v;
        char *end;
        int r;

        r = sysfs_read(dfd, attr, &s);
        if (r < 0)
                return r;
        errno = 0;
        v = strtoul(s, &end, base);
        if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

int sysfs_read_int(int dfd, const char *attr, int *ret) {
        _cleanup_free_ char *s = NULL;
        long v;
        char *end;
        int r;

        r = sysfs_read(dfd, attr, &s);
        if (r < 0)
                return r;
        errno = 0;
        v = strtol(s, &end, 0);
        if (errno || end == s || *end || v < INT_MIN || v > INT_MAX)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int sysfs_read_link_basename(int dfd, const char *link, char **ret) {
        char buf[PATH_MAX];
        ssize_t n = readlinkat(dfd, link, buf, sizeof buf - 1);
        const char *b;

        if (n < 0)
                return -errno;
        buf[n] = 0;
        b = strrchr(buf, '/');
        b = b ? b + 1 : buf;
        if (!*b)
                return -EINVAL;
        *ret = strdup(b);
        return *ret ? 0 : -ENOMEM;
}
