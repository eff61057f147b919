/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "kernel/sriov-netlink.h"
#include "kernel/sysfs.h"
#include "shared/macro.h"

/* How long a peer socket (tests) may take to answer. */
#define RTNL_PEER_TIMEOUT_SEC 5

/* A link with many VFs is answered in one message larger than a page. */
#define RTNL_VF_RECV_SIZE (64 * 1024)

static struct nlmsghdr *put_link_header(void *buf, uint16_t type, uint16_t flags, int ifindex, uint32_t seq) {
        struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;

        h->nlmsg_type = type;
        h->nlmsg_flags = NLM_F_REQUEST | flags;
        h->nlmsg_seq = seq;
        ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        return h;
}

static void put_vf_attrs(struct nlmsghdr *h, const VfSettings *s) {
        uint32_t vf = s->index;

        if (s->has_mac) {
                struct ifla_vf_mac m = { .vf = vf };
                memcpy(m.mac, s->mac, 6);
                mnl_attr_put(h, IFLA_VF_MAC, sizeof(m), &m);
        }
        if (s->vlan >= 0) {
                struct ifla_vf_vlan v = { .vf = vf, .vlan = (uint32_t) s->vlan, .qos = s->qos > 0 ? (uint32_t) s->qos : 0 };
                mnl_attr_put(h, IFLA_VF_VLAN, sizeof(v), &v);
        }
        if (s->min_tx_rate >= 0) {
                /* IFLA_VF_RATE sets both bounds; 0 is "no limit". */
                struct ifla_vf_rate r = {
                        .vf = vf,
                        .min_tx_rate = (uint32_t) s->min_tx_rate,
                        .max_tx_rate = s->max_tx_rate > 0 ? (uint32_t) s->max_tx_rate : 0,
                };
                mnl_attr_put(h, IFLA_VF_RATE, sizeof(r), &r);
        } else if (s->max_tx_rate >= 0) {
                /* The kernel keeps the VF's minimum with IFLA_VF_TX_RATE. */
                struct ifla_vf_tx_rate r = { .vf = vf, .rate = (uint32_t) s->max_tx_rate };
                mnl_attr_put(h, IFLA_VF_TX_RATE, sizeof(r), &r);
        }
        if (s->spoofchk >= 0) {
                struct ifla_vf_spoofchk c = { .vf = vf, .setting = (uint32_t) s->spoofchk };
                mnl_attr_put(h, IFLA_VF_SPOOFCHK, sizeof(c), &c);
        }
        if (s->trust >= 0) {
                struct ifla_vf_trust t = { .vf = vf, .setting = (uint32_t) s->trust };
                mnl_attr_put(h, IFLA_VF_TRUST, sizeof(t), &t);
        }
        if (s->link_state >= 0 && s->link_state < _VF_LINK_MAX) {
                /* VfLinkState follows IFLA_VF_LINK_STATE_{AUTO,ENABLE,DISABLE}. */
                struct ifla_vf_link_state l = { .vf = vf, .link_state = (uint32_t) s->link_state };
                mnl_attr_put(h, IFLA_VF_LINK_STATE, sizeof(l), &l);
        }
}

int rtnl_vf_build_set(void *buf, int ifindex, const VfSettings *s, uint32_t seq, struct nlmsghdr **ret) {
        struct nlattr *list, *info;
        struct nlmsghdr *h;

        if (!s || vf_settings_empty(s) || ifindex <= 0)
                return -EINVAL;
        h = put_link_header(buf, RTM_SETLINK, NLM_F_ACK, ifindex, seq);
        list = mnl_attr_nest_start(h, IFLA_VFINFO_LIST);
        info = mnl_attr_nest_start(h, IFLA_VF_INFO);
        put_vf_attrs(h, s);
        mnl_attr_nest_end(h, info);
        mnl_attr_nest_end(h, list);
        *ret = h;
        return 0;
}

struct nlmsghdr *rtnl_vf_build_get(void *buf, int ifindex, uint32_t seq) {
        struct nlmsghdr *h = put_link_header(buf, RTM_GETLINK, 0, ifindex, seq);

        /* The VFs' settings without their traffic counters (IFLA_VF_STATS),
         * which would make a PF with many VFs answer in kilobytes more. */
        mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS);
        return h;
}

/* The kernel reports ~0 for a setting the driver cannot tell. */
static int setting(uint32_t v) {
        return v <= 1 ? (int) v : -1;
}

static int payload_ok(const struct nlattr *a, size_t size) {
        return mnl_attr_validate2(a, MNL_TYPE_UNSPEC, size) >= 0;
}

