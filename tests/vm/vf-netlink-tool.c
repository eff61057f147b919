/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vf-netlink-tool: hostdev's rtnetlink VF code (src/kernel/sriov-netlink.*,
 * what hostdevd's SetVfConfig applies) on any network interface, for the
 * vm suite: it sends its messages to the guest's real kernel, whose parser
 * then answers, and iproute2 reads the result back independently.
 *
 *   vf-netlink-tool set IFNAME INDEX key=value...
 *       keys: mac vlan qos trust spoofchk link-state max-tx-rate min-tx-rate
 *       values are validated as hostdevd does (vf_settings_validate, against
 *       the number of VFs the kernel reports) before anything is sent.
 *   vf-netlink-tool get IFNAME
 *       one line per VF: "index=N key=value..." with what rtnl_vf_parse read.
 *
 * Exit status: 0 done, 1 the kernel refused (the errno is printed),
 * 2 the value was refused before sending, 3 usage. */

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/sriov-netlink.h"
#include "model/vf.h"
#include "shared/macro.h"

static int parse_int(const char *value, int64_t min, int64_t max, int64_t *ret) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_bool(const char *value) {
        if (strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
                return 1;
        if (strcmp(value, "off") == 0 || strcmp(value, "0") == 0)
                return 0;
        return -EINVAL;
}

/* key=value into s; ranges are left to vf_settings_validate, as for the
 * daemon's a{sv}: only what does not fit the field is refused here. */
static int parse_setting(VfSettings *s, const char *arg, char **error) {
        _cleanup_free_ char *key = strdup(arg);
        char *value;
        int64_t v;

        if (!key)
                return -ENOMEM;
        value = strchr(key, '=');
        if (!value) {
                fprintf(stderr, "%s: not key=value\n", arg);
                return -EINVAL;
        }
        *value++ = '\0';
        if (strcmp(key, "mac") == 0) {
                s->has_mac = true;
                return vf_mac_parse(value, s->mac, error);
        }
        if (strcmp(key, "link-state") == 0) {
                s->link_state = vf_link_state_from_string(value);
                return s->link_state == VF_LINK_UNSET ? -EINVAL : 0;
        }
        if (strcmp(key, "trust") == 0)
                return (s->trust = parse_bool(value)) < 0 ? -EINVAL : 0;
        if (strcmp(key, "spoofchk") == 0)
                return (s->spoofchk = parse_bool(value)) < 0 ? -EINVAL : 0;
        if (parse_int(value, 0, INT64_MAX / 2, &v) < 0) {
                fprintf(stderr, "%s: not a number\n", arg);
                return -EINVAL;
        }
        if (strcmp(key, "vlan") == 0)
                s->vlan = v > INT32_MAX ? INT32_MAX : (int) v;
        else if (strcmp(key, "qos") == 0)
                s->qos = v > INT32_MAX ? INT32_MAX : (int) v;
        else if (strcmp(key, "max-tx-rate") == 0)
                s->max_tx_rate = v;
        else if (strcmp(key, "min-tx-rate") == 0)
                s->min_tx_rate = v;
        else {
                fprintf(stderr, "%s: unknown key\n", key);
                return -EINVAL;
        }
        return 0;
}

static void print_vf(const VfSettings *s) {
        char mac[18];

        printf("index=%u", s->index);
        if (s->has_mac)
                printf(" mac=%s", vf_mac_format(s->mac, mac));
        if (s->vlan >= 0)
                printf(" vlan=%d", s->vlan);
        if (s->qos >= 0)
                printf(" qos=%d", s->qos);
        if (s->trust >= 0)
                printf(" trust=%s", s->trust ? "on" : "off");
        if (s->spoofchk >= 0)
                printf(" spoofchk=%s", s->spoofchk ? "on" : "off");
        if (s->link_state != VF_LINK_UNSET)
                printf(" link-state=%s", vf_link_state_to_string(s->link_state));
        if (s->max_tx_rate >= 0)
                printf(" max-tx-rate=%" PRId64, s->max_tx_rate);
        if (s->min_tx_rate >= 0)
                printf(" min-tx-rate=%" PRId64, s->min_tx_rate);
        printf("\n");
}

static int cmd_get(int ifindex) {
        _cleanup_free_ VfSettings *vfs = NULL;
        size_t n = 0;
        int r;

        r = rtnl_vf_read(NULL, ifindex, &vfs, &n);
        if (r < 0) {
                fprintf(stderr, "reading the VFs: %s\n", strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < n; i++)
                print_vf(&vfs[i]);
        return 0;
}

static int cmd_set(int ifindex, const char *index, char **args, int n_args) {
        _cleanup_free_ VfSettings *vfs = NULL;
        _cleanup_free_ char *error = NULL;
        VfSettings s;
        size_t n = 0;
        int64_t i;
        int r;

        if (parse_int(index, 0, UINT32_MAX, &i) < 0) {
                fprintf(stderr, "%s: not a VF index\n", index);
                return 3;
        }
        vf_settings_init(&s, (unsigned) i);
        for (int k = 0; k < n_args; k++)
                if (parse_setting(&s, args[k], &error) < 0) {
                        fprintf(stderr, "refused: %s\n", error ? error : args[k]);
                        return 2;
                }
        r = rtnl_vf_read(NULL, ifindex, &vfs, &n);
        if (r < 0) {
                fprintf(stderr, "reading the VFs: %s\n", strerror(-r));
                return 1;
        }
        if (vf_settings_validate(&s, (unsigned) n, &error) < 0) {
                fprintf(stderr, "refused: %s\n", error);
                return 2;
        }
        r = rtnl_vf_apply(NULL, ifindex, &s);
        if (r < 0) {
                fprintf(stderr, "kernel: errno %d (%s)\n", -r, strerror(-r));
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        int ifindex;

        if (argc < 3 || (strcmp(argv[1], "get") != 0 && strcmp(argv[1], "set") != 0) ||
            (strcmp(argv[1], "set") == 0 && argc < 5)) {
                fprintf(stderr, "usage: %s set IFNAME INDEX key=value...\n       %s get IFNAME\n", argv[0], argv[0]);
                return 3;
        }
        ifindex = (int) if_nametoindex(argv[2]);
        if (ifindex == 0) {
                fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
                return 3;
        }
        if (strcmp(argv[1], "get") == 0)
                return cmd_get(ifindex);
        return cmd_set(ifindex, argv[3], argv + 4, argc - 4);
}
