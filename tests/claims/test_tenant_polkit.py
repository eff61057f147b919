#!/usr/bin/python3
"""Tenants with the real polkitd: the rule of docs/polkit.md, "members of
unix group tenant-a may claim from tenant-a's groups", installed for the
test bus (tests/harness/polkit/60-hostdev-tenants.rules). It decides on
the details tenant (and the action) hostdevd passes with
org.hostdev1.claim-devices. The caller is a separate process running as
the unprivileged user tenant-a (uid 64001, groups tenant-a only; see
tests/harness/bus.py): it may claim from and release on tenant-a's group,
and is refused (AccessDenied, from polkit) on tenant-b's group and on the
parent pool, with nothing changed. The pool is the two GPUs of the
simulated host, each with its audio function."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import bus  # noqa: E402
from preparecase import ERR_ACCESS_DENIED, NOBODY, VFIO  # noqa: E402
from test_claim_release import ALL, CLAIM, RG, ClaimTestCase  # noqa: E402

TENANT_A = bus.TENANTS['tenant-a']
TENANT_B = bus.TENANTS['tenant-b']


class TenantPolkit(ClaimTestCase):

    def assign(self, tenant):
        return self.call(0, self.pool, RG, 'AssignToTenant', GLib.Variant('(sua{sv})', (tenant, 1, {})))[0]

    def companions(self, address):
        """address and the other functions of its IOMMU group (host.json)."""
        group = self.initial_group_of(address)
        return sorted(a for a in ALL if self.initial_group_of(a) == group)

    def whole_state(self):
        return self.state(), {g: props['Available'] for g, props in self.groups().items()}

    def test_tenant_uid_claims_only_from_its_tenant(self):
        tg_a = self.assign('tenant-a')
        [gpu_a] = [self.address_of(p) for p in self.client.get(tg_a, RG, 'Devices')]

        # The pool still offers its other member, but not to tenant-a.
        self.assertEqual(self.counts(), (2, 1, 0))
        before = self.whole_state()
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.claim('vm-a', 1, caller=TENANT_A))
        self.assertEqual(self.whole_state(), before)

        # Nor does tenant-b's group, to either tenant's members: the rule
        # names tenant-a only.
        tg_b = self.assign('tenant-b')
        before = self.whole_state()
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.claim('vm-a', 1, caller=TENANT_A, group=tg_b))
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.claim('vm-b', 1, caller=TENANT_B, group=tg_b))
        # and an unprivileged user outside tenant-a is refused on tenant-a's group
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.claim('vm-x', 1, caller=NOBODY, group=tg_a))
        self.assertEqual(self.whole_state(), before)

        # From its own group: claimed and prepared, then released.
        c = self.claim('vm-a', 1, caller=TENANT_A, group=tg_a)
        self.assertEqual(self.client.get(c, CLAIM, 'ResourceGroup'), tg_a)
        members = self.companions(gpu_a)
        self.assertEqual(self.client.get(c, CLAIM, 'Devices'), [self.dev_path(a) for a in members])
        self.assertOnDrivers({a: VFIO if a in members else self.host_drivers[a] for a in ALL})
        self.assertEqual(self.client.get(tg_a, RG, 'Available'), 0)
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.release_claim(c, caller=TENANT_B))
        self.release_claim(c, caller=TENANT_A)
        self.assertOnDrivers(self.host_drivers)
        self.assertEqual(self.claims(), [])
        self.assertEqual(self.client.get(tg_a, RG, 'Available'), 1)

    def address_of(self, path):
        for a in ALL:
            if self.dev_path(a) == path:
                return a
        self.fail('%s is none of the pool devices' % path)


if __name__ == '__main__':
    harness.main()
