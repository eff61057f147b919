#!/usr/bin/python3
"""hostdevd killed (SIGKILL) right after ResourceGroup.AssignToTenant or
ReturnToParent was called (they change only the store, in one write): after
the restart the state is the old one or the new one, never both - one
tenant group holding the first GPU of the pool and the pool offering one
member, or no tenant group and the pool offering both. The kill comes at
several moments after the call went out, from at once to after the reply.
Expectations come from host.json (the pool's members) and the store."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness.groups import PendingCall, store_dump  # noqa: E402
from preparecase import GPU1  # noqa: E402
from test_claim_release import RG, ClaimTestCase  # noqa: E402

TENANT = 'tenant-a'
# seconds between the call going out and the kill; None: once answered
MOMENTS = (0, 0.002, 0.01, 0.03, None)


class TenantCrash(ClaimTestCase):

    def stored_tenant_groups(self):
        """[(id, tenant, parent id)] of the tenants' group records."""
        out = []
        for k, v in store_dump(self.store_path).items():
            if not k.startswith('group/'):
                continue
            fields = dict(line.split('=', 1) for line in v.splitlines() if '=' in line)
            if fields.get('tenant'):
                out.append((k[len('group/'):], fields['tenant'], fields.get('parent')))
        return out

    @staticmethod
    def when(moment, method):
        return 'killed %s %s' % ('once answered' if moment is None else '%g s after' % moment, method)

    def kill_after(self, call, moment):
        if moment is None:
            call.wait(timeout=30)
        else:
            time.sleep(moment)
        self.kill_daemon()

    def assertOldOrNew(self, when):
        """Returns the tenant's group path when the new state holds, None
        for the old one."""
        stored = self.stored_tenant_groups()
        self.assertLessEqual(len(stored), 1, '%s: %r' % (when, stored))
        published = {p: g for p, g in self.groups().items() if g['Tenant']}
        self.assertEqual(len(published), len(stored), '%s: published %r, stored %r' % (when, published, stored))
        if not stored:
            self.assertEqual(self.counts(), (2, 2, 0), '%s: no tenant group, the pool offers both' % when)
            return None
        (gid, tenant, parent), = stored
        (path, props), = published.items()
        self.assertTrue(path.endswith('/' + gid), '%s: %s is not %s' % (when, path, gid))
        self.assertEqual(tenant, TENANT)
        self.assertTrue(self.pool.endswith('/' + parent), '%s: parent %s' % (when, parent))
        self.assertEqual((props['Tenant'], props['Parent']), (TENANT, self.pool), when)
        self.assertEqual(props['Devices'], [self.dev_path(GPU1)], when)
        self.assertEqual((props['Available'], props['Claimed']), (1, 0), when)
        self.assertEqual(self.counts(), (2, 1, 0), '%s: the pool still offers the tenant\'s member' % when)
        return path

    def assign_call(self):
        return PendingCall(self.client, self.pool, RG, 'AssignToTenant',
                           GLib.Variant('(sua{sv})', (TENANT, 1, {})), timeout=30)

    def return_call(self, group):
        return PendingCall(self.client, group, RG, 'ReturnToParent', GLib.Variant('(a{sv})', ({},)), timeout=30)

    def test_kill_after_assign(self):
        for moment in MOMENTS:
            with self.subTest(moment=moment):
                self.kill_after(self.assign_call(), moment)
                self.daemon.start()
                group = self.assertOldOrNew(self.when(moment, 'AssignToTenant'))
                if moment is None:
                    self.assertIsNotNone(group, 'answered, then lost')
                if group:
                    self.call(0, group, RG, 'ReturnToParent', GLib.Variant('(a{sv})', ({},)))
                self.assertIsNone(self.assertOldOrNew('back to the start'))

    def test_kill_after_return(self):
        for moment in MOMENTS:
            with self.subTest(moment=moment):
                group = self.call(0, self.pool, RG, 'AssignToTenant',
                                  GLib.Variant('(sua{sv})', (TENANT, 1, {})))[0]
                self.assertEqual(self.assertOldOrNew('assigned'), group)
                self.kill_after(self.return_call(group), moment)
                self.daemon.start()
                left = self.assertOldOrNew(self.when(moment, 'ReturnToParent'))
                if moment is None:
                    self.assertIsNone(left, 'answered, then lost')
                if left:
                    self.call(0, left, RG, 'ReturnToParent', GLib.Variant('(a{sv})', ({},)))
                self.assertIsNone(self.assertOldOrNew('back to the start'))


if __name__ == '__main__':
    harness.main()
