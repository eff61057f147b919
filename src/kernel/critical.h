/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "model/critical.h"
#include "shared/paths.h"

/* The kernel's view of what the running host needs (CriticalHit and
 * critical_hits_free come from model/critical.h):
 *
 *   storage behind /, /boot, /boot/efi, /efi, /usr, /var and swap, from
 *   PROC/self/mountinfo and PROC/swaps, down dm/LVM/md/LUKS stacks
 *   (SYSFS/dev/block/MAJ:MIN, slaves/) to the PCI functions;
 *   NICs carrying a default route (IPv4 and IPv6, rtnetlink) or an active
 *   NetworkManager connection (libnm, when NetworkManager owns its name on
 *   `bus`), down bonds, bridges, VLANs and teams to the PCI function;
 *   the GPU behind the framebuffer console (SYSFS/class/graphics/fb0).
 *
 * Network interfaces are looked up by name under SYSFS/class/net, so a
 * simulated sysfs can stand behind the names the kernel's routes give.
 * What cannot be traced to a PCI function is skipped. bus may be NULL (no
 * NetworkManager lookup). Hits come in the order above. */
int kernel_critical_hits(const Paths *paths, sd_bus *bus, CriticalHit **ret, size_t *ret_n);

/* Calls changed(userdata) once things settle after mounts, swaps, routes,
 * links or NetworkManager's active connections changed: EPOLLPRI on
 * PROC/self/mountinfo and PROC/swaps (inotify on their directories when
 * those are plain files, as in tests), an rtnetlink socket subscribed to
 * link and route groups, NetworkManager's signals and name owner changes on
 * `bus` (may be NULL). Bursts are coalesced; nothing is polled. */
typedef struct CriticalWatch CriticalWatch;

int critical_watch_new(sd_event *event, sd_bus *bus, const Paths *paths,
                       void (*changed)(void *userdata), void *userdata, CriticalWatch **ret);
CriticalWatch *critical_watch_free(CriticalWatch *w);
static inline void critical_watch_freep(CriticalWatch **w) {
        critical_watch_free(*w);
}
