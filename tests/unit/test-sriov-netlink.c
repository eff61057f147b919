/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "kernel/sriov-netlink.h"
#include "shared/macro.h"

/* The single nested attribute of type `type` inside `outer`. */
static const struct nlattr *only_nested(const struct nlattr *outer, uint16_t type) {
        const struct nlattr *a, *found = NULL;
        int n = 0;

        mnl_attr_for_each_nested(a, outer) {
                n++;
                if (mnl_attr_get_type(a) == type)
                        found = a;
        }
        return n == 1 ? found : NULL;
}

static void test_build_set(void) {
        _cleanup_free_ uint8_t *buf = calloc(1, RTNL_VF_MSG_SIZE);
        const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
        const struct ifinfomsg *ifi;
        const struct nlattr *a, *list = NULL, *info, *x;
        struct nlmsghdr *h;
        VfSettings s;
        unsigned seen = 0;
        int n_top = 0;

        vf_settings_init(&s, 3);
        CHECK(rtnl_vf_build_set(buf, 7, &s, 1, &h) == -EINVAL);

        s.has_mac = true;
        memcpy(s.mac, mac, 6);
        s.vlan = 100;
        s.qos = 5;
        s.trust = 1;
        s.spoofchk = 0;
        s.link_state = VF_LINK_DISABLE;
        s.max_tx_rate = 1000;
        CHECK(rtnl_vf_build_set(buf, 7, &s, 42, &h) == 0);

        CHECK(h->nlmsg_type == RTM_SETLINK);
        CHECK(h->nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK));
        CHECK(h->nlmsg_seq == 42);
        ifi = mnl_nlmsg_get_payload(h);
        CHECK(ifi->ifi_index == 7);
        CHECK(ifi->ifi_family == AF_UNSPEC);

        mnl_attr_for_each(a, h, sizeof(*ifi)) {
                n_top++;
                if (mnl_attr_get_type(a) == IFLA_VFINFO_LIST)
                        list = a;
        }
        CHECK(n_top == 1);
        CHECK(list);
        if (!list)
                return;
        info = only_nested(list, IFLA_VF_INFO);
        CHECK(info);
        if (!info)
                return;
        mnl_attr_for_each_nested(x, info) {
                const void *p = mnl_attr_get_payload(x);
                size_t len = mnl_attr_get_payload_len(x);

                switch (mnl_attr_get_type(x)) {
                case IFLA_VF_MAC:
                        CHECK(len == sizeof(struct ifla_vf_mac));
                        CHECK(((const struct ifla_vf_mac *) p)->vf == 3);
                        CHECK(memcmp(((const struct ifla_vf_mac *) p)->mac, mac, 6) == 0);
                        break;
                case IFLA_VF_VLAN:
                        CHECK(len == sizeof(struct ifla_vf_vlan));
                        CHECK(((const struct ifla_vf_vlan *) p)->vf == 3);
                        CHECK(((const struct ifla_vf_vlan *) p)->vlan == 100);
                        CHECK(((const struct ifla_vf_vlan *) p)->qos == 5);
                        break;
                case IFLA_VF_TX_RATE:
                        CHECK(len == sizeof(struct ifla_vf_tx_rate));
                        CHECK(((const struct ifla_vf_tx_rate *) p)->vf == 3);
                        CHECK(((const struct ifla_vf_tx_rate *) p)->rate == 1000);
                        break;
                case IFLA_VF_SPOOFCHK:
                        CHECK(((const struct ifla_vf_spoofchk *) p)->vf == 3);
                        CHECK(((const struct ifla_vf_spoofchk *) p)->setting == 0);
                        break;
                case IFLA_VF_TRUST:
                        CHECK(((const struct ifla_vf_trust *) p)->vf == 3);
                        CHECK(((const struct ifla_vf_trust *) p)->setting == 1);
                        break;
                case IFLA_VF_LINK_STATE:
                        CHECK(((const struct ifla_vf_link_state *) p)->vf == 3);
                        CHECK(((const struct ifla_vf_link_state *) p)->link_state == IFLA_VF_LINK_STATE_DISABLE);
                        break;
                default:
                        CHECK(!"unexpected attribute");
                }
                seen |= 1u << mnl_attr_get_type(x);
        }
        CHECK(seen == ((1u << IFLA_VF_MAC) | (1u << IFLA_VF_VLAN) | (1u << IFLA_VF_TX_RATE) |
                       (1u << IFLA_VF_SPOOFCHK) | (1u << IFLA_VF_TRUST) | (1u << IFLA_VF_LINK_STATE)));
        /* The nests' lengths add up to the message. */
        CHECK((const uint8_t *) list + list->nla_len == (const uint8_t *) h + h->nlmsg_len);
}

