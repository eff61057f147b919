#!/usr/bin/python3
"""NVIDIA vGPU on SR-IOV VFs: the two L40 of host.json hotplug.vgpu are
plugged in before hostdevd starts (harness/kernel.py NvidiaVgpuEmulator
plays the vGPU host driver). Once SetNumVfs enabled VFs, each VF has
nvidia/creatable_vgpu_types and nvidia/current_vgpu_type; the PF shows
org.hostdev1.MdevParent, whose CreateMdev picks a free VF and writes the
type, and the result is an org.hostdev1.Mdev object whose handle is the
VF. Expectations come from the fixture and from the emulated sysfs."""

import copy
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.client import CallError, added, removed  # noqa: E402
from harness.groups import NOBODY, call_as  # noqa: E402
from harness.kernel import NvidiaVgpuEmulator  # noqa: E402

from gi.repository import GLib  # noqa: E402

PARENT_IFACE = 'org.hostdev1.MdevParent'
MDEV_IFACE = 'org.hostdev1.Mdev'
SRIOV = 'org.hostdev1.SriovPhysicalFunction'
ERR_INVALID = 'org.hostdev1.Error.InvalidArgument'
ERR_INSUFFICIENT = 'org.hostdev1.Error.InsufficientDevices'
ERR_ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
ERR_INTERACTIVE = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'


def vgpu_spec(host):
    return host.data['hotplug']['vgpu']


def gpus(host):
    return [d['address'] for d in vgpu_spec(host)['pci'] if d.get('nvidia_vgpu')]


def vf_mdev_path(vf):
    return hostspec.ROOT_PATH + '/mdev/vf_' + vf.replace(':', '_').replace('.', '_')


class VgpuCase(HostdevTestCase):
    num_vfs = 6

    def setUp(self):
        self.start_daemon = False
        super().setUp()
        # a copy: the emulator changes the specs it is given (sriov numvfs)
        self.sim.add_pci_devices(copy.deepcopy(vgpu_spec(self.host)['pci']))
        self.nv = NvidiaVgpuEmulator(self.sim, self.kernel)
        self.daemon.start()
        self.gpus = gpus(self.host)
        self.pf = self.gpus[0]
        for pf in self.gpus:
            self.enable_vfs(pf, self.num_vfs)

    # ---- helpers ----
    def enable_vfs(self, pf, count):
        self.client.call(hostspec.pci_path(pf), SRIOV, 'SetNumVfs', GLib.Variant('(ua{sv})', (count, {})),
                         timeout=60)
        self.wait_until(lambda: len(self.nv.vfs(pf)) == count, what='%d VFs on %s' % (count, pf))
        self.wait_until(lambda: PARENT_IFACE in self.client.managed_objects().get(hostspec.pci_path(pf), {}),
                        what='MdevParent on %s' % pf)

    def fixture_type(self, pf, type_id):
        spec = next(d for d in vgpu_spec(self.host)['pci'] if d['address'] == pf)
        return next(t for t in spec['nvidia_vgpu']['types'] if t['id'] == type_id)

    def sysfs_offer(self, pf):
        """{type id: free VFs listing it} as the VFs' sysfs files say."""
        out = {}
        for vf in self.nv.vfs(pf):
            if self.nv.read_current(vf):
                continue
            for t in self.nv.read_creatable(vf):
                out[str(t)] = out.get(str(t), 0) + 1
        return out

    def supported(self, pf):
        return {t[0]: (t[1], t[3]) for t in self.client.get(hostspec.pci_path(pf), PARENT_IFACE, 'SupportedTypes')}

    def sysfs_vf_types(self, pf):
        """VirtualFunctionTypes as the VFs' sysfs files say."""
        return [(hostspec.pci_path(vf), str(self.nv.read_current(vf) or ''),
                 [str(t) for t in self.nv.read_creatable(vf)]) for vf in self.nv.vfs(pf)]

    def follows_sysfs(self, pf):
        offer, shown = self.sysfs_offer(pf), self.supported(pf)
        per_vf = [tuple(v) for v in self.client.get(hostspec.pci_path(pf), PARENT_IFACE, 'VirtualFunctionTypes')]
        return set(offer) <= set(shown) and all(shown[t][1] == offer.get(t, 0) for t in shown) and \
            per_vf == [(p, c, list(ts)) for p, c, ts in self.sysfs_vf_types(pf)]

    def create(self, type_id, pf=None, options=None, caller=None):
        params = GLib.Variant('(sa{sv})', (type_id, options or {}))
        path = hostspec.pci_path(pf or self.pf)
        if caller is not None:
            return call_as(self.shared.address, caller, path, PARENT_IFACE, 'CreateMdev', params)[0]
        return self.client.call(path, PARENT_IFACE, 'CreateMdev', params)[0]

    def remove(self, path, caller=None):
        params = GLib.Variant('(a{sv})', ({},))
        if caller is not None:
            return call_as(self.shared.address, caller, path, MDEV_IFACE, 'Remove', params)
        return self.client.call(path, MDEV_IFACE, 'Remove', params)

    def vgpus(self):
        """{VF: type id} of every VF that is a vGPU, from sysfs."""
        return {vf: cur for pf in self.gpus for vf in self.nv.vfs(pf) if (cur := self.nv.read_current(vf))}

    def refused(self, what, func, names):
        with self.subTest(refused=what):
            self.assertTrue(self.kernel.settle())
            writes, before = len(self.kernel.log), self.vgpus()
            with self.assertRaises(CallError, msg=what) as cm:
                func()
            self.assertIn(cm.exception.name, names, '%s: %s' % (what, cm.exception.message))
            self.assertTrue(cm.exception.message.strip())
            self.assertTrue(self.kernel.settle())
            self.assertEqual(self.kernel.log[writes:], [], '%s wrote to the kernel' % what)
            self.assertEqual(self.vgpus(), before)
            return cm.exception


