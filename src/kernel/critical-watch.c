/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>

#include "critical-internal.h"
#include "critical.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Mount storms (a container starting), link flaps and NetworkManager's
 * bursts of signals settle within this; one recomputation follows. */
#define SETTLE_USEC (50 * 1000)

#define NM_PATH "/org/freedesktop/NetworkManager"

typedef struct ProcFile {
        CriticalWatch *watch;
        const char *name;               /* "mountinfo", "swaps" */
        int fd;
        sd_event_source *source;
} ProcFile;

struct CriticalWatch {
        sd_event *event;
        sd_event_source *settle;
        ProcFile mountinfo, swaps;
        int rtnl_fd;
        sd_event_source *rtnl;
        sd_bus_slot *nm_owner, *nm_signals;
        void (*changed)(void *userdata);
        void *userdata;
};

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata) {
        CriticalWatch *w = userdata;

        w->changed(w->userdata);
        return 0;
}

static void schedule(CriticalWatch *w, const char *why) {
        int enabled = SD_EVENT_OFF;
        uint64_t now;

        if (sd_event_source_get_enabled(w->settle, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        log_debug("Host-critical devices may have changed: %s", why);
        if (sd_event_now(w->event, CLOCK_MONOTONIC, &now) < 0 ||
            sd_event_source_set_time(w->settle, now + SETTLE_USEC) < 0 ||
            sd_event_source_set_enabled(w->settle, SD_EVENT_ONESHOT) < 0)
                /* Better now than never. */
                w->changed(w->userdata);
}

/* The kernel raises EPOLLPRI on mountinfo and swaps when the table changes;
 * polling the file (which epoll does) resets it. */
static int on_proc_pri(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ProcFile *f = userdata;

        schedule(f->watch, f->name);
        return 0;
}

static int on_proc_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        ProcFile *f = userdata;

        if (ev->len > 0 && streq(ev->name, f->name))
                schedule(f->watch, f->name);
        return 0;
}

static int watch_proc_file(CriticalWatch *w, const Paths *paths, const char *rel, ProcFile *f) {
        _cleanup_free_ char *path = NULL;
        int r;

        f->watch = w;
        f->name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
        if (asprintf(&path, "%s/%s", paths->proc, rel) < 0)
                return -ENOMEM;
        f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (f->fd < 0 && errno != ENOENT)
                return log_debug_errno(errno, "Cannot open %s, its changes go unnoticed: %m", path);
        if (f->fd >= 0) {
                r = sd_event_add_io(w->event, &f->source, f->fd, EPOLLPRI, on_proc_pri, f);
                if (r >= 0)
                        return 0;
                if (r != -EPERM)
                        return log_debug_errno(r, "Cannot watch %s: %m", path);
                close(f->fd);
                f->fd = -1;
        }
        /* A plain file (a simulated /proc) cannot be polled: watch for it
         * being rewritten or replaced instead. */
        *strrchr(path, '/') = 0;
        r = sd_event_add_inotify(w->event, &f->source, path,
                                 IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ONLYDIR,
                                 on_proc_inotify, f);
        if (r < 0)
                return log_debug_errno(r, "Cannot watch %s: %m", path);
        return 0;
}

static bool rtnl_relevant(const struct nlmsghdr *h) {
        const struct rtmsg *rt;
        const struct rtattr *a;
        uint32_t table;
        int len;

        switch (h->nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK:
                /* Names, masters and stacking all come with link messages. */
                return true;
        case RTM_NEWROUTE:
        case RTM_DELROUTE:
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
                        return false;
                rt = NLMSG_DATA(h);
                if (rt->rtm_dst_len != 0)
                        return false;
                table = rt->rtm_table;
                len = (int) RTM_PAYLOAD(h);
                for (a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len))
                        if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) >= sizeof(uint32_t))
                                memcpy(&table, RTA_DATA(a), sizeof(uint32_t));
                return table == RT_TABLE_MAIN;
        default:
                return false;
        }
}

static int on_rtnl(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CriticalWatch *w = userdata;
        uint8_t buf[32 * 1024] __attribute__((aligned(NLMSG_ALIGNTO)));
        bool relevant = false;

        for (;;) {
                ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                int len;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* Messages were lost: assume they mattered. */
                        if (errno == ENOBUFS) {
                                relevant = true;
                                continue;
                        }
                        break;
                }
                len = (int) n;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (unsigned) len); h = NLMSG_NEXT(h, len))
                        relevant = relevant || rtnl_relevant(h);
        }
        if (relevant)
                schedule(w, "links or default routes");
        return 0;
}

