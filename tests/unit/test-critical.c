/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel side of host-critical detection on a small fake tree: the
 * /proc tables, block stacks (LVM on md on two NVMe drives, LUKS, btrfs on
 * two drives, a partitioned md) and network stacks (a bond over two NICs, a
 * bridge over a VLAN over a NIC, and stacks only the kernel's link table
 * knows). */
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"
#include "kernel/critical-internal.h"
#include "kernel/critical.h"
#include "shared/macro.h"
#include "shared/strv.h"

static char root[] = "/tmp/hostdev-critical.XXXXXX";
static Paths paths;

#define PCI "/sys/devices/pci0000:00"
#define NVME0 PCI "/0000:00:1d.0/0000:3d:00.0"
#define NVME1 PCI "/0000:00:1d.4/0000:3e:00.0"
#define NIC0 PCI "/0000:00:1c.0/0000:02:00.0"
#define NIC1 PCI "/0000:00:1c.0/0000:02:00.1"
#define NIC2 PCI "/0000:00:1c.4/0000:03:00.0"
#define NIC3 PCI "/0000:00:1c.5/0000:04:00.0"
#define VIRT "/sys/devices/virtual"

static char *at(const char *path) {
        static char buf[4][4096];
        static unsigned k;
        char *b = buf[k++ % ELEMENTSOF(buf)];

        snprintf(b, sizeof buf[0], "%s%s", root, path);
        return b;
}

static void mkdirs(const char *path) {
        char p[4096];

        snprintf(p, sizeof p, "%s", at(path));
        for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
                *s = 0;
                (void) mkdir(p, 0755);
                *s = '/';
        }
        (void) mkdir(p, 0755);
}

static void put(const char *path, const char *content) {
        char dir[4096];
        FILE *f;

        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = 0;
        mkdirs(dir);
        f = fopen(at(path), "we");
        if (!f) {
                perror(path);
                abort();
        }
        fputs(content, f);
        fclose(f);
}

/* A relative link, as sysfs makes them. */
static void link_to(const char *target, const char *link) {
        char dir[4096], rel[4096] = "";
        const char *t = target, *l = link;

        snprintf(dir, sizeof dir, "%s", link);
        *strrchr(dir, '/') = 0;
        mkdirs(dir);
        /* Strip the common directory prefix, then climb out of the rest. */
        while (*t && *t == *l) {
                t++;
                l++;
        }
        while (t > target && t[-1] != '/') {
                t--;
                l--;
        }
        for (const char *s = l; (s = strchr(s, '/')); s++)
                strcat(rel, "../");
        strcat(rel, t);
        if (symlink(rel, at(link)) < 0) {
                perror(link);
                abort();
        }
}

static void pci_function(const char *path) {
        mkdirs(path);
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/subsystem", path);
        link_to("/sys/bus/pci", sub);
}

/* A block device: class and dev links; partitions carry "partition". */
static void block(const char *path, const char *devno, bool partition) {
        const char *name = strrchr(path, '/') + 1;
        char p[4096];

        mkdirs(path);
        snprintf(p, sizeof p, "%s/dev", path);
        put(p, devno);
        if (partition) {
                snprintf(p, sizeof p, "%s/partition", path);
                put(p, "1\n");
        }
        snprintf(p, sizeof p, "/sys/class/block/%s", name);
        link_to(path, p);
        snprintf(p, sizeof p, "/sys/dev/block/%s", devno);
        link_to(path, p);
}

static void slave(const char *upper, const char *lower) {
        char p[4096];

        snprintf(p, sizeof p, "%s/slaves/%s", upper, strrchr(lower, '/') + 1);
        link_to(lower, p);
}

static void netdev(const char *path) {
        char p[4096];

        mkdirs(path);
        snprintf(p, sizeof p, "/sys/class/net/%s", strrchr(path, '/') + 1);
        link_to(path, p);
}

static void lower(const char *upper, const char *low) {
        char p[4096];

        snprintf(p, sizeof p, "%s/lower_%s", upper, strrchr(low, '/') + 1);
        link_to(low, p);
}

