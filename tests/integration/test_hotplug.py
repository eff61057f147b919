#!/usr/bin/python3
"""Hotplug: hostdevd follows the kernel's uevents and tells its clients.

Devices come and go (a third GPU in the empty hotplug slot 3, a USB stick,
SR-IOV virtual functions) and drivers let go of devices and take them
again; each time the daemon announces it with ObjectManager and
PropertiesChanged signals, in an order a client can follow: a group
appears before the devices that point at it and disappears after them,
and a device's own change comes before the change it causes in its group.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.client import CallError, added, changed, describe, removed  # noqa: E402
from harness.hostspec import group_path, pci_path, usb_path  # noqa: E402

DEVICE = 'org.hostdev1.Device'
GROUP = 'org.hostdev1.IommuGroup'
SRIOV = 'org.hostdev1.SriovPhysicalFunction'


class Hotplug(HostdevTestCase):

    def gpu3(self):
        return self.host.data['hotplug']['gpu3']

    def add_gpu3(self, rec):
        self.sim.add_pci_devices(self.gpu3()['pci'])
        paths = [pci_path(d['address']) for d in self.gpu3()['pci']]
        rec.wait_for(lambda ev: all(rec.seen(added(p)) for p in paths + [group_path(19)]),
                     what='InterfacesAdded for the third GPU and its group')
        return paths

    def test_third_gpu_appears(self):
        """A third RTX 3080 and its audio function arrive in slot 3: the new
        group 19 is announced before the devices that point at it, the two
        functions in address order, and once the daemon has settled both
        carry the properties host.json gives them."""
        rec = self.record_signals()
        video, audio = self.add_gpu3(rec)
        # the group before its devices, the functions in address order
        self.assertSignalOrder(rec, added(group_path(19)), added(video), added(audio))
        for path in (video, audio):
            self.assertIn(DEVICE, rec.first(added(path))['interfaces'])
            self.assertIn('org.hostdev1.PciDevice', rec.first(added(path))['interfaces'])
        rec.quiet()
        host = self.host.copy()
        host.pci.extend(self.gpu3()['pci'])
        objs = self.client.managed_objects()
        for dev in self.gpu3()['pci']:
            self.assertDevice(host, objs, dev)
        exp = host.expected_group(19)
        props = self.client.get_all(group_path(19), GROUP)
        self.assertEqual(props['Devices'], exp['Devices'])
        self.assertEqual(props['Viable'], False)
        self.assertEqual([b[0] for b in props['Blockers']], [b[0] for b in exp['Blockers']])
        self.assertEqual(self.client.get_device('06:00.1'), audio)

    def test_third_gpu_goes_away(self):
        """When the GPU is pulled again, both functions are removed before
        their group, and GetDevice no longer finds them."""
        rec = self.record_signals()
        video, audio = self.add_gpu3(rec)
        rec.quiet()
        rec.clear()
        self.sim.remove_pci_devices([d['address'] for d in self.gpu3()['pci']])
        rec.wait_for(lambda ev: rec.seen(removed(group_path(19))),
                     what='InterfacesRemoved for group 19')
        # the devices before their group
        self.assertSignalOrder(rec, removed(video), removed(group_path(19)))
        self.assertSignalOrder(rec, removed(audio), removed(group_path(19)))
        objs = self.client.managed_objects()
        for p in (video, audio, group_path(19)):
            self.assertNotIn(p, objs)
        with self.assertRaises(CallError) as cm:
            self.client.get_device('06:00.0')
        self.assertEqual(cm.exception.name, 'org.hostdev1.Error.NotFound')

    def test_unbind_and_bind(self):
        """The host GPU's audio function is released by snd_hda_intel, then
        the video function by nouveau, then nouveau takes it back. Each time
        the device's Driver changes first, then its group's Blockers and
        Viable: one blocker left, viable, one blocker again."""
        rec = self.record_signals()
        video, audio, group = pci_path('0000:01:00.0'), pci_path('0000:01:00.1'), group_path(12)

        self.write_sysfs('/sys/bus/pci/drivers/snd_hda_intel/unbind', '0000:01:00.1')
        rec.wait_for(lambda ev: rec.seen(changed(group, GROUP, 'Blockers')),
                     what="group 12's Blockers to change")
        self.assertSignalOrder(rec, changed(audio, DEVICE, 'Driver', ''),
                               changed(group, GROUP, 'Blockers'))
        self.assertEqual([b[0] for b in self.client.get(group, GROUP, 'Blockers')], [video])
        self.assertEqual(self.client.get(group, GROUP, 'Viable'), False)
        rec.clear()

        self.write_sysfs('/sys/bus/pci/devices/0000:01:00.0/driver/unbind', '0000:01:00.0')
        rec.wait_for(lambda ev: rec.seen(changed(group, GROUP, 'Viable', True)),
                     what='group 12 to become viable')
        self.assertSignalOrder(rec, changed(video, DEVICE, 'Driver', ''),
                               changed(group, GROUP, 'Viable', True))
        self.assertEqual(self.client.get(group, GROUP, 'Blockers'), [])
        rec.clear()

        self.write_sysfs('/sys/bus/pci/drivers/nouveau/bind', '0000:01:00.0')
        rec.wait_for(lambda ev: rec.seen(changed(group, GROUP, 'Viable', False)),
                     what='group 12 to stop being viable')
        self.assertSignalOrder(rec, changed(video, DEVICE, 'Driver', 'nouveau'),
                               changed(group, GROUP, 'Viable', False))
        self.assertEqual([b[0] for b in self.client.get(group, GROUP, 'Blockers')], [video])

    def test_state_follows_vfio(self):
        """The spare GPU's video function leaves vfio-pci: Driver "" and
        State "host" in one change; bound again, "vfio-pci" and "prepared".
        Its group stays viable throughout (driverless is fine)."""
        rec = self.record_signals()
        video = pci_path('0000:02:00.0')
        self.write_sysfs('/sys/bus/pci/drivers/vfio-pci/unbind', '0000:02:00.0')
        rec.wait_for(lambda ev: rec.seen(changed(video, DEVICE, 'State', 'host')),
                     what='State "host"')
        e = rec.first(changed(video, DEVICE, 'State', 'host'))
        self.assertIn('Driver', e['changed'], 'Driver and State change in one signal')
        self.assertEqual(e['changed']['Driver'], '')
        self.write_sysfs('/sys/bus/pci/drivers_probe', '0000:02:00.0')  # driver_override is vfio-pci
        rec.wait_for(lambda ev: rec.seen(changed(video, DEVICE, 'State', 'prepared')),
                     what='State "prepared"')
        e = rec.first(changed(video, DEVICE, 'State', 'prepared'))
        self.assertEqual(e['changed'].get('Driver'), 'vfio-pci', 'Driver and State change in one signal')
        self.assertEqual(self.client.get(video, DEVICE, 'Driver'), 'vfio-pci')
        rec.quiet()
        self.assertNotIn(False, rec.changed(group_path(13), GROUP, 'Viable'))
        self.assertEqual(self.client.get(group_path(13), GROUP, 'Viable'), True)

    def test_burst_is_coalesced(self):
        """The audio function is unbound and rebound 25 times in a row as fast
        as uevents can be sent, ending unbound. Clients get fewer change
        signals than there were uevents, each of them a real change, and the
        last word is the final state."""
        audio, group = pci_path('0000:01:00.1'), group_path(12)
        known = {audio: self.client.get_all(audio, DEVICE),
                 group: self.client.get_all(group, GROUP)}
        rec = self.record_signals()
        uevents = 0
        for i in range(25):
            if i % 2 == 0:
                self.sim.unbind('0000:01:00.1')
            else:
                self.sim.bind('0000:01:00.1', 'snd_hda_intel')
            uevents += 1
        self.wait_until(lambda: self.client.get(audio, DEVICE, 'Driver') == '', what='Driver ""')
        rec.quiet()
        drivers = rec.changed(audio, DEVICE, 'Driver')
        self.assertGreaterEqual(len(drivers), 1, 'the change was announced')
        self.assertLess(len(rec.of('PropertiesChanged', audio)), uevents)
        self.assertEqual(drivers[-1], '')
        self.assertEqual([b[0] for b in self.client.get(group, GROUP, 'Blockers')],
                         [pci_path('0000:01:00.0')])
        blockers = [b for b in rec.changed(group, GROUP, 'Blockers')]
        if blockers:
            self.assertEqual([b[0] for b in blockers[-1]], [pci_path('0000:01:00.0')])
        self.assertRealChanges(rec, known)

    def assertRealChanges(self, rec, known):
        """Each PropertiesChanged of the objects in `known` ({path: props
        before}) changes at least one value."""
        for e in rec.of('PropertiesChanged'):
            if e['path'] not in known:
                continue
            props = known[e['path']]
            news = {k: v for k, v in e['changed'].items() if props.get(k) != v}
            self.assertTrue(news, 'a PropertiesChanged of %s that changes nothing, in:\n%s' % (
                e['path'], '\n'.join(describe(x) for x in rec.events)))
            props.update(e['changed'])

    def test_usb_stick_and_hub(self):
        """A second stick is plugged into port 1 of the hub and shows up as
        1-3.1; then the hub is unplugged, taking the stick and the dongle
        with it."""
        rec = self.record_signals()
        stick = dict(self.host.usb_device('2-1'))
        stick.update(address='1-3.1', parent='1-3', busnum=1, devnum=5, devpath='3.1',
                     speed='480', version=' 2.10', max_power='500mA', serial='4C530001231122334455',
                     devnode='/dev/bus/usb/001/005',
                     interfaces=[dict(stick['interfaces'][0], name='1-3.1:1.0')])
        self.sim.add_usb(stick)
        rec.wait_for(lambda ev: rec.seen(added(usb_path('1-3.1'))),
                     what='the new stick')
        rec.quiet()
        host = self.host.copy()
        host.usb.append(stick)
        self.assertDevice(host, self.client.managed_objects(), stick)
        rec.clear()
        self.sim.remove_usb('1-3')
        gone = [usb_path(a) for a in ('1-3', '1-3.1', '1-3.2')]
        rec.wait_for(lambda ev: all(rec.seen(removed(p)) for p in gone),
                     what='the hub and what was behind it to go')
        objs = self.client.managed_objects()
        for p in gone:
            self.assertNotIn(p, objs)
        self.assertIn(usb_path('1-1'), objs)

    def test_attribute_changes(self):
        """Attributes that change in place come with a "change" uevent: the
        dongle deauthorized through its sysfs attribute (the kernel emulator
        does what the kernel would), a GPU link that retrained to x4."""
        rec = self.record_signals()
        self.write_sysfs('/sys/bus/usb/devices/1-3.2/authorized', '0')
        rec.wait_for(lambda ev: rec.seen(changed(usb_path('1-3.2'), 'org.hostdev1.UsbDevice',
                                                 'Authorized', False)),
                     what='Authorized false')
        self.sim.set_attribute('0000:01:00.0', 'current_link_width', '4\n')
        rec.wait_for(lambda ev: rec.seen(changed(pci_path('0000:01:00.0'),
                                                 'org.hostdev1.PciDevice', 'LinkWidth', 4)),
                     what='LinkWidth 4')

    def test_virtual_functions_come_and_go(self):
        """Writing 0 to the X710's sriov_numvfs removes its two VFs and their
        groups; writing 4 creates four, each in a new group, and the PF's
        NumVfs and VirtualFunctions follow."""
        rec = self.record_signals()
        pf = pci_path('0000:03:00.0')
        self.write_sysfs('/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs', '0')
        rec.wait_for(lambda ev: all(rec.seen(removed(p)) for p in (
            pci_path('0000:03:02.0'), pci_path('0000:03:02.1'), group_path(17), group_path(18))),
            what='the VFs and their groups to go')
        self.wait_until(lambda: self.client.get(pf, SRIOV, 'NumVfs') == 0, what='NumVfs 0')
        self.assertEqual(self.client.get(pf, SRIOV, 'VirtualFunctions'), [])
        rec.clear()
        self.write_sysfs('/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs', '4')
        vfs = [pci_path('0000:03:02.%d' % i) for i in range(4)]
        rec.wait_for(lambda ev: all(rec.seen(added(p)) for p in vfs),
                     what='four VFs')
        self.wait_until(lambda: self.client.get(pf, SRIOV, 'NumVfs') == 4, what='NumVfs 4')
        self.wait_until(lambda: self.client.get(pf, SRIOV, 'VirtualFunctions') == vfs,
                        what='VirtualFunctions to list the four VFs')
        for i, vf in enumerate(vfs):
            props = self.client.get_all(vf, 'org.hostdev1.PciDevice')
            self.assertEqual((props['PhysicalFunction'], props['VirtualFunctionIndex']), (pf, i))
            group = self.client.get(vf, DEVICE, 'IommuGroup')
            self.assertEqual(self.client.get(group, GROUP, 'Devices'), [vf])

    def test_still_serving(self):
        """After all that the daemon answers, which the teardown also checks
        by stopping it cleanly."""
        rec = self.record_signals()
        self.add_gpu3(rec)
        self.sim.remove_pci_devices([d['address'] for d in self.gpu3()['pci']])
        rec.wait_for(lambda ev: rec.seen(removed(group_path(19))), what='group 19 to go')
        try:
            self.client.ping()
        except CallError as e:
            self.fail('hostdevd stopped answering: %s' % e)


if __name__ == '__main__':
    harness.main()
