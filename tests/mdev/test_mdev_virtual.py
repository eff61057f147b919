#!/usr/bin/python3
"""A mediated device parent that is no PCI device, as the mtty sample
registers it (/sys/devices/virtual/mtty/mtty, linked from
/sys/class/mdev_bus): hostdevd publishes it as an object of its own,
/org/hostdev1/mdev_parent/mtty, with org.hostdev1.MdevParent. CreateMdev
on it makes the instance in sysfs, Mdev.Parent names that object, Remove
takes it away, and an instance lost while hostdevd was down is made again
at start-up. hostdevctl mdev names the parent by its device name."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402,F401
from harness import hostspec  # noqa: E402
from harness.client import CallError, added, removed  # noqa: E402
from harness.groups import NOBODY  # noqa: E402
from test_mdev import (  # noqa: E402
    ERR_ACCESS_DENIED, ERR_INSUFFICIENT, ERR_INTERACTIVE, ERR_INVALID, MDEV_IFACE, PARENT_IFACE, MdevCase,
    mdev_path)

from gi.repository import GLib  # noqa: E402

NAME = 'mtty'
TYPES = [
    {'id': 'mtty-1', 'name': 'Single port serial', 'description': 'mtty, 1 port', 'available': 2},
    {'id': 'mtty-2', 'name': 'Dual port serial', 'description': 'mtty, 2 ports', 'available': 1},
]
PARENT_PATH = hostspec.ROOT_PATH + '/mdev_parent/' + NAME
UUID = '6a1e0b52-7c1d-4f0e-9b8a-0000000c0001'


class VirtualParentCase(MdevCase):
    parent = NAME
    parent_path = PARENT_PATH
    types = TYPES

    def add_parent(self):
        self.mdev.add_virtual_parent(NAME, TYPES)


class VirtualParent(VirtualParentCase):

    def test_parent_object(self):
        """The parent is an object of its own with MdevParent and the types
        sysfs shows; no PCI or USB device object has its types."""
        objects = self.client.managed_objects()
        self.assertIn(PARENT_PATH, objects)
        self.assertEqual(list(objects[PARENT_PATH]), [PARENT_IFACE])
        self.assertEqual(self.supported(), self.sysfs_types())
        self.assertEqual(self.client.get_all(PARENT_PATH, PARENT_IFACE)['VirtualFunctionTypes'], [])

    def test_create_and_remove(self):
        """CreateMdev makes /sys/bus/mdev/devices/<uuid> under the virtual
        parent; the Mdev names the parent's object; Remove undoes it."""
        rec = self.record_signals()
        before = self.mdev.available(NAME, 'mtty-1')
        path = self.create('mtty-1', {'uuid': GLib.Variant('s', UUID)})
        self.assertEqual(path, mdev_path(UUID))
        self.assertEqual(self.sysfs_instances(), [UUID])
        link = os.path.realpath(self.sim.real('/sys/bus/mdev/devices/' + UUID))
        self.assertEqual(link, self.sim.real(self.sim.devpaths[NAME] + '/' + UUID))
        props = self.client.get_all(path, MDEV_IFACE)
        self.assertEqual(props['Parent'], PARENT_PATH)
        self.assertEqual(props['Type'], self.mdev.instances[UUID][1])
        self.assertEqual(props['IommuGroup'], self.mdev.instances[UUID][2])
        rec.wait_for(lambda _ev: rec.seen(added(path)), what='InterfacesAdded of the mdev')
        self.assertEqual(self.mdev.available(NAME, 'mtty-1'), before - 1)
        self.wait_until(lambda: self.supported() == self.sysfs_types(), what='SupportedTypes follows sysfs')

        self.remove(path)
        self.assertEqual(self.sysfs_instances(), [])
        rec.wait_for(lambda _ev: rec.seen(removed(path)), what='InterfacesRemoved of the mdev')
        rec.wait_for(lambda _ev: rec.changed(PARENT_PATH, PARENT_IFACE, 'SupportedTypes'),
                     what='SupportedTypes changed')
        self.assertEqual(self.mdev.available(NAME, 'mtty-1'), before)
        self.wait_until(lambda: self.supported() == self.sysfs_types(), what='SupportedTypes back')

    def test_past_the_limit_and_refusals(self):
        """No room, an unknown type, an unprivileged caller: named errors,
        nothing written."""
        self.create('mtty-2', {'uuid': GLib.Variant('s', UUID)})
        for what, func, names in (
                ('a second mtty-2', lambda: self.create('mtty-2'), (ERR_INSUFFICIENT,)),
                ('unknown type', lambda: self.create('no-such-type'), (ERR_INVALID,)),
                ('nobody', lambda: self.create('mtty-1', caller=NOBODY), (ERR_ACCESS_DENIED, ERR_INTERACTIVE))):
            with self.subTest(refused=what):
                self.assertTrue(self.kernel.settle())
                writes = len(self.kernel.log)
                with self.assertRaises(CallError) as cm:
                    func()
                self.assertIn(cm.exception.name, names, cm.exception.message)
                self.assertTrue(self.kernel.settle())
                self.assertEqual(self.kernel.log[writes:], [])
        self.assertEqual(self.sysfs_instances(), [UUID])

    def test_restart_recreates(self):
        """An instance lost while hostdevd was down is made again on the
        same parent at start-up; one removed through hostdevd is not."""
        path = self.create('mtty-1', {'uuid': GLib.Variant('s', UUID)})
        self.assertEqual(self.daemon.stop(), [])
        self.write_sysfs('/sys/bus/mdev/devices/%s/remove' % UUID, '1')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.sysfs_instances(), [])

        self.daemon.start()
        self.wait_until(lambda: self.sysfs_instances() == [UUID], what='the instance recreated in sysfs')
        self.assertEqual(self.mdev.instances[UUID][:2], (NAME, 'mtty-1'))
        self.wait_until(lambda: path in self.client.managed_objects(), what='its object')
        self.assertEqual(self.client.get(path, MDEV_IFACE, 'Parent'), PARENT_PATH)

        self.remove(path)
        self.restart_daemon()
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.sysfs_instances(), [])


