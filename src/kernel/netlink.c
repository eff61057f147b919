/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "critical-internal.h"
#include "shared/log.h"
#include "shared/macro.h"

/* The kernel fills dump datagrams up to the reader's buffer size, capped at
 * 32 KiB; one message (a link with its attributes) may exceed a page. */
#define RTNL_BUFFER_SIZE (64 * 1024)

typedef struct Rtnl {
        int fd;
        uint32_t seq;
        uint8_t *buf;
        NetLink *links;
        size_t n_links;
        int *defaults;
        size_t n_defaults;
} Rtnl;

static int add_default(Rtnl *r, int ifindex) {
        int *t;

        if (ifindex <= 0)
                return 0;
        for (size_t i = 0; i < r->n_defaults; i++)
                if (r->defaults[i] == ifindex)
                        return 0;
        t = realloc(r->defaults, (r->n_defaults + 1) * sizeof(int));
        if (!t)
                return -ENOMEM;
        r->defaults = t;
        r->defaults[r->n_defaults++] = ifindex;
        return 0;
}

static int on_route(Rtnl *r, const struct nlmsghdr *h) {
        const struct rtmsg *rt = NLMSG_DATA(h);
        const struct rtattr *a;
        uint32_t table;
        int len;

        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
                return 0;
        if (rt->rtm_dst_len != 0 || rt->rtm_type != RTN_UNICAST)
                return 0;
        table = rt->rtm_table;
        len = (int) RTM_PAYLOAD(h);
        for (a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) >= sizeof(uint32_t))
                        memcpy(&table, RTA_DATA(a), sizeof(uint32_t));
        if (table != RT_TABLE_MAIN)
                return 0;

        len = (int) RTM_PAYLOAD(h);
        for (a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
                        uint32_t oif;

                        memcpy(&oif, RTA_DATA(a), sizeof(oif));
                        if (add_default(r, (int) oif) < 0)
                                return -ENOMEM;
                } else if (a->rta_type == RTA_MULTIPATH) {
                        /* ECMP: every nexthop carries part of the traffic. */
                        const struct rtnexthop *nh = RTA_DATA(a);
                        int left = (int) RTA_PAYLOAD(a);

                        while (left >= (int) sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
                                if (add_default(r, nh->rtnh_ifindex) < 0)
                                        return -ENOMEM;
                                left -= RTNH_ALIGN(nh->rtnh_len);
                                nh = RTNH_NEXT(nh);
                        }
                }
        }
        return 0;
}

static void link_kind(const struct rtattr *linkinfo, NetLink *l) {
        const struct rtattr *a;
        int len = (int) RTA_PAYLOAD(linkinfo);

        for (a = RTA_DATA(linkinfo); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == IFLA_INFO_KIND) {
                        size_t n = RTA_PAYLOAD(a);

                        if (n >= sizeof(l->kind))
                                n = sizeof(l->kind) - 1;
                        memcpy(l->kind, RTA_DATA(a), n);
                        l->kind[n] = 0;
                }
}

static int on_link(Rtnl *r, const struct nlmsghdr *h) {
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        const struct rtattr *a;
        NetLink l = {}, *t;
        int len;

        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
                return 0;
        l.ifindex = ifi->ifi_index;
        len = (int) IFLA_PAYLOAD(h);
        for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                switch (a->rta_type) {
                case IFLA_IFNAME: {
                        size_t n = RTA_PAYLOAD(a);

                        if (n >= sizeof(l.name))
                                n = sizeof(l.name) - 1;
                        memcpy(l.name, RTA_DATA(a), n);
                        l.name[n] = 0;
                        break;
                }
                case IFLA_MASTER:
                        if (RTA_PAYLOAD(a) >= sizeof(uint32_t))
                                memcpy(&l.master, RTA_DATA(a), sizeof(uint32_t));
                        break;
                case IFLA_LINK:
                        if (RTA_PAYLOAD(a) >= sizeof(uint32_t))
                                memcpy(&l.link, RTA_DATA(a), sizeof(uint32_t));
                        break;
                case IFLA_LINK_NETNSID:
                        l.link_elsewhere = true;
                        break;
                case IFLA_LINKINFO:
                        link_kind(a, &l);
                        break;
                }
        }
        if (!l.name[0])
                return 0;
        t = realloc(r->links, (r->n_links + 1) * sizeof(NetLink));
        if (!t)
                return -ENOMEM;
        r->links = t;
        r->links[r->n_links++] = l;
        return 0;
}

