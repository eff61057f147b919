/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <pci/pci.h>
#include <stdarg.h>

#include "kernel.h"
#include "libpci-log.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "sysfs.h"
#include "vpd.h"

#define PCI_EXT_CAP_DSN 0x03

int kernel_pci_init(Kernel *k) {
        _cleanup_free_ char *bus = NULL;

        if (asprintf(&bus, "%s/bus/pci", k->paths->sysfs) < 0)
                return -ENOMEM;
        k->pacc = pci_alloc();
        if (!k->pacc)
                return -ENOMEM;
        k->pacc->method = PCI_ACCESS_SYS_BUS_PCI;
        k->pacc->warning = libpci_warning;
        k->pacc->debug = libpci_silent;
        pci_set_param(k->pacc, "sysfs.path", bus);
        pci_init(k->pacc);
        return 0;
}

/* "0000:01:00.0" → domain, bus, slot, function; the address came from the
 * kernel, so it is well formed. */
static struct pci_dev *get_pci_dev(Kernel *k, const char *address) {
        unsigned domain, bus, dev, fn;

        if (sscanf(address, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4)
                return NULL;
        return pci_get_dev(k->pacc, (int) domain, (int) bus, (int) dev, (int) fn);
}

/* The PCIe Device Serial Number capability, printed as lspci does. */
static char *read_dsn(Kernel *k, const char *address) {
        struct pci_dev *pd = get_pci_dev(k, address);
        struct pci_cap *cap;
        char *s = NULL;

        if (!pd)
                return NULL;
        cap = pci_find_cap(pd, PCI_EXT_CAP_DSN, PCI_CAP_EXTENDED);
        if (cap) {
                uint32_t lo = pci_read_long(pd, cap->addr + 4), hi = pci_read_long(pd, cap->addr + 8);

                /* All ones is what a failed config read returns. */
                if (!(lo == 0xffffffff && hi == 0xffffffff) &&
                    asprintf(&s, "%02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x",
                             hi >> 24, (hi >> 16) & 0xff, (hi >> 8) & 0xff, hi & 0xff,
                             lo >> 24, (lo >> 16) & 0xff, (lo >> 8) & 0xff, lo & 0xff) < 0)
                        s = NULL;
        }
        pci_free_dev(pd);
        return s;
}

static char *read_vpd_serial(int dfd) {
        _cleanup_free_ uint8_t *buf = malloc(SYSFS_ATTR_MAX);
        char *s = NULL;
        ssize_t n;

        if (!buf)
                return NULL;
        n = sysfs_read_binary(dfd, "vpd", buf, SYSFS_ATTR_MAX);
        if (n <= 0 || vpd_find_serial(buf, (size_t) n, &s) < 0)
                return NULL;
        return s;
}

static int read_vfs(int dfd, Device *d) {
        _cleanup_strv_free_ char **vfs = NULL;
        uint32_t v;

        if (sysfs_read_u32(dfd, "sriov_numvfs", 10, &v) >= 0)
                d->pci.num_vfs = v;
        /* The kernel's default when the attribute cannot be read. */
        d->pci.drivers_autoprobe = sysfs_read_u32(dfd, "sriov_drivers_autoprobe", 10, &v) < 0 || v != 0;
        /* virtfnN links are dense from 0; stop at the first missing one. */
        for (unsigned i = 0; i < d->pci.total_vfs; i++) {
                _cleanup_free_ char *addr = NULL;
                char name[32];

                snprintf(name, sizeof name, "virtfn%u", i);
                if (sysfs_read_link_basename(dfd, name, &addr) < 0)
                        break;
                if (strv_extend(&vfs, addr) < 0)
                        return -ENOMEM;
        }
        strv_free(d->pci.vfs);
        d->pci.vfs = TAKE_PTR(vfs);
        return 0;
}

/* The first network interface of a PCI function by name (a function may
 * have several, e.g. an IPoIB child), and its ARPHRD_* type. */
static int read_netdev(int dfd, char **ret_name, int *ret_type) {
        _cleanup_closedir_ DIR *dir = NULL;
        _cleanup_free_ char *first = NULL, *type_attr = NULL;
        struct dirent *de;
        int fd;

        fd = openat(dfd, "net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        dir = fdopendir(fd);
        if (!dir) {
                int r = -errno;

                close(fd);
                return r;
        }
        while ((de = readdir(dir)))
                if (de->d_name[0] != '.' && (!first || strcmp(de->d_name, first) < 0) &&
                    free_and_strdup(&first, de->d_name) < 0)
                        return -ENOMEM;
        if (!first)
                return -ENOENT;
        if (asprintf(&type_attr, "%s/type", first) < 0)
                return -ENOMEM;
        if (sysfs_read_int(dirfd(dir), type_attr, ret_type) < 0)
                *ret_type = -1;
        *ret_name = TAKE_PTR(first);
        return 0;
}

/* What sriov-nic rules ask of a VF's PF, read through its physfn link:
 * the PF's serial (DSN, else VPD), network interface and link type. */
static int read_pf_info(Kernel *k, int dfd, Device *vf) {
        _cleanup_close_ int pfd = openat(dfd, "physfn", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (pfd < 0)
                return 0;
        vf->pci.pf_serial = read_dsn(k, vf->pci.physfn) ?: read_vpd_serial(pfd);
        if (read_netdev(pfd, &vf->pci.pf_netdev, &vf->pci.pf_link_type) == -ENOMEM)
                return -ENOMEM;
        return 0;
}

static void read_link(int dfd, Device *d) {
        _cleanup_free_ char *speed = NULL;
        uint32_t w;

        if (sysfs_read(dfd, "current_link_speed", &speed) >= 0 && !streq(speed, "Unknown"))
                d->pci.link_speed = TAKE_PTR(speed);
        if (sysfs_read_u32(dfd, "current_link_width", 10, &w) >= 0)
                d->pci.link_width = w;
}

static int read_ids(Kernel *k, int dfd, Device *d) {
        uint32_t v;

        /* Without its ids a device is not (or no longer) a PCI function. */
        if (sysfs_read_u32(dfd, "vendor", 16, &v) < 0 || v > 0xffff)
                return -ENODEV;
        d->vendor_id = (uint16_t) v;
        if (sysfs_read_u32(dfd, "device", 16, &v) < 0 || v > 0xffff)
                return -ENODEV;
        d->product_id = (uint16_t) v;
        if (sysfs_read_u32(dfd, "class", 16, &v) >= 0)
                d->pci.class = v & 0xffffff;
        if (sysfs_read_u32(dfd, "subsystem_vendor", 16, &v) >= 0)
                d->pci.subsystem_vendor_id = (uint16_t) v;
        if (sysfs_read_u32(dfd, "subsystem_device", 16, &v) >= 0)
                d->pci.subsystem_id = (uint16_t) v;

        names_pci(k->names, d->vendor_id, d->product_id, &d->vendor_name, &d->product_name);
        d->pci.class_name = names_pci_class(k->names, d->pci.class);
        return 0;
}

int kernel_pci_update_slot(Kernel *k, Device *d) {
        /* Slots are named by "domain:bus:device", without the function. */
        _cleanup_free_ char *key = strndup(d->address, strlen(d->address) - 2);

        if (!key)
                return -ENOMEM;
        return free_and_strdup(&d->pci.slot, hashmap_get(k->slots, key));
}

static int read_pci(Kernel *k, int dfd, Device *d) {
        _cleanup_free_ char *group = NULL, *reset = NULL;
        uint32_t v;
        int r;

        r = read_ids(k, dfd, d);
        if (r < 0)
                return r;

        if (sysfs_read_int(dfd, "numa_node", &d->numa_node) < 0)
                d->numa_node = -1;
        (void) sysfs_read_link_basename(dfd, "driver", &d->driver);
        if (sysfs_read_link_basename(dfd, "iommu_group", &group) >= 0)
                d->iommu_group = atoi(group);
        read_link(dfd, d);
        if (sysfs_read(dfd, "reset_method", &reset) >= 0 && !(d->pci.reset_methods = strv_split_whitespace(reset)))
                return -ENOMEM;
        d->pci.boot_vga = sysfs_read_u32(dfd, "boot_vga", 10, &v) >= 0 && v == 1;

        if (sysfs_read_u32(dfd, "sriov_totalvfs", 10, &v) >= 0 && v > 0) {
                d->pci.sriov_capable = true;
                d->pci.total_vfs = v;
                r = read_vfs(dfd, d);
                if (r < 0)
                        return r;
        }
        (void) sysfs_read_link_basename(dfd, "physfn", &d->pci.physfn);
        if (d->pci.physfn && read_pf_info(k, dfd, d) < 0)
                return -ENOMEM;
        d->pci.mdev_parent = faccessat(dfd, "mdev_supported_types", F_OK, 0) >= 0;

        r = kernel_pci_update_slot(k, d);
        if (r < 0)
                return r;

        d->serial = read_dsn(k, d->address);
        if (!d->serial && !d->pci.physfn)
                d->serial = read_vpd_serial(dfd);
        return 0;
}

int kernel_pci_read(Kernel *k, const char *address, const char *syspath, int dfd, Device **ret) {
        _cleanup_(device_freep) Device *d = NULL;
        int r;

        if (pci_address_parse(address, NULL) < 0)
                return -ENODEV;
        d = device_new(DEVICE_PCI, address);
        if (!d || !(d->syspath = strdup(syspath)))
                return -ENOMEM;
        r = read_pci(k, dfd, d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

int kernel_refresh_sriov(Kernel *k, Device *pf) {
        _cleanup_free_ char *path = paths_sysfs(k->paths, pf->syspath);
        _cleanup_close_ int dfd = -1;

        if (!path)
                return -ENOMEM;
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return read_vfs(dfd, pf);
}

int kernel_load_slots(Kernel *k) {
        _cleanup_free_ char *path = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;
        void *v;
        size_t i = 0;

        while (hashmap_iterate(k->slots, &i, &v, NULL))
                free(v);
        hashmap_free(k->slots);
        k->slots = hashmap_new();
        if (!k->slots)
                return -ENOMEM;

        if (asprintf(&path, "%s/bus/pci/slots", k->paths->sysfs) < 0)
                return -ENOMEM;
        dir = opendir(path);
        if (!dir)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(dir))) {
                _cleanup_free_ char *addr = NULL;
                _cleanup_close_ int dfd = -1;
                char *entry;

                if (de->d_name[0] == '.')
                        continue;
                dfd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0 || sysfs_read(dfd, "address", &addr) < 0)
                        continue;
                /* One allocation holds "name\0address\0"; the key points into it. */
                if (asprintf(&entry, "%s%c%s", de->d_name, 0, addr) < 0)
                        return -ENOMEM;
                if (hashmap_put(k->slots, entry + strlen(entry) + 1, entry) < 0)
                        free(entry);
        }
        return 0;
}

void libpci_warning(char *msg, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, msg);
        vsnprintf(buf, sizeof buf, msg, ap);
        va_end(ap);
        log_debug("libpci: %s", buf);
}

void libpci_silent(char *msg, ...) {
}
