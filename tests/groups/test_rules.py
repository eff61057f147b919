#!/usr/bin/python3
"""Rule fields, one by one, on the simulated host.

A group holds the devices of its type that any of its rules matches; a
rule matches when all of its fields do. For every field a group is made
with a rule that should take some devices and one that should take none,
and its Devices are compared with what data/simhost/host.json says (the
model in harness/groups.py). Each case also names a few devices that must
be in or out, so that the story does not rest on the model alone.

The host is host.json with one change: the second GPU card (0000:02:00.x)
sits on NUMA node 1, so that numa-node has something to tell apart.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
import harness.groups  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.groups import FIELD_TYPES, RG_IFACE, GroupsTestCase  # noqa: E402

from gi.repository import GLib  # noqa: E402

NVIDIA = ['0000:01:00.0', '0000:01:00.1', '0000:02:00.0', '0000:02:00.1']
GPUS = ['0000:01:00.0', '0000:02:00.0']
GPU_AUDIO = ['0000:01:00.1', '0000:02:00.1']
VFS = ['0000:03:02.0', '0000:03:02.1']

# (story, group type, rules, must be members, must not be members)
CASES = [
    # ids
    ('vendor-id takes all NVIDIA functions', 'pci', [{'vendor-id': 0x10de}], NVIDIA,
     ['0000:0a:00.0', '0000:00:17.0']),
    ('vendor-id of a vendor not on the host takes nothing', 'pci', [{'vendor-id': 0x1002}], [],
     NVIDIA),
    ('product-id takes the two GA102 GPUs', 'pci', [{'product-id': 0x2206}], GPUS, GPU_AUDIO),
    ('vendor-id and product-id together take the GPU audio functions', 'pci',
     [{'vendor-id': 0x10de, 'product-id': 0x1aef}], GPU_AUDIO, GPUS),
    ('vendor-id and a product-id of another vendor take nothing', 'pci',
     [{'vendor-id': 0x10de, 'product-id': 0x1572}], [], NVIDIA + ['0000:03:00.0']),
    ('subsystem ids take the Gigabyte boards', 'pci',
     [{'subsystem-vendor-id': 0x1458, 'subsystem-id': 0x403b}], NVIDIA, ['0000:00:17.0']),
    ('subsystem-id alone takes the X710 ports', 'pci', [{'subsystem-id': 0x0007}],
     ['0000:03:00.0', '0000:03:00.1'], VFS),
    ('subsystem ids that no board has take nothing', 'pci',
     [{'subsystem-vendor-id': 0x1458, 'subsystem-id': 0x0000}], [], NVIDIA),
    # class
    ('class without a mask is exact: VGA controllers', 'pci', [{'class': 0x030000}],
     GPUS + ['0000:0a:00.0'], GPU_AUDIO),
    ('class 0x040300 exactly: HD audio, not other multimedia', 'pci', [{'class': 0x040300}],
     GPU_AUDIO + ['0000:00:1f.3'], ['0000:05:00.0', '0000:05:00.1']),
    ('class with mask 0xff0000: every multimedia function', 'pci',
     [{'class': 0x040000, 'class-mask': 0xff0000}],
     GPU_AUDIO + ['0000:00:1f.3', '0000:05:00.0', '0000:05:00.1'], GPUS),
    ('class with mask 0xffff00: any programming interface', 'pci',
     [{'class': 0x0c0300, 'class-mask': 0xffff00}], ['0000:00:14.0'], ['0000:00:1f.4']),
    ('PCI bridges are never resources, whatever the class says', 'pci',
     [{'class': 0x060400, 'class-mask': 0xffff00}], [], ['0000:00:01.0', '0000:04:00.0']),
    ('a class no device has takes nothing', 'pci', [{'class': 0x0b4000}], [], GPUS),
    # names
    ('vendor-name glob', 'pci', [{'vendor-name': 'NVIDIA*'}], NVIDIA, ['0000:00:17.0']),
    ('vendor-name ignores case', 'pci', [{'vendor-name': 'nvidia corporation'}], NVIDIA, []),
    ('vendor-name of a vendor not on the host', 'pci', [{'vendor-name': 'Advanced Micro*'}], [],
     NVIDIA),
    ('product-name glob', 'pci', [{'product-name': '*RTX 3080*'}], GPUS, GPU_AUDIO),
    ('product-name glob with a bracket expression', 'pci',
     [{'product-name': '*[Gg]e[Ff]orce*'}], GPUS, GPU_AUDIO),
    ('product-name that nothing has', 'pci', [{'product-name': '*Radeon*'}], [], GPUS),
    # where
    ('address glob over two buses', 'pci', [{'address': '0000:0[12]:00.*'}], NVIDIA,
     ['0000:03:00.0']),
    ('exact address', 'pci', [{'address': '0000:01:00.1'}], ['0000:01:00.1'], ['0000:01:00.0']),
    ('address without domain', 'pci', [{'address': '02:00.0'}], ['0000:02:00.0'],
     ['0000:02:00.1']),
    ('address glob on an empty bus', 'pci', [{'address': '0000:0f:*'}], [], NVIDIA),
    ('slot "1" holds the first GPU card', 'pci', [{'slot': '1'}],
     ['0000:01:00.0', '0000:01:00.1'], ['0000:02:00.0']),
    ('a slot that does not exist', 'pci', [{'slot': '7'}], [], NVIDIA),
    ('numa-node 1 holds the second GPU card', 'pci', [{'numa-node': 1}],
     ['0000:02:00.0', '0000:02:00.1'], ['0000:01:00.0']),
    ('numa-node with no devices', 'pci', [{'numa-node': 2}], [], NVIDIA),
    # identity, driver
    ('serial from the PCIe DSN, shared by both functions of a card', 'pci',
     [{'serial': '1a-2b-3c-4d-5e-6f-70-82'}], ['0000:02:00.0', '0000:02:00.1'],
     ['0000:01:00.0']),
    ('serial from VPD', 'pci', [{'serial': '3CFDFEA1B2C0'}], ['0000:03:00.0', '0000:03:00.1'],
     VFS),
    ('a serial nobody has', 'pci', [{'serial': '1a-2b-3c-4d-5e-6f-70-99'}], [], NVIDIA),
    ('driver nouveau', 'pci', [{'driver': 'nouveau'}], ['0000:01:00.0'], ['0000:02:00.0']),
    ('driver vfio-pci: the prepared card', 'pci', [{'driver': 'vfio-pci'}],
     ['0000:02:00.0', '0000:02:00.1'], ['0000:01:00.0']),
    ('a driver nothing is bound to', 'pci', [{'driver': 'amdgpu'}], [], NVIDIA),
    # combinations
    ('all fields of a rule must match', 'pci', [{'vendor-id': 0x10de, 'numa-node': 0}],
     ['0000:01:00.0', '0000:01:00.1'], ['0000:02:00.0']),
    ('any rule may match', 'pci', [{'driver': 'nouveau'}, {'driver': 'bttv'}],
     ['0000:01:00.0', '0000:05:00.0'], ['0000:02:00.0']),
    # SR-IOV
    ('physical-function takes the VFs of a PF', 'sriov-nic',
     [{'physical-function': '0000:03:00.0'}], VFS, ['0000:03:00.0']),
    ('physical-function without domain', 'sriov-nic', [{'physical-function': '03:00.0'}], VFS, []),
    ('physical-function of a PF without VFs', 'sriov-nic',
     [{'physical-function': '0000:03:00.1'}], [], VFS),
    ('an sriov-nic group takes only VFs, even when the ids match the PF too', 'sriov-nic',
     [{'vendor-id': 0x8086, 'subsystem-vendor-id': 0x8086}], VFS,
     ['0000:03:00.0', '0000:03:00.1']),
    ('address in an sriov-nic group', 'sriov-nic', [{'address': '0000:03:02.1'}],
     ['0000:03:02.1'], ['0000:03:02.0']),
    # USB
    ('USB ids', 'usb', [{'vendor-id': 0x0781, 'product-id': 0x5581}], ['2-1'], ['1-1']),
    ('port-path glob behind the hub', 'usb', [{'port-path': '1-3.*'}], ['1-3.2'], ['1-3']),
    ('port-path glob over a bus: not the hub 1-3', 'usb', [{'port-path': '1-*'}],
     ['1-1', '1-3.2'], ['2-1', '1-3']),
    ('port-path as the kernel names the device', 'usb', [{'port-path': '1-3.2'}], ['1-3.2'],
     ['1-3', '1-1']),
    ('port-path of an empty bus', 'usb', [{'port-path': '3-*'}], [], ['1-1', '2-1']),
    ('USB serial', 'usb', [{'serial': '4C530001090927117045'}], ['2-1'], ['1-1']),
    ('USB vendor-name', 'usb', [{'vendor-name': 'SanDisk*'}], ['2-1'], ['1-1']),
    ('USB product-name', 'usb', [{'product-name': '*dongle*'}], ['1-3.2'], ['2-1']),
    ('USB driver: every device but the hub', 'usb', [{'driver': 'usb'}], ['1-1', '1-3.2', '2-1'],
     ['1-3']),
    ('hub ids match, but a hub is never a member', 'usb',
     [{'vendor-id': 0x05e3, 'product-id': 0x0608}], [], ['1-3']),
    ('USB class by interface: mass storage', 'usb', [{'class': 0x08}], ['2-1'], ['1-1', '1-3.2']),
    ('USB class by interface: HID', 'usb', [{'class': 0x03}], ['1-1'], ['2-1']),
    ('USB class of the device: vendor specific', 'usb', [{'class': 0xff}], ['1-3.2'], ['1-1']),
    ('USB class hub: no members', 'usb', [{'class': 0x09}], [], ['1-3']),
    ('a usb group never takes PCI functions', 'usb', [{'vendor-id': 0x10de}], [], []),
    ('a pci group never takes USB devices', 'pci', [{'vendor-id': 0x0781}], [], ['2-1']),
    # vgpu
    ('no mediated devices are published yet: a vgpu group is empty', 'vgpu',
     [{'vendor-id': 0x10de}], [], NVIDIA),
]


class RuleFieldsTest(GroupsTestCase):

    def host_description(self):
        host = self.host.copy()
        for a in ('0000:02:00.0', '0000:02:00.1'):
            host.pci_device(a)['numa_node'] = 1
        return host

    def expected_members(self, group_type, rules):
        host = self.host_description()
        return harness.groups.expected_available(
            host, harness.groups.expected_members(host.pci + host.usb, group_type, rules))

    def test_fields(self):
        """Every case: the group holds exactly the devices host.json says,
        including and excluding the ones the case names; each device's
        ResourceGroup points at the group; the group is deleted again."""
        for i, (story, group_type, rules, members, outsiders) in enumerate(CASES):
            with self.subTest(story):
                path = self.create('case-%d' % i, group_type, rules=rules)
                try:
                    props = self.props(path)
                    expected = self.expected_devices(group_type, rules)
                    self.assertEqual(props['Type'], group_type)
                    self.assertEqual(props['Devices'], expected)
                    self.assertEqual(props['Total'], len(expected))
                    # nothing is claimed: every member is free, a member
                    # being a PCI function's IOMMU group or a USB device
                    self.assertEqual(props['Claimed'], 0)
                    self.assertEqual(props['Available'], self.expected_members(group_type, rules))
                    for a in members:
                        self.assertIn(self.dev_path(a), props['Devices'], a)
                    for a in outsiders:
                        self.assertNotIn(self.dev_path(a), props['Devices'], a)
                    if not members:
                        self.assertEqual(props['Devices'], [])
                    owners = self.memberships()
                    for a, owner in owners.items():
                        in_group = self.dev_path(a) in expected
                        self.assertEqual(owner, path if in_group else hostspec.NO_OBJECT, a)
                finally:
                    self.delete(path)

    def test_rules_read_back_as_given(self):
        """Rules come back with the fields and types they were given; an
        address given without domain comes back in the kernel's spelling."""
        rules = [
            {'vendor-id': 0x10de, 'product-id': 0x2206, 'subsystem-vendor-id': 0x1458,
             'subsystem-id': 0x403b, 'class': 0x030000, 'class-mask': 0xff0000,
             'vendor-name': 'NVIDIA*', 'product-name': '*3080*', 'address': '0000:0?:00.0',
             'slot': '1', 'serial': '1a-2b-3c-4d-5e-6f-70-81', 'driver': 'nouveau',
             'numa-node': 0},
            {'address': '02:00.0'},
        ]
        path = self.create('everything', rules=rules)
        expected = [dict(rules[0]), {'address': '0000:02:00.0'}]
        self.assertEqual(self.props(path)['Rules'], expected)
        # the D-Bus types of the values, as the contract lists them
        raw = self.client.conn.call_sync(
            hostspec.BUS_NAME, path, 'org.freedesktop.DBus.Properties', 'Get',
            GLib.Variant('(ss)', (RG_IFACE, 'Rules')), None,
            0, 5000, None)
        value = raw.get_child_value(0).get_variant()
        self.assertEqual(value.get_type_string(), 'aa{sv}')
        for i in range(value.n_children()):
            rule = value.get_child_value(i)
            for j in range(rule.n_children()):
                entry = rule.get_child_value(j)
                key = entry.get_child_value(0).get_string()
                vtype = entry.get_child_value(1).get_variant().get_type_string()
                self.assertEqual(vtype, FIELD_TYPES[key], key)
        self.assertEqual(self.props(path)['Devices'], [self.dev_path('0000:01:00.0'),
                                                       self.dev_path('0000:02:00.0')])


if __name__ == '__main__':
    harness.main()
