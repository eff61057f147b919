/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * plain-walk: read what hostdevd reads at start-up, with nothing but
 * open/read/readlink/readdir, and print how long it took. It is the floor
 * the daemon's start-up is compared with: the same attributes of every PCI
 * function, USB device and IOMMU group, from the same sysfs root.
 *
 *   plain-walk [-d] [-n RUNS] [SYSFS_ROOT]
 *
 * -d opens attributes relative to each device directory, as hostdevd does.
 * Prints one line per run: "pci=N usb=N groups=N serials=N reads=N seconds=S".
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct counts {
        unsigned pci, usb, groups, serials, reads;
        unsigned long checksum;
};

static const char *pci_attrs[] = {
        "vendor", "device", "class", "subsystem_vendor", "subsystem_device", "numa_node",
        "current_link_speed", "current_link_width", "reset_method", "boot_vga",
        "sriov_totalvfs", "sriov_numvfs",
};

static const char *usb_attrs[] = {
        "busnum", "devnum", "devpath", "idVendor", "idProduct", "serial", "speed",
        "authorized", "manufacturer", "product", "uevent",
};

/* With -d, attributes are read with openat()/readlinkat() relative to the
 * device directory (as hostdevd does) instead of by full path. */
static int use_dirfd;

/* Joins dir and name; fails rather than truncate. */
static int join(char *out, size_t size, const char *dir, const char *name) {
        int n = snprintf(out, size, "%s/%s", dir, name);

        return n < 0 || (size_t) n >= size ? -1 : 0;
}

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads a whole (small or binary) attribute; returns its length or -1. */
static ssize_t read_attr(struct counts *c, int dfd, const char *dir, const char *name, char *buf, size_t size) {
        char path[PATH_MAX];
        ssize_t n, total = 0;
        int fd;

        if (dfd >= 0)
                fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
        else if (join(path, sizeof path, dir, name) < 0)
                return -1;
        else
                fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        while ((size_t) total < size - 1 && (n = read(fd, buf + total, size - 1 - total)) > 0)
                total += n;
        close(fd);
        buf[total] = 0;
        c->reads++;
        c->checksum += total > 0 ? (unsigned char) buf[0] : 0;
        return total;
}

static ssize_t read_link(struct counts *c, int dfd, const char *dir, const char *name, char *buf, size_t size) {
        char path[PATH_MAX];
        ssize_t n;

        if (dfd >= 0)
                n = readlinkat(dfd, name, buf, size - 1);
        else if (join(path, sizeof path, dir, name) < 0)
                return -1;
        else
                n = readlink(path, buf, size - 1);
        if (n < 0)
                return -1;
        buf[n] = 0;
        c->reads++;
        c->checksum += n;
        return n;
}

/* The Device Serial Number extended capability (id 3) of a config space. */
static int config_dsn(const unsigned char *cfg, size_t len, uint64_t *ret) {
        unsigned off = 0x100, guard = 0;

        while (off >= 0x100 && off + 12 <= len && guard++ < 64) {
                uint32_t hdr = cfg[off] | cfg[off + 1] << 8 | cfg[off + 2] << 16 | (uint32_t) cfg[off + 3] << 24;

                if (hdr == 0)
                        return 0;
                if ((hdr & 0xffff) == 3) {
                        uint64_t v = 0;
                        for (int i = 7; i >= 0; i--)
                                v = v << 8 | cfg[off + 4 + i];
                        *ret = v;
                        return 1;
                }
                off = hdr >> 20;
        }
        return 0;
}

/* The SN keyword of the read-only VPD section. */
static int vpd_sn(const unsigned char *vpd, size_t len) {
        size_t i = 0;

        while (i + 3 <= len) {
                unsigned tag = vpd[i];
                size_t l;

                if (tag == 0x78)
                        return 0;
                if (!(tag & 0x80))
                        return 0;
                l = vpd[i + 1] | vpd[i + 2] << 8;
                if (tag == 0x90) {
                        size_t k = i + 3, end = i + 3 + l;
                        while (k + 3 <= end && end <= len) {
                                if (vpd[k] == 'S' && vpd[k + 1] == 'N')
                                        return 1;
                                k += 3 + vpd[k + 2];
                        }
                }
                i += 3 + l;
        }
        return 0;
}

