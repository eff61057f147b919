#!/usr/bin/python3
"""Making resources from selected devices, and membership as devices come,
go, move and change drivers; a device belongs to one group at most.

The simulated host has two GeForce RTX 3080 cards, each a GPU function
(.0) and an HD audio function (.1) in one IOMMU group, with a PCIe serial
number shared by both functions: 0000:01:00.x (serial ...-81, slot 1,
bound to nouveau and snd_hda_intel) and 0000:02:00.x (serial ...-82,
slot 2, bound to vfio-pci). host.json's hotplug entry "gpu3" is a third
such card (serial ...-83) for the empty hotplug slot 3 behind 00:1b.4.
"""

import fnmatch
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.client import SignalRecorder  # noqa: E402
from harness.groups import (  # noqa: E402
    ERR_BUSY, MANAGER, RG_IFACE, GroupsTestCase)

GPU1, AUDIO1 = '0000:01:00.0', '0000:01:00.1'
GPU2, AUDIO2 = '0000:02:00.0', '0000:02:00.1'
HOTPLUG_BRIDGE = '0000:00:1b.4'


class DeviceMovedRecorder:
    """Manager.DeviceMoved signals of hostdevd, as (group, serial, old, new)."""

    def __init__(self, test):
        self.signals = []
        conn = test.client.conn
        self.sub = conn.signal_subscribe(test.daemon.unique_name, MANAGER, 'DeviceMoved',
                                         hostspec.ROOT_PATH, None, 0, self._on)
        test.addCleanup(conn.signal_unsubscribe, self.sub)
        test.client.name_has_owner(hostspec.BUS_NAME)  # the match rule is in place

    def _on(self, _conn, _sender, _path, _iface, _member, params):
        self.signals.append(tuple(params.unpack()))


def signalled(rec, path, interface, prop):
    """The last value of a property that InterfacesAdded or
    PropertiesChanged announced for an object (None when none did):
    changes made while the object was being added may come in the
    InterfacesAdded itself."""
    value = None
    for e in rec.events:
        if e['path'] != path:
            continue
        if e['signal'] == 'InterfacesAdded' and prop in e['interfaces'].get(interface, {}):
            value = e['interfaces'][interface][prop]
        elif e['signal'] == 'PropertiesChanged' and e['interface'] == interface \
                and prop in e['changed']:
            value = e['changed'][prop]
    return value


class MembershipTestCase(GroupsTestCase):

    def spec(self, address):
        return dict(self.host.pci_device(address))

    def gpu3_specs(self):
        return [dict(s) for s in self.host.data['hotplug']['gpu3']['pci']]

    def hot_add(self, specs):
        self.sim.add_pci_devices(specs)
        for s in specs:
            self.wait_until(lambda: self.dev_path(s['address']) in self.client.managed_objects(),
                            what='%s to be published' % s['address'])

    def dev_path(self, address):
        # devices added by the tests are not in host.json's device list
        return hostspec.pci_path(address) if ':' in address else super().dev_path(address)

    def wait_devices(self, group, expected, what):
        self.wait_until(lambda: self.props(group)['Devices'] == expected, what=what)

    def moved_spec(self, address, new_address, iommu_group):
        """The same function, put in hotplug slot 3 (bus 06 behind 00:1b.4)."""
        s = self.spec(address)
        s.update(address=new_address, parent=HOTPLUG_BRIDGE, slot='3', iommu_group=iommu_group)
        return s


