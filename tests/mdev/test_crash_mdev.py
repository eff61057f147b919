#!/usr/bin/python3
"""hostdevd killed (SIGKILL) in the middle of MdevParent.CreateMdev or
Mdev.Remove: the write to create (or remove) reached the kernel, which
holds its reaction back (harness/holdback.py) until hostdevd is dead, so
the add (or remove) event is never handled. After the restart every
mediated device is known or gone: an instance in sysfs is published as
hostdev's and stored, a stored one is in sysfs, and nothing is in sysfs
that hostdevd does not know. Expectations come from sysfs and the store.
The parent is the emulated one of tests/mdev/test_mdev.py."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.groups import GroupsTestCase, PendingCall, store_dump  # noqa: E402
from harness.holdback import HoldBack  # noqa: E402
from test_mdev import MDEV_IFACE, PARENT, PARENT_IFACE, UUID, UUID2, MdevCase, mdev_path  # noqa: E402

MANAGER = 'org.hostdev1.Manager'


class MdevCrash(MdevCase, GroupsTestCase):

    def stored(self):
        if not os.path.exists(self.store_path):
            return set()
        return {k[len('mdev/'):] for k in store_dump(self.store_path) if k.startswith('mdev/')}

    def published(self):
        """{uuid: Mdev properties} of the Mdev objects."""
        return {props[MDEV_IFACE]['Uuid']: props[MDEV_IFACE]
                for props in self.client.managed_objects().values() if MDEV_IFACE in props}

    def kill_at(self, key, match, call):
        """SIGKILL once the write the hold waits for reached the kernel,
        the call unanswered; then the kernel acts on it."""
        hold = HoldBack(self.kernel, key, match)
        self.addCleanup(hold.close)
        pending = call()
        self.wait_until(lambda: hold.arrived.is_set() or pending.done, timeout=30,
                        what='the write of %r' % (key,))
        self.assertFalse(pending.done, 'answered before the kill: %r %r' % (pending.reply, pending.error))
        self.kill_daemon()
        self.assertTrue(hold.release(), 'the kernel emulator did not settle')

    def start_create(self, uuid):
        return PendingCall(self.client, hostspec.pci_path(PARENT), PARENT_IFACE, 'CreateMdev',
                           GLib.Variant('(sa{sv})', ('mtty-1', {'uuid': GLib.Variant('s', uuid)})), timeout=60)

    def start_remove(self, uuid):
        return PendingCall(self.client, mdev_path(uuid), MDEV_IFACE, 'Remove', GLib.Variant('(a{sv})', ({},)),
                           timeout=60)

    def assertKnownOrGone(self, when):
        """sysfs, the store and the bus name the same instances, each
        hostdev's; Converged. Returns the instances."""
        self.wait_until(lambda: self.client.get(hostspec.ROOT_PATH, MANAGER, 'Converged'), timeout=30,
                        what='hostdevd to converge %s' % when)
        self.assertTrue(self.kernel.settle())
        sysfs = set(self.sysfs_instances())
        self.assertEqual(self.stored(), sysfs, '%s: stored and in sysfs differ' % when)
        pub = self.published()
        self.assertEqual(set(pub), sysfs, '%s: published and in sysfs differ' % when)
        for uuid, props in pub.items():
            self.assertEqual(props['Source'], 'hostdev', '%s: %s' % (when, uuid))
            _parent, type_id, group = self.mdev.instances[uuid]
            self.assertEqual((props['Type'], props['IommuGroup']), (type_id, group), when)
        self.assertEqual(self.client.get(hostspec.ROOT_PATH, MANAGER, 'ConvergeProblems'), [])
        self.wait_until(lambda: self.supported() == self.sysfs_types(), what='SupportedTypes follows sysfs')
        return sysfs

    def test_kill_after_the_create_write(self):
        """The instance appears while hostdevd is dead."""
        self.kill_at(('mdev-type', 'create'), lambda key, v: key == (PARENT, 'mtty-1') and v.lower() == UUID,
                     lambda: self.start_create(UUID))
        self.assertEqual(self.sysfs_instances(), [UUID], 'the kernel did not create it')
        self.daemon.start()
        left = self.assertKnownOrGone('after the restart')
        # hostdev's to remove, whichever way it went
        if left:
            self.remove(mdev_path(UUID))
        self.assertEqual(self.sysfs_instances(), [])
        self.assertEqual(self.stored(), set())

    def test_kill_after_the_remove_write(self):
        """Of two instances, one is being removed: it goes while hostdevd
        is dead; the other stays as it was."""
        self.create('mtty-1', {'uuid': GLib.Variant('s', UUID)})
        self.create('mtty-1', {'uuid': GLib.Variant('s', UUID2)})
        self.assertEqual(self.stored(), {UUID, UUID2})
        self.kill_at(('mdev-dev', 'remove'), lambda key, v: key == UUID, lambda: self.start_remove(UUID))
        self.assertEqual(self.sysfs_instances(), [UUID2], 'the kernel did not remove it')
        self.daemon.start()
        left = self.assertKnownOrGone('after the restart')
        self.assertIn(UUID2, left)
        for uuid in sorted(left):
            self.remove(mdev_path(uuid))
        self.assertEqual((self.sysfs_instances(), self.stored()), ([], set()))


if __name__ == '__main__':
    harness.main()