static int parse_vf_info(const struct nlattr *info, VfSettings *s) {
        const struct nlattr *a;
        bool have_index = false;

        vf_settings_init(s, 0);
        mnl_attr_for_each_nested(a, info) {
                const void *p = mnl_attr_get_payload(a);

                switch (mnl_attr_get_type(a)) {
                case IFLA_VF_MAC:
                        if (payload_ok(a, sizeof(struct ifla_vf_mac))) {
                                const struct ifla_vf_mac *m = p;
                                s->index = m->vf;
                                have_index = true;
                                s->has_mac = true;
                                memcpy(s->mac, m->mac, 6);
                        }
                        break;
                case IFLA_VF_VLAN:
                        if (payload_ok(a, sizeof(struct ifla_vf_vlan))) {
                                const struct ifla_vf_vlan *v = p;
                                s->index = v->vf;
                                have_index = true;
                                s->vlan = v->vlan <= VF_VLAN_MAX ? (int) v->vlan : -1;
                                s->qos = v->qos <= VF_QOS_MAX ? (int) v->qos : -1;
                        }
                        break;
                case IFLA_VF_RATE:
                        if (payload_ok(a, sizeof(struct ifla_vf_rate))) {
                                const struct ifla_vf_rate *r = p;
                                s->index = r->vf;
                                have_index = true;
                                s->min_tx_rate = r->min_tx_rate;
                                s->max_tx_rate = r->max_tx_rate;
                        }
                        break;
                case IFLA_VF_TX_RATE:
                        /* Older kernels only; IFLA_VF_RATE wins when both come. */
                        if (payload_ok(a, sizeof(struct ifla_vf_tx_rate)) && s->max_tx_rate < 0) {
                                const struct ifla_vf_tx_rate *r = p;
                                s->index = r->vf;
                                have_index = true;
                                s->max_tx_rate = r->rate;
                        }
                        break;
                case IFLA_VF_SPOOFCHK:
                        if (payload_ok(a, sizeof(struct ifla_vf_spoofchk))) {
                                const struct ifla_vf_spoofchk *c = p;
                                s->index = c->vf;
                                have_index = true;
                                s->spoofchk = setting(c->setting);
                        }
                        break;
                case IFLA_VF_TRUST:
                        if (payload_ok(a, sizeof(struct ifla_vf_trust))) {
                                const struct ifla_vf_trust *t = p;
                                s->index = t->vf;
                                have_index = true;
                                s->trust = setting(t->setting);
                        }
                        break;
                case IFLA_VF_LINK_STATE:
                        if (payload_ok(a, sizeof(struct ifla_vf_link_state))) {
                                const struct ifla_vf_link_state *l = p;
                                s->index = l->vf;
                                have_index = true;
                                s->link_state = l->link_state < _VF_LINK_MAX ? (VfLinkState) l->link_state : VF_LINK_UNSET;
                        }
                        break;
                }
        }
        return have_index ? 0 : -EBADMSG;
}

int rtnl_vf_parse(const struct nlmsghdr *h, VfSettings **ret, size_t *ret_n) {
        _cleanup_free_ VfSettings *vfs = NULL;
        const struct nlattr *a, *info;
        size_t n = 0;

        if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(struct ifinfomsg))
                return -EBADMSG;
        mnl_attr_for_each(a, h, sizeof(struct ifinfomsg)) {
                if (mnl_attr_get_type(a) != IFLA_VFINFO_LIST)
                        continue;
                mnl_attr_for_each_nested(info, a) {
                        VfSettings *t;

                        if (mnl_attr_get_type(info) != IFLA_VF_INFO)
                                continue;
                        t = realloc(vfs, (n + 1) * sizeof(VfSettings));
                        if (!t)
                                return -ENOMEM;
                        vfs = t;
                        if (parse_vf_info(info, &vfs[n]) == 0)
                                n++;
                }
        }
        *ret = TAKE_PTR(vfs);
        *ret_n = n;
        return 0;
}

typedef struct Reply {
        VfSettings *vfs;
        size_t n;
        int error;
} Reply;

static int on_reply(const struct nlmsghdr *h, void *userdata) {
        Reply *r = userdata;

        if (h->nlmsg_type != RTM_NEWLINK)
                return MNL_CB_OK;
        free(r->vfs);
        r->vfs = NULL;
        r->error = rtnl_vf_parse(h, &r->vfs, &r->n);
        return r->error < 0 ? MNL_CB_ERROR : MNL_CB_STOP;
}

/* The socket requests go over: the kernel's rtnetlink, or, when via
 * names a socket (HOSTDEV_RTNL_SOCKET, tests only), a SOCK_SEQPACKET peer
 * that speaks the same messages. */
typedef struct Channel {
        struct mnl_socket *nl;
        int fd;
        unsigned portid;
} Channel;

