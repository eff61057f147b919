#!/usr/bin/python3
"""Mediated devices: a GPU of the simulated host is made an mtty-like
parent with two types (a few instances each) before hostdevd starts. It
shows org.hostdev1.MdevParent with SupportedTypes as in sysfs; CreateMdev
writes create and returns an org.hostdev1.Mdev object once the kernel's
add event came; Remove takes it away. Past the limit, with bad input or
from an unprivileged caller, nothing is written to the kernel."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.client import CallError, added, removed  # noqa: E402
from harness.groups import NOBODY, call_as  # noqa: E402
from harness.kernel import MdevEmulator  # noqa: E402

from gi.repository import GLib  # noqa: E402

PARENT = '0000:01:00.0'
TYPES = [
    {'id': 'mtty-1', 'name': 'Single port serial', 'description': 'mtty, 1 port', 'available': 4},
    {'id': 'mtty-2', 'name': 'Dual port serial', 'description': 'mtty, 2 ports', 'available': 1},
]
PARENT_IFACE = 'org.hostdev1.MdevParent'
MDEV_IFACE = 'org.hostdev1.Mdev'
UUID = '83b8f4f2-509f-382f-3c1e-e6bfe0fa1001'
UUID2 = '83b8f4f2-509f-382f-3c1e-e6bfe0fa1002'

ERR_INVALID = 'org.hostdev1.Error.InvalidArgument'
ERR_EXISTS = 'org.hostdev1.Error.Exists'
ERR_INSUFFICIENT = 'org.hostdev1.Error.InsufficientDevices'
ERR_ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
ERR_INTERACTIVE = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'


def mdev_path(uuid):
    return hostspec.ROOT_PATH + '/mdev/' + uuid.replace('-', '_')


class MdevCase(HostdevTestCase):
    """A parent with types made before hostdevd starts: by default the GPU
    PARENT with TYPES (test_mdev_virtual.py makes a parent of its own)."""
    parent = PARENT                             # the parent's name for MdevEmulator
    parent_path = hostspec.pci_path(PARENT)     # its object
    types = TYPES

    def prepare_host(self):
        self.pending_parent = True

    def setUp(self):
        self.start_daemon = False
        super().setUp()
        self.mdev = MdevEmulator(self.sim, self.kernel)
        self.add_parent()
        self.before_start()
        self.daemon.start()

    def add_parent(self):
        self.mdev.add_parent(self.parent, self.types)

    def before_start(self):
        """Tests may make instances before hostdevd starts."""

    # ---- helpers ----
    def sysfs_types(self):
        """SupportedTypes as sysfs says, sorted by id."""
        out = []
        for t in sorted(self.types, key=lambda t: t['id']):
            d = self.mdev.type_dir(self.parent, t['id'])
            out.append((t['id'], self.sim.read(d + '/name').strip(), self.sim.read(d + '/description').strip(),
                        int(self.sim.read(d + '/available_instances'))))
        return out

    def supported(self):
        return [tuple(t) for t in self.client.get(self.parent_path, PARENT_IFACE, 'SupportedTypes')]

    def create(self, type_id, options=None, caller=None):
        params = GLib.Variant('(sa{sv})', (type_id, options or {}))
        if caller is not None:
            return call_as(self.shared.address, caller, self.parent_path, PARENT_IFACE, 'CreateMdev', params)[0]
        return self.client.call(self.parent_path, PARENT_IFACE, 'CreateMdev', params)[0]

    def remove(self, path, caller=None):
        params = GLib.Variant('(a{sv})', ({},))
        if caller is not None:
            return call_as(self.shared.address, caller, path, MDEV_IFACE, 'Remove', params)
        return self.client.call(path, MDEV_IFACE, 'Remove', params)

    def sysfs_instances(self):
        return sorted(os.listdir(self.sim.real('/sys/bus/mdev/devices')))

    def refused(self, what, func, names):
        with self.subTest(refused=what):
            self.assertTrue(self.kernel.settle())
            writes, before = len(self.kernel.log), self.sysfs_instances()
            with self.assertRaises(CallError, msg=what) as cm:
                func()
            self.assertIn(cm.exception.name, names, '%s: %s' % (what, cm.exception.message))
            self.assertTrue(cm.exception.message.strip())
            self.assertTrue(self.kernel.settle())
            self.assertEqual(self.kernel.log[writes:], [], '%s wrote to the kernel' % what)
            self.assertEqual(self.sysfs_instances(), before)


class Mdev(MdevCase):

    def test_parent_shows_its_types(self):
        """The parent's object has MdevParent, SupportedTypes as in sysfs;
        a device without mdev_supported_types has not."""
        objects = self.client.managed_objects()
        self.assertIn(PARENT_IFACE, objects[hostspec.pci_path(PARENT)])
        self.assertEqual(self.supported(), self.sysfs_types())
        self.assertEqual([t[0] for t in self.supported()], sorted(t['id'] for t in TYPES))
        others = [p for p, ifaces in objects.items() if PARENT_IFACE in ifaces]
        self.assertEqual(others, [hostspec.pci_path(PARENT)])

    def test_create_and_remove(self):
        """CreateMdev makes the instance in sysfs and an Mdev object, with
        InterfacesAdded, and available_instances drops; Remove undoes both."""
        rec = self.record_signals()
        before = dict((t[0], t[3]) for t in self.sysfs_types())
        path = self.create('mtty-1', {'uuid': GLib.Variant('s', UUID.upper())})
        self.assertEqual(path, mdev_path(UUID))
        self.assertEqual(self.sysfs_instances(), [UUID])
        props = self.client.get_all(path, MDEV_IFACE)
        _parent, type_id, group = self.mdev.instances[UUID]
        self.assertEqual(props['Uuid'], UUID)
        self.assertEqual(props['Type'], type_id)
        self.assertEqual(props['Parent'], hostspec.pci_path(PARENT))
        self.assertEqual(props['IommuGroup'], group)
        self.assertEqual(props['Claimed'], False)
        self.assertEqual(props['Source'], 'hostdev')
        self.assertIn(path, self.client.managed_objects())
        rec.wait_for(lambda _ev: rec.seen(added(path)), what='InterfacesAdded of the mdev')
        self.assertIn(MDEV_IFACE, rec.first(added(path))['interfaces'])
        self.assertEqual(self.mdev.available(PARENT, 'mtty-1'), before['mtty-1'] - 1)
        self.wait_until(lambda: self.supported() == self.sysfs_types(), what='SupportedTypes follows sysfs')

        self.remove(path)
        self.assertEqual(self.sysfs_instances(), [])
        self.assertNotIn(path, self.client.managed_objects())
        rec.wait_for(lambda _ev: rec.seen(removed(path)), what='InterfacesRemoved of the mdev')
        self.assertIn(MDEV_IFACE, rec.first(removed(path))['interfaces'])
        rec.wait_for(lambda _ev: rec.changed(hostspec.pci_path(PARENT), PARENT_IFACE, 'SupportedTypes'),
                     what='SupportedTypes changed')
        self.assertEqual(self.mdev.available(PARENT, 'mtty-1'), before['mtty-1'])
        self.wait_until(lambda: self.supported() == self.sysfs_types(), what='SupportedTypes back')

    def test_random_uuid(self):
        """Without the uuid option hostdevd picks one."""
        path = self.create('mtty-1')
        self.assertEqual(len(self.sysfs_instances()), 1)
        self.assertEqual(path, mdev_path(self.sysfs_instances()[0]))

    def test_past_the_limit(self):
        """mtty-2 has room for one: the second is InsufficientDevices naming
        the type, and nothing is written."""
        self.create('mtty-2', {'uuid': GLib.Variant('s', UUID)})
        self.assertEqual(self.mdev.available(PARENT, 'mtty-2'), 0)
        self.refused('a second mtty-2', lambda: self.create('mtty-2', {'uuid': GLib.Variant('s', UUID2)}),
                     (ERR_INSUFFICIENT,))
        try:
            self.create('mtty-2')
        except CallError as e:
            self.assertEqual(e.name, ERR_INSUFFICIENT)
            self.assertIn('mtty-2', e.message)

    def test_bad_input(self):
        """Bad or unknown type ids, malformed and duplicate UUIDs: named
        errors, nothing written."""
        for bad in ('../mtty-1', 'mtty-1/create', '', 'no-such-type'):
            self.refused('type %r' % bad, lambda: self.create(bad), (ERR_INVALID,))
        for bad in ('not-a-uuid', UUID[:-1], UUID + '0', UUID.replace('-', '_'), 'g' + UUID[1:]):
            self.refused('uuid %r' % bad, lambda: self.create('mtty-1', {'uuid': GLib.Variant('s', bad)}),
                         (ERR_INVALID,))
        self.create('mtty-1', {'uuid': GLib.Variant('s', UUID)})
        self.refused('duplicate uuid', lambda: self.create('mtty-1', {'uuid': GLib.Variant('s', UUID)}),
                     (ERR_EXISTS,))
        self.refused('duplicate uuid, other type',
                     lambda: self.create('mtty-2', {'uuid': GLib.Variant('s', UUID.upper())}), (ERR_EXISTS,))

    def test_unprivileged_refused(self):
        """nobody may neither create nor remove."""
        self.refused('CreateMdev as nobody', lambda: self.create('mtty-1', caller=NOBODY),
                     (ERR_ACCESS_DENIED, ERR_INTERACTIVE))
        path = self.create('mtty-1', {'uuid': GLib.Variant('s', UUID)})
        self.refused('Remove as nobody', lambda: self.remove(path, caller=NOBODY),
                     (ERR_ACCESS_DENIED, ERR_INTERACTIVE))
        self.assertIn(path, self.client.managed_objects())


class Persistence(MdevCase):

    def converged(self):
        return self.client.get(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'Converged')

    def test_restart_recreates(self):
        """An instance made through hostdevd and lost while it was down (a
        reboot) is created again at start-up, same UUID and type; one that
        was removed through hostdevd is not. Converged says so."""
        path = self.create('mtty-1', {'uuid': GLib.Variant('s', UUID)})
        self.remove(self.create('mtty-2', {'uuid': GLib.Variant('s', UUID2)}))
        self.assertEqual(self.daemon.stop(), [])
        self.write_sysfs('/sys/bus/mdev/devices/%s/remove' % UUID, '1')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.sysfs_instances(), [])

        self.daemon.start()
        self.wait_until(lambda: self.sysfs_instances() == [UUID], what='the instance recreated in sysfs')
        self.wait_until(lambda: path in self.client.managed_objects(), what='its object')
        self.assertEqual(self.client.get(path, MDEV_IFACE, 'Type'), 'mtty-1')
        self.assertEqual(self.mdev.instances[UUID][1], 'mtty-1')
        self.wait_until(self.converged, what='Converged')

    def test_missing_parent_type_is_a_problem(self):
        """A recorded instance that cannot be made again (its type has no
        room left) leaves Converged false with a problem naming it."""
        self.create('mtty-2', {'uuid': GLib.Variant('s', UUID)})
        self.assertEqual(self.daemon.stop(), [])
        self.write_sysfs('/sys/bus/mdev/devices/%s/remove' % UUID, '1')
        self.assertTrue(self.kernel.settle())
        # someone else took the only mtty-2 meanwhile
        self.write_sysfs(self.mdev.type_dir(PARENT, 'mtty-2') + '/create', UUID2)
        self.assertTrue(self.kernel.settle())

        self.daemon.start()
        self.wait_until(lambda: not self.converged(), what='Converged false')
        problems = self.client.get(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'ConvergeProblems')
        self.assertTrue(any(UUID in text for _subject, text in problems), problems)
        self.assertEqual(self.sysfs_instances(), [UUID2])


UUID_RUNNING = '5d4f2a1c-0000-4000-8000-00000000a001'
UUID_DEFINED = '5d4f2a1c-0000-4000-8000-00000000a002'


class Mdevctl(MdevCase):
    """Two mdevctl definitions in the emulated /etc: one running, one not
    started."""

    def before_start(self):
        import json
        self.etc = os.path.join(self.workdir, 'etc')
        d = os.path.join(self.etc, 'mdevctl.d', PARENT)
        os.makedirs(d)
        for uuid, type_id in ((UUID_RUNNING, 'mtty-1'), (UUID_DEFINED, 'mtty-1')):
            with open(os.path.join(d, uuid), 'w') as f:
                json.dump({'mdev_type': type_id, 'start': 'manual', 'attrs': []}, f)
        with open(os.path.join(d, 'not-a-uuid'), 'w') as f:
            f.write('{}')
        self.write_sysfs(self.mdev.type_dir(PARENT, 'mtty-1') + '/create', UUID_RUNNING)
        self.assertTrue(self.kernel.settle())
        self.daemon.extra_env['HOSTDEV_ETC_ROOT'] = self.etc

    def test_listed_read_only(self):
        """Both are Mdev objects with Source mdevctl, the one not started
        inactive; Remove is refused on both and writes nothing; a create
        with a defined UUID is Exists."""
        objects = self.client.managed_objects()
        running = objects[mdev_path(UUID_RUNNING)][MDEV_IFACE]
        defined = objects[mdev_path(UUID_DEFINED)][MDEV_IFACE]
        self.assertEqual((running['Source'], running['Active']), ('mdevctl', True))
        self.assertEqual((defined['Source'], defined['Active'], defined['IommuGroup']), ('mdevctl', False, -1))
        self.assertEqual(defined['Type'], 'mtty-1')
        for uuid in (UUID_RUNNING, UUID_DEFINED):
            self.refused('Remove of ' + uuid, lambda: self.remove(mdev_path(uuid)),
                         ('org.hostdev1.Error.NotSupported',))
        self.refused('create with a defined uuid',
                     lambda: self.create('mtty-1', {'uuid': GLib.Variant('s', UUID_DEFINED)}), (ERR_EXISTS,))
        with open(os.path.join(self.etc, 'mdevctl.d', PARENT, UUID_DEFINED)) as f:
            self.assertIn('mtty-1', f.read())

    def test_import(self):
        """Import makes them hostdev's: the one not started is created, both
        survive a restart as hostdev's and can be removed; the files stay.
        nobody may not import."""
        self.refused('Import as nobody',
                     lambda: call_as(self.shared.address, NOBODY, mdev_path(UUID_DEFINED), MDEV_IFACE, 'Import',
                                     GLib.Variant('(a{sv})', ({},))),
                     (ERR_ACCESS_DENIED, ERR_INTERACTIVE))
        for uuid in (UUID_RUNNING, UUID_DEFINED):
            self.client.call(mdev_path(uuid), MDEV_IFACE, 'Import', GLib.Variant('(a{sv})', ({},)))
        self.wait_until(lambda: self.sysfs_instances() == sorted([UUID_RUNNING, UUID_DEFINED]),
                        what='the defined one created')
        self.wait_until(lambda: self.client.get(mdev_path(UUID_DEFINED), MDEV_IFACE, 'Active'), what='Active')
        self.restart_daemon()
        for uuid in (UUID_RUNNING, UUID_DEFINED):
            self.assertEqual(self.client.get(mdev_path(uuid), MDEV_IFACE, 'Source'), 'hostdev')
        self.remove(mdev_path(UUID_DEFINED))
        self.assertEqual(self.sysfs_instances(), [UUID_RUNNING])
        self.assertTrue(os.path.exists(os.path.join(self.etc, 'mdevctl.d', PARENT, UUID_DEFINED)))


class Cli(MdevCase):
    """hostdevctl mdev, against the same daemon."""

    def ctl(self, *args, expect=0):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cli'))
        from clitest import cli_env, run_cli
        r = run_cli(('--no-ask-password',) + args, cli_env(self.shared.address))
        self.assertEqual(r.returncode, expect, 'hostdevctl %s:\n%s%s' % (' '.join(args), r.stdout, r.stderr))
        return r

    def test_types_create_list_remove(self):
        """types shows what sysfs offers; create --uuid makes it (sysfs),
        list shows it, remove takes it away; an unknown type fails with the
        daemon's reason and nothing is written."""
        lines = self.ctl('mdev', 'types', '--no-legend').stdout.splitlines()
        want = ['%s %s %d %s' % (PARENT, t[0], t[3], t[1]) for t in self.sysfs_types()]
        self.assertEqual([' '.join(line.split()) for line in lines], want)
        self.assertEqual(self.ctl('mdev', 'types', PARENT, '--no-legend').stdout, '\n'.join(lines) + '\n')

        out = self.ctl('mdev', 'create', PARENT, 'mtty-1', '--uuid', UUID).stdout
        self.assertEqual(out.strip(), UUID)
        self.assertEqual(self.sysfs_instances(), [UUID])
        rows = [line.split() for line in self.ctl('mdev', 'list', '--no-legend').stdout.splitlines()]
        self.assertEqual(rows, [[UUID, PARENT, 'mtty-1', 'hostdev', 'active']])

        writes = len(self.kernel.log)
        r = self.ctl('mdev', 'create', PARENT, 'no-such-type', expect=1)
        self.assertIn('no-such-type', r.stderr)
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])

        self.ctl('mdev', 'remove', UUID)
        self.assertEqual(self.sysfs_instances(), [])
        self.assertEqual(self.ctl('mdev', 'list', '--no-legend').stdout, '')


class FoundAtStart(MdevCase):

    def before_start(self):
        self.write_sysfs(self.mdev.type_dir(PARENT, 'mtty-1') + '/create', UUID)
        self.assertTrue(self.kernel.settle())

    def test_existing_instance_is_listed(self):
        """An instance made before hostdevd started is an Mdev object."""
        objects = self.client.managed_objects()
        self.assertIn(mdev_path(UUID), objects)
        props = objects[mdev_path(UUID)][MDEV_IFACE]
        self.assertEqual(props['Type'], self.mdev.instances[UUID][1])
        self.assertEqual(props['Parent'], hostspec.pci_path(PARENT))
        self.assertEqual(self.supported(), self.sysfs_types())


if __name__ == '__main__':
    harness.main()
