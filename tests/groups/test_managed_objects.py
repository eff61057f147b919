#!/usr/bin/python3
"""GetManagedObjects, InterfacesAdded and InterfacesRemoved say what the
objects themselves say.

hostdevd writes GetManagedObjects and InterfacesAdded from its model in
one pass, not through sd-bus's walk of the object tree. Whatever writes
them, a client must be able to trust them as it trusts each object: the
objects listed are exactly the host's devices and IOMMU groups (from
host.json) and the resource groups that exist; each object lists exactly
the interfaces it introspects (the standard org.freedesktop.DBus ones
aside, which no object lists); every interface's properties equal what
Properties.GetAll answers on that object. The same holds for the objects
a hotplug or a new resource group announces, and InterfacesRemoved names
the interfaces the object was listed with.

The host has two RTX 3080 cards (01:00.x, 02:00.x) and an X710 whose
first port has two VFs; host.json's hotplug entry "gpu3" is a third card.
"""

import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.groups import RG_IFACE, GroupsTestCase  # noqa: E402

STANDARD = 'org.freedesktop.DBus.'
GROUP_IFACE = 'org.hostdev1.IommuGroup'


def rules_for(address):
    return [{'address': address}]


class ManagedObjects(GroupsTestCase):

    def expected_interfaces(self, path):
        """The interfaces an object must list, from host.json."""
        for dev in self.host.devices:
            if hostspec.device_path(dev) == path:
                return set(self.host.expected_interfaces(dev))
        if path in self.host.group_paths():
            return {GROUP_IFACE}
        raise AssertionError('%s is not on the host' % path)

    def introspected(self, path):
        root = ET.fromstring(self.client.introspect(path))
        return {i.get('name') for i in root.findall('interface') if not i.get('name').startswith(STANDARD)}

    def assertAgreesWithObjects(self, objects):
        """Each object's interfaces are what it introspects, each with what
        GetAll answers."""
        for path, ifaces in sorted(objects.items()):
            with self.subTest(path=path):
                self.assertEqual(set(ifaces), self.introspected(path), 'interfaces of %s' % path)
                for iface, props in ifaces.items():
                    self.assertEqual(props, self.client.get_all(path, iface), '%s %s' % (path, iface))

    def test_the_objects_of_the_host_and_its_resource_groups(self):
        """With two resource groups (one holding the first GPU, one empty),
        the reply lists every device and IOMMU group of host.json with the
        interfaces host.json gives it, and the two groups."""
        taken = self.create('first-gpu', rules=rules_for('0000:01:00.0'))
        empty = self.create('nothing-yet', rules=[])
        objects = self.client.managed_objects()
        expected = self.host.device_paths() | self.host.group_paths() | {taken, empty}
        self.assertEqual(set(objects), expected)
        for path, ifaces in objects.items():
            with self.subTest(path=path):
                self.assertFalse([i for i in ifaces if i.startswith(STANDARD)], 'standard interfaces listed')
                want = {RG_IFACE} if path in (taken, empty) else self.expected_interfaces(path)
                self.assertEqual(set(ifaces), want)
        self.assertEqual(objects[taken][RG_IFACE]['Devices'], [hostspec.pci_path('0000:01:00.0')])
        self.assertEqual(objects[empty][RG_IFACE]['Devices'], [])

    def test_every_interface_equals_get_all(self):
        """Every object of the reply, resource groups included, lists the
        interfaces it introspects, each with exactly what GetAll answers."""
        self.create('first-gpu', rules=rules_for('0000:01:00.0'))
        self.create('vfs', 'sriov-nic', rules=[{'vendor-id': 0x8086}])
        self.assertAgreesWithObjects(self.client.managed_objects())

    def test_announced_objects_equal_get_all(self):
        """The third GPU, its group and a new resource group are announced
        with what GetManagedObjects and GetAll then say of them (changes
        signalled after the announcement applied); pulling the GPU again
        names the interfaces it was listed with."""
        rec = self.record_signals()
        gpu3 = [dict(s) for s in self.host.data['hotplug']['gpu3']['pci']]
        paths = [hostspec.pci_path(s['address']) for s in gpu3]
        self.sim.add_pci_devices(gpu3)
        rg = self.create('third-gpu', rules=rules_for(gpu3[0]['address']))
        rec.wait_for(lambda ev: {p for p in paths + [rg] if any(
            e['signal'] == 'InterfacesAdded' and e['path'] == p for e in ev)} == set(paths + [rg]),
            what='InterfacesAdded for the GPU functions and the resource group')
        rec.quiet()

        announced = {}
        for e in rec.events:
            if e['signal'] == 'InterfacesAdded':
                announced[e['path']] = {i: dict(p) for i, p in e['interfaces'].items()}
            elif e['signal'] == 'PropertiesChanged' and e['path'] in announced:
                announced[e['path']][e['interface']].update(e['changed'])
        self.assertIn(hostspec.group_path(19), announced, 'the new IOMMU group is announced')
        objects = self.client.managed_objects()
        for path, ifaces in announced.items():
            with self.subTest(path=path):
                self.assertEqual(ifaces, objects[path])
        self.assertAgreesWithObjects({p: objects[p] for p in announced})
        self.assertEqual(objects[rg][RG_IFACE]['Devices'], [paths[0]])

        rec.clear()
        self.sim.remove_pci_devices([s['address'] for s in gpu3])
        rec.wait_for(lambda ev: all(any(e['signal'] == 'InterfacesRemoved' and e['path'] == p for e in ev)
                                    for p in paths), what='InterfacesRemoved for the GPU functions')
        for e in rec.events:
            if e['signal'] == 'InterfacesRemoved' and e['path'] in paths:
                self.assertEqual(sorted(e['interfaces']), sorted(objects[e['path']]), e['path'])

    def test_no_arguments(self):
        """GetManagedObjects with an argument is refused as sd-bus would."""
        from gi.repository import GLib
        err = self.client.call_error(hostspec.ROOT_PATH, 'org.freedesktop.DBus.ObjectManager',
                                     'GetManagedObjects', GLib.Variant('(s)', ('x',)))
        self.assertEqual(err.name, 'org.freedesktop.DBus.Error.InvalidArgs')


if __name__ == '__main__':
    harness.main()
