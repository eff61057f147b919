/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <pci/pci.h>

#include "kernel.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "sysfs.h"


int kernel_new(const Paths *paths, Kernel **ret) {
        Kernel *k = calloc(1, sizeof(Kernel));
        int r;

        if (!k)
                return -ENOMEM;
        k->paths = paths;
        k->names = names_new(paths->pci_ids, paths->usb_ids);
        if (!k->names) {
                kernel_free(k);
                return -ENOMEM;
        }
        r = kernel_pci_init(k);
        if (r >= 0)
                r = kernel_load_slots(k);
        if (r < 0) {
                kernel_free(k);
                return r;
        }
        *ret = k;
        return 0;
}

Kernel *kernel_free(Kernel *k) {
        void *v;
        size_t i = 0;

        if (!k)
                return NULL;
        while (hashmap_iterate(k->slots, &i, &v, NULL))
                free(v);
        hashmap_free(k->slots);
        if (k->pacc)
                pci_cleanup(k->pacc);
        names_free(k->names);
        free(k);
        return NULL;
}

static int read_at(Kernel *k, DeviceKind kind, const char *address, const char *syspath, int dfd, Device **ret) {
        return kind == DEVICE_PCI ? kernel_pci_read(k, address, syspath, dfd, ret)
                                  : kernel_usb_read(k, address, syspath, dfd, ret);
}

int kernel_read_device(Kernel *k, DeviceKind kind, const char *syspath, Device **ret) {
        _cleanup_free_ char *path = paths_sysfs(k->paths, syspath);
        _cleanup_close_ int dfd = -1;
        const char *address = strrchr(syspath, '/');

        if (!path || !address)
                return -ENOMEM;
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT || errno == ENOTDIR ? -ENODEV : -errno;
        return read_at(k, kind, address + 1, syspath, dfd, ret);
}

/* "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0", a link in
 * /sys/bus/X/devices → "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0". */
static char *bus_link_to_syspath(const char *bus, const char *target) {
        char *s;
        const char *t = target;
        int up = 0;

        if (startswith(target, "/sys/"))
                return strdup(target);

        while (startswith(t, "../")) {
                t += 3;
                up++;
        }
        /* /sys/bus/X/devices is three levels below /sys. */
        if (up != 3 || *t == 0)
                return NULL;
        if (asprintf(&s, "/sys/%s", t) < 0)
                return NULL;
        return s;
}

static int enumerate_bus(Kernel *k, Inventory *inv, DeviceKind kind) {
        const char *bus = kind == DEVICE_PCI ? "pci" : "usb";
        _cleanup_free_ char *path = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;

        if (asprintf(&path, "%s/bus/%s/devices", k->paths->sysfs, bus) < 0)
                return -ENOMEM;
        dir = opendir(path);
        if (!dir) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "Cannot list %s: %m", path);
        }
        while ((de = readdir(dir))) {
                _cleanup_(device_freep) Device *d = NULL;
                _cleanup_free_ char *syspath = NULL;
                _cleanup_close_ int dfd = -1;
                char target[PATH_MAX];
                ssize_t n;
                int r;

                if (de->d_name[0] == '.')
                        continue;
                n = readlinkat(dirfd(dir), de->d_name, target, sizeof target - 1);
                if (n < 0)
                        continue;
                target[n] = 0;
                syspath = bus_link_to_syspath(bus, target);
                dfd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (!syspath || dfd < 0) {
                        log_debug("Skipping %s device %s: %s", bus, de->d_name,
                                  syspath ? "vanished" : "unexpected link target");
                        continue;
                }
                r = read_at(k, kind, de->d_name, syspath, dfd, &d);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        if (r != -ENODEV || kind == DEVICE_PCI)
                                log_debug_errno(r, "Skipping %s device %s: %m", bus, de->d_name);
                        continue;
                }
                r = inventory_add(inv, d, NULL);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        continue;
                TAKE_PTR(d);
        }
        return 0;
}

int kernel_enumerate(Kernel *k, Inventory *inv) {
        Device *d;
        size_t i = 0;
        int r;

        r = enumerate_bus(k, inv, DEVICE_PCI);
        if (r < 0)
                return r;
        r = enumerate_bus(k, inv, DEVICE_USB);
        if (r < 0)
                return r;
        /* VF indexes come from the PFs' lists, known only now. */
        while (hashmap_iterate(inv->devices, &i, (void **) &d, NULL))
                if (d->pci.physfn)
                        d->pci.vf_index = inventory_vf_index(inv, d);
        return 0;
}

static bool dir_has_entries(const char *path) {
        _cleanup_closedir_ DIR *dir = opendir(path);
        struct dirent *de;

        if (!dir)
                return false;
        while ((de = readdir(dir)))
                if (de->d_name[0] != '.')
                        return true;
        return false;
}

static bool file_contains(const char *path, const char *word) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[4096];

        if (!f)
                return false;
        while (fgets(line, sizeof line, f))
                if (strstr(line, word))
                        return true;
        return false;
}

int kernel_iommu_status(Kernel *k, bool *ret_enabled, char **ret_message) {
        _cleanup_free_ char *groups = NULL, *cpuinfo = NULL, *cmdline = NULL;
        bool intel, amd, on_cmdline;
        const char *param;
        int r;

        if (asprintf(&groups, "%s/kernel/iommu_groups", k->paths->sysfs) < 0 ||
            asprintf(&cpuinfo, "%s/cpuinfo", k->paths->proc) < 0 ||
            asprintf(&cmdline, "%s/cmdline", k->paths->proc) < 0)
                return -ENOMEM;

        *ret_enabled = dir_has_entries(groups);
        if (*ret_enabled) {
                *ret_message = strdup("");
                return *ret_message ? 0 : -ENOMEM;
        }

        intel = file_contains(cpuinfo, "GenuineIntel");
        amd = file_contains(cpuinfo, "AuthenticAMD");
        param = amd && !intel ? "amd_iommu=on" : "intel_iommu=on";
        on_cmdline = file_contains(cmdline, param);

        if (on_cmdline)
                r = asprintf(ret_message,
                             "The kernel has no IOMMU groups although %s is on its command line: "
                             "enable %s in the firmware setup, then reboot.",
                             param, amd && !intel ? "AMD-Vi (IOMMU)" : "VT-d");
        else if (intel || amd)
                r = asprintf(ret_message,
                             "The kernel has no IOMMU groups, so no PCI device can be passed through: "
                             "enable %s in the firmware setup and add %s to the kernel command line "
                             "(GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub), then reboot.",
                             amd && !intel ? "AMD-Vi (IOMMU)" : "VT-d", param);
        else
                r = asprintf(ret_message,
                             "The kernel has no IOMMU groups, so no PCI device can be passed through: "
                             "enable the IOMMU in the firmware setup (VT-d on Intel, AMD-Vi on AMD) and "
                             "add intel_iommu=on or amd_iommu=on to the kernel command line, then reboot.");
        return r < 0 ? -ENOMEM : 0;
}

char *kernel_boot_id(Kernel *k) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char line[64];

        if (asprintf(&path, "%s/sys/kernel/random/boot_id", k->paths->proc) < 0)
                return NULL;
        f = fopen(path, "re");
        if (!f || !fgets(line, sizeof line, f))
                return NULL;
        line[strcspn(line, "\n")] = 0;
        return strdup(line);
}

void kernel_trim(Kernel *k) {
        names_trim(k->names);
}
