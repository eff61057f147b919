#!/usr/bin/python3
"""Sysfs oddities: what real machines throw at a daemon that reads sysfs.

Attributes that some kernels or devices lack, config space that is short,
unreadable or corrupt, links left dangling by a device that vanished while
being enumerated, a device removed right as it is added, ids newer than the
installed pci.ids. hostdevd must not crash or hang, must publish what it
can read, and must use the documented defaults for what it cannot.
"""

import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.hostspec import group_path, pci_path, usb_path  # noqa: E402

DEVICE = 'org.hostdev1.Device'
PCI = 'org.hostdev1.PciDevice'


class Oddities(HostdevTestCase):
    start_daemon = False  # each test spoils the testbed first

    def rm(self, address, *attrs):
        for a in attrs:
            p = self.sim.attr_path(address, a)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            elif os.path.lexists(p):
                os.unlink(p)

    def config(self, address):
        with open(self.sim.attr_path(address, 'config'), 'rb') as f:
            return f.read()

    def set_config(self, address, data):
        with open(self.sim.attr_path(address, 'config'), 'wb') as f:
            f.write(data)

    def start(self):
        self.daemon.start()
        self.objects = self.client.managed_objects()

    def props(self, address, iface=DEVICE):
        return self.client.get_all(pci_path(address), iface)

    def assert_rest_intact(self, *skip):
        """Every device not spoiled is published exactly as host.json says."""
        objs = self.client.managed_objects()
        for dev in self.host.devices:
            if dev['address'] not in skip:
                self.assertDevice(self.host, objs, dev)

    def test_missing_optional_attributes(self):
        """The NVMe disk without numa_node, link attributes, reset_method and
        config (an older or stripped-down kernel), and the keyboard without
        its manufacturer and product strings: published with the documented
        defaults (NUMA -1, no link, no reset methods, no serial, no names)."""
        self.rm('0000:07:00.0', 'numa_node', 'current_link_speed', 'current_link_width',
                'max_link_speed', 'max_link_width', 'reset_method', 'reset', 'config')
        self.rm('1-1', 'manufacturer', 'product')
        self.start()
        dev = self.props('0000:07:00.0')
        self.assertEqual((dev['NumaNode'], dev['Serial'], dev['Driver']), (-1, '', 'nvme'))
        self.assertEqual((dev['VendorName'], dev['ProductName']),
                         ('Samsung Electronics Co Ltd', 'NVMe SSD Controller SM981/PM981/PM983'))
        pci = self.props('0000:07:00.0', PCI)
        self.assertEqual((pci['LinkSpeed'], pci['LinkWidth'], pci['ResetMethods']), ('', 0, []))
        kb = self.client.get_all(usb_path('1-1'), DEVICE)
        self.assertEqual((kb['VendorId'], kb['ProductId']), (0x258a, 0x0049))
        self.assertEqual((kb['VendorName'], kb['ProductName']), ('', ''))
        self.assert_rest_intact('0000:07:00.0', '1-1')

    def test_short_config(self):
        """Config space cut short, as an unprivileged reader sees it (64
        bytes) or as a PCIe device without extended space would (256): the
        serial number capability is out of reach, so no serial."""
        self.set_config('0000:01:00.0', self.config('0000:01:00.0')[:64])
        self.set_config('0000:07:00.0', self.config('0000:07:00.0')[:256])
        self.set_config('0000:08:00.0', b'')
        self.start()
        for a in ('0000:01:00.0', '0000:07:00.0', '0000:08:00.0'):
            self.assertEqual(self.props(a)['Serial'], '', a)
        self.assertEqual(self.props('0000:01:00.0')['ProductName'], 'GA102 [GeForce RTX 3080]')
        self.assert_rest_intact('0000:01:00.0', '0000:07:00.0', '0000:08:00.0')

    def test_unreadable_config(self):
        """A config that cannot be read at all (here a directory: EISDIR) and
        a dangling config link: the device is still published, without
        serial."""
        self.rm('0000:01:00.1', 'config')
        os.mkdir(self.sim.attr_path('0000:01:00.1', 'config'))
        self.rm('0000:07:00.0', 'config')
        os.symlink('nowhere', self.sim.attr_path('0000:07:00.0', 'config'))
        self.start()
        self.assertEqual(self.props('0000:01:00.1')['Serial'], '')
        self.assertEqual(self.props('0000:07:00.0')['Serial'], '')
        self.assertEqual(self.props('0000:07:00.0')['Driver'], 'nvme')
        self.assert_rest_intact('0000:01:00.1', '0000:07:00.0')

    def test_corrupt_config(self):
        """Capability lists that loop (a standard one pointing at itself, an
        extended one whose first entry points at itself) and a config of
        random bytes: no hang, no crash; the looping GPU's serial, which sits
        behind the loop, is not found."""
        c = bytearray(self.config('0000:01:00.0'))
        struct.pack_into('<I', c, 0x100, 0x0001 | (1 << 16) | (0x100 << 20))  # AER -> itself
        self.set_config('0000:01:00.0', bytes(c))
        c = bytearray(self.config('0000:02:00.0'))
        c[0x41] = 0x40  # first capability -> itself
        self.set_config('0000:02:00.0', bytes(c))
        self.set_config('0000:07:00.0', os.urandom(4096))
        self.start()
        self.assertEqual(self.props('0000:01:00.0')['Serial'], '')
        for a in ('0000:02:00.0', '0000:07:00.0'):
            self.assertIsInstance(self.props(a)['Serial'], str)
        self.assert_rest_intact('0000:01:00.0', '0000:02:00.0', '0000:07:00.0')

    def test_corrupt_vpd(self):
        """VPD whose SN field runs past the end, and VPD of random bytes, on
        the two X710 ports: no crash, the ports are published."""
        with open(self.sim.attr_path('0000:03:00.0', 'vpd'), 'r+b') as f:
            data = f.read()
            i = data.index(b'SN')
            f.seek(0)
            f.truncate()
            f.write(data[:i + 3] + b'3CF')  # SN says 12 bytes, 3 follow
        with open(self.sim.attr_path('0000:03:00.1', 'vpd'), 'wb') as f:
            f.write(os.urandom(256))
        self.start()
        for a in ('0000:03:00.0', '0000:03:00.1'):
            self.assertIsInstance(self.props(a)['Serial'], str)
            self.assertEqual(self.props(a)['Driver'], 'i40e')
        self.assert_rest_intact('0000:03:00.0', '0000:03:00.1')

    def test_dangling_links(self):
        """A device that vanished while the daemon enumerated: its bus link
        and its IOMMU group entry point at nothing. Neither it nor its
        otherwise empty group is published; everything else is."""
        ghost = '0000:0b:00.0'
        target = '/sys/devices/pci0000:00/0000:00:1d.4/' + ghost
        self.sim.symlink(target, '/sys/bus/pci/devices/' + ghost)
        self.sim.symlink(target, '/sys/kernel/iommu_groups/30/devices/' + ghost)
        self.start()
        self.assertNotIn(pci_path(ghost), self.objects)
        # a group without members is gone, as when its last member leaves
        self.assertNotIn(group_path(30), self.objects)
        self.assert_rest_intact()
        self.assertEqual(self.client.get_device('01:00.0'), pci_path('0000:01:00.0'))

    def test_removed_as_added(self):
        """The third GPU's video function appears and is gone again before the
        daemon could read it (add, bind and remove uevents back to back; the
        directory is deleted right after). Nothing of it stays published,
        its group neither, and a later real hotplug works."""
        self.start()
        rec = self.record_signals()
        spec = self.host.data['hotplug']['gpu3']['pci'][0]
        for _ in range(5):
            self.sim.add_pci(spec)
            self.sim.remove_pci(spec['address'])
        rec.quiet(period=0.5)
        objs = self.client.managed_objects()
        self.assertNotIn(pci_path(spec['address']), objs)
        self.assertNotIn(group_path(19), objs)
        self.assertTrue(self.daemon.alive())
        self.sim.add_pci_devices(self.host.data['hotplug']['gpu3']['pci'])
        self.wait_until(lambda: pci_path('0000:06:00.1') in self.client.managed_objects(),
                        what='the third GPU')
        self.assert_rest_intact()

    def test_unknown_ids(self):
        """A GPU newer than the installed pci.ids (RTX 5090, 10de:2b85) and a
        card of a vendor it does not know: the vendor name where known,
        otherwise empty names, never "Device 2b85"."""
        gpu = dict(self.host.data['hotplug']['gpu3']['pci'][0], device_id='2b85')
        other = dict(self.host.data['hotplug']['gpu3']['pci'][1], vendor_id='5bad',
                     device_id='0001', driver=None, native_driver=None)
        self.start()
        self.sim.add_pci_devices([gpu, other])
        self.wait_until(lambda: pci_path('0000:06:00.1') in self.client.managed_objects(),
                        what='the new cards')
        self.wait_until(lambda: self.props('0000:06:00.0')['Driver'] == 'nouveau', what='nouveau')
        p = self.props('0000:06:00.0')
        self.assertEqual((p['VendorId'], p['ProductId']), (0x10de, 0x2b85))
        self.assertEqual((p['VendorName'], p['ProductName']), ('NVIDIA Corporation', ''))
        p = self.props('0000:06:00.1')
        self.assertEqual((p['VendorId'], p['VendorName'], p['ProductName']), (0x5bad, '', ''))

    def test_garbage_attributes(self):
        """numa_node, current_link_width and a USB busnum hold garbage: the
        daemon publishes the devices anyway and keeps serving."""
        with open(self.sim.attr_path('0000:01:00.0', 'numa_node'), 'w') as f:
            f.write('banana\n')
        with open(self.sim.attr_path('0000:01:00.0', 'current_link_width'), 'w') as f:
            f.write('\n')
        with open(self.sim.attr_path('2-1', 'busnum'), 'w') as f:
            f.write('-7\n')
        self.start()
        self.assertIn(pci_path('0000:01:00.0'), self.objects)
        self.assertEqual(self.props('0000:01:00.0')['Driver'], 'nouveau')
        self.assertTrue(self.daemon.alive())
        self.assert_rest_intact('0000:01:00.0', '2-1')


if __name__ == '__main__':
    harness.main()
