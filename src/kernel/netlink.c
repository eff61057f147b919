/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libmnl/libmnl.h>
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

static int add_nexthops(Rtnl *r, const struct nlattr *a) {
        /* ECMP: every nexthop carries part of the traffic. */
        const struct rtnexthop *nh = mnl_attr_get_payload(a);
        int left = (int) mnl_attr_get_payload_len(a);

        while (left >= (int) sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
                if (add_default(r, nh->rtnh_ifindex) < 0)
                        return -ENOMEM;
                left -= RTNH_ALIGN(nh->rtnh_len);
                nh = RTNH_NEXT(nh);
        }
        return 0;
}

static int on_route(const struct nlmsghdr *h, void *userdata) {
        Rtnl *r = userdata;
        const struct rtmsg *rt = mnl_nlmsg_get_payload(h);
        const struct nlattr *a;
        uint32_t table;

        if (h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*rt))
                return MNL_CB_OK;
        if (rt->rtm_dst_len != 0 || rt->rtm_type != RTN_UNICAST)
                return MNL_CB_OK;
        table = rt->rtm_table;
        mnl_attr_for_each(a, h, sizeof(*rt))
                if (mnl_attr_get_type(a) == RTA_TABLE && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        table = mnl_attr_get_u32(a);
        if (table != RT_TABLE_MAIN)
                return MNL_CB_OK;

        mnl_attr_for_each(a, h, sizeof(*rt)) {
                int k = 0;

                if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        k = add_default(r, (int) mnl_attr_get_u32(a));
                else if (mnl_attr_get_type(a) == RTA_MULTIPATH)
                        k = add_nexthops(r, a);
                if (k < 0) {
                        errno = ENOMEM;
                        return MNL_CB_ERROR;
                }
        }
        return MNL_CB_OK;
}

static void copy_string(char *dst, size_t size, const struct nlattr *a) {
        size_t n = mnl_attr_get_payload_len(a);

        if (n >= size)
                n = size - 1;
        memcpy(dst, mnl_attr_get_payload(a), n);
        dst[n] = 0;
}

static void link_kind(const struct nlattr *linkinfo, NetLink *l) {
        const struct nlattr *a;

        mnl_attr_for_each_nested(a, linkinfo)
                if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
                        copy_string(l->kind, sizeof(l->kind), a);
}

static int on_link(const struct nlmsghdr *h, void *userdata) {
        Rtnl *r = userdata;
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
        const struct nlattr *a;
        NetLink l = {}, *t;

        if (h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ifi))
                return MNL_CB_OK;
        l.ifindex = ifi->ifi_index;
        mnl_attr_for_each(a, h, sizeof(*ifi)) {
                switch (mnl_attr_get_type(a)) {
                case IFLA_IFNAME:
                        copy_string(l.name, sizeof(l.name), a);
                        break;
                case IFLA_MASTER:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                l.master = (int) mnl_attr_get_u32(a);
                        break;
                case IFLA_LINK:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                l.link = (int) mnl_attr_get_u32(a);
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
                return MNL_CB_OK;
        t = realloc(r->links, (r->n_links + 1) * sizeof(NetLink));
        if (!t) {
                errno = ENOMEM;
                return MNL_CB_ERROR;
        }
        r->links = t;
        r->links[r->n_links++] = l;
        return MNL_CB_OK;
}

/* Sends one dump request on a fresh socket and hands every answer to the
 * callback. -EAGAIN when the kernel says the dump was interrupted by a
 * change (libmnl stops with EINTR then). */
static int dump(Rtnl *r, uint16_t type, uint8_t family, mnl_cb_t cb) {
        _cleanup_free_ uint8_t *buf = malloc(RTNL_BUFFER_SIZE);
        struct mnl_socket *nl;
        struct nlmsghdr *h;
        unsigned portid;
        uint32_t seq = 1;
        int k;

        if (!buf)
                return -ENOMEM;
        h = mnl_nlmsg_put_header(buf);
        h->nlmsg_type = type;
        h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        h->nlmsg_seq = seq;
        if (type == RTM_GETLINK) {
                struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
                ifi->ifi_family = family;
        } else {
                struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));
                rt->rtm_family = family;
        }

        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
            mnl_socket_sendto(nl, h, h->nlmsg_len) < 0) {
                k = -errno;
                goto finish;
        }
        portid = mnl_socket_get_portid(nl);
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, RTNL_BUFFER_SIZE);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        k = errno == ENOSPC ? -EMSGSIZE : -errno;
                        break;
                }
                k = mnl_cb_run(buf, (size_t) n, seq, portid, cb, r);
                if (k == MNL_CB_OK)
                        continue;
                if (k == MNL_CB_STOP) {
                        k = 0;
                        break;
                }
                if (errno == EINTR)
                        k = -EAGAIN;
                else if (errno == EAFNOSUPPORT)
                        /* An address family the kernel lacks (no IPv6). */
                        k = 0;
                else
                        k = errno > 0 ? -errno : -EBADMSG;
                break;
        }
finish:
        mnl_socket_close(nl);
        return k;
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
        Rtnl r = {};
        int k;

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
        free(r.links);
        free(r.defaults);
        return k;
}
