/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>

#include "common/address.h"
#include "critical-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "sysfs.h"

/* USB devices the host uses: a stick or disk holding any mounted file
 * system or a swap area (usb-storage or uas → SCSI host → disk →
 * partitions, under the device in sysfs; also below dm, md or LUKS). Not
 * only the host's own mounts as for PCI: a mounted stick is in use, and
 * taking it away loses data. The only keyboard is found in the model. */

#define USB_STACK_DEPTH_MAX 16

/* "2-1", not "2-1:1.0" nor "usb2", with subsystem usb. */
static bool is_usb_device_dir(const char *path, const char *name) {
        _cleanup_free_ char *normal = NULL, *subsystem = NULL, *link = NULL;

        if (usb_address_parse(name, &normal) < 0 || !streq(normal, name))
                return false;
        if (asprintf(&link, "%s/subsystem", path) < 0)
                return false;
        return sysfs_read_link_basename(AT_FDCWD, link, &subsystem) >= 0 && streq(subsystem, "usb");
}

/* The USB device a sysfs object sits under: -ENODEV when none. */
static int sysfs_usb_device_of(const char *path, char **ret_address) {
        _cleanup_free_ char *dir = realpath(path, NULL);

        if (!dir)
                return errno == ENOMEM ? -ENOMEM : -ENODEV;
        for (;;) {
                char *slash = strrchr(dir, '/');

                if (!slash || slash == dir || streq(slash + 1, "devices"))
                        return -ENODEV;
                if (is_usb_device_dir(dir, slash + 1)) {
                        *ret_address = strdup(slash + 1);
                        return *ret_address ? 0 : -ENOMEM;
                }
                *slash = 0;
        }
}

/* The block device at dir and what it is stacked on (slaves/), down to
 * USB devices: each one found gets a hit with text. */
static int walk(const char *dir, unsigned depth, const char *code, const char *text, CriticalHit **hits,
                size_t *n) {
        _cleanup_free_ char *address = NULL, *slaves = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        if (depth > USB_STACK_DEPTH_MAX)
                return 0;
        r = sysfs_usb_device_of(dir, &address);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                return critical_hits_add(hits, n, address, code, text);
        if (asprintf(&slaves, "%s/slaves", dir) < 0)
                return -ENOMEM;
        d = opendir(slaves);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                _cleanup_free_ char *lower = NULL, *resolved = NULL;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&lower, "%s/%s", slaves, de->d_name) < 0)
                        return -ENOMEM;
                resolved = realpath(lower, NULL);
                if (!resolved)
                        continue;
                r = walk(resolved, depth + 1, code, text, hits, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The code PCI storage uses for the host's own mounts, else a generic one. */
static const char *mount_code(const char *mount_point) {
        return host_mount_code(mount_point) ?: "mounted-filesystem";
}

static int mount_hits(const Paths *p, const MountEntry *m, CriticalHit **hits, size_t *n) {
        _cleanup_free_ char *dir = NULL, *text = NULL;
        int r;

        r = block_dir_find(p, m->major, m->minor, m->source, &dir);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        if (asprintf(&text, "holds %s (%s)", m->mount_point, m->source) < 0)
                return -ENOMEM;
        return walk(dir, 0, mount_code(m->mount_point), text, hits, n);
}

static int swap_hits(const Paths *p, CriticalHit **hits, size_t *n) {
        _cleanup_fclose_ FILE *f = NULL;
        SwapEntry *swaps = NULL;
        size_t n_swaps = 0;
        int r;

        if (proc_table_open(p, "swaps", &f) < 0)
                return 0;
        r = swaps_parse(f, &swaps, &n_swaps);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_swaps && r >= 0; i++) {
                _cleanup_free_ char *dir = NULL, *text = NULL;

                /* A swap file counts through the mount that holds it. */
                if (swaps[i].is_file)
                        continue;
                r = block_dir_find(p, 0, 0, swaps[i].filename, &dir);
                if (r == -ENODEV) {
                        r = 0;
                        continue;
                }
                if (r >= 0 && asprintf(&text, "holds swap (%s)", swaps[i].filename) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = walk(dir, 0, "swap", text, hits, n);
        }
        swap_entries_free(swaps, n_swaps);
        return r;
}

int usb_critical_hits(const Paths *p, CriticalHit **hits, size_t *n) {
        _cleanup_fclose_ FILE *f = NULL;
        MountEntry *mounts = NULL;
        size_t n_mounts = 0;
        int r;

        if (proc_table_open(p, "self/mountinfo", &f) >= 0) {
                r = mountinfo_parse(f, &mounts, &n_mounts);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n_mounts && r >= 0; i++)
                        r = mount_hits(p, &mounts[i], hits, n);
                mount_entries_free(mounts, n_mounts);
                if (r < 0)
                        return r;
        }
        return swap_hits(p, hits, n);
}