class MakeResourceTest(MembershipTestCase):

    def assertSerialRule(self, rule, address):
        """A rule that finds the function at `address` by its ids, its
        serial and its function number, and would find it in any slot."""
        dev = self.host.pci_device(address)
        self.assertEqual(rule.get('vendor-id'), int(dev['vendor_id'], 16), rule)
        self.assertEqual(rule.get('product-id'), int(dev['device_id'], 16), rule)
        self.assertEqual(rule.get('serial'), dev['serial'], rule)
        self.assertIn('address', rule, 'no function number in %r' % rule)
        function = address[-1]
        other = '1' if function == '0' else '0'
        self.assertTrue(fnmatch.fnmatchcase(address, rule['address']), rule)
        self.assertTrue(fnmatch.fnmatchcase('0000:0e:00.' + function, rule['address']),
                        '%r does not survive a move to another bus' % rule)
        self.assertFalse(fnmatch.fnmatchcase(address[:-1] + other, rule['address']),
                         '%r would take the other function of the card' % rule)
        self.assertLessEqual(set(rule), {'vendor-id', 'product-id', 'subsystem-vendor-id',
                                         'subsystem-id', 'serial', 'address'}, rule)

    def test_two_gpus(self):
        """MakeResource on the two GPUs gives a pci group of both, with one
        serial rule each, and offers their audio functions as companions."""
        path, companions = self.make_resource([GPU1, GPU2], 'rtx3080')
        props = self.props(path)
        self.assertEqual(props['Name'], 'rtx3080')
        self.assertEqual(props['Type'], 'pci')
        self.assertEqual(props['Devices'], [self.dev_path(GPU1), self.dev_path(GPU2)])
        self.assertEqual((props['Total'], props['Available']), (2, 2))
        self.assertEqual(companions, [self.dev_path(AUDIO1), self.dev_path(AUDIO2)])
        self.assertEqual(len(props['Rules']), 2)
        by_serial = {r.get('serial'): r for r in props['Rules']}
        for gpu in (GPU1, GPU2):
            self.assertSerialRule(by_serial.get(self.host.pci_device(gpu)['serial'], {}), gpu)
        self.assertEqual(self.device_group(GPU1), path)
        self.assertEqual(self.device_group(GPU2), path)
        self.assertEqual(self.device_group(AUDIO1), hostspec.NO_OBJECT)

    def test_include_companions(self):
        """With include-companions the audio functions join: four
        devices, four serial rules, no companions left to offer."""
        path, companions = self.make_resource([GPU1, GPU2], 'rtx3080-full',
                                              **{'include-companions': True})
        props = self.props(path)
        self.assertEqual(companions, [])
        self.assertEqual(props['Devices'], [self.dev_path(a) for a in (GPU1, AUDIO1, GPU2, AUDIO2)])
        self.assertEqual(len(props['Rules']), 4)
        for address in (GPU1, AUDIO1, GPU2, AUDIO2):
            serial = self.host.pci_device(address)['serial']
            rules = [r for r in props['Rules'] if r.get('serial') == serial and
                     fnmatch.fnmatchcase(address, r.get('address', ''))]
            self.assertEqual(len(rules), 1, address)
            self.assertSerialRule(rules[0], address)

    def test_options(self):
        """Description and class given to MakeResource are the group's."""
        path, _ = self.make_resource([GPU1], 'one-gpu', description='for the CAD VM',
                                     **{'class': 'gpu'})
        props = self.props(path)
        self.assertEqual((props['Description'], props['Class']), ('for the CAD VM', 'gpu'))

    def test_device_without_serial_or_slot(self):
        """The Bt878 capture card has neither serial nor slot: its rule
        names its ids and its address."""
        path, companions = self.make_resource(['0000:05:00.0'], 'capture')
        dev = self.host.pci_device('0000:05:00.0')
        props = self.props(path)
        self.assertEqual(props['Devices'], [self.dev_path('0000:05:00.0')])
        self.assertEqual(companions, [self.dev_path('0000:05:00.1')])  # not the bridge 04:00.0
        self.assertEqual(len(props['Rules']), 1)
        rule = props['Rules'][0]
        self.assertEqual(rule.get('vendor-id'), int(dev['vendor_id'], 16))
        self.assertEqual(rule.get('product-id'), int(dev['device_id'], 16))
        self.assertEqual(rule.get('address'), '0000:05:00.0')
        self.assertNotIn('serial', rule)

    def test_usb(self):
        """USB devices make a usb group: the flash drive by its ids and
        serial, the dongle (no serial) by its ids and port path."""
        path, companions = self.make_resource(['2-1', '1-3.2'], 'usb-things')
        props = self.props(path)
        self.assertEqual(props['Type'], 'usb')
        self.assertEqual(companions, [])
        self.assertEqual(props['Devices'], [self.dev_path('1-3.2'), self.dev_path('2-1')])
        flash = self.host.usb_device('2-1')
        dongle = self.host.usb_device('1-3.2')
        self.assertIn({'vendor-id': int(flash['vendor_id'], 16),
                       'product-id': int(flash['product_id'], 16),
                       'serial': flash['serial']}, props['Rules'])
        self.assertIn({'vendor-id': int(dongle['vendor_id'], 16),
                       'product-id': int(dongle['product_id'], 16),
                       'port-path': '1-3.2'}, props['Rules'])

    def test_virtual_functions(self):
        """VFs make an sriov-nic group; each is found as VF n of its PF,
        with its ids."""
        vfs = ['0000:03:02.0', '0000:03:02.1']
        path, _ = self.make_resource(vfs, 'vfs')
        props = self.props(path)
        self.assertEqual(props['Type'], 'sriov-nic')
        self.assertEqual(props['Devices'], [self.dev_path(a) for a in vfs])
        want = []
        for a in vfs:
            vf = self.host.pci_device(a)
            pf = vf['physfn']
            index = vf['vf_index']
            want.append({'vendor-id': int(vf['vendor_id'], 16), 'product-id': int(vf['device_id'], 16),
                         'physical-function': pf, 'vf-index': str(index)})
        self.assertEqual(sorted(props['Rules'], key=lambda r: r['vf-index']), want)