static int channel_open(Channel *c, const char *via) {
        *c = (Channel) { .fd = -EBADF };
        if (via) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                struct timeval tv = { .tv_sec = RTNL_PEER_TIMEOUT_SEC };

                if (strlen(via) >= sizeof sa.sun_path)
                        return -ENAMETOOLONG;
                strcpy(sa.sun_path, via);
                c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
                if (c->fd < 0)
                        return -errno;
                if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
                    connect(c->fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                        int k = -errno;
                        close(c->fd);
                        c->fd = -EBADF;
                        return k;
                }
                return 0;
        }
        c->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!c->nl)
                return -errno;
        if (mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int k = -errno;
                mnl_socket_close(c->nl);
                c->nl = NULL;
                return k;
        }
        c->portid = mnl_socket_get_portid(c->nl);
        return 0;
}

static void channel_close(Channel *c) {
        if (c->nl)
                mnl_socket_close(c->nl);
        if (c->fd >= 0)
                close(c->fd);
}

static ssize_t channel_send(Channel *c, const struct nlmsghdr *h) {
        if (c->nl)
                return mnl_socket_sendto(c->nl, h, h->nlmsg_len);
        return send(c->fd, h, h->nlmsg_len, MSG_NOSIGNAL);
}

static ssize_t channel_recv(Channel *c, void *buf, size_t size) {
        if (c->nl)
                return mnl_socket_recvfrom(c->nl, buf, size);
        return recv(c->fd, buf, size, 0);
}

/* Sends h and reads until the ACK (or the link) comes back. */
static int request(const char *via, struct nlmsghdr *h, Reply *reply) {
        _cleanup_free_ uint8_t *buf = malloc(RTNL_VF_RECV_SIZE);
        Channel c;
        int k;

        if (!buf)
                return -ENOMEM;
        k = channel_open(&c, via);
        if (k < 0)
                return k;
        if (channel_send(&c, h) < 0) {
                k = -errno;
                channel_close(&c);
                return k;
        }
        for (;;) {
                ssize_t n = channel_recv(&c, buf, RTNL_VF_RECV_SIZE);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        /* EAGAIN: the peer did not answer in time; 0: it went away. */
                        k = n == 0 || errno == EAGAIN ? -ETIMEDOUT : -errno;
                        break;
                }
                errno = 0;
                k = mnl_cb_run(buf, (size_t) n, h->nlmsg_seq, c.portid, reply ? on_reply : NULL, reply);
                if (k == MNL_CB_OK)
                        continue;
                if (k == MNL_CB_STOP)
                        k = 0;
                else if (reply && reply->error < 0)
                        k = reply->error;
                else
                        k = errno > 0 ? -errno : -EBADMSG;
                break;
        }
        channel_close(&c);
        return k;
}

int rtnl_vf_apply(const char *via, int ifindex, const VfSettings *s) {
        _cleanup_free_ uint8_t *buf = calloc(1, RTNL_VF_MSG_SIZE);
        struct nlmsghdr *h;
        int k;

        if (!buf)
                return -ENOMEM;
        k = rtnl_vf_build_set(buf, ifindex, s, 1, &h);
        if (k < 0)
                return k;
        return request(via, h, NULL);
}

int rtnl_vf_read(const char *via, int ifindex, VfSettings **ret, size_t *ret_n) {
        _cleanup_free_ uint8_t *buf = calloc(1, RTNL_VF_MSG_SIZE);
        Reply reply = {};
        int k;

        if (!buf)
                return -ENOMEM;
        k = request(via, rtnl_vf_build_get(buf, ifindex, 1), &reply);
        if (k < 0) {
                free(reply.vfs);
                return k;
        }
        *ret = reply.vfs;
        *ret_n = reply.n;
        return 0;
}

int rtnl_vf_channel(const Paths *p, const char **ret_via) {
        /* A simulated sysfs names interfaces by the ifindex of its files:
         * they must never reach the host's own links. */
        if (p->rtnl_socket) {
                *ret_via = p->rtnl_socket;
                return 0;
        }
        if (!streq(p->sysfs, "/sys"))
                return -EOPNOTSUPP;
        *ret_via = NULL;
        return 0;
}

int sriov_pf_netdev(const Paths *p, const char *pf, char **ret_name, int *ret_ifindex) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (asprintf(&dir, "%s/bus/pci/devices/%s/net", p->sysfs, pf) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? -ENODEV : -errno;
        while ((de = readdir(d))) {
                uint32_t v;
                int fd;

                if (de->d_name[0] == '.')
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (sysfs_read_u32(fd, "ifindex", 10, &v) < 0 || v == 0 || v > INT32_MAX) {
                        close(fd);
                        continue;
                }
                close(fd);
                if (ret_name) {
                        *ret_name = strdup(de->d_name);
                        if (!*ret_name)
                                return -ENOMEM;
                }
                *ret_ifindex = (int) v;
                return 0;
        }
        return -ENODEV;
}
