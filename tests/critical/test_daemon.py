#!/usr/bin/python3
"""Host-critical devices as hostdevd publishes them.

Device.Critical (b), Device.CriticalReasons a(ss) and Manager.Critical (ao)
on the simulated host: the NVMe drive holding / and /boot/efi (host.json's
mount table, as /proc/self/mountinfo), the I210 carrying the default route
(hostdevd runs in a network namespace where a link named eno1 has it), the
BMC's boot VGA and every bridge are critical, and so is every device that
shares an IOMMU group with a critical one (a PCI-to-PCI bridge excepted:
VFIO leaves it with the host). Mounts, routes and NetworkManager's
connections change while the daemon runs; it follows without polling.
The expected sets are computed from host.json by those rules.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import paths  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.critical import (MockNetworkManager, MountTable, NetNamespace, add_dm,  # noqa: E402
                              add_framebuffer, add_scsi_disk, block_devices, expected_reasons,
                              net_devices, storage_reasons)
from harness.hostspec import ROOT_PATH, pci_path, usb_path  # noqa: E402

DEVICE = 'org.hostdev1.Device'
MANAGER = 'org.hostdev1.Manager'
AHCI = '0000:00:17.0'


class CriticalTestCase(HostdevTestCase):
    """hostdevd in a network namespace; the mount table written from
    host.json before it starts."""

    start_daemon = False

    def setUp(self):
        super().setUp()
        self.mounts = MountTable(self.sim)
        self.netns = NetNamespace(self.workdir)
        self.addCleanup(self.netns.close)
        self.nics = net_devices(self.host)
        self.disks = block_devices(self.host)
        self.daemon.binary = self.netns.wrap(paths.daemon_binary())

    def start(self):
        self.daemon.start()

    def fixture_storage(self):
        """The reasons host.json's mount table gives, by address."""
        return storage_reasons(self.host)

    def reasons(self, address):
        return self.client.get(pci_path(address), DEVICE, 'CriticalReasons')

    def manager_critical(self):
        return set(self.client.get(ROOT_PATH, MANAGER, 'Critical'))

    def assertCritical(self, expected):
        """Every PCI function: Critical and CriticalReasons as expected
        (codes exactly, each text naming what it is about); Manager.Critical
        lists exactly the critical ones."""
        objects = self.client.managed_objects()
        for dev in self.host.pci:
            path = pci_path(dev['address'])
            props = objects[path][DEVICE]
            want = expected.get(dev['address'], [])
            got = [tuple(r) for r in props['CriticalReasons']]
            self.assertEqual(props['Critical'], bool(want), '%s: Critical' % dev['address'])
            self.assertEqual(sorted(c for c, _ in got), sorted(c for c, _ in want),
                             '%s: reason codes, got %r' % (dev['address'], got))
            unused = list(got)
            for code, about in want:
                match = [r for r in unused if r[0] == code and about in r[1]]
                self.assertTrue(match, '%s: no %s reason about %r in %r' % (dev['address'], code, about, got))
                unused.remove(match[0])
        self.assertEqual(self.manager_critical(), {pci_path(a) if ':' in a else usb_path(a) for a in expected})

    def wait_reasons(self, address, predicate, what):
        """Wait for a PropertiesChanged of the device's CriticalReasons that
        satisfies predicate(reasons)."""
        path = pci_path(address)

        def seen(events):
            return any(e['signal'] == 'PropertiesChanged' and e['path'] == path and
                       e['interface'] == DEVICE and 'CriticalReasons' in e['changed'] and
                       predicate([tuple(r) for r in e['changed']['CriticalReasons']])
                       for e in events)
        self.rec.wait_for(seen, timeout=10, what=what)


class Fixture(CriticalTestCase):

    def setUp(self):
        super().setUp()
        self.netns.add_link('eno1')
        self.netns.set_default_route('eno1', '192.0.2')
        self.start()

    def test_simulated_host(self):
        """The boot NVMe (/ and /boot/efi), the I210 with the default route,
        the BMC VGA, every bridge; their group mates: the PCH root ports
        beside the NVMe and the I210, the BMC's bridge, the PCH functions
        beside the LPC bridge. The GPUs, the X710 and the capture card are
        free."""
        direct = self.fixture_storage()
        self.assertEqual(len(direct), 1, 'host.json: / and /boot/efi on one drive')
        direct.setdefault(self.nics['eno1'], []).append(('default-route', 'eno1'))
        expected = expected_reasons(self.host, direct)
        self.assertCritical(expected)
        for free in ('0000:01:00.0', '0000:01:00.1', '0000:02:00.0', '0000:03:00.0', '0000:05:00.0'):
            self.assertNotIn(free, expected)

    def test_reasons_name_the_peer(self):
        """The I210's group mate reason names the NVMe drive and why it is
        critical."""
        nvme = self.disks['nvme0n1p2'][0]
        texts = [t for c, t in self.reasons(self.nics['eno1']) if c == 'iommu-peer']
        self.assertEqual(len(texts), 1, texts)
        self.assertIn(nvme, texts[0])
        self.assertIn('holds /', texts[0])

    def test_no_libnm_without_networkmanager(self):
        """With no NetworkManager on the bus the daemon never maps libnm."""
        with open('/proc/%d/maps' % self.daemon.proc.pid) as f:
            self.assertNotIn('libnm.so', f.read())

    def test_hotplug_keeps_the_set(self):
        """A third GPU arrives in slot 3: published, not critical; the
        critical set stays what it was."""
        before = self.manager_critical()
        self.rec = self.record_signals()
        gpu3 = self.host.data['hotplug']['gpu3']['pci']
        self.sim.add_pci_devices(gpu3)
        self.rec.wait_for(lambda ev: any(e['signal'] == 'InterfacesAdded' and
                                         e['path'] == pci_path(gpu3[-1]['address']) for e in ev),
                          what='the third GPU')
        self.rec.quiet()
        for dev in gpu3:
            self.assertFalse(self.client.get(pci_path(dev['address']), DEVICE, 'Critical'))
        self.assertEqual(self.manager_critical(), before)