class HotplugTest(MembershipTestCase):

    def test_ids_group_grows_with_a_third_gpu(self):
        """A group for every RTX 3080 (vendor and product id) holds the two
        GPUs; hot-adding a third card adds its GPU to the group, with
        signals; unplugging it takes it out again."""
        path = self.create('every-3080', rules=[{'vendor-id': 0x10de, 'product-id': 0x2206}])
        self.assertEqual(self.props(path)['Devices'], [self.dev_path(GPU1), self.dev_path(GPU2)])
        rec = self.record_signals()

        self.hot_add(self.gpu3_specs())
        three = [self.dev_path(a) for a in (GPU1, GPU2, '0000:06:00.0')]
        self.wait_devices(path, three, 'the third GPU to join')
        self.assertEqual(self.props(path)['Total'], 3)
        self.assertEqual(self.device_group('0000:06:00.0'), path)
        self.assertEqual(self.device_group('0000:06:00.1'), hostspec.NO_OBJECT)
        # what a client following the signals believes
        rec.wait_for(lambda ev: signalled(rec, path, RG_IFACE, 'Devices') == three,
                     what='the signals to show the group with the third GPU')
        rec.wait_for(lambda ev: signalled(rec, self.dev_path('0000:06:00.0'),
                                          'org.hostdev1.Device', 'ResourceGroup') == path,
                     what='the signals to show the new GPU as a member')

        self.sim.remove_pci_devices(['0000:06:00.0', '0000:06:00.1'])
        self.wait_devices(path, three[:2], 'the unplugged GPU to leave')

    def test_make_resource_group_keeps_to_its_cards(self):
        """A group made from the two GPUs finds them by serial: a third
        card, with its own serial, does not join it (see the contract:
        MakeResource's rules "find them again")."""
        path, _ = self.make_resource([GPU1, GPU2], 'these-two')
        self.hot_add(self.gpu3_specs())
        SignalRecorder.pump(0.3)
        self.assertEqual(self.props(path)['Devices'], [self.dev_path(GPU1), self.dev_path(GPU2)])
        self.assertEqual(self.device_group('0000:06:00.0'), hostspec.NO_OBJECT)

    def test_moved_card_keeps_membership(self):
        """The second card is taken out of slot 2 and put into hotplug
        slot 3: same serial, new addresses. Both functions stay in the
        group, DeviceMoved tells where each went, and the devices'
        ResourceGroup follows. After a restart, moving it back is also
        recognised: the last address was kept."""
        path, _ = self.make_resource([GPU2], 'moving-card', **{'include-companions': True})
        serial = self.host.pci_device(GPU2)['serial']
        moved = DeviceMovedRecorder(self)
        group = self.gpu3_specs()[0]['iommu_group']

        self.sim.remove_pci_devices([GPU2, AUDIO2])
        self.wait_devices(path, [], 'the card to leave its slot')
        self.sim.add_pci_devices([self.moved_spec(GPU2, '0000:06:00.0', group),
                                  self.moved_spec(AUDIO2, '0000:06:00.1', group)])
        new = [self.dev_path('0000:06:00.0'), self.dev_path('0000:06:00.1')]
        self.wait_devices(path, new, 'the card to be back in its group')
        self.wait_until(lambda: len(moved.signals) >= 2, what='two DeviceMoved signals')
        self.assertEqual(sorted(moved.signals), [
            (path, serial, GPU2, '0000:06:00.0'),
            (path, serial, AUDIO2, '0000:06:00.1'),
        ])
        self.assertEqual(self.device_group('0000:06:00.0'), path)
        self.assertEqual(self.device_group('0000:06:00.1'), path)

        self.restart_daemon()
        self.assertEqual(self.props(path)['Devices'], new)
        moved = DeviceMovedRecorder(self)
        self.sim.remove_pci_devices(['0000:06:00.0', '0000:06:00.1'])
        self.sim.add_pci_devices([self.spec(GPU2), self.spec(AUDIO2)])
        self.wait_devices(path, [self.dev_path(GPU2), self.dev_path(AUDIO2)], 'the card back in slot 2')
        self.wait_until(lambda: len(moved.signals) >= 2, what='two DeviceMoved signals')
        self.assertEqual(sorted(moved.signals), [
            (path, serial, '0000:06:00.0', GPU2),
            (path, serial, '0000:06:00.1', AUDIO2),
        ])

    def test_membership_follows_the_driver(self):
        """A group of the functions bound to nouveau: unbinding the GPU
        takes it out, binding it again brings it back."""
        path = self.create('nouveau-bound', rules=[{'driver': 'nouveau'}])
        self.assertEqual(self.props(path)['Devices'], [self.dev_path(GPU1)])
        self.write_sysfs('/sys/bus/pci/drivers/nouveau/unbind', GPU1)
        self.wait_devices(path, [], 'the unbound GPU to leave')
        self.assertEqual(self.device_group(GPU1), hostspec.NO_OBJECT)
        self.write_sysfs('/sys/bus/pci/drivers/nouveau/bind', GPU1)
        self.wait_devices(path, [self.dev_path(GPU1)], 'the bound GPU to return')
        self.assertEqual(self.device_group(GPU1), path)