static void test_build_set_rate_and_partial(void) {
        _cleanup_free_ uint8_t *buf = calloc(1, RTNL_VF_MSG_SIZE);
        const struct nlattr *a, *info = NULL, *x;
        struct nlmsghdr *h;
        VfSettings s;
        int n = 0;

        vf_settings_init(&s, 1);
        s.min_tx_rate = 10;
        s.max_tx_rate = 500;
        CHECK(rtnl_vf_build_set(buf, 2, &s, 1, &h) == 0);
        mnl_attr_for_each(a, h, sizeof(struct ifinfomsg))
                info = only_nested(a, IFLA_VF_INFO);
        CHECK(info);
        if (!info)
                return;
        /* Only what is set goes out: one IFLA_VF_RATE carrying both bounds. */
        mnl_attr_for_each_nested(x, info) {
                const struct ifla_vf_rate *r = mnl_attr_get_payload(x);

                n++;
                CHECK(mnl_attr_get_type(x) == IFLA_VF_RATE);
                CHECK(r->vf == 1 && r->min_tx_rate == 10 && r->max_tx_rate == 500);
        }
        CHECK(n == 1);
}

static void test_build_get(void) {
        _cleanup_free_ uint8_t *buf = calloc(1, RTNL_VF_MSG_SIZE);
        struct nlmsghdr *h = rtnl_vf_build_get(buf, 9, 5);
        const struct nlattr *a;
        int n = 0;

        CHECK(h->nlmsg_type == RTM_GETLINK);
        CHECK(h->nlmsg_flags == NLM_F_REQUEST);
        CHECK(((const struct ifinfomsg *) mnl_nlmsg_get_payload(h))->ifi_index == 9);
        mnl_attr_for_each(a, h, sizeof(struct ifinfomsg)) {
                n++;
                CHECK(mnl_attr_get_type(a) == IFLA_EXT_MASK);
                CHECK(mnl_attr_get_u32(a) == (RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS));
        }
        CHECK(n == 1);
}

/* An RTM_NEWLINK as the kernel sends it, put together by hand (no libmnl)
 * so the parser is not checked against its own builder. */
static size_t put_attr(uint8_t *p, uint16_t type, const void *data, size_t len) {
        struct nlattr *a = (struct nlattr *) p;

        a->nla_type = type;
        a->nla_len = (uint16_t) (NLA_HDRLEN + len);
        memcpy(p + NLA_HDRLEN, data, len);
        return NLA_ALIGN(a->nla_len);
}

