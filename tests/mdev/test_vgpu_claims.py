#!/usr/bin/python3
"""Resource groups of type vgpu: their members are instances, made when a
claim asks for them. Two pools are tried: the two RTX 3080 of the simulated
host made mediated device parents (harness/kernel.py MdevEmulator) with an
"A10-6Q"-like type of 4 instances each, and the two L40 of host.json
hotplug.vgpu whose VFs take NVIDIA vGPU types (NvidiaVgpuEmulator). A claim
of 8 gets 8 instances, the 9th fails with InsufficientDevices and writes
nothing, Remove of a claimed instance is Busy, and Release removes what the
claim made. Expectations come from the types the test gives the emulated
parents, the fixture and sysfs."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import bus, hostspec  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.client import CallError  # noqa: E402
from harness.groups import NOBODY, PendingCall, call_as, rules_variant  # noqa: E402
from harness.kernel import MdevEmulator  # noqa: E402
from test_vgpu import VgpuCase, vf_mdev_path, vgpu_spec  # noqa: E402

from gi.repository import GLib  # noqa: E402

MANAGER = 'org.hostdev1.Manager'
RG = 'org.hostdev1.ResourceGroup'
CLAIM = 'org.hostdev1.Claim'
MDEV_IFACE = 'org.hostdev1.Mdev'
ERR_INVALID = 'org.hostdev1.Error.InvalidArgument'
ERR_INSUFFICIENT = 'org.hostdev1.Error.InsufficientDevices'
ERR_BUSY = 'org.hostdev1.Error.Busy'
ERR_NOT_SUPPORTED = 'org.hostdev1.Error.NotSupported'
ERR_ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
ERR_INTERACTIVE = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'

PARENTS = ['0000:01:00.0', '0000:02:00.0']
TYPES = [
    {'id': 'nvidia-558', 'name': 'GRID A10-6Q', 'description': 'num_heads=4, frl_config=60', 'available': 4},
    {'id': 'nvidia-559', 'name': 'GRID A10-12Q', 'description': 'num_heads=4, frl_config=60', 'available': 2},
]
DOMAIN = """<domain type='kvm'>
  <name>hostdev-vgpu</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
%s
  </devices>