class Vgpu(VgpuCase):

    def test_types_follow_the_vfs(self):
        """The PF offers what its free VFs list, each type with the number
        of free VFs listing it; a GPU without VFs is no parent, and the
        interface comes and goes with InterfacesAdded/Removed."""
        self.assertTrue(self.follows_sysfs(self.pf))
        spec = next(d for d in vgpu_spec(self.host)['pci'] if d['address'] == self.pf)
        shown = self.supported(self.pf)
        for t in spec['nvidia_vgpu']['types']:
            self.assertEqual(shown[str(t['id'])], (t['name'], self.num_vfs))
        rec = self.record_signals()
        other = hostspec.pci_path(self.gpus[1])
        self.client.call(other, SRIOV, 'SetNumVfs', GLib.Variant('(ua{sv})', (0, {})), timeout=60)
        self.wait_until(lambda: PARENT_IFACE not in self.client.managed_objects().get(other, {}),
                        what='no MdevParent without VFs')
        rec.wait_for(lambda _ev: rec.seen(removed(other)), what='InterfacesRemoved of MdevParent')
        self.assertEqual(rec.first(removed(other))['interfaces'], [PARENT_IFACE])
        self.enable_vfs(self.gpus[1], 2)
        rec.wait_for(lambda _ev: rec.seen(added(other)), what='InterfacesAdded of MdevParent')
        self.assertIn(PARENT_IFACE, rec.first(added(other))['interfaces'])

    def test_create_and_remove(self):
        """CreateMdev on the PF sets the type on the first free VF; the
        object is the VF's (Uuid empty, Device the VF), with
        InterfacesAdded; the other VFs then list only types of the same
        framebuffer size and SupportedTypes follows. Remove writes 0."""
        rec = self.record_signals()
        t = self.fixture_type(self.pf, 1136)
        path = self.create(str(t['id']))
        vf = self.nv.vfs(self.pf)[0]
        self.assertEqual(path, vf_mdev_path(vf))
        self.assertEqual(self.vgpus(), {vf: t['id']})
        props = self.client.get_all(path, MDEV_IFACE)
        group = int(os.path.basename(os.readlink(self.sim.real(self.sim.devpaths[vf] + '/iommu_group'))))
        self.assertEqual(props['Uuid'], '')
        self.assertEqual(props['Type'], str(t['id']))
        self.assertEqual(props['Parent'], hostspec.pci_path(self.pf))
        self.assertEqual(props['Device'], hostspec.pci_path(vf))
        self.assertEqual(props['IommuGroup'], group)
        self.assertEqual(props['Claimed'], False)
        rec.wait_for(lambda _ev: rec.seen(added(path)), what='InterfacesAdded of the vGPU')
        # the driver narrows the other VFs' lists to one framebuffer size
        for other in self.nv.vfs(self.pf)[1:]:
            listed = self.nv.read_creatable(other)
            self.assertIn(t['id'], listed)
            self.assertTrue(all(self.fixture_type(self.pf, i)['framebuffer_gb'] == t['framebuffer_gb']
                                for i in listed))
            self.assertLess(len(listed), len(self.nv.read_creatable(self.nv.vfs(self.gpus[1])[0])))
        self.wait_until(lambda: self.follows_sysfs(self.pf), what='SupportedTypes follows the VFs')
        self.assertEqual(self.supported(self.pf)['1138'][1], 0)

        self.remove(path)
        self.assertEqual(self.vgpus(), {})
        self.assertNotIn(path, self.client.managed_objects())
        rec.wait_for(lambda _ev: rec.seen(removed(path)), what='InterfacesRemoved of the vGPU')
        self.wait_until(lambda: self.follows_sysfs(self.pf), what='SupportedTypes back')
        self.assertEqual(self.supported(self.pf)['1138'][1], self.num_vfs)

    def test_past_the_limit(self):
        """Four 12 GB vGPUs fill a 48 GB L40: the free VFs list nothing,
        the fifth is InsufficientDevices and nothing is written."""
        t = self.fixture_type(self.pf, 1136)
        fb = next(d for d in vgpu_spec(self.host)['pci'] if d['address'] == self.pf)['nvidia_vgpu']['framebuffer_gb']
        for _ in range(fb // t['framebuffer_gb']):
            self.create('1136')
        self.assertEqual(len(self.vgpus()), fb // t['framebuffer_gb'])
        self.wait_until(lambda: self.follows_sysfs(self.pf), what='SupportedTypes follows the VFs')
        e = self.refused('one more', lambda: self.create('1136'), (ERR_INSUFFICIENT,))
        self.assertIn('1136', e.message)

    def test_bad_input(self):
        """Type ids the VFs do not offer, malformed ones, a uuid option:
        named errors, nothing written."""
        for bad in ('99999', '../1136', '1136/x', '', 'mtty-1'):
            self.refused('type %r' % bad, lambda: self.create(bad), (ERR_INVALID,))
        self.refused('a uuid', lambda: self.create('1136', options={
            'uuid': GLib.Variant('s', '83b8f4f2-509f-382f-3c1e-e6bfe0fa1001')}), (ERR_INVALID,))

    def test_unprivileged_refused(self):
        self.refused('CreateMdev as nobody', lambda: self.create('1136', caller=NOBODY),
                     (ERR_ACCESS_DENIED, ERR_INTERACTIVE))
        path = self.create('1136')
        self.refused('Remove as nobody', lambda: self.remove(path, caller=NOBODY),
                     (ERR_ACCESS_DENIED, ERR_INTERACTIVE))
        self.assertIn(path, self.client.managed_objects())

    def test_restart_recreates(self):
        """A vGPU made through hostdevd and lost while it was down is set
        on the same VF again at start-up; Converged says so."""
        path = self.create('1137')
        vf = self.nv.vfs(self.pf)[0]
        self.assertEqual(self.daemon.stop(), [])
        self.write_sysfs(self.nv.nvidia_dir(vf) + '/current_vgpu_type', '0')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.vgpus(), {})

        self.daemon.start()
        self.wait_until(lambda: self.vgpus() == {vf: 1137}, what='the vGPU type set again')
        self.wait_until(lambda: path in self.client.managed_objects(), what='its object')
        self.wait_until(lambda: self.client.get(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'Converged'),
                        what='Converged')


class Cli(VgpuCase):
    """hostdevctl mdev with a vGPU on a VF: the VF's address stands where
    a UUID would."""
    num_vfs = 2

    def ctl(self, *args, expect=0):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cli'))
        from clitest import cli_env, run_cli
        r = run_cli(('--no-ask-password',) + args, cli_env(self.shared.address))
        self.assertEqual(r.returncode, expect, 'hostdevctl %s:\n%s%s' % (' '.join(args), r.stdout, r.stderr))
        return r

    def test_create_list_remove(self):
        vf = self.nv.vfs(self.pf)[0]
        self.assertEqual(self.ctl('mdev', 'create', self.pf, '1137').stdout.strip(), vf)
        self.assertEqual(self.vgpus(), {vf: 1137})
        rows = [line.split() for line in self.ctl('mdev', 'list', '--no-legend').stdout.splitlines()]
        self.assertEqual(rows, [[vf, self.pf, '1137', 'hostdev', 'active']])
        self.ctl('mdev', 'remove', vf)
        self.assertEqual(self.vgpus(), {})


if __name__ == '__main__':
    harness.main()