/* Sends one dump request and hands every answer to the handler. -EAGAIN
 * when the kernel says the dump was interrupted by a change. */
static int dump(Rtnl *r, uint16_t type, uint8_t family, int (*handler)(Rtnl *, const struct nlmsghdr *)) {
        struct {
                struct nlmsghdr h;
                union {
                        struct rtmsg rt;
                        struct ifinfomsg ifi;
                };
        } req = {
                .h.nlmsg_len = NLMSG_LENGTH(type == RTM_GETLINK ? sizeof(struct ifinfomsg) : sizeof(struct rtmsg)),
                .h.nlmsg_type = type,
                .h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                .h.nlmsg_seq = ++r->seq,
        };
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        bool interrupted = false;

        if (type == RTM_GETLINK)
                req.ifi.ifi_family = family;
        else
                req.rt.rtm_family = family;
        if (sendto(r->fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;

        for (;;) {
                struct iovec iov = { r->buf, RTNL_BUFFER_SIZE };
                struct sockaddr_nl from;
                struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
                ssize_t n = recvmsg(r->fd, &msg, 0);
                int len;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (msg.msg_flags & MSG_TRUNC)
                        return -EMSGSIZE;
                if (from.nl_pid != 0)
                        continue;
                len = (int) n;
                for (struct nlmsghdr *h = (struct nlmsghdr *) r->buf; NLMSG_OK(h, (unsigned) len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_seq != r->seq)
                                continue;
                        if (h->nlmsg_flags & NLM_F_DUMP_INTR)
                                interrupted = true;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return interrupted ? -EAGAIN : 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);

                                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                        return -EBADMSG;
                                /* An address family the kernel lacks (no IPv6). */
                                if (e->error == -EAFNOSUPPORT)
                                        return 0;
                                return e->error < 0 ? e->error : -EBADMSG;
                        }
                        if (handler(r, h) < 0)
                                return -ENOMEM;
                }
        }
}

static int read_all(Rtnl *r) {
        int k;

        free(r->links);
        free(r->defaults);
        r->links = NULL;
        r->defaults = NULL;
        r->n_links = r->n_defaults = 0;

        k = dump(r, RTM_GETLINK, AF_UNSPEC, on_link);
        if (k >= 0)
                k = dump(r, RTM_GETROUTE, AF_INET, on_route);
        if (k >= 0)
                k = dump(r, RTM_GETROUTE, AF_INET6, on_route);
        return k;
}

int rtnl_read(NetLink **ret_links, size_t *ret_n_links, int **ret_default, size_t *ret_n_default) {
        struct sockaddr_nl local = { .nl_family = AF_NETLINK };
        Rtnl r = { .fd = -1 };
        int k;

        r.buf = malloc(RTNL_BUFFER_SIZE);
        if (!r.buf)
                return -ENOMEM;
        r.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (r.fd < 0 || bind(r.fd, (struct sockaddr *) &local, sizeof(local)) < 0) {
                k = -errno;
                goto finish;
        }
        /* A change while we dump makes the kernel flag the dump; read again. */
        for (unsigned attempt = 0;; attempt++) {
                k = read_all(&r);
                if (k != -EAGAIN || attempt >= 3)
                        break;
        }
        if (k >= 0) {
                *ret_links = TAKE_PTR(r.links);
                *ret_n_links = r.n_links;
                *ret_default = TAKE_PTR(r.defaults);
                *ret_n_default = r.n_defaults;
        }
finish:
        if (r.fd >= 0)
                close(r.fd);
        free(r.buf);
        free(r.links);
        free(r.defaults);
        return k;
}