static size_t put_vf(uint8_t *p, uint32_t vf, const uint8_t mac[6], uint32_t vlan, uint32_t qos, uint32_t trust) {
        struct nlattr *info = (struct nlattr *) p;
        struct ifla_vf_mac m = { .vf = vf };
        struct ifla_vf_vlan v = { .vf = vf, .vlan = vlan, .qos = qos };
        struct ifla_vf_rate r = { .vf = vf, .min_tx_rate = 0, .max_tx_rate = 200 };
        struct ifla_vf_tx_rate tx = { .vf = vf, .rate = 200 };
        struct ifla_vf_spoofchk sc = { .vf = vf, .setting = 1 };
        struct ifla_vf_trust t = { .vf = vf, .setting = trust };
        struct ifla_vf_link_state ls = { .vf = vf, .link_state = IFLA_VF_LINK_STATE_AUTO };
        size_t off = NLA_HDRLEN;

        memcpy(m.mac, mac, 6);
        off += put_attr(p + off, IFLA_VF_MAC, &m, sizeof(m));
        off += put_attr(p + off, IFLA_VF_VLAN, &v, sizeof(v));
        off += put_attr(p + off, IFLA_VF_TX_RATE, &tx, sizeof(tx));
        off += put_attr(p + off, IFLA_VF_RATE, &r, sizeof(r));
        off += put_attr(p + off, IFLA_VF_SPOOFCHK, &sc, sizeof(sc));
        off += put_attr(p + off, IFLA_VF_TRUST, &t, sizeof(t));
        off += put_attr(p + off, IFLA_VF_LINK_STATE, &ls, sizeof(ls));
        info->nla_type = NLA_F_NESTED | IFLA_VF_INFO;
        info->nla_len = (uint16_t) off;
        return NLA_ALIGN(off);
}

static void test_parse(void) {
        _Alignas(4) uint8_t buf[1024] = {};
        const uint8_t mac0[6] = { 0x52, 0x54, 0x00, 0, 0, 1 }, mac1[6] = { 0x52, 0x54, 0x00, 0, 0, 2 };
        struct nlmsghdr *h = (struct nlmsghdr *) buf;
        struct ifinfomsg *ifi = (struct ifinfomsg *) (buf + NLMSG_HDRLEN);
        size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*ifi)), list_off;
        const char name[] = "enp1s0f0";
        _cleanup_free_ VfSettings *vfs = NULL;
        struct nlattr *list;
        size_t n = 0;
        char mbuf[18];

        h->nlmsg_type = RTM_NEWLINK;
        ifi->ifi_index = 4;
        off += put_attr(buf + off, IFLA_IFNAME, name, sizeof(name));
        list_off = off;
        list = (struct nlattr *) (buf + off);
        off += NLA_HDRLEN;
        off += put_vf(buf + off, 0, mac0, 0, 0, 0);
        off += put_vf(buf + off, 1, mac1, 42, 3, UINT32_MAX);
        list->nla_type = NLA_F_NESTED | IFLA_VFINFO_LIST;
        list->nla_len = (uint16_t) (off - list_off);
        h->nlmsg_len = (uint32_t) off;

        CHECK(rtnl_vf_parse(h, &vfs, &n) == 0);
        CHECK(n == 2);
        if (n != 2)
                return;
        CHECK(vfs[0].index == 0);
        CHECK(vfs[0].has_mac);
        CHECK_STREQ(vf_mac_format(vfs[0].mac, mbuf), "52:54:00:00:00:01");
        CHECK(vfs[0].vlan == 0 && vfs[0].qos == 0);
        CHECK(vfs[0].trust == 0 && vfs[0].spoofchk == 1);
        CHECK(vfs[0].link_state == VF_LINK_AUTO);
        CHECK(vfs[0].max_tx_rate == 200 && vfs[0].min_tx_rate == 0);
        CHECK(vfs[1].index == 1);
        CHECK_STREQ(vf_mac_format(vfs[1].mac, mbuf), "52:54:00:00:00:02");
        CHECK(vfs[1].vlan == 42 && vfs[1].qos == 3);
        /* ~0: the driver cannot tell */
        CHECK(vfs[1].trust == -1);

        /* Not a link message. */
        h->nlmsg_type = RTM_NEWROUTE;
        free(vfs);
        vfs = NULL;
        CHECK(rtnl_vf_parse(h, &vfs, &n) == -EBADMSG);
}

