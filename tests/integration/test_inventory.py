#!/usr/bin/python3
"""Inventory: hostdevd publishes every device and IOMMU group of the host.

The simulated host is data/simhost/host.json: two RTX 3080 with their audio
functions, an X710 with two VFs, an NVMe boot disk and an I210 sharing a
group with PCH root ports, a BMC VGA, a legacy PCI card behind a
PCIe-to-PCI bridge, a keyboard, a USB stick and a licence dongle behind a
hub. Every expectation below comes from that description.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import paths  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.hostspec import NO_OBJECT, ROOT_PATH, group_path, pci_path, usb_path  # noqa: E402

OWN = 'org.hostdev1.'


def own_interfaces(ifaces):
    return {i: p for i, p in ifaces.items() if i.startswith(OWN)}


def project_version():
    with open(os.path.join(paths.SOURCE_ROOT, 'meson.build')) as f:
        return re.search(r"version:\s*'([^']+)'", f.read()).group(1)


class Inventory(HostdevTestCase):

    def setUp(self):
        super().setUp()
        self.objects = {p: own_interfaces(i) for p, i in self.client.managed_objects().items()}

    def check_device(self, dev):
        self.assertDevice(self.host, self.objects, dev)

    def test_every_device_and_group_is_published(self):
        """The children of /org/hostdev1 are exactly the host's PCI functions,
        its USB devices (root hubs and interfaces are not published) and its
        IOMMU groups."""
        expected = self.host.device_paths() | self.host.group_paths()
        published = set(self.objects)
        self.assertEqual(sorted(published - expected), [], 'published but not on the host')
        self.assertEqual(sorted(expected - published), [], 'on the host but not published')
        self.assertNotIn(usb_path('usb1'), published)
        self.assertNotIn('/org/hostdev1/usb/1_1_1_0', published)

    def test_pci_functions(self):
        """Each PCI function carries exactly Device and PciDevice (and
        SriovPhysicalFunction on the two X710 ports), every property as in
        host.json: ids, names from pci.ids, class, subsystem, driver, State,
        NUMA node, serial (DSN, or VPD on the X710), slot, link, reset
        methods, boot VGA, PF/VF links."""
        for dev in self.host.pci:
            with self.subTest(device=dev['address']):
                self.check_device(dev)

    def test_usb_devices(self):
        """Each USB device: ids, names (usb.ids, or the device's own strings
        for the keyboard whose vendor usb.ids does not know), serial where the
        device has one, bus/device numbers, port path, speed, device node."""
        for dev in self.host.published_usb:
            with self.subTest(device=dev['address']):
                self.check_device(dev)

    def test_iommu_groups(self):
        """Each group: its number, its members sorted by address, viable
        exactly when every member is driverless, on vfio-pci/pci-stub or a
        bridge on pcieport, and one blocker per member that is not, naming
        the driver that holds it."""
        for number in self.host.groups():
            with self.subTest(group=number):
                exp = self.host.expected_group(number)
                props = self.objects[group_path(number)]['org.hostdev1.IommuGroup']
                self.assertEqual(props['Number'], number)
                self.assertEqual(props['Devices'], exp['Devices'])
                self.assertEqual(props['Devices'], sorted(props['Devices']), 'members sorted')
                self.assertEqual(props['Viable'], exp['Viable'])
                blockers = props['Blockers']
                self.assertEqual([b[0] for b in blockers], [b[0] for b in exp['Blockers']])
                for (path, reason), (_p, address, driver) in zip(blockers, exp['Blockers']):
                    self.assertIn(driver, reason, 'the reason names the driver')
                    self.assertIn(address, reason, 'the reason names the device')

    def test_the_example_groups(self):
        """Spelled out for the groups later features rely on: the host's GPU
        (12) is held by nouveau and snd_hda_intel; the second GPU (13) is on
        vfio-pci and viable; the boot disk shares group 9 with the I210 and
        two PCH root ports, which do not block; the legacy card's group 15
        holds the bridge, the capture chip (bttv) and its driverless audio."""
        g = lambda n: self.objects[group_path(n)]['org.hostdev1.IommuGroup']  # noqa: E731
        self.assertEqual([b[0] for b in g(12)['Blockers']],
                         [pci_path('0000:01:00.0'), pci_path('0000:01:00.1')])
        self.assertTrue(g(13)['Viable'])
        self.assertEqual(g(13)['Blockers'], [])
        self.assertEqual(g(9)['Devices'], [pci_path(a) for a in (
            '0000:00:1c.0', '0000:00:1c.4', '0000:07:00.0', '0000:08:00.0')])
        self.assertEqual([b[0] for b in g(9)['Blockers']],
                         [pci_path('0000:07:00.0'), pci_path('0000:08:00.0')])
        self.assertEqual([b[0] for b in g(15)['Blockers']], [pci_path('0000:05:00.0')])
        self.assertEqual(self.objects[pci_path('0000:02:00.0')]['org.hostdev1.Device']['State'],
                         'prepared')

    def test_devices_and_groups_agree(self):
        """A device's IommuGroup lists it among its Devices, and every group
        member points back at its group; USB devices have no group."""
        for path, ifaces in self.objects.items():
            dev = ifaces.get('org.hostdev1.Device')
            if not dev:
                continue
            if dev['Kind'] == 'usb':
                self.assertEqual(dev['IommuGroup'], NO_OBJECT, path)
                continue
            group = self.objects[dev['IommuGroup']]['org.hostdev1.IommuGroup']
            self.assertIn(path, group['Devices'])
        for path, ifaces in self.objects.items():
            group = ifaces.get('org.hostdev1.IommuGroup')
            for member in group['Devices'] if group else []:
                self.assertEqual(self.objects[member]['org.hostdev1.Device']['IommuGroup'], path)

    def test_sriov_links(self):
        """The X710's first port lists its two VFs by index; each VF names its
        PF and index; the second port can make 64 VFs and has none; nothing
        else is a PF or a VF."""
        pf = self.objects[pci_path('0000:03:00.0')]
        self.assertEqual(pf['org.hostdev1.SriovPhysicalFunction']['VirtualFunctions'],
                         [pci_path('0000:03:02.0'), pci_path('0000:03:02.1')])
        for index, vf in enumerate(('0000:03:02.0', '0000:03:02.1')):
            props = self.objects[pci_path(vf)]['org.hostdev1.PciDevice']
            self.assertEqual(props['PhysicalFunction'], pci_path('0000:03:00.0'))
            self.assertEqual(props['VirtualFunctionIndex'], index)
        pf1 = self.objects[pci_path('0000:03:00.1')]['org.hostdev1.SriovPhysicalFunction']
        self.assertEqual((pf1['TotalVfs'], pf1['NumVfs'], pf1['VirtualFunctions']), (64, 0, []))
        pfs = {p for p, i in self.objects.items() if 'org.hostdev1.SriovPhysicalFunction' in i}
        self.assertEqual(pfs, {pci_path('0000:03:00.0'), pci_path('0000:03:00.1')})

    def test_get_all_agrees_with_managed_objects(self):
        """Properties.GetAll on each object returns what GetManagedObjects
        announced."""
        for path, ifaces in sorted(self.objects.items()):
            for iface, props in ifaces.items():
                self.assertEqual(self.client.get_all(path, iface), props, '%s %s' % (path, iface))

    def test_get_device_address_forms(self):
        """GetDevice finds a PCI function by full address, without domain and
        in upper case, and a USB device by bus-port path."""
        cases = {
            '0000:01:00.0': pci_path('0000:01:00.0'),
            '01:00.0': pci_path('0000:01:00.0'),
            '0000:0A:00.0': pci_path('0000:0a:00.0'),
            '0A:00.0': pci_path('0000:0a:00.0'),
            '0000:00:1F.3': pci_path('0000:00:1f.3'),
            '03:02.1': pci_path('0000:03:02.1'),
            '1-3.2': usb_path('1-3.2'),
            '1-3': usb_path('1-3'),
            '2-1': usb_path('2-1'),
        }
        for address, path in cases.items():
            with self.subTest(address=address):
                self.assertEqual(self.client.get_device(address), path)

    def test_restart(self):
        """Stopped and started again, the daemon publishes the same objects
        with the same properties (the object paths are stable)."""
        before = self.client.managed_objects()
        self.restart_daemon()
        self.assertEqual(self.client.managed_objects(), before)

    def test_manager(self):
        """The manager reports the project version and an enabled IOMMU with
        nothing to advise."""
        props = self.client.get_all(ROOT_PATH, 'org.hostdev1.Manager')
        self.assertEqual(props['Version'], project_version())
        self.assertIs(props['IommuEnabled'], True)
        self.assertEqual(props['IommuMessage'], '')


if __name__ == '__main__':
    harness.main()
