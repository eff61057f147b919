/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>

#include "critical-internal.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "sysfs.h"

/* Stacks deeper than this (dm on md on dm …) are not real; stop there. */
#define BLOCK_DEPTH_MAX 16

/* The kernel escapes ' ', '\t', '\n' and '\\' in paths as \ooo. */
static void unescape_octal(char *s) {
        char *w = s;

        for (char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char) (((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
                        r += 4;
                } else
                        *w++ = *r++;
        }
        *w = 0;
}

void mount_entries_free(MountEntry *m, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(m[i].mount_point);
                free(m[i].fstype);
                free(m[i].source);
        }
        free(m);
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
 * id, parent, major:minor, root, mount point, options, optional fields up
 * to "-", then fstype, source, super options. */
static int parse_mountinfo_line(char *line, MountEntry *ret) {
        char *fields[6], *save = NULL, *tok, *fstype = NULL, *source = NULL;
        unsigned major, minor;
        size_t i = 0;

        for (tok = strtok_r(line, " \n", &save); tok && i < ELEMENTSOF(fields); tok = strtok_r(NULL, " \n", &save))
                fields[i++] = tok;
        if (i < ELEMENTSOF(fields))
                return -EINVAL;
        for (; tok; tok = strtok_r(NULL, " \n", &save))
                if (streq(tok, "-")) {
                        fstype = strtok_r(NULL, " \n", &save);
                        source = strtok_r(NULL, " \n", &save);
                        break;
                }
        if (!fstype || !source || sscanf(fields[2], "%u:%u", &major, &minor) != 2)
                return -EINVAL;

        unescape_octal(fields[4]);
        unescape_octal(source);
        *ret = (MountEntry) {
                .major = major,
                .minor = minor,
                .mount_point = strdup(fields[4]),
                .fstype = strdup(fstype),
                .source = strdup(source),
        };
        if (!ret->mount_point || !ret->fstype || !ret->source) {
                free(ret->mount_point);
                free(ret->fstype);
                free(ret->source);
                return -ENOMEM;
        }
        return 0;
}

int mountinfo_parse(FILE *f, MountEntry **ret, size_t *ret_n) {
        _cleanup_free_ char *line = NULL;
        MountEntry *m = NULL;
        size_t n = 0, size = 0;

        while (getline(&line, &size, f) > 0) {
                MountEntry e, *t;
                int r = parse_mountinfo_line(line, &e);

                if (r == -ENOMEM) {
                        mount_entries_free(m, n);
                        return r;
                }
                if (r < 0)
                        continue;
                t = realloc(m, (n + 1) * sizeof(MountEntry));
                if (!t) {
                        free(e.mount_point);
                        free(e.fstype);
                        free(e.source);
                        mount_entries_free(m, n);
                        return -ENOMEM;
                }
                m = t;
                m[n++] = e;
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

const MountEntry *mount_find(const MountEntry *m, size_t n, const char *mount_point) {
        for (size_t i = n; i > 0; i--)
                if (streq(m[i - 1].mount_point, mount_point))
                        return &m[i - 1];
        return NULL;
}

const MountEntry *mount_find_containing(const MountEntry *m, size_t n, const char *path) {
        const MountEntry *best = NULL;
        size_t best_len = 0;

        for (size_t i = 0; i < n; i++) {
                const char *mp = m[i].mount_point;
                size_t l = strlen(mp);

                if (streq(mp, "/"))
                        l = 0;
                else if (strncmp(path, mp, l) != 0 || (path[l] != '/' && path[l] != 0))
                        continue;
                /* Equal length: the later mount is on top. */
                if (!best || l >= best_len) {
                        best = &m[i];
                        best_len = l;
                }
        }
        return best;
}

void swap_entries_free(SwapEntry *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(s[i].filename);
        free(s);
}

/* "Filename  Type  Size  Used  Priority", then one line per swap area. */
int swaps_parse(FILE *f, SwapEntry **ret, size_t *ret_n) {
        _cleanup_free_ char *line = NULL;
        SwapEntry *s = NULL;
        size_t n = 0, size = 0;
        bool header = true;

        while (getline(&line, &size, f) > 0) {
                char *save = NULL, *name, *type;
                SwapEntry *t;

                if (header) {
                        header = false;
                        if (startswith(line, "Filename"))
                                continue;
                }
                name = strtok_r(line, " \t\n", &save);
                type = strtok_r(NULL, " \t\n", &save);
                if (!name || !type)
                        continue;
                unescape_octal(name);
                t = realloc(s, (n + 1) * sizeof(SwapEntry));
                if (!t) {
                        swap_entries_free(s, n);
                        return -ENOMEM;
                }
                s = t;
                s[n] = (SwapEntry) { .filename = strdup(name), .is_file = streq(type, "file") };
                if (!s[n].filename) {
                        swap_entries_free(s, n);
                        return -ENOMEM;
                }
                n++;
        }
        *ret = s;
        *ret_n = n;
        return 0;
}

static int resolve(const char *path, char **ret) {
        char *r = realpath(path, NULL);

        if (!r)
                return errno == ENOMEM ? -ENOMEM : -ENODEV;
        *ret = r;
        return 0;
}

/* /dev/mapper/NAME: the dm device whose dm/name is NAME. */
static int find_dm(const Paths *p, const char *name, char **ret_dir) {
        _cleanup_free_ char *path = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;

        if (asprintf(&path, "%s/class/block", p->sysfs) < 0)
                return -ENOMEM;
        dir = opendir(path);
        if (!dir)
                return -ENODEV;
        while ((de = readdir(dir))) {
                _cleanup_free_ char *dm_name = NULL, *attr = NULL;

                if (!startswith(de->d_name, "dm-"))
                        continue;
                if (asprintf(&attr, "%s/dm/name", de->d_name) < 0)
                        return -ENOMEM;
                if (sysfs_read(dirfd(dir), attr, &dm_name) < 0 || !streq(dm_name, name))
                        continue;
                free(path);
                if (asprintf(&path, "%s/class/block/%s", p->sysfs, de->d_name) < 0)
                        return -ENOMEM;
                return resolve(path, ret_dir);
        }
        return -ENODEV;
}

static int find_by_kernel_name(const Paths *p, const char *name, char **ret_dir) {
        _cleanup_free_ char *path = NULL, *n = strdup(name);

        if (!n)
                return -ENOMEM;
        /* The kernel names "cciss/c0d0" "cciss!c0d0" in sysfs. */
        for (char *c = n; *c; c++)
                if (*c == '/')
                        *c = '!';
        if (asprintf(&path, "%s/class/block/%s", p->sysfs, n) < 0)
                return -ENOMEM;
        return resolve(path, ret_dir);
}

int block_dir_find(const Paths *p, unsigned major, unsigned minor, const char *source, char **ret_dir) {
        _cleanup_free_ char *path = NULL, *node = NULL;
        const char *name;
        int r;

        if (major != 0) {
                if (asprintf(&path, "%s/dev/block/%u:%u", p->sysfs, major, minor) < 0)
                        return -ENOMEM;
                r = resolve(path, ret_dir);
                if (r != -ENODEV)
                        return r;
        }
        /* Major 0 is an anonymous device (btrfs, overlay, tmpfs): go by name. */
        name = source ? startswith(source, "/dev/") : NULL;
        if (isempty(name))
                return -ENODEV;
        if (startswith(name, "mapper/"))
                return find_dm(p, name + strlen("mapper/"), ret_dir);
        r = find_by_kernel_name(p, name, ret_dir);
        if (r != -ENODEV)
                return r;
        /* udev's links (/dev/disk/by-uuid/…, /dev/vg/lv) name the node. */
        if (asprintf(&path, "%s/%s", p->dev, name) < 0)
                return -ENOMEM;
        r = resolve(path, &node);
        if (r < 0)
                return r;
        return find_by_kernel_name(p, strrchr(node, '/') + 1, ret_dir);
}

static char *chain_join(char **chain) {
        size_t l = 1;
        char *s;

        for (char **c = chain; c && *c; c++)
                l += strlen(*c) + 2;
        s = malloc(l);
        if (!s)
                return NULL;
        *s = 0;
        for (char **c = chain; c && *c; c++) {
                if (*s)
                        strcat(s, ", ");
                strcat(s, *c);
        }
        return s;
}

static int add_pair(char ***pairs, const char *a, const char *b) {
        size_t n = strv_length(*pairs);

        /* The same function reached twice (md on two partitions of one
         * disk): the first way down is enough. */
        for (size_t i = 0; i + 1 < n; i += 2)
                if (streq((*pairs)[i], a))
                        return 0;
        if (strv_extend(pairs, a) < 0)
                return -ENOMEM;
        if (strv_extend(pairs, b) < 0) {
                free((*pairs)[n]);
                (*pairs)[n] = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int walk_lowers(const char *dir, const char *subdir, char ***chain, unsigned depth, char ***pairs, bool *found);

static int block_walk_rec(const char *dir, char ***chain, unsigned depth, char ***pairs) {
        _cleanup_free_ char *address = NULL, *parent = NULL, *attr = NULL;
        bool found = false;
        int r;

        if (depth > BLOCK_DEPTH_MAX)
                return 0;
        r = sysfs_pci_function_of(dir, &address);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                _cleanup_free_ char *text = chain_join(*chain);

                if (!text)
                        return -ENOMEM;
                return add_pair(pairs, address, text);
        }

        /* dm, md, bcache list what they sit on in slaves/; a native NVMe
         * multipath head lists its paths in multipath/. */
        r = walk_lowers(dir, "slaves", chain, depth, pairs, &found);
        if (r >= 0)
                r = walk_lowers(dir, "multipath", chain, depth, pairs, &found);
        if (r < 0 || found)
                return r;

        /* A partition of a virtual disk (md0p1): what the disk sits on. */
        if (asprintf(&attr, "%s/partition", dir) < 0)
                return -ENOMEM;
        if (access(attr, F_OK) < 0)
                return 0;
        parent = strdup(dir);
        if (!parent)
                return -ENOMEM;
        *strrchr(parent, '/') = 0;
        if (strv_extend(chain, strrchr(parent, '/') + 1) < 0)
                return -ENOMEM;
        r = block_walk_rec(parent, chain, depth + 1, pairs);
        free((*chain)[strv_length(*chain) - 1]);
        (*chain)[strv_length(*chain) - 1] = NULL;
        return r;
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static int walk_lowers(const char *dir, const char *subdir, char ***chain, unsigned depth, char ***pairs, bool *found) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (asprintf(&path, "%s/%s", dir, subdir) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return 0;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && strv_extend(&names, de->d_name) < 0)
                        return -ENOMEM;
        /* Directory order is arbitrary: sort, so that reasons come out the
         * same each time and only real changes are announced. */
        if (names)
                qsort(names, strv_length(names), sizeof(char *), cmp_strp);

        for (char **name = names; name && *name; name++) {
                _cleanup_free_ char *lower = NULL, *p = NULL;
                size_t n;
                int r;

                if (asprintf(&p, "%s/%s", path, *name) < 0)
                        return -ENOMEM;
                r = resolve(p, &lower);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                *found = true;
                if (strv_extend(chain, strrchr(lower, '/') + 1) < 0)
                        return -ENOMEM;
                r = block_walk_rec(lower, chain, depth + 1, pairs);
                n = strv_length(*chain);
                free((*chain)[n - 1]);
                (*chain)[n - 1] = NULL;
                if (r < 0)
                        return r;
        }
        return 0;
}

int block_walk(const char *dir, char ***pairs) {
        _cleanup_strv_free_ char **chain = NULL;

        return block_walk_rec(dir, &chain, 0, pairs);
}

/* The other members of a multi-device btrfs that has dir as a member. */
static int btrfs_members(const Paths *p, const char *dir, char ***ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_closedir_ DIR *fs = NULL;
        struct dirent *de;

        if (asprintf(&path, "%s/fs/btrfs", p->sysfs) < 0)
                return -ENOMEM;
        fs = opendir(path);
        if (!fs)
                return 0;
        while ((de = readdir(fs))) {
                _cleanup_strv_free_ char **members = NULL;
                _cleanup_free_ char *devs = NULL;
                _cleanup_closedir_ DIR *d = NULL;
                struct dirent *m;
                bool ours = false;

                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&devs, "%s/%s/devices", path, de->d_name) < 0)
                        return -ENOMEM;
                d = opendir(devs);
                if (!d)
                        continue;
                while ((m = readdir(d))) {
                        _cleanup_free_ char *link = NULL, *target = NULL;

                        if (m->d_name[0] == '.')
                                continue;
                        if (asprintf(&link, "%s/%s", devs, m->d_name) < 0)
                                return -ENOMEM;
                        if (resolve(link, &target) < 0)
                                continue;
                        if (streq(target, dir))
                                ours = true;
                        else if (strv_extend(&members, target) < 0)
                                return -ENOMEM;
                }
                if (ours) {
                        if (members)
                                qsort(members, strv_length(members), sizeof(char *), cmp_strp);
                        *ret = TAKE_PTR(members);
                        return 0;
                }
        }
        return 0;
}

static int add_block_hits(const char *dir, const char *code, const char *head, CriticalHit **hits, size_t *n) {
        _cleanup_strv_free_ char **pairs = NULL;
        int r;

        r = block_walk(dir, &pairs);
        if (r < 0)
                return r;
        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2) {
                _cleanup_free_ char *text = NULL;

                if (asprintf(&text, "%s%s%s)", head, isempty(pairs[i + 1]) ? "" : " on ", pairs[i + 1]) < 0)
                        return -ENOMEM;
                r = critical_hits_add(hits, n, pairs[i], code, text);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One mounted file system: its device, and with btrfs every member. head
 * is the text up to the device chain, "holds / (/dev/nvme0n1p2". */
static int add_mount_hits(const Paths *p, const MountEntry *m, const char *code, const char *head,
                          CriticalHit **hits, size_t *n) {
        _cleanup_strv_free_ char **members = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        r = block_dir_find(p, m->major, m->minor, m->source, &dir);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_debug("%s on %s (%s): no block device found, skipped", m->mount_point, m->source, m->fstype);
                return 0;
        }
        r = add_block_hits(dir, code, head, hits, n);
        if (r < 0)
                return r;
        if (!streq(m->fstype, "btrfs"))
                return 0;
        r = btrfs_members(p, dir, &members);
        if (r < 0)
                return r;
        for (char **member = members; member && *member; member++) {
                _cleanup_free_ char *h = NULL;

                if (asprintf(&h, "%s and %s", head, strrchr(*member, '/') + 1) < 0)
                        return -ENOMEM;
                r = add_block_hits(*member, code, h, hits, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const struct {
        const char *mount_point;
        const char *code;
} host_mounts[] = {
        { "/",         "root-filesystem" },
        { "/boot",     "boot-filesystem" },
        { "/boot/efi", "boot-filesystem" },
        { "/efi",      "boot-filesystem" },
        { "/usr",      "usr-filesystem" },
        { "/var",      "var-filesystem" },
};

const char *host_mount_code(const char *mount_point) {
        for (size_t i = 0; i < ELEMENTSOF(host_mounts); i++)
                if (streq(host_mounts[i].mount_point, mount_point))
                        return host_mounts[i].code;
        return NULL;
}

int proc_table_open(const Paths *p, const char *name, FILE **ret) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", p->proc, name) < 0)
                return -ENOMEM;
        *ret = fopen(path, "re");
        if (!*ret)
                return log_debug_errno(errno, "Cannot open %s: %m", path);
        return 0;
}

static int swap_hits(const Paths *p, const MountEntry *mounts, size_t n_mounts, CriticalHit **hits, size_t *n) {
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
                const SwapEntry *s = &swaps[i];
                _cleanup_free_ char *dir = NULL, *head = NULL;

                if (s->is_file) {
                        /* A swap file needs the file system that holds it. */
                        const MountEntry *m = mount_find_containing(mounts, n_mounts, s->filename);

                        if (!m)
                                continue;
                        if (asprintf(&head, "holds swap (%s on %s", s->filename, m->source) < 0)
                                r = -ENOMEM;
                        else
                                r = add_mount_hits(p, m, "swap", head, hits, n);
                        continue;
                }
                r = block_dir_find(p, 0, 0, s->filename, &dir);
                if (r == -ENODEV) {
                        log_debug("Swap %s: no block device found, skipped", s->filename);
                        r = 0;
                        continue;
                }
                if (r < 0)
                        break;
                if (asprintf(&head, "holds swap (%s", s->filename) < 0)
                        r = -ENOMEM;
                else
                        r = add_block_hits(dir, "swap", head, hits, n);
        }
        swap_entries_free(swaps, n_swaps);
        return r;
}

int storage_critical_hits(const Paths *p, CriticalHit **hits, size_t *n) {
        _cleanup_fclose_ FILE *f = NULL;
        MountEntry *mounts = NULL;
        size_t n_mounts = 0;
        int r;

        if (proc_table_open(p, "self/mountinfo", &f) < 0)
                return 0;
        r = mountinfo_parse(f, &mounts, &n_mounts);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(host_mounts) && r >= 0; i++) {
                const MountEntry *m = mount_find(mounts, n_mounts, host_mounts[i].mount_point);
                _cleanup_free_ char *head = NULL;

                if (!m)
                        continue;
                if (asprintf(&head, "holds %s (%s", m->mount_point, m->source) < 0)
                        r = -ENOMEM;
                else
                        r = add_mount_hits(p, m, host_mounts[i].code, head, hits, n);
        }
        if (r >= 0)
                r = swap_hits(p, mounts, n_mounts, hits, n);
        mount_entries_free(mounts, n_mounts);
        return r;
}