</domain>
"""


# A client that claims 2 instances with lease=peer, prints the claim and
# waits to be killed.
HOLDER = r'''
import sys
from gi.repository import Gio, GLib
address, group = sys.argv[1:]
conn = Gio.DBusConnection.new_for_address_sync(
    address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
    Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
reply = conn.call_sync('org.hostdev1', group, 'org.hostdev1.ResourceGroup', 'Claim',
                       GLib.Variant('(sua{sv})', ('vm-lease', 2, {'lease': GLib.Variant('s', 'peer')})), None,
                       Gio.DBusCallFlags.NONE, 30000, None)
print(reply.unpack()[0], flush=True)
sys.stdin.read()
'''


def mdev_path(uuid):
    return hostspec.ROOT_PATH + '/mdev/' + uuid.replace('-', '_')


class PoolMixin:
    """Group, claim and release calls shared by both pools."""

    def make_group(self, name, rules):
        return self.client.call(hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                                GLib.Variant('(ssa{sv})', (name, 'vgpu', {'rules': rules_variant(rules)})))[0]

    def claim(self, count, consumer='vm-1', options=None, caller=None):
        params = GLib.Variant('(sua{sv})', (consumer, count, options or {}))
        if caller is not None:
            return call_as(self.shared.address, caller, self.group, RG, 'Claim', params)[0]
        return self.client.call(self.group, RG, 'Claim', params, timeout=90)[0]

    def release(self, claim):
        return self.client.call(claim, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)), timeout=90)

    def counts(self):
        p = self.client.get_all(self.group, RG)
        return p['Total'], p['Available'], p['Claimed']

    def refused(self, what, func, names):
        """func fails with one of names and the kernel sees no write."""
        with self.subTest(refused=what):
            self.assertTrue(self.kernel.settle())
            writes, before = len(self.kernel.log), self.kernel_state()
            with self.assertRaises(CallError, msg=what) as cm:
                func()
            self.assertIn(cm.exception.name, names, '%s: %s' % (what, cm.exception.message))
            self.assertTrue(cm.exception.message.strip())
            self.assertTrue(self.kernel.settle())
            self.assertEqual(self.kernel.log[writes:], [], '%s wrote to the kernel' % what)
            self.assertEqual(self.kernel_state(), before)
            return cm.exception

    def validate_libvirt(self, handles, hostdev_type):
        if not shutil.which('virt-xml-validate'):
            return
        xml = DOMAIN % '\n'.join('    ' + h['libvirt'] for h in handles)
        self.assertEqual(xml.count("<hostdev mode='subsystem' type='%s'" % hostdev_type), len(handles))
        with tempfile.NamedTemporaryFile('w', suffix='.xml') as f:
            f.write(xml)
            f.flush()
            p = subprocess.run(['virt-xml-validate', f.name, 'domain'], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, xml + p.stdout + p.stderr)


class MdevPool(PoolMixin, HostdevTestCase):

    def setUp(self):
        self.start_daemon = False
        super().setUp()
        self.mdev = MdevEmulator(self.sim, self.kernel)
        for p in PARENTS:
            self.mdev.add_parent(p, TYPES)
        self.daemon.start()
        # the NVIDIA GPUs, by vendor id, and the 6Q type by its name
        self.group = self.make_group('a10-6q', [{'vendor-id': 0x10de, 'mdev-type-name': '*-6q'}])

    def kernel_state(self):
        return sorted(os.listdir(self.sim.real('/sys/bus/mdev/devices')))

    def sysfs_free(self, type_id):
        return sum(self.mdev.available(p, type_id) for p in PARENTS)

    def test_claim_all_then_one_more(self):
        """A claim of all 8 makes 8 instances of the type the rule names;
        the 9th is InsufficientDevices and writes nothing; Remove of a
        claimed instance is Busy; Release removes them all."""
        want = self.sysfs_free('nvidia-558')
        self.assertEqual(want, 8)
        self.assertEqual(self.counts(), (want, want, 0))
        claim = self.claim(want)
        uuids = self.kernel_state()
        self.assertEqual(len(uuids), want)
        self.assertEqual({self.mdev.instances[u][1] for u in uuids}, {'nvidia-558'})
        self.assertEqual({self.mdev.instances[u][0] for u in uuids}, set(PARENTS))
        self.assertEqual(self.sysfs_free('nvidia-558'), 0)
        self.assertEqual(sorted(self.client.get(claim, CLAIM, 'Devices')), sorted(mdev_path(u) for u in uuids))
        self.wait_until(lambda: self.counts() == (want, 0, want), what='Available 0, Claimed 8')
        for u in uuids:
            self.assertTrue(self.client.get(mdev_path(u), MDEV_IFACE, 'Claimed'))

        handles = self.client.get(claim, CLAIM, 'Handles')
        self.assertEqual(sorted(h['address'] for h in handles), uuids)
        for h in handles:
            sysfs = self.sim.real('/sys/bus/mdev/devices/' + h['address'])
            self.assertEqual(h['qemu'], 'vfio-pci,sysfsdev=' + sysfs)
            self.assertTrue(os.path.exists(h['sysfs']))
            group = self.mdev.instances[h['address']][2]
            self.assertTrue(h['vfio-group'].endswith('/vfio/%d' % group), h['vfio-group'])
            self.assertIn("<address uuid='%s'/>" % h['address'], h['libvirt'])
        self.validate_libvirt(handles, 'mdev')

        e = self.refused('a 9th', lambda: self.claim(1, 'vm-2'), (ERR_INSUFFICIENT,))
        self.assertIn('0', e.message)
        self.refused('Remove while claimed', lambda: self.client.call(
            mdev_path(uuids[0]), MDEV_IFACE, 'Remove', GLib.Variant('(a{sv})', ({},))), (ERR_BUSY,))

        self.release(claim)
        self.assertEqual(self.kernel_state(), [])
        self.assertEqual(self.sysfs_free('nvidia-558'), want)
        self.wait_until(lambda: self.counts() == (want, want, 0), what='Available back')
        objects = self.client.managed_objects()
        self.assertFalse(any(mdev_path(u) in objects for u in uuids))

    def test_takes_free_instances_first(self):
        """An instance made through CreateMdev and claimed by nobody is
        taken before a new one is made, and stays after Release."""
        path = self.client.call(hostspec.pci_path(PARENTS[1]), 'org.hostdev1.MdevParent', 'CreateMdev',
                                GLib.Variant('(sa{sv})', ('nvidia-558', {})))[0]
        existing = self.kernel_state()
        self.assertTrue(self.kernel.settle())
        writes = len(self.kernel.log)
        claim = self.claim(1)
        self.assertEqual(self.client.get(claim, CLAIM, 'Devices'), [path])
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])
        self.release(claim)
        self.assertEqual(self.kernel_state(), existing)
        self.assertFalse(self.client.get(path, MDEV_IFACE, 'Claimed'))

    def test_bad_input(self):
        """A type the rules do not take, count 0, unknown options,
        an unprivileged caller, a tenant assignment: named errors,
        nothing written."""
        self.refused('a type the group does not offer',
                     lambda: self.claim(1, options={'mdev-type': GLib.Variant('s', 'nvidia-559')}), (ERR_INVALID,))
        self.refused('a malformed type',
                     lambda: self.claim(1, options={'mdev-type': GLib.Variant('s', '../x')}), (ERR_INVALID,))
        self.refused('count 0', lambda: self.claim(0), (ERR_INVALID,))
        self.refused('unknown option', lambda: self.claim(1, options={'numa-node': GLib.Variant('i', 0)}),
                     (ERR_INVALID,))
        self.refused('nobody', lambda: self.claim(1, caller=NOBODY), (ERR_ACCESS_DENIED, ERR_INTERACTIVE))
        # instances are made when claimed: nothing to set aside for a tenant
        groups = lambda: sorted(p for p, ifs in self.client.managed_objects().items() if RG in ifs)  # noqa: E731
        before = groups()
        err = self.refused('a tenant', lambda: self.client.call(self.group, RG, 'AssignToTenant',
                                                                GLib.Variant('(sua{sv})', ('tenant-a', 1, {}))),
                           (ERR_NOT_SUPPORTED,))
        self.assertIn('vgpu group', err.message)
        self.assertEqual(groups(), before)

    def test_concurrent_claims(self):
        """Three claims asked at once (4, 4 and 1 of 8): they are carried
        out one after the other; the first two get 4 distinct instances
        each, the third finds none left and changes nothing."""
        calls = [PendingCall(self.client, self.group, RG, 'Claim', GLib.Variant('(sua{sv})', (vm, n, {})))
                 for vm, n in (('vm-1', 4), ('vm-2', 4), ('vm-3', 1))]
        claims = [c.wait()[0] for c in calls[:2]]
        with self.assertRaises(CallError) as cm:
            calls[2].wait()
        self.assertEqual(cm.exception.name, ERR_INSUFFICIENT)
        held = [set(self.client.get(c, CLAIM, 'Devices')) for c in claims]
        self.assertEqual([len(h) for h in held], [4, 4])
        self.assertFalse(held[0] & held[1])
        self.assertEqual(sorted(held[0] | held[1]), sorted(mdev_path(u) for u in self.kernel_state()))
        for c in claims:
            self.release(c)
        self.assertEqual(self.kernel_state(), [])

    def test_peer_lease(self):
        """A claim with lease=peer whose holder is killed is released, and
        the instances it made are removed."""
        p = subprocess.Popen(['/usr/bin/python3', '-c', HOLDER, self.shared.address, self.group],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=bus.clean_env({}))
        self.addCleanup(lambda: (p.kill(), p.wait()))
        claim = p.stdout.readline().strip()
        self.assertEqual(len(self.kernel_state()), 2)
        self.assertTrue(self.client.get(claim, CLAIM, 'Lease').startswith('peer:'))
        p.kill()
        p.wait()
        self.wait_until(lambda: self.kernel_state() == [], what='the instances removed with the claim')
        self.assertNotIn(claim, self.client.managed_objects())

    def test_restart_recreates(self):
        """A claim's instances lost while hostdevd was down are made again
        at start-up, same UUIDs; the claim still holds them."""
        claim = self.claim(2)
        uuids = self.kernel_state()
        self.assertEqual(self.daemon.stop(), [])
        for u in uuids:
            self.write_sysfs('/sys/bus/mdev/devices/%s/remove' % u, '1')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel_state(), [])
        self.daemon.start()
        self.wait_until(lambda: self.kernel_state() == uuids, what='the instances made again')
        self.assertEqual(sorted(self.client.get(claim, CLAIM, 'Devices')), sorted(mdev_path(u) for u in uuids))
        self.release(claim)
        self.assertEqual(self.kernel_state(), [])


class NvidiaPool(PoolMixin, VgpuCase):

    def setUp(self):
        super().setUp()
        self.group = self.make_group('l40-12q', [{'product-id': 0x26b5, 'mdev-type-name': '*-12Q'}])

    def kernel_state(self):
        return self.vgpus()

    def test_two_gpus_four_each(self):
        """2 L40 × 4 12Q vGPUs: a claim of 8 sets the type on 4 VFs of each
        GPU (the driver lists no more), hands out the VFs' PCI handles; the
        9th is InsufficientDevices and writes nothing; Release clears them."""
        t = next(t for t in vgpu_spec(self.host)['pci'][1]['nvidia_vgpu']['types'] if t['name'].endswith('-12Q'))
        per_gpu = vgpu_spec(self.host)['pci'][1]['nvidia_vgpu']['framebuffer_gb'] // t['framebuffer_gb']
        claim = self.claim(per_gpu * len(self.gpus))
        made = self.vgpus()
        self.assertEqual(set(made.values()), {t['id']})
        for pf in self.gpus:
            self.assertEqual(len([vf for vf in made if self.sim.pci[vf]['physfn'] == pf]), per_gpu)
        self.assertEqual(sorted(self.client.get(claim, CLAIM, 'Devices')), sorted(hostspec.pci_path(v) for v in made))
        for vf in made:
            self.assertTrue(self.client.get(vf_mdev_path(vf), MDEV_IFACE, 'Claimed'))
        handles = self.client.get(claim, CLAIM, 'Handles')
        self.assertEqual(sorted(h['address'] for h in handles), sorted(made))
        for h in handles:
            self.assertEqual(h['qemu'], 'vfio-pci,host=' + h['address'])
        self.validate_libvirt(handles, 'pci')
        self.wait_until(lambda: self.counts()[1:] == (0, len(made)), what='Available 0')

        self.refused('a 9th', lambda: self.claim(1, 'vm-2'), (ERR_INSUFFICIENT,))
        self.refused('Remove while claimed', lambda: self.remove(vf_mdev_path(next(iter(made)))), (ERR_BUSY,))

        self.release(claim)
        self.assertEqual(self.vgpus(), {})
        self.wait_until(lambda: self.counts()[2] == 0, what='Claimed 0')


if __name__ == '__main__':
    harness.main()
