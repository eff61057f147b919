/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/sriov-netlink.h"
#include "shared/macro.h"

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

        mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_VF);
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

/* Sends h and reads until the ACK (or the link) comes back. */
static int request(struct nlmsghdr *h, Reply *reply) {
        _cleanup_free_ uint8_t *buf = malloc(RTNL_VF_RECV_SIZE);
        struct mnl_socket *nl;
        unsigned portid;
        int k;

        if (!buf)
                return -ENOMEM;
        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 || mnl_socket_sendto(nl, h, h->nlmsg_len) < 0) {
                k = -errno;
                goto finish;
        }
        portid = mnl_socket_get_portid(nl);
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, RTNL_VF_RECV_SIZE);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        k = -errno;
                        break;
                }
                k = mnl_cb_run(buf, (size_t) n, h->nlmsg_seq, portid, reply ? on_reply : NULL, reply);
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
finish:
        mnl_socket_close(nl);
        return k;
}

int rtnl_vf_apply(int ifindex, const VfSettings *s) {
        _cleanup_free_ uint8_t *buf = calloc(1, RTNL_VF_MSG_SIZE);
        struct nlmsghdr *h;
        int k;

        if (!buf)
                return -ENOMEM;
        k = rtnl_vf_build_set(buf, ifindex, s, 1, &h);
        if (k < 0)
                return k;
        return request(h, NULL);
}

int rtnl_vf_read(int ifindex, VfSettings **ret, size_t *ret_n) {
        _cleanup_free_ uint8_t *buf = calloc(1, RTNL_VF_MSG_SIZE);
        Reply reply = {};
        int k;

        if (!buf)
                return -ENOMEM;
        k = request(rtnl_vf_build_get(buf, ifindex, 1), &reply);
        if (k < 0) {
                free(reply.vfs);
                return k;
        }
        *ret = reply.vfs;
        *ret_n = reply.n;
        return 0;
}
