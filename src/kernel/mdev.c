/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/address.h"
#include "mdev.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "sysfs.h"

static int type_cmp(const void *a, const void *b) {
        return strcmp(((const MdevType *) a)->id, ((const MdevType *) b)->id);
}

static int read_type(int types_dfd, const char *id, MdevType *t) {
        _cleanup_close_ int dfd = openat(types_dfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint32_t avail = 0;

        if (dfd < 0)
                return -errno;
        *t = (MdevType) { .id = strdup(id) };
        (void) sysfs_read(dfd, "name", &t->name);
        (void) sysfs_read(dfd, "description", &t->description);
        (void) sysfs_read(dfd, "device_api", &t->device_api);
        (void) sysfs_read_u32(dfd, "available_instances", 10, &avail);
        t->available = avail;
        if (!t->name)
                t->name = strdup("");
        if (!t->description)
                t->description = strdup("");
        if (!t->device_api)
                t->device_api = strdup("");
        if (!t->id || !t->name || !t->description || !t->device_api)
                return -ENOMEM;
        return 0;
}

int kernel_mdev_read_parent(Kernel *k, const char *address, const char *syspath, MdevParent **ret) {
        _cleanup_free_ char *path = paths_sysfs(k->paths, syspath), *types = NULL;
        _cleanup_(mdev_parent_freep) MdevParent *p = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;
        int r;

        if (!path || asprintf(&types, "%s/mdev_supported_types", path) < 0)
                return -ENOMEM;
        dir = opendir(types);
        if (!dir)
                return errno == ENOTDIR ? -ENOENT : -errno;
        p = calloc(1, sizeof(MdevParent));
        if (!p || !(p->address = strdup(address)) || !(p->syspath = strdup(syspath)))
                return -ENOMEM;
        while ((de = readdir(dir))) {
                MdevType *t;

                if (de->d_name[0] == '.' || !mdev_type_id_valid(de->d_name))
                        continue;
                t = realloc(p->types, (p->n_types + 1) * sizeof(MdevType));
                if (!t)
                        return -ENOMEM;
                p->types = t;
                r = read_type(dirfd(dir), de->d_name, &p->types[p->n_types]);
                if (r == -ENOMEM) {
                        p->n_types++;
                        return r;
                }
                if (r < 0)
                        continue;       /* gone meanwhile */
                p->n_types++;
        }
        if (p->n_types > 1)
                qsort(p->types, p->n_types, sizeof(MdevType), type_cmp);
        *ret = TAKE_PTR(p);
        return 0;
}

int kernel_mdev_bus_parents(Kernel *k, char ***ret) {
        _cleanup_free_ char *class = NULL;
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;

        if (asprintf(&class, "%s/class/mdev_bus", k->paths->sysfs) < 0)
                return -ENOMEM;
        dir = opendir(class);
        if (!dir && errno != ENOENT)
                return -errno;
        while (dir && (de = readdir(dir))) {
                _cleanup_free_ char *syspath = NULL;
                char buf[PATH_MAX];
                const char *dev;
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                n = readlinkat(dirfd(dir), de->d_name, buf, sizeof buf - 1);
                if (n < 0)
                        continue;
                buf[n] = 0;
                /* "../../devices/virtual/mtty/mtty" → "/sys/devices/virtual/mtty/mtty" */
                dev = strstr(buf, "devices/");
                if (!dev)
                        continue;
                if (asprintf(&syspath, "/sys/%s", dev) < 0 || strv_extend(&l, syspath) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int kernel_mdev_read(Kernel *k, const char *syspath, Mdev **ret) {
        _cleanup_free_ char *path = paths_sysfs(k->paths, syspath), *group = NULL, *parent = NULL;
        _cleanup_(mdev_freep) Mdev *m = NULL;
        _cleanup_close_ int dfd = -1;
        const char *uuid = strrchr(syspath, '/');
        const char *slash;

        if (!path || !uuid)
                return -ENOMEM;
        uuid++;
        if (!mdev_uuid_valid(uuid))
                return -ENODEV;
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT || errno == ENOTDIR ? -ENODEV : -errno;
        m = calloc(1, sizeof(Mdev));
        if (!m)
                return -ENOMEM;
        m->iommu_group = -1;
        m->uuid = mdev_uuid_normalize(uuid);
        /* The parent is the directory the instance lives in. */
        for (slash = uuid - 2; slash > syspath && *slash != '/'; slash--)
                ;
        parent = strndup(slash + 1, (size_t) (uuid - 1 - (slash + 1)));
        if (!m->uuid || !parent)
                return -ENOMEM;
        m->parent = TAKE_PTR(parent);
        if (sysfs_read_link_basename(dfd, "mdev_type", &m->type) < 0)
                return -ENODEV;
        if (sysfs_read_link_basename(dfd, "iommu_group", &group) >= 0)
                m->iommu_group = atoi(group);
        m->source = MDEV_SOURCE_HOSTDEV;
        m->active = true;
        *ret = TAKE_PTR(m);
        return 0;
}

int kernel_mdev_enumerate(Kernel *k, MdevSet *s) {
        _cleanup_free_ char *bus = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;
        int r;

        if (asprintf(&bus, "%s/bus/mdev/devices", k->paths->sysfs) < 0)
                return -ENOMEM;
        dir = opendir(bus);
        if (!dir)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(dir))) {
                _cleanup_free_ char *syspath = NULL;
                _cleanup_(mdev_freep) Mdev *m = NULL;
                char buf[PATH_MAX];
                ssize_t n;
                const char *dev;

                if (!mdev_uuid_valid(de->d_name))
                        continue;
                n = readlinkat(dirfd(dir), de->d_name, buf, sizeof buf - 1);
                if (n < 0)
                        continue;
                buf[n] = 0;
                /* "../../../devices/…/<uuid>" → "/sys/devices/…/<uuid>" */
                dev = strstr(buf, "devices/");
                if (!dev || asprintf(&syspath, "/sys/%s", dev) < 0)
                        continue;
                r = kernel_mdev_read(k, syspath, &m);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                r = mdev_set_put(s, m);
                if (r < 0)
                        return r;
                TAKE_PTR(m);
        }
        return 0;
}

static int read_definition(const char *path, const char *parent, const char *uuid, Mdev **ret) {
        _cleanup_(mdev_freep) Mdev *m = NULL;
        json_object *root = json_object_from_file(path), *type = NULL;
        int r = 0;

        if (!root)
                return -EINVAL;
        if (!json_object_object_get_ex(root, "mdev_type", &type) || !json_object_is_type(type, json_type_string) ||
            !mdev_type_id_valid(json_object_get_string(type)))
                r = -EINVAL;
        else if (!(m = calloc(1, sizeof(Mdev))) || !(m->uuid = mdev_uuid_normalize(uuid)) ||
                 !(m->type = strdup(json_object_get_string(type))) || !(m->parent = strdup(parent)))
                r = -ENOMEM;
        json_object_put(root);
        if (r < 0)
                return r;
        m->iommu_group = -1;
        m->source = MDEV_SOURCE_MDEVCTL;
        *ret = TAKE_PTR(m);
        return 0;
}

static int read_parent_definitions(const char *dir_path, const char *parent, MdevSet *s) {
        _cleanup_closedir_ DIR *dir = opendir(dir_path);
        struct dirent *de;
        int r;

        if (!dir)
                return 0;
        while ((de = readdir(dir))) {
                _cleanup_(mdev_freep) Mdev *m = NULL;
                _cleanup_free_ char *path = NULL;

                if (!mdev_uuid_valid(de->d_name))
                        continue;
                if (asprintf(&path, "%s/%s", dir_path, de->d_name) < 0)
                        return -ENOMEM;
                r = read_definition(path, parent, de->d_name, &m);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_warning("%s: not an mdevctl definition with an mdev_type; ignored.", path);
                        continue;
                }
                if (mdev_set_get(s, m->uuid))
                        continue;
                r = mdev_set_put(s, m);
                if (r < 0)
                        return r;
                TAKE_PTR(m);
        }
        return 0;
}

int kernel_mdevctl_read(Kernel *k, MdevSet *s) {
        _cleanup_free_ char *root = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;
        int r;

        if (asprintf(&root, "%s/mdevctl.d", k->paths->etc) < 0)
                return -ENOMEM;
        dir = opendir(root);
        if (!dir)
                return 0;
        while ((de = readdir(dir))) {
                _cleanup_free_ char *path = NULL, *address = NULL;

                /* Parents hostdev knows are PCI functions. */
                if (pci_address_parse(de->d_name, &address) < 0 || !streq(address, de->d_name))
                        continue;
                if (asprintf(&path, "%s/%s", root, de->d_name) < 0)
                        return -ENOMEM;
                r = read_parent_definitions(path, address, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int write_attr(const char *path, const char *value) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        size_t n = strlen(value);
        ssize_t w;

        if (fd < 0)
                return -errno;
        w = write(fd, value, n);
        if (w < 0)
                return -errno;
        return (size_t) w == n ? 0 : -EIO;
}

int kernel_mdev_create(Kernel *k, const char *parent_syspath, const char *type, const char *uuid) {
        _cleanup_free_ char *path = paths_sysfs(k->paths, parent_syspath), *create = NULL;

        if (!mdev_type_id_valid(type) || !mdev_uuid_valid(uuid))
                return -EINVAL;
        if (!path || asprintf(&create, "%s/mdev_supported_types/%s/create", path, type) < 0)
                return -ENOMEM;
        return write_attr(create, uuid);
}

int kernel_mdev_remove(Kernel *k, const char *uuid) {
        _cleanup_free_ char *remove = NULL;

        if (!mdev_uuid_valid(uuid))
                return -EINVAL;
        if (asprintf(&remove, "%s/bus/mdev/devices/%s/remove", k->paths->sysfs, uuid) < 0)
                return -ENOMEM;
        return write_attr(remove, "1");
}

int kernel_vgpu_read_vf(Kernel *k, const char *address, const char *syspath, VgpuVf *ret) {
        _cleanup_free_ char *path = paths_sysfs(k->paths, syspath), *dir = NULL, *text = NULL, *group = NULL;
        _cleanup_close_ int dfd = -1, vfd = -1;
        VgpuVf v = { .iommu_group = -1 };
        uint32_t current = 0;
        ssize_t n;
        int r;

        if (!path || asprintf(&dir, "%s/nvidia", path) < 0)
                return -ENOMEM;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
        r = sysfs_read_u32(dfd, "current_vgpu_type", 10, &current);
        if (r < 0)
                return r == -ENOMEM ? r : -ENOENT;
        /* Several lines: sysfs_read would stop at the first. */
        text = malloc(SYSFS_ATTR_MAX + 1);
        if (!text)
                return -ENOMEM;
        n = sysfs_read_binary(dfd, "creatable_vgpu_types", text, SYSFS_ATTR_MAX);
        text[n < 0 ? 0 : n] = 0;
        v.current = current;
        v.address = strdup(address);
        if (!v.address)
                return -ENOMEM;
        vfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (vfd >= 0 && sysfs_read_link_basename(vfd, "iommu_group", &group) >= 0)
                v.iommu_group = atoi(group);
        r = vgpu_parse_creatable(strempty(text), &v.creatable, &v.n_creatable);
        if (r < 0) {
                vgpu_vf_done(&v);
                return r;
        }
        *ret = v;
        return 0;
}

int kernel_vgpu_set_type(Kernel *k, const char *syspath, unsigned type) {
        _cleanup_free_ char *path = paths_sysfs(k->paths, syspath), *attr = NULL;
        char value[16];

        if (!path || asprintf(&attr, "%s/nvidia/current_vgpu_type", path) < 0)
                return -ENOMEM;
        snprintf(value, sizeof value, "%u", type);
        return write_attr(attr, value);
}