static void test_channel(void) {
        Paths p = { .sysfs = (char *) "/tmp/testbed/sys" };
        const char *via = "unset";

        /* A simulated sysfs never reaches the host's links. */
        CHECK(rtnl_vf_channel(&p, &via) == -EOPNOTSUPP);
        p.rtnl_socket = (char *) "/tmp/testbed/rtnetlink.sock";
        CHECK(rtnl_vf_channel(&p, &via) == 0 && via == p.rtnl_socket);
        p.sysfs = (char *) "/sys";
        p.rtnl_socket = NULL;
        CHECK(rtnl_vf_channel(&p, &via) == 0 && via == NULL);
}

/* A peer on the socket: answers the one request it gets with an
 * NLMSG_ERROR carrying `error`, as the kernel acks RTM_SETLINK. */
typedef struct Peer {
        int fd;
        int error;
        struct nlmsghdr got;
        uint16_t got_type;
} Peer;

static void *peer_run(void *userdata) {
        Peer *p = userdata;
        _Alignas(4) uint8_t buf[RTNL_VF_MSG_SIZE], out[64] = {};
        struct nlmsghdr *h = (struct nlmsghdr *) out;
        struct nlmsgerr *e;
        int c = accept(p->fd, NULL, NULL);
        ssize_t n;

        if (c < 0)
                return NULL;
        n = recv(c, buf, sizeof buf, 0);
        if (n >= (ssize_t) sizeof(struct nlmsghdr)) {
                memcpy(&p->got, buf, sizeof p->got);
                h->nlmsg_type = NLMSG_ERROR;
                h->nlmsg_seq = p->got.nlmsg_seq;
                h->nlmsg_len = NLMSG_LENGTH(sizeof *e);
                e = NLMSG_DATA(h);
                e->error = p->error;
                e->msg = p->got;
                (void) send(c, out, h->nlmsg_len, 0);
        }
        close(c);
        return NULL;
}

static int apply_through_peer(const char *path, int error, Peer *peer) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        VfSettings s;
        pthread_t t;
        int r;

        *peer = (Peer) { .error = error };
        strcpy(sa.sun_path, path);
        unlink(path);
        peer->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        CHECK(peer->fd >= 0);
        CHECK(bind(peer->fd, (struct sockaddr *) &sa, sizeof sa) == 0 && listen(peer->fd, 1) == 0);
        CHECK(pthread_create(&t, NULL, peer_run, peer) == 0);
        vf_settings_init(&s, 2);
        s.trust = 1;
        r = rtnl_vf_apply(path, 7, &s);
        pthread_join(t, NULL);
        close(peer->fd);
        unlink(path);
        return r;
}

static void test_apply_through_socket(void) {
        char dir[] = "/tmp/test-sriov-netlink.XXXXXX", path[64];
        Peer peer;

        CHECK(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/rtnl.sock", dir);
        /* The request is the RTM_SETLINK built here; the ack ends it. */
        CHECK(apply_through_peer(path, 0, &peer) == 0);
        CHECK(peer.got.nlmsg_type == RTM_SETLINK && (peer.got.nlmsg_flags & NLM_F_ACK));
        /* The kernel's refusal comes back as its errno. */
        CHECK(apply_through_peer(path, -EOPNOTSUPP, &peer) == -EOPNOTSUPP);
        /* Nobody listening. */
        CHECK(rtnl_vf_apply(path, 7, &(VfSettings) { .index = 0, .vlan = 1, .qos = -1, .trust = -1,
                                                     .spoofchk = -1, .link_state = VF_LINK_UNSET,
                                                     .max_tx_rate = -1, .min_tx_rate = -1 }) < 0);
        rmdir(dir);
}

int main(void) {
        test_channel();
        test_apply_through_socket();
        test_build_set();
        test_build_set_rate_and_partial();
        test_build_get();
        test_parse();
        CHECK_DONE();
}