static void build_tree(void) {
        mkdirs("/sys/bus/pci");
        mkdirs("/dev");
        pci_function(PCI "/0000:00:1d.0");
        pci_function(NVME0);
        pci_function(NVME1);
        pci_function(NIC0);
        pci_function(NIC1);
        pci_function(NIC2);
        pci_function(NIC3);

        /* Two NVMe drives with three partitions each. */
        block(NVME0 "/nvme/nvme0/nvme0n1", "259:0", false);
        block(NVME0 "/nvme/nvme0/nvme0n1/nvme0n1p1", "259:1", true);
        block(NVME0 "/nvme/nvme0/nvme0n1/nvme0n1p2", "259:2", true);
        block(NVME0 "/nvme/nvme0/nvme0n1/nvme0n1p3", "259:3", true);
        block(NVME1 "/nvme/nvme1/nvme1n1", "259:4", false);
        block(NVME1 "/nvme/nvme1/nvme1n1/nvme1n1p1", "259:5", true);
        block(NVME1 "/nvme/nvme1/nvme1n1/nvme1n1p2", "259:6", true);
        block(NVME1 "/nvme/nvme1/nvme1n1/nvme1n1p3", "259:7", true);

        /* md0 mirrors the second partitions; LVM's vg-root sits on it. */
        block(VIRT "/block/md0", "9:0", false);
        slave(VIRT "/block/md0", NVME0 "/nvme/nvme0/nvme0n1/nvme0n1p2");
        slave(VIRT "/block/md0", NVME1 "/nvme/nvme1/nvme1n1/nvme1n1p2");
        block(VIRT "/block/dm-0", "253:0", false);
        put(VIRT "/block/dm-0/dm/name", "vg-root\n");
        slave(VIRT "/block/dm-0", VIRT "/block/md0");

        /* LUKS on the first partition of the first drive, used as swap. */
        block(VIRT "/block/dm-1", "253:1", false);
        put(VIRT "/block/dm-1/dm/name", "cryptswap\n");
        slave(VIRT "/block/dm-1", NVME0 "/nvme/nvme0/nvme0n1/nvme0n1p1");

        /* md1 over the first partition of the second drive, partitioned. */
        block(VIRT "/block/md1", "9:1", false);
        slave(VIRT "/block/md1", NVME1 "/nvme/nvme1/nvme1n1/nvme1n1p1");
        block(VIRT "/block/md1/md1p1", "259:8", true);

        /* btrfs over both third partitions; udev's by-uuid link to one. */
        put("/sys/fs/btrfs/features/raid1", "0\n");
        link_to(NVME0 "/nvme/nvme0/nvme0n1/nvme0n1p3", "/sys/fs/btrfs/6f1c/devices/nvme0n1p3");
        link_to(NVME1 "/nvme/nvme1/nvme1n1/nvme1n1p3", "/sys/fs/btrfs/6f1c/devices/nvme1n1p3");
        link_to("/dev/nvme1n1p3", "/dev/disk/by-uuid/6f1c");
        put("/dev/nvme1n1p3", "");

        /* A bond over two NICs. */
        netdev(NIC0 "/net/eno1");
        netdev(NIC1 "/net/eno2");
        netdev(VIRT "/net/bond0");
        lower(VIRT "/net/bond0", NIC0 "/net/eno1");
        lower(VIRT "/net/bond0", NIC1 "/net/eno2");
        put(VIRT "/net/bond0/bonding/slaves", "eno1 eno2\n");
        link_to(VIRT "/net/bond0", NIC0 "/net/eno1/master");

        /* A bridge over a VLAN over a NIC, the bridge listing its port only
         * in brif/ (as kernels before lower_* links did). */
        netdev(NIC2 "/net/eno3");
        netdev(VIRT "/net/eno3.100");
        lower(VIRT "/net/eno3.100", NIC2 "/net/eno3");
        netdev(VIRT "/net/br0");
        link_to(VIRT "/net/eno3.100/brport", VIRT "/net/br0/brif/eno3.100");
        mkdirs(VIRT "/net/eno3.100/brport");

        /* Only the kernel's link table knows these: a team, a VLAN on it. */
        netdev(NIC3 "/net/eno4");

        /* The framebuffer console on the first NIC's slot would be odd; use
         * no console here, tested through the daemon instead. */
}

static bool pairs_have(char **pairs, const char *address, const char *text) {
        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
                if (streq(pairs[i], address) && streq(pairs[i + 1], text))
                        return true;
        return false;
}

static bool hits_have(const CriticalHit *hits, size_t n, const char *address, const char *code, const char *text) {
        for (size_t i = 0; i < n; i++)
                if (streq(hits[i].address, address) && streq(hits[i].code, code) && streq(hits[i].text, text))
                        return true;
        return false;
}

