/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "model/vf.h"
#include "shared/paths.h"

struct nlmsghdr;

/* Per-VF settings over rtnetlink (IFLA_VFINFO_LIST on the PF's netdev).
 * Building and parsing are pure so that tests check the attribute layout
 * without a socket; rtnl_vf_apply and rtnl_vf_read do the I/O. */

/* Room for one request; the messages built here stay far below it. */
#define RTNL_VF_MSG_SIZE 8192

/* RTM_SETLINK for ifindex carrying one IFLA_VF_INFO with the fields set
 * in s, into buf (RTNL_VF_MSG_SIZE bytes). -EINVAL when nothing is set. */
int rtnl_vf_build_set(void *buf, int ifindex, const VfSettings *s, uint32_t seq, struct nlmsghdr **ret);
/* RTM_GETLINK for ifindex asking for the VF list (RTEXT_FILTER_VF, without
 * the VFs' statistics: RTEXT_FILTER_SKIP_STATS). */
struct nlmsghdr *rtnl_vf_build_get(void *buf, int ifindex, uint32_t seq);
/* The VFs in an RTM_NEWLINK message, one VfSettings per IFLA_VF_INFO
 * (fields the kernel did not report stay unset). */
int rtnl_vf_parse(const struct nlmsghdr *h, VfSettings **ret, size_t *ret_n);

/* The I/O goes to the kernel's rtnetlink when via is NULL, else to the
 * SOCK_SEQPACKET socket via names, which answers the same messages (the
 * kernel emulator of the tests). Kernel errors come back as -errno;
 * -ETIMEDOUT when a peer socket does not answer. */
int rtnl_vf_apply(const char *via, int ifindex, const VfSettings *s);
int rtnl_vf_read(const char *via, int ifindex, VfSettings **ret, size_t *ret_n);

/* Where VF requests go for these paths: *ret_via for rtnl_vf_apply/read.
 * -EOPNOTSUPP for a simulated sysfs root without HOSTDEV_RTNL_SOCKET: its
 * ifindexes are made up and must never reach the host's links. */
int rtnl_vf_channel(const Paths *p, const char **ret_via);
/* The PF's network interface (its first under net/): name and ifindex.
 * -ENODEV when it has none (no driver, a driver without a netdev). */
int sriov_pf_netdev(const Paths *p, const char *pf, char **ret_name, int *ret_ifindex);
