#!/usr/bin/python3
"""Introspection: what each object says about itself is the contract.

dbus/*.xml is the D-Bus API contract, one file per interface. Every
org.hostdev1 interface an object introspects must equal its contract file
(methods with their arguments, names, types and directions; properties
with type, access and EmitsChangedSignal; signals with their arguments),
and each kind of object must carry the interfaces the contract gives it.
The standard org.freedesktop.DBus.* interfaces are sd-bus's business and
are not compared.
"""

import glob
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import paths  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.hostspec import ROOT_PATH, group_path, pci_path, usb_path  # noqa: E402

EMITS = 'org.freedesktop.DBus.Property.EmitsChangedSignal'

# the interfaces each kind of object must have
OBJECTS = {
    'manager': (ROOT_PATH, {'org.hostdev1.Manager'}),
    'PCI function': (pci_path('0000:01:00.0'), {'org.hostdev1.Device', 'org.hostdev1.PciDevice'}),
    'SR-IOV PF': (pci_path('0000:03:00.0'), {'org.hostdev1.Device', 'org.hostdev1.PciDevice',
                                             'org.hostdev1.SriovPhysicalFunction'}),
    'SR-IOV VF': (pci_path('0000:03:02.1'), {'org.hostdev1.Device', 'org.hostdev1.PciDevice'}),
    'bridge': (pci_path('0000:04:00.0'), {'org.hostdev1.Device', 'org.hostdev1.PciDevice'}),
    'USB device': (usb_path('1-3.2'), {'org.hostdev1.Device', 'org.hostdev1.UsbDevice'}),
    'IOMMU group': (group_path(12), {'org.hostdev1.IommuGroup'}),
}


def describe_interface(node):
    """An <interface> element as comparable data."""
    methods, props, signals = {}, {}, {}
    for m in node.findall('method'):
        methods[m.get('name')] = [(a.get('name'), a.get('type'), a.get('direction') or 'in')
                                  for a in m.findall('arg')]
    for p in node.findall('property'):
        emits = 'true'  # the D-Bus default when the annotation is absent
        for a in p.findall('annotation'):
            if a.get('name') == EMITS:
                emits = a.get('value')
        props[p.get('name')] = (p.get('type'), p.get('access'), emits)
    for s in node.findall('signal'):
        signals[s.get('name')] = [(a.get('name'), a.get('type')) for a in s.findall('arg')]
    return {'methods': methods, 'properties': props, 'signals': signals}


def load_contract():
    contract = {}
    for f in sorted(glob.glob(os.path.join(paths.DBUS_CONTRACT_DIR, '*.xml'))):
        for iface in ET.parse(f).getroot().findall('interface'):
            contract[iface.get('name')] = describe_interface(iface)
    return contract


class Introspection(HostdevTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contract = load_contract()

    def introspect(self, path):
        root = ET.fromstring(self.client.introspect(path))
        return {i.get('name'): describe_interface(i) for i in root.findall('interface')
                if not i.get('name').startswith('org.freedesktop.DBus.')}

    def test_contract_is_readable(self):
        """The contract files parse and define the interfaces used here."""
        for _kind, (_path, ifaces) in OBJECTS.items():
            for iface in ifaces:
                self.assertIn(iface, self.contract)

    def test_every_object_kind_matches_the_contract(self):
        """The manager, a PCI function, a PF, a VF, a bridge, a USB device and
        a group: each has its interfaces, and each interface equals its
        contract file."""
        for kind, (path, required) in OBJECTS.items():
            with self.subTest(kind=kind, path=path):
                actual = self.introspect(path)
                self.assertEqual(set(actual) & required, required, 'interfaces missing')
                for name, iface in actual.items():
                    self.assertIn(name, self.contract, 'interface not in the contract')
                    want = self.contract[name]
                    for section in ('methods', 'properties', 'signals'):
                        self.assertEqual(iface[section], want[section],
                                         '%s: %s of %s' % (path, section, name))

    def test_objects_of_a_kind_agree(self):
        """All devices introspect alike (per interface), whatever their driver
        or state: the host GPU and the one on vfio-pci, a keyboard and a
        stick, a viable group and a blocked one."""
        pairs = [(pci_path('0000:01:00.0'), pci_path('0000:02:00.0')),
                 (pci_path('0000:00:00.0'), pci_path('0000:0a:00.0')),
                 (usb_path('1-1'), usb_path('2-1')),
                 (group_path(12), group_path(13))]
        for a, b in pairs:
            with self.subTest(a=a, b=b):
                self.assertEqual(self.introspect(a), self.introspect(b))

    def test_object_tree(self):
        """The root's introspection lists the pci, usb and iommu_group
        collections as child nodes."""
        root = ET.fromstring(self.client.introspect(ROOT_PATH))
        children = {n.get('name') for n in root.findall('node')}
        self.assertLessEqual({'pci', 'usb', 'iommu_group'}, children)


if __name__ == '__main__':
    harness.main()