static FILE *text_file(const char *s) {
        return fmemopen((void *) s, strlen(s), "r");
}

static void test_mountinfo(void) {
        static const char text[] =
                "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
                "27 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"
                "30 27 259:1 / /boot/efi rw,relatime shared:5 master:2 - vfat /dev/nvme0n1p1 rw\n"
                "31 27 0:45 /@var /var rw shared:9 - btrfs /dev/nvme0n1p3 rw,subvol=/@var\n"
                "32 27 259:6 / /srv/my\\040data rw - ext4 /dev/disk\\134odd rw\n"
                "garbage\n"
                "33 27 0:50 / /var rw - tmpfs tmpfs rw\n";
        _cleanup_fclose_ FILE *f = text_file(text);
        MountEntry *m = NULL;
        const MountEntry *e;
        size_t n = 0;

        CHECK(mountinfo_parse(f, &m, &n) == 0);
        CHECK(n == 6);
        e = mount_find(m, n, "/");
        CHECK(e && e->major == 253 && e->minor == 0);
        CHECK_STREQ(e ? e->source : NULL, "/dev/mapper/vg-root");
        CHECK_STREQ(e ? e->fstype : NULL, "ext4");
        /* Optional fields before "-" are skipped whatever their number. */
        e = mount_find(m, n, "/boot/efi");
        CHECK_STREQ(e ? e->source : NULL, "/dev/nvme0n1p1");
        /* Escapes: \040 is a space, \134 a backslash. */
        e = mount_find(m, n, "/srv/my data");
        CHECK_STREQ(e ? e->source : NULL, "/dev/disk\\odd");
        /* The later mount on /var hides the earlier one. */
        e = mount_find(m, n, "/var");
        CHECK_STREQ(e ? e->fstype : NULL, "tmpfs");
        CHECK(!mount_find(m, n, "/usr"));

        e = mount_find_containing(m, n, "/boot/efi/EFI/debian");
        CHECK_STREQ(e ? e->mount_point : NULL, "/boot/efi");
        e = mount_find_containing(m, n, "/boot/vmlinuz");
        CHECK_STREQ(e ? e->mount_point : NULL, "/");
        e = mount_find_containing(m, n, "/var/swapfile");
        CHECK_STREQ(e ? e->fstype : NULL, "tmpfs");
        /* "/variable" is not below "/var". */
        e = mount_find_containing(m, n, "/variable");
        CHECK_STREQ(e ? e->mount_point : NULL, "/");
        mount_entries_free(m, n);
}

static void test_swaps(void) {
        static const char text[] =
                "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                "/dev/dm-1                               partition\t8388604\t\t0\t\t-2\n"
                "/var/swap\\040file                       file\t\t1048572\t\t0\t\t-3\n";
        static const char empty[] = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        _cleanup_fclose_ FILE *f = text_file(text), *g = text_file(empty);
        SwapEntry *s = NULL;
        size_t n = 0;

        CHECK(swaps_parse(f, &s, &n) == 0);
        CHECK(n == 2);
        if (n == 2) {
                CHECK_STREQ(s[0].filename, "/dev/dm-1");
                CHECK(!s[0].is_file);
                CHECK_STREQ(s[1].filename, "/var/swap file");
                CHECK(s[1].is_file);
        }
        swap_entries_free(s, n);

        CHECK(swaps_parse(g, &s, &n) == 0);
        CHECK(n == 0);
        swap_entries_free(s, n);
}

static void test_pci_function_of(void) {
        char *a = NULL;

        CHECK(sysfs_pci_function_of(at(NVME0 "/nvme/nvme0/nvme0n1/nvme0n1p2"), &a) == 0);
        CHECK_STREQ(a, "0000:3d:00.0");
        free(a);
        a = NULL;
        /* Through the class link, as callers look devices up. */
        CHECK(sysfs_pci_function_of(at("/sys/class/net/eno2"), &a) == 0);
        CHECK_STREQ(a, "0000:02:00.1");
        free(a);
        a = NULL;
        CHECK(sysfs_pci_function_of(at("/sys/class/block/md0"), &a) == -ENODEV);
        CHECK(sysfs_pci_function_of(at("/sys/class/net/nonexistent"), &a) == -ENODEV);
        CHECK(!a);
}