static int watch_rtnl(CriticalWatch *w) {
        struct sockaddr_nl sa = {
                .nl_family = AF_NETLINK,
                .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
        };
        int r;

        w->rtnl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        if (w->rtnl_fd < 0)
                return log_warning_errno(errno, "Cannot open an rtnetlink socket, route changes go unnoticed: %m");
        if (bind(w->rtnl_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_warning_errno(errno, "Cannot listen to route changes: %m");
        r = sd_event_add_io(w->event, &w->rtnl, w->rtnl_fd, EPOLLIN, on_rtnl, w);
        if (r < 0)
                return log_warning_errno(r, "Cannot listen to route changes: %m");
        return 0;
}

static int on_nm_owner(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        schedule(userdata, "NetworkManager came or went");
        return 0;
}

/* Only the manager (ActiveConnections) and active connections (State,
 * Devices) matter; access points and statistics chatter is ignored. */
static int on_nm_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *path = sd_bus_message_get_path(m);

        if (path && (streq(path, NM_PATH) || startswith(path, NM_PATH "/ActiveConnection/")))
                schedule(userdata, "NetworkManager's connections");
        return 0;
}

static int watch_nm(CriticalWatch *w, sd_bus *bus) {
        int r;

        r = sd_bus_add_match_async(bus, &w->nm_owner,
                                   "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                   "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                                   "arg0='org.freedesktop.NetworkManager'",
                                   on_nm_owner, NULL, w);
        if (r >= 0)
                r = sd_bus_add_match_async(bus, &w->nm_signals,
                                           "type='signal',path_namespace='" NM_PATH "'",
                                           on_nm_signal, NULL, w);
        if (r < 0)
                return log_warning_errno(r, "Cannot follow NetworkManager: %m");
        return 0;
}

int critical_watch_new(sd_event *event, sd_bus *bus, const Paths *paths,
                       void (*changed)(void *userdata), void *userdata, CriticalWatch **ret) {
        _cleanup_(critical_watch_freep) CriticalWatch *w = NULL;
        int r;

        w = calloc(1, sizeof(CriticalWatch));
        if (!w)
                return -ENOMEM;
        w->event = sd_event_ref(event);
        w->changed = changed;
        w->userdata = userdata;
        w->mountinfo.fd = w->swaps.fd = w->rtnl_fd = -1;

        r = sd_event_add_time(event, &w->settle, CLOCK_MONOTONIC, 0, 0, on_settled, w);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(w->settle, SD_EVENT_OFF);
        if (r < 0)
                return r;

        /* A source that cannot be watched makes its changes go unnoticed
         * until the next recomputation; that is logged, not fatal. */
        if (watch_proc_file(w, paths, "self/mountinfo", &w->mountinfo) == -ENOMEM ||
            watch_proc_file(w, paths, "swaps", &w->swaps) == -ENOMEM)
                return -ENOMEM;
        (void) watch_rtnl(w);
        if (bus) {
                (void) watch_nm(w, bus);
                /* NetworkManager answers in the background: a new answer
                 * is a change too. */
                nm_set_listener(changed, userdata);
        }

        *ret = TAKE_PTR(w);
        return 0;
}

CriticalWatch *critical_watch_free(CriticalWatch *w) {
        if (!w)
                return NULL;
        if (w->nm_owner || w->nm_signals)
                nm_set_listener(NULL, NULL);
        sd_bus_slot_unref(w->nm_owner);
        sd_bus_slot_unref(w->nm_signals);
        sd_event_source_disable_unref(w->rtnl);
        sd_event_source_disable_unref(w->mountinfo.source);
        sd_event_source_disable_unref(w->swaps.source);
        sd_event_source_disable_unref(w->settle);
        if (w->rtnl_fd >= 0)
                close(w->rtnl_fd);
        if (w->mountinfo.fd >= 0)
                close(w->mountinfo.fd);
        if (w->swaps.fd >= 0)
                close(w->swaps.fd);
        sd_event_unref(w->event);
        free(w);
        return NULL;
}