class ExclusivityTest(MembershipTestCase):
    """A device belongs to at most one group."""

    def setUp(self):
        super().setUp()
        self.gpus = self.create('gpus', rules=[{'vendor-id': 0x10de, 'product-id': 0x2206}])

    def test_create_taking_a_held_device(self):
        """Creating a group whose rules take the second GPU, which "gpus"
        holds, fails with Busy naming the GPU and the group."""
        err = self.refused('CreateResourceGroup over a held GPU',
                           lambda: self.create('second', rules=[{'address': GPU2}]), ERR_BUSY)
        if err is not None:
            self.assertCallError(err, ERR_BUSY, GPU2, 'gpus')

    def test_make_resource_of_a_held_device(self):
        """MakeResource of a held GPU fails with Busy naming it."""
        err = self.refused('MakeResource of a held GPU',
                           lambda: self.make_resource([GPU1], 'mine'), ERR_BUSY)
        if err is not None:
            self.assertCallError(err, ERR_BUSY, GPU1, 'gpus')

    def test_set_rules_taking_a_held_device(self):
        """Changing the rules of "capture" so that they also take NVIDIA
        GPUs fails with Busy naming the first GPU; its rules stay."""
        capture = self.create('capture', rules=[{'driver': 'bttv'}])
        err = self.refused('SetRules over held GPUs',
                           lambda: self.set_rules(capture, [{'driver': 'bttv'},
                                                            {'vendor-id': 0x10de}]), ERR_BUSY)
        if err is not None:
            self.assertCallError(err, ERR_BUSY, GPU1, 'gpus')
        self.assertEqual(self.props(capture)['Rules'], [{'driver': 'bttv'}])

    def test_a_group_does_not_conflict_with_itself(self):
        """"gpus" may widen its own rules to every NVIDIA function."""
        self.set_rules(self.gpus, [{'vendor-id': 0x10de}])
        self.assertEqual(self.props(self.gpus)['Devices'],
                         [self.dev_path(a) for a in (GPU1, AUDIO1, GPU2, AUDIO2)])

    def test_deleting_frees_devices(self):
        """Once "gpus" is deleted, its GPUs belong to no group and another
        group may take them."""
        self.delete(self.gpus)
        self.assertEqual(self.device_group(GPU1), hostspec.NO_OBJECT)
        path = self.create('second', rules=[{'address': GPU2}])
        self.assertEqual(self.props(path)['Devices'], [self.dev_path(GPU2)])

    def test_hot_added_device_goes_to_the_oldest_group(self):
        """Two groups whose rules both take a hot-added third GPU (one by
        ids, created first; one by slot 3, holding nothing yet): the
        older group gets it."""
        slot3 = self.create('slot-3', rules=[{'slot': '3'}])
        self.hot_add(self.gpu3_specs())
        gpu3 = self.dev_path('0000:06:00.0')
        self.wait_until(lambda: gpu3 in self.props(self.gpus)['Devices'], what='gpus to take the GPU')
        self.assertEqual(self.device_group('0000:06:00.0'), self.gpus)
        self.wait_until(lambda: self.props(slot3)['Devices'] == [self.dev_path('0000:06:00.1')],
                        what='slot-3 to take the audio function')
        self.assertEqual(self.device_group('0000:06:00.1'), slot3)


if __name__ == '__main__':
    harness.main()