class Changes(CriticalTestCase):

    def test_var_on_another_disk(self):
        """/var mounted from LVM on a SATA disk makes the AHCI controller
        critical; unmounted, it is free again. Both changes are announced."""
        self.netns.add_link('eno1')
        extra = add_scsi_disk(self.sim, AHCI, 'sda', 8)
        extra.update(add_dm(self.sim, 'dm-0', 'data-var', '253:0', ['sda1']))
        self.start()
        self.assertFalse(self.client.get(pci_path(AHCI), DEVICE, 'Critical'))
        self.rec = self.record_signals()

        self.mounts.mount('/dev/mapper/data-var', '/var', 'xfs', extra['dm-0'])
        self.wait_reasons(AHCI, lambda r: [c for c, _ in r] == ['var-filesystem'], '/var on sda1')
        text = self.reasons(AHCI)[0][1]
        for part in ('/var', 'data-var', 'sda1'):
            self.assertIn(part, text)
        self.assertTrue(self.client.get(pci_path(AHCI), DEVICE, 'Critical'))
        self.assertIn(pci_path(AHCI), self.manager_critical())
        self.assertTrue(self.rec.changed(ROOT_PATH, MANAGER, 'Critical'), 'Manager.Critical not announced')

        self.rec.clear()
        self.mounts.umount('/var')
        self.wait_reasons(AHCI, lambda r: not r, '/var unmounted')
        self.assertFalse(self.client.get(pci_path(AHCI), DEVICE, 'Critical'))
        self.assertNotIn(pci_path(AHCI), self.manager_critical())

    def test_default_route_moves(self):
        """The default route moves from eno1 to enp3s0f0: the X710's first
        port becomes critical and its twin with it (same group); the I210
        loses that reason but stays critical beside the boot NVMe."""
        self.netns.add_link('eno1')
        self.netns.add_link('enp3s0f0')
        self.netns.set_default_route('eno1', '192.0.2')
        self.start()
        i210, x710 = self.nics['eno1'], self.nics['enp3s0f0']
        self.assertIn('default-route', [c for c, _ in self.reasons(i210)])
        self.rec = self.record_signals()

        self.netns.ip('addr', 'add', '198.51.100.10/24', 'dev', 'enp3s0f0')
        self.netns.ip('route', 'replace', 'default', 'via', '198.51.100.1', 'dev', 'enp3s0f0')
        self.wait_reasons(x710, lambda r: ('default-route' in [c for c, _ in r]), 'the route on enp3s0f0')
        self.rec.quiet()

        direct = self.fixture_storage()
        direct.setdefault(x710, []).append(('default-route', 'enp3s0f0'))
        self.assertCritical(expected_reasons(self.host, direct))
        self.assertEqual([c for c, _ in self.reasons(i210)], ['iommu-peer'])

    def test_networkmanager_connection(self):
        """An active NetworkManager connection on enp3s0f1 (the mock on the
        bus, read through libnm) makes the X710 critical; deactivated, it is
        free again."""
        self.netns.add_link('enp3s0f1')
        nm = MockNetworkManager(self.shared, self.workdir)
        self.addCleanup(nm.stop)
        nm.start()
        self.start()
        x710 = self.nics['enp3s0f1']
        self.assertFalse(self.client.get(pci_path(x710), DEVICE, 'Critical'))
        self.rec = self.record_signals()

        active = nm.activate('enp3s0f1', 'storage')
        self.wait_reasons(x710, lambda r: [c for c, _ in r] == ['nm-connection'], 'the connection')
        self.assertIn('storage', self.reasons(x710)[0][1])
        self.assertIn('enp3s0f1', self.reasons(x710)[0][1])
        with open('/proc/%d/maps' % self.daemon.proc.pid) as f:
            self.assertIn('libnm.so', f.read(), 'NetworkManager runs, libnm should be loaded')
        self.rec.quiet()
        direct = self.fixture_storage()
        direct[x710] = [('nm-connection', 'storage')]
        self.assertCritical(expected_reasons(self.host, direct))

        self.rec.clear()
        nm.deactivate('enp3s0f1', active)
        self.wait_reasons(x710, lambda r: not r, 'the connection gone')

    def test_console(self):
        """fbcon on the BMC VGA's framebuffer adds the console reason."""
        add_framebuffer(self.sim, '0000:0a:00.0')
        self.start()
        codes = [c for c, _ in self.reasons('0000:0a:00.0')]
        self.assertEqual(sorted(codes), ['boot-vga', 'console'])


if __name__ == '__main__':
    harness.main()