class KernelOrder(VirtualParentCase):

    def test_add_event_before_mdev_type(self):
        """As the kernel does it: the add event comes before the driver
        is bound and mdev_type exists; the instance is still published once
        mdev_type is there."""
        devpath = self.sim.devpaths[NAME] + '/' + UUID
        self.sim.mkdir(devpath)
        self.sim.symlink('/sys/bus/mdev', devpath + '/subsystem')
        self.sim.write(devpath + '/uevent', '')
        self.sim.symlink(devpath, '/sys/bus/mdev/devices/' + UUID)
        self.sim.uevent(devpath, 'add')
        self.assertTrue(self.kernel.settle())
        self.sim.symlink(self.mdev.type_dir(NAME, 'mtty-1'), devpath + '/mdev_type')
        self.wait_until(lambda: mdev_path(UUID) in self.client.managed_objects(), what='the instance published')
        props = self.client.get_all(mdev_path(UUID), MDEV_IFACE)
        self.assertEqual(props['Type'], 'mtty-1')
        self.assertEqual(props['Parent'], PARENT_PATH)


class Cli(VirtualParentCase):

    def ctl(self, *args, expect=0):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cli'))
        from clitest import cli_env, run_cli
        r = run_cli(('--no-ask-password',) + args, cli_env(self.shared.address))
        self.assertEqual(r.returncode, expect, 'hostdevctl %s:\n%s%s' % (' '.join(args), r.stdout, r.stderr))
        return r

    def test_types_create_list(self):
        """mdev types lists the parent by its name; create NAME TYPE makes
        the instance; list shows it on that parent."""
        want = ['%s %s %d %s' % (NAME, t[0], t[3], t[1]) for t in self.sysfs_types()]
        lines = self.ctl('mdev', 'types', '--no-legend').stdout.splitlines()
        self.assertEqual([' '.join(line.split()) for line in lines if line.split()[0] == NAME], want)
        lines = self.ctl('mdev', 'types', NAME, '--no-legend').stdout.splitlines()
        self.assertEqual([' '.join(line.split()) for line in lines], want)

        self.assertEqual(self.ctl('mdev', 'create', NAME, 'mtty-1', '--uuid', UUID).stdout.strip(), UUID)
        self.assertEqual(self.sysfs_instances(), [UUID])
        rows = [line.split() for line in self.ctl('mdev', 'list', '--no-legend').stdout.splitlines()]
        self.assertEqual(rows, [[UUID, NAME, 'mtty-1', 'hostdev', 'active']])
        self.ctl('mdev', 'remove', UUID)
        self.assertEqual(self.sysfs_instances(), [])


if __name__ == '__main__':
    harness.main()