static void test_block_find(void) {
        char *d = NULL;

        /* By number, by kernel name, by dm name, by udev link. */
        CHECK(block_dir_find(&paths, 253, 0, "/dev/whatever", &d) == 0);
        CHECK(d && endswith(d, "/virtual/block/dm-0"));
        free(d);
        CHECK(block_dir_find(&paths, 0, 45, "/dev/nvme0n1p3", &d) == 0);
        CHECK(d && endswith(d, "/nvme0n1/nvme0n1p3"));
        free(d);
        CHECK(block_dir_find(&paths, 0, 0, "/dev/mapper/cryptswap", &d) == 0);
        CHECK(d && endswith(d, "/virtual/block/dm-1"));
        free(d);
        CHECK(block_dir_find(&paths, 0, 0, "/dev/disk/by-uuid/6f1c", &d) == 0);
        CHECK(d && endswith(d, "/nvme1n1/nvme1n1p3"));
        free(d);
        d = NULL;
        CHECK(block_dir_find(&paths, 0, 0, "rpool/ROOT/debian", &d) == -ENODEV);
        CHECK(block_dir_find(&paths, 0, 0, "/dev/mapper/nothing", &d) == -ENODEV);
        CHECK(!d);
}

static void test_block_walk(void) {
        _cleanup_strv_free_ char **pairs = NULL, **luks = NULL, **part = NULL, **md_part = NULL;
        _cleanup_free_ char *dm0 = NULL, *dm1 = NULL, *p2 = NULL, *md1p1 = NULL;

        dm0 = realpath(at("/sys/class/block/dm-0"), NULL);
        dm1 = realpath(at("/sys/class/block/dm-1"), NULL);
        p2 = realpath(at("/sys/class/block/nvme0n1p2"), NULL);
        md1p1 = realpath(at("/sys/class/block/md1p1"), NULL);

        /* LVM on md on two drives: both drives, each with its way down. */
        CHECK(block_walk(dm0, &pairs) == 0);
        CHECK(strv_length(pairs) == 4);
        CHECK(pairs_have(pairs, "0000:3d:00.0", "md0, nvme0n1p2"));
        CHECK(pairs_have(pairs, "0000:3e:00.0", "md0, nvme1n1p2"));

        CHECK(block_walk(dm1, &luks) == 0);
        CHECK(strv_length(luks) == 2);
        CHECK(pairs_have(luks, "0000:3d:00.0", "nvme0n1p1"));

        /* A partition of a drive: right on the function. */
        CHECK(block_walk(p2, &part) == 0);
        CHECK(pairs_have(part, "0000:3d:00.0", ""));

        /* A partition of md: through the md disk. */
        CHECK(block_walk(md1p1, &md_part) == 0);
        CHECK(strv_length(md_part) == 2);
        CHECK(pairs_have(md_part, "0000:3e:00.0", "md1, nvme1n1p1"));
}

static void test_storage_hits(void) {
        CriticalHit *hits = NULL;
        size_t n = 0;

        put("/proc/self/mountinfo",
            "27 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"
            "30 27 259:5 / /boot rw - ext4 /dev/nvme1n1p1 rw\n"
            "31 27 0:45 /@var /var rw shared:9 - btrfs /dev/nvme0n1p3 rw,subvol=/@var\n"
            "35 27 0:50 / /home rw - ext4 /dev/sdz1 rw\n");
        put("/proc/swaps",
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
            "/dev/dm-1                               partition\t8388604\t\t0\t\t-2\n"
            "/var/swapfile                           file\t\t1048572\t\t0\t\t-3\n"
            "/dev/zram0                              partition\t1048572\t\t0\t\t100\n");

        CHECK(storage_critical_hits(&paths, &hits, &n) == 0);
        CHECK(hits_have(hits, n, "0000:3d:00.0", "root-filesystem", "holds / (/dev/mapper/vg-root on md0, nvme0n1p2)"));
        CHECK(hits_have(hits, n, "0000:3e:00.0", "root-filesystem", "holds / (/dev/mapper/vg-root on md0, nvme1n1p2)"));
        CHECK(hits_have(hits, n, "0000:3e:00.0", "boot-filesystem", "holds /boot (/dev/nvme1n1p1)"));
        /* btrfs: the device mountinfo names, and the other member. */
        CHECK(hits_have(hits, n, "0000:3d:00.0", "var-filesystem", "holds /var (/dev/nvme0n1p3)"));
        CHECK(hits_have(hits, n, "0000:3e:00.0", "var-filesystem", "holds /var (/dev/nvme0n1p3 and nvme1n1p3)"));
        CHECK(hits_have(hits, n, "0000:3d:00.0", "swap", "holds swap (/dev/dm-1 on nvme0n1p1)"));
        /* A swap file needs the file system holding it. */
        CHECK(hits_have(hits, n, "0000:3d:00.0", "swap", "holds swap (/var/swapfile on /dev/nvme0n1p3)"));
        CHECK(hits_have(hits, n, "0000:3e:00.0", "swap", "holds swap (/var/swapfile on /dev/nvme0n1p3 and nvme1n1p3)"));
        /* /home is not something the host needs to run; zram has no PCI. */
        CHECK(n == 8);
        critical_hits_free(hits, n);
}

