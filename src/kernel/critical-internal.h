/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The pieces of the critical-device search, apart so that unit tests can
 * drive them on a small fake tree. Not for use outside src/kernel. */

#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "model/critical.h"
#include "shared/paths.h"

/* ---- /proc/self/mountinfo and /proc/swaps ---- */
typedef struct MountEntry {
        unsigned major, minor;
        char *mount_point;      /* unescaped */
        char *fstype;
        char *source;           /* unescaped, "/dev/nvme0n1p2", "none"… */
} MountEntry;

int mountinfo_parse(FILE *f, MountEntry **ret, size_t *ret_n);
void mount_entries_free(MountEntry *m, size_t n);
/* The entry visible at that mount point: the last one mounted there. */
const MountEntry *mount_find(const MountEntry *m, size_t n, const char *mount_point);
/* The mount holding a path: longest mount point that is a prefix of it. */
const MountEntry *mount_find_containing(const MountEntry *m, size_t n, const char *path);

typedef struct SwapEntry {
        char *filename;         /* unescaped */
        bool is_file;
} SwapEntry;

int swaps_parse(FILE *f, SwapEntry **ret, size_t *ret_n);
void swap_entries_free(SwapEntry *s, size_t n);

/* A table under p->proc ("self/mountinfo", "swaps"), opened for reading;
 * -errno (logged at debug level) when it cannot be. */
int proc_table_open(const Paths *p, const char *name, FILE **ret);
/* The code of one of the host's own mounts ("/" → "root-filesystem",
 * "/boot", "/efi", "/usr", "/var"); NULL for any other mount point. */
const char *host_mount_code(const char *mount_point);

/* ---- sysfs ---- */
/* The PCI function a sysfs object belongs to: the nearest directory at or
 * above the resolved path that is a PCI function. -ENODEV when none (a
 * virtual device, a platform device) or when the path does not exist. */
int sysfs_pci_function_of(const char *path, char **ret_address);

/* ---- storage ---- */
/* The resolved sysfs directory of a block device: by number (from
 * mountinfo), else by the name a mount or swap source gives
 * ("/dev/nvme0n1p2", "/dev/mapper/vg-root", "/dev/disk/by-uuid/…"). */
int block_dir_find(const Paths *p, unsigned major, unsigned minor, const char *source, char **ret_dir);
/* Walks down a block device's stack (slaves/, multipath/, partition to
 * disk) to the PCI functions under it. Appends (address, chain) pairs to
 * *pairs, chain being the devices passed below the start, top down, joined
 * by ", " ("md0, nvme0n1"; "" when the start sits right on the function). */
int block_walk(const char *dir, char ***pairs);
int storage_critical_hits(const Paths *p, CriticalHit **hits, size_t *n);

/* ---- USB (usb-critical.c) ---- */
/* USB devices under a mounted file system (any, not only the host's own)
 * or a swap area: "mounted-filesystem" (or the host mount's code), "swap". */
int usb_critical_hits(const Paths *p, CriticalHit **hits, size_t *n);

/* ---- network ---- */
typedef struct NetLink {
        int ifindex;
        int master;             /* IFLA_MASTER: bond, bridge, team, VRF, OVS datapath */
        int link;               /* IFLA_LINK: a VLAN's or macvlan's parent */
        bool link_elsewhere;    /* IFLA_LINK names a link in another namespace */
        char name[IF_NAMESIZE];
        char kind[32];          /* IFLA_INFO_KIND, "" for hardware */
} NetLink;

/* The kernel's links and the interfaces of its default routes (IPv4 and
 * IPv6, main table, unicast, every nexthop), over one NETLINK_ROUTE socket. */
int rtnl_read(NetLink **ret_links, size_t *ret_n_links, int **ret_default, size_t *ret_n_default);

/* Walks down from an interface through bonds, bridges, teams, VLANs
 * (sysfs lower_*, brif/, bonding/slaves, and the kernel's master/link
 * relations) to the PCI functions under it. Appends (address, text) pairs,
 * text naming the way down: "eno1", "eno1 via bond0", "eno1 via eno1.100
 * via br0". */
int network_walk(const Paths *p, const NetLink *links, size_t n_links, const char *ifname, char ***pairs);

/* Interfaces of NetworkManager's active connections, as (id, interface)
 * pairs; empty when NetworkManager is not on the bus (bus NULL: not asked).
 * With bus attached to an event loop, only the first call waits for
 * NetworkManager: later ones give the last answer at once and ask again in
 * the background; an answer that differs calls the listener. */
int nm_active_interfaces(sd_bus *bus, char ***ret_pairs);
void nm_set_listener(void (*changed)(void *userdata), void *userdata);

int network_critical_hits(const Paths *p, sd_bus *bus, CriticalHit **hits, size_t *n);
