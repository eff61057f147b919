/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "claim.h"
#include "lease.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Leases live in the front end: a "peer" lease is about a bus peer
 * (sd_bus_track on its unique name), and a "pid:N" lease is watched with
 * a pidfd on the same loop. Either way, when the holder is gone the claim
 * is released as Claim.Release would, and Manager.ClaimReleased says so. */

typedef struct LeaseWatch {
        Bus *bus;
        char *claim_id;         /* the key in Bus.leases */
        char *reason;
        sd_bus_track *track;
        sd_event_source *source;
        sd_event_source *defer;
} LeaseWatch;

static void watch_free(LeaseWatch *w) {
        if (!w)
                return;
        sd_bus_track_unref(w->track);
        sd_event_source_disable_unref(w->source);
        sd_event_source_disable_unref(w->defer);
        free(w->claim_id);
        free(w->reason);
        free(w);
}

static int pidfd_open(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

int bus_lease_pid_check(pid_t pid) {
        int fd = pidfd_open(pid);

        if (fd < 0)
                return -errno;
        close(fd);
        return 0;
}

static void emit_released(Bus *b, const char *id, const char *reason) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, BUS_PATH "/claim/%s", id) < 0)
                return;
        (void) sd_bus_emit_signal(b->bus, BUS_PATH, "org.hostdev1.Manager", "ClaimReleased", "os", path, reason);
}

/* Releases the claim of a lease whose holder is gone. */
static void release(Bus *b, const char *id, const char *reason) {
        _cleanup_free_ char *claim_id = strdup(id), *why = strdup(reason);

        if (!claim_id || !why)
                return;
        log_info("Claim %s: %s; releasing it.", claim_id, why);
        bus_lease_forget(b, claim_id);
        if (bus_claim_drop(b, claim_id, NULL, why) >= 0)
                emit_released(b, claim_id, why);
}

/* Out of the track or io callback first: the watch frees its sources. */
static int on_defer(sd_event_source *s, void *userdata) {
        LeaseWatch *w = userdata;

        release(w->bus, w->claim_id, w->reason);
        return 0;
}

static void gone(LeaseWatch *w) {
        if (w->defer)
                return;
        (void) sd_event_add_defer(w->bus->daemon->event, &w->defer, on_defer, w);
}

static int on_track(sd_bus_track *t, void *userdata) {
        gone(userdata);
        return 0;
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        gone(userdata);
        return 0;
}

static int arm(LeaseWatch *w, const ClaimLease *l) {
        Bus *b = w->bus;
        int fd, r;

        if (l->type == CLAIM_LEASE_PEER) {
                if (asprintf(&w->reason, "its lease holder %s left the bus", l->peer) < 0)
                        return -ENOMEM;
                r = sd_bus_track_new(b->bus, &w->track, on_track, w);
                if (r >= 0)
                        r = sd_bus_track_add_name(w->track, l->peer);
                /* Not on the bus: gone before hostdevd (re)started. */
                if (r == -ENXIO)
                        return 1;
                return r < 0 ? r : 0;
        }
        if (asprintf(&w->reason, "its lease holder, process %d, exited", (int) l->pid) < 0)
                return -ENOMEM;
        fd = pidfd_open(l->pid);
        if (fd < 0)
                return errno == ESRCH ? 1 : -errno;
        r = sd_event_add_io(b->daemon->event, &w->source, fd, EPOLLIN, on_pidfd, w);
        if (r < 0) {
                close(fd);
                return r;
        }
        (void) sd_event_source_set_io_fd_own(w->source, true);
        return 0;
}

static int peer_present(Bus *b, const char *peer) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int has = 0, r;

        r = sd_bus_call_method(b->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", NULL, &reply, "s", peer);
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &has);
        return r < 0 ? r : has;
}

int bus_lease_watch(Bus *b, const Claim *c) {
        LeaseWatch *w;
        int r;

        if (c->lease.type == CLAIM_LEASE_NONE || hashmap_get(b->leases, c->id))
                return 0;
        w = calloc(1, sizeof(LeaseWatch));
        if (!w)
                return -ENOMEM;
        *w = (LeaseWatch) { .bus = b, .claim_id = strdup(c->id) };
        if (!w->claim_id || hashmap_put(b->leases, w->claim_id, w) < 0) {
                watch_free(w);
                return -ENOMEM;
        }
        r = arm(w, &c->lease);
        if (r == 0 && c->lease.type == CLAIM_LEASE_PEER && peer_present(b, c->lease.peer) == 0)
                r = 1;
        if (r > 0)
                gone(w);
        if (r < 0) {
                log_warning_errno(r, "Cannot watch the lease of claim %s: %m", c->id);
                bus_lease_forget(b, c->id);
        }
        return r;
}

void bus_lease_forget(Bus *b, const char *claim_id) {
        watch_free(hashmap_remove(b->leases, claim_id));
}

void bus_lease_watch_all(Bus *b) {
        const ClaimSet *s = &b->daemon->claims;

        for (size_t i = 0; i < s->n_claims; i++)
                (void) bus_lease_watch(b, s->claims[i]);
}

void bus_lease_free_all(Bus *b) {
        LeaseWatch *w;
        size_t i = 0;

        if (!b->leases)
                return;
        while (hashmap_iterate(b->leases, &i, (void **) &w, NULL)) {
                hashmap_remove(b->leases, w->claim_id);
                watch_free(w);
                i = 0;
        }
        hashmap_free(b->leases);
        b->leases = NULL;
}
