/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>

#include "critical-internal.h"
#include "critical.h"
#include "common/address.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "sysfs.h"

/* The kernel's own form only ("0000:07:00.0"): a directory that merely
 * parses as an address (a user-typed "07:00.0") is not a PCI function. */
static bool is_pci_function_dir(const char *path, const char *name) {
        _cleanup_free_ char *normal = NULL, *subsystem = NULL, *link = NULL;

        if (pci_address_parse(name, &normal) < 0 || !streq(normal, name))
                return false;
        if (asprintf(&link, "%s/subsystem", path) < 0)
                return false;
        return sysfs_read_link_basename(AT_FDCWD, link, &subsystem) >= 0 && streq(subsystem, "pci");
}

int sysfs_pci_function_of(const char *path, char **ret_address) {
        _cleanup_free_ char *dir = realpath(path, NULL);

        if (!dir)
                return errno == ENOMEM ? -ENOMEM : -ENODEV;
        for (;;) {
                char *slash = strrchr(dir, '/');

                /* Every device lives below SYSFS/devices; above it there is
                 * nothing to find. */
                if (!slash || slash == dir || streq(slash + 1, "devices"))
                        return -ENODEV;
                if (is_pci_function_dir(dir, slash + 1)) {
                        *ret_address = strdup(slash + 1);
                        return *ret_address ? 0 : -ENOMEM;
                }
                *slash = 0;
        }
}

/* Whether fbcon holds a virtual console; without vtconsole information
 * (an old kernel, a simulated sysfs), assume it does. */
static bool fbcon_bound(const Paths *p) {
        _cleanup_free_ char *path = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;

        if (asprintf(&path, "%s/class/vtconsole", p->sysfs) < 0)
                return true;
        dir = opendir(path);
        if (!dir)
                return true;
        while ((de = readdir(dir))) {
                _cleanup_free_ char *name = NULL, *bind = NULL, *a = NULL, *b = NULL;

                if (!startswith(de->d_name, "vtcon"))
                        continue;
                if (asprintf(&a, "%s/name", de->d_name) < 0 || asprintf(&b, "%s/bind", de->d_name) < 0)
                        return true;
                if (sysfs_read(dirfd(dir), a, &name) >= 0 && strstr(name, "frame buffer") &&
                    sysfs_read(dirfd(dir), b, &bind) >= 0 && streq(bind, "1"))
                        return true;
        }
        return false;
}

static int console_hits(const Paths *p, CriticalHit **hits, size_t *n) {
        _cleanup_free_ char *path = NULL, *address = NULL, *name = NULL, *text = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (asprintf(&path, "%s/class/graphics/fb0", p->sysfs) < 0)
                return -ENOMEM;
        /* efifb and simpledrm sit on a platform device: no PCI function;
         * the boot VGA flag covers that GPU. */
        r = sysfs_pci_function_of(path, &address);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !fbcon_bound(p))
                return 0;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void) sysfs_read(fd, "name", &name);
        if (asprintf(&text, "drives the framebuffer console (fb0%s%s)", name ? ", " : "", strempty(name)) < 0)
                return -ENOMEM;
        return critical_hits_add(hits, n, address, "console", text);
}

int kernel_critical_hits(const Paths *paths, sd_bus *bus, CriticalHit **ret, size_t *ret_n) {
        CriticalHit *hits = NULL;
        size_t n = 0;
        int r;

        r = storage_critical_hits(paths, &hits, &n);
        if (r >= 0)
                r = network_critical_hits(paths, bus, &hits, &n);
        if (r >= 0)
                r = console_hits(paths, &hits, &n);
        if (r >= 0)
                r = usb_critical_hits(paths, &hits, &n);
        if (r < 0) {
                critical_hits_free(hits, n);
                return r;
        }
        *ret = hits;
        *ret_n = n;
        return 0;
}