static void walk_pci(struct counts *c, const char *root) {
        char dir[PATH_MAX], buf[4096], target[PATH_MAX];
        static unsigned char cfg[4096];
        struct dirent *de;
        DIR *d;

        d = join(dir, sizeof dir, root, "bus/pci/slots") < 0 ? NULL : opendir(dir);
        if (d) {
                while ((de = readdir(d))) {
                        char slot[PATH_MAX];
                        if (de->d_name[0] == '.')
                                continue;
                        if (join(slot, sizeof slot, dir, de->d_name) < 0)
                                continue;
                        read_attr(c, -1, slot, "address", buf, sizeof buf);
                }
                closedir(d);
        }

        d = join(dir, sizeof dir, root, "bus/pci/devices") < 0 ? NULL : opendir(dir);
        if (!d) {
                fprintf(stderr, "plain-walk: %s: %m\n", dir);
                exit(EXIT_FAILURE);
        }
        while ((de = readdir(d))) {
                char dev[PATH_MAX];
                uint64_t dsn;
                ssize_t n;
                long numvfs = 0;
                int dfd;

                if (de->d_name[0] == '.')
                        continue;
                c->pci++;
                if (join(dev, sizeof dev, dir, de->d_name) < 0)
                        continue;
                read_link(c, -1, dir, de->d_name, target, sizeof target);
                dfd = use_dirfd ? openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
                for (size_t i = 0; i < sizeof pci_attrs / sizeof pci_attrs[0]; i++)
                        if (read_attr(c, dfd, dev, pci_attrs[i], buf, sizeof buf) > 0 &&
                            strcmp(pci_attrs[i], "sriov_numvfs") == 0)
                                numvfs = strtol(buf, NULL, 10);
                read_link(c, dfd, dev, "driver", target, sizeof target);
                read_link(c, dfd, dev, "iommu_group", target, sizeof target);
                read_link(c, dfd, dev, "physfn", target, sizeof target);
                for (long i = 0; i < numvfs; i++) {
                        char name[32];
                        snprintf(name, sizeof name, "virtfn%ld", i);
                        read_link(c, dfd, dev, name, target, sizeof target);
                }
                n = read_attr(c, dfd, dev, "config", (char *) cfg, sizeof cfg);
                if (n > 0 && config_dsn(cfg, n, &dsn))
                        c->serials++;
                else {
                        n = read_attr(c, dfd, dev, "vpd", buf, sizeof buf);
                        if (n > 0 && vpd_sn((unsigned char *) buf, n))
                                c->serials++;
                }
                if (dfd >= 0)
                        close(dfd);
        }
        closedir(d);
}

static void walk_usb(struct counts *c, const char *root) {
        char dir[PATH_MAX], buf[4096], target[PATH_MAX];
        struct dirent *de;
        DIR *d;

        d = join(dir, sizeof dir, root, "bus/usb/devices") < 0 ? NULL : opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                char dev[PATH_MAX];
                int dfd;

                /* root hubs (usbN) and interfaces (B-P:C.I) are not devices to publish */
                if (de->d_name[0] == '.' || strncmp(de->d_name, "usb", 3) == 0 || strchr(de->d_name, ':'))
                        continue;
                c->usb++;
                if (join(dev, sizeof dev, dir, de->d_name) < 0)
                        continue;
                read_link(c, -1, dir, de->d_name, target, sizeof target);
                dfd = use_dirfd ? openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
                for (size_t i = 0; i < sizeof usb_attrs / sizeof usb_attrs[0]; i++)
                        read_attr(c, dfd, dev, usb_attrs[i], buf, sizeof buf);
                read_link(c, dfd, dev, "driver", target, sizeof target);
                if (dfd >= 0)
                        close(dfd);
        }
        closedir(d);
}

static void walk_groups(struct counts *c, const char *root) {
        char dir[PATH_MAX];
        struct dirent *de;
        DIR *d;

        d = join(dir, sizeof dir, root, "kernel/iommu_groups") < 0 ? NULL : opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                char members[PATH_MAX];
                struct dirent *m;
                DIR *md;

                if (de->d_name[0] == '.')
                        continue;
                c->groups++;
                if (join(members, sizeof members, dir, de->d_name) < 0 ||
                    strlen(members) + sizeof "/devices" > sizeof members)
                        continue;
                strcat(members, "/devices");
                md = opendir(members);
                if (!md)
                        continue;
                while ((m = readdir(md)))
                        if (m->d_name[0] != '.')
                                c->reads++;
                closedir(md);
        }
        closedir(d);
}

int main(int argc, char *argv[]) {
        const char *root = "/sys";
        int runs = 1, opt;

        while ((opt = getopt(argc, argv, "dn:h")) != -1)
                switch (opt) {
                case 'd':
                        use_dirfd = 1;
                        break;
                case 'n':
                        runs = atoi(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: %s [-d] [-n RUNS] [SYSFS_ROOT]\n", argv[0]);
                        return opt == 'h' ? EXIT_SUCCESS : EXIT_FAILURE;
                }
        if (optind < argc)
                root = argv[optind];
        if (runs < 1)
                runs = 1;

        for (int r = 0; r < runs; r++) {
                struct counts c = {};
                double t = now();

                walk_pci(&c, root);
                walk_usb(&c, root);
                walk_groups(&c, root);
                t = now() - t;
                printf("pci=%u usb=%u groups=%u serials=%u reads=%u seconds=%.6f\n",
                       c.pci, c.usb, c.groups, c.serials, c.reads, t);
                fflush(stdout);
        }
        return EXIT_SUCCESS;
}