static void test_network_walk(void) {
        _cleanup_strv_free_ char **bond = NULL, **bridge = NULL, **nic = NULL, **team = NULL, **vlan = NULL,
                                 **nothing = NULL;
        /* What rtnetlink would say: a team over eno4, a VLAN on the team. */
        const NetLink links[] = {
                { .ifindex = 1, .name = "lo" },
                { .ifindex = 5, .name = "eno4", .master = 10 },
                { .ifindex = 10, .name = "team0", .kind = "team" },
                { .ifindex = 11, .name = "team0.7", .kind = "vlan", .link = 10 },
                /* A veth's IFLA_LINK is its peer: not something it sits on. */
                { .ifindex = 12, .name = "veth0", .kind = "veth", .link = 5 },
        };

        CHECK(network_walk(&paths, NULL, 0, "bond0", &bond) == 0);
        CHECK(strv_length(bond) == 4);
        CHECK(pairs_have(bond, "0000:02:00.0", "eno1 via bond0"));
        CHECK(pairs_have(bond, "0000:02:00.1", "eno2 via bond0"));

        CHECK(network_walk(&paths, NULL, 0, "br0", &bridge) == 0);
        CHECK(strv_length(bridge) == 2);
        CHECK(pairs_have(bridge, "0000:03:00.0", "eno3 via eno3.100 via br0"));

        CHECK(network_walk(&paths, NULL, 0, "eno2", &nic) == 0);
        CHECK(strv_length(nic) == 2);
        CHECK(pairs_have(nic, "0000:02:00.1", "eno2"));

        CHECK(network_walk(&paths, links, ELEMENTSOF(links), "team0", &team) == 0);
        CHECK(strv_length(team) == 2);
        CHECK(pairs_have(team, "0000:04:00.0", "eno4 via team0"));
        CHECK(network_walk(&paths, links, ELEMENTSOF(links), "team0.7", &vlan) == 0);
        CHECK(pairs_have(vlan, "0000:04:00.0", "eno4 via team0 via team0.7"));

        CHECK(network_walk(&paths, links, ELEMENTSOF(links), "veth0", &nothing) == 0);
        CHECK(network_walk(&paths, links, ELEMENTSOF(links), "lo", &nothing) == 0);
        CHECK(network_walk(&paths, links, ELEMENTSOF(links), "missing", &nothing) == 0);
        CHECK(strv_length(nothing) == 0);
}

static void test_loop(void) {
        _cleanup_strv_free_ char **pairs = NULL;
        /* A master pointing back at its port must not loop forever. */
        const NetLink links[] = {
                { .ifindex = 20, .name = "a", .master = 21 },
                { .ifindex = 21, .name = "b", .master = 20 },
        };

        CHECK(network_walk(&paths, links, ELEMENTSOF(links), "a", &pairs) == 0);
        CHECK(strv_length(pairs) == 0);
}

static void cleanup(void) {
        char cmd[4200];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", root);
}

int main(void) {
        if (!mkdtemp(root)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        build_tree();
        paths = (Paths) {
                .sysfs = strdup(at("/sys")),
                .dev = strdup(at("/dev")),
                .proc = strdup(at("/proc")),
        };

        test_mountinfo();
        test_swaps();
        test_pci_function_of();
        test_block_find();
        test_block_walk();
        test_storage_hits();
        test_network_walk();
        test_loop();

        paths_done(&paths);
        cleanup();
        CHECK_DONE();
}
