#!/usr/bin/python3
"""Tenants: AssignToTenant moves members of a pool into a tenant's own
group (thick provisioning), ReturnToParent gives them back, and neither
a claimed tenant group nor a parent with tenant groups can go away. The
pool is the two GPUs of the simulated host (two members)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from preparecase import ERR_ACCESS_DENIED, ERR_INVALID, GPU1, NOBODY  # noqa: E402
from test_claim_release import CLAIM, RG, ClaimTestCase  # noqa: E402

ERR_BUSY = 'org.hostdev1.Error.Busy'


class Tenants(ClaimTestCase):

    def assign(self, tenant, count, caller=0):
        return self.call(caller, self.pool, RG, 'AssignToTenant',
                         GLib.Variant('(sua{sv})', (tenant, count, {})))[0]

    def give_back(self, group, caller=0):
        return self.call(caller, group, RG, 'ReturnToParent', GLib.Variant('(a{sv})', ({},)))

    def test_assign_claim_return(self):
        tg = self.assign('tenant-a', 1)
        props = self.client.get_all(tg, RG)
        self.assertEqual((props['Tenant'], props['Parent']), ('tenant-a', self.pool))
        self.assertEqual(props['Type'], 'pci')
        self.assertEqual(props['Devices'], [self.dev_path(GPU1)])
        self.assertEqual((props['Available'], props['Claimed']), (1, 0))
        # the parent still lists it but no longer offers it
        self.assertEqual(self.counts(), (2, 1, 0))
        self.assertEqual(self.client.get_all(self.pool, RG)['Parent'], '/')

        c = self.claim('vm-t', 1, {'prepare': False}, group=tg)
        self.assertEqual(self.client.get(c, CLAIM, 'ResourceGroup'), tg)
        self.assertEqual(self.client.get_all(tg, RG)['Available'], 0)
        self.expect_error(ERR_BUSY, lambda: self.give_back(tg), c.rsplit('/', 1)[1])
        self.expect_error(ERR_BUSY, lambda: self.delete(self.pool), 'tenant')
        self.release_claim(c)

        self.stop_daemon()
        self.daemon.start()
        self.assertEqual(self.client.get_all(tg, RG)['Tenant'], 'tenant-a')
        self.assertEqual(self.counts(), (2, 1, 0))

        self.give_back(tg)
        self.assertNotIn(tg, self.client.managed_objects())
        self.assertEqual(self.counts(), (2, 2, 0))
        self.expect_error(ERR_INVALID, lambda: self.give_back(self.pool), 'tenant')
        self.delete(self.pool)

    def test_refused_for_nobody(self):
        before = self.state()
        groups = sorted(self.groups())
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.assign('tenant-a', 1, caller=NOBODY))
        self.assertEqual((self.state(), sorted(self.groups())), (before, groups))
        tg = self.assign('tenant-a', 1)
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.give_back(tg, caller=NOBODY))
        self.assertIn(tg, self.groups())

    def test_bad_input(self):
        before = self.state()
        groups = sorted(self.groups())
        self.expect_error(ERR_INVALID, lambda: self.assign('', 1), 'tenant')
        self.expect_error(ERR_INVALID, lambda: self.assign('tenant-a', 0), 'count')
        self.expect_error('org.hostdev1.Error.InsufficientDevices', lambda: self.assign('tenant-a', 3))
        self.assertEqual((self.state(), sorted(self.groups())), (before, groups))


if __name__ == '__main__':
    harness.main()
