#!/usr/bin/python3
"""Prepare and Release of USB devices on the simulated xHCI.

Prepare of the SanDisk stick unbinds usb-storage from its interface: the
kernel emulator shows the interface without a driver and the SCSI disk and
its partition gone; Device.State says "prepared" and the store holds a
usb-prepared/ record that survives a restart. Release probes the interface
and usb-storage takes it back with its block devices. While prepared, an
interface that appears again (the device re-enumerated) is detached too.
Hubs are refused by name; a device without drivers (the HASP dongle) is
prepared with nothing to unbind. Expectations come from host.json."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

import harness  # noqa: E402
from harness.groups import store_dump  # noqa: E402
from preparecase import DEVICE, ERR_INVALID, PrepareTestCase  # noqa: E402
from usbcase import DONGLE, HUB, KEYBOARD, STICK, USB_DEVICE, block_names, usb_spec  # noqa: E402


class UsbPrepareTestCase(PrepareTestCase):
    def interface_driver(self, name):
        link = self.sim.real('/sys/bus/usb/devices/%s/driver' % name)
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None

    def block_present(self, name):
        return os.path.lexists(self.sim.real('/sys/class/block/' + name))

    def interfaces(self, address):
        return {name: driver for name, _cls, driver in
                self.client.get(self.dev_path(address), USB_DEVICE, 'Interfaces')}

    def reenumerate(self, address):
        """Deauthorize and authorize the device as a program would: its
        interfaces go and come back, bound by the kernel."""
        for value in ('0', '1'):
            self.write_sysfs('/sys/bus/usb/devices/%s/authorized' % address, value)
            self.assertTrue(self.kernel.settle())

    def usb_records(self):
        self.settle_store()
        return {k: v for k, v in store_dump(self.store_path).items() if k.startswith('usb-prepared/')}


class PrepareRelease(UsbPrepareTestCase):
    def test_stick(self):
        """usb-storage lets go of the stick on Prepare and takes it back on
        Release, with its block devices."""
        itf = usb_spec(self.initial, STICK)['interfaces'][0]
        blocks = block_names(itf)
        self.assertTrue(blocks)

        plan = self.prepare([STICK])
        self.assertEqual([(s[0], s[1], s[2]) for s in plan], [(itf['name'], itf['driver'], '')])
        self.assertTrue(self.kernel.settle())
        self.assertIsNone(self.interface_driver(itf['name']))
        self.assertFalse(any(self.block_present(b) for b in blocks))
        self.assertEqual(self.device(STICK)['State'], 'prepared')
        self.wait_until(lambda: self.interfaces(STICK) == {itf['name']: ''}, what='Interfaces without a driver')
        records = self.usb_records()
        self.assertEqual(list(records), ['usb-prepared/' + STICK])
        self.assertIn('interface=%s/%s\n' % (itf['name'], itf['driver']), records['usb-prepared/' + STICK])

        plan = self.release([STICK])
        self.assertEqual([(s[0], s[1], s[2]) for s in plan], [(itf['name'], '', itf['driver'])])
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])
        self.assertTrue(all(self.block_present(b) for b in blocks))
        self.assertEqual(self.device(STICK)['State'], 'host')
        self.wait_until(lambda: self.interfaces(STICK) == {itf['name']: itf['driver']},
                        what='Interfaces with usb-storage again')
        self.assertEqual(self.usb_records(), {})

    def test_dry_run(self):
        """A dry run gives the plan and changes nothing."""
        itf = usb_spec(self.initial, STICK)['interfaces'][0]
        writes = len(self.kernel.log)
        plan = self.prepare([STICK], {'dry-run': True})
        self.assertEqual([(s[0], s[1], s[2]) for s in plan], [(itf['name'], itf['driver'], '')])
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])
        self.assertEqual(self.device(STICK)['State'], 'host')

    def test_dongle_without_driver(self):
        """The dongle's interface has no driver: nothing to unbind, but the
        device is prepared (and an interface bound later is detached)."""
        spec = usb_spec(self.initial, DONGLE)
        self.assertTrue(all(i['driver'] is None for i in spec['interfaces']))
        self.assertEqual(self.prepare([DONGLE]), [])
        self.assertEqual(self.device(DONGLE)['State'], 'prepared')
        self.assertEqual(list(self.usb_records()), ['usb-prepared/' + DONGLE])
        self.assertEqual(self.release([DONGLE]), [])
        self.assertEqual(self.device(DONGLE)['State'], 'host')
        self.assertEqual(self.usb_records(), {})

    def test_new_interface_detached(self):
        """A prepared stick that re-enumerates (its interfaces go and come
        back bound to usb-storage) is detached again by hostdevd alone."""
        itf = usb_spec(self.initial, STICK)['interfaces'][0]
        self.prepare([STICK])
        self.assertTrue(self.kernel.settle())
        seen = len(self.sim.uevents)
        self.reenumerate(STICK)
        # the kernel bound the new interface to usb-storage…
        self.assertIn(('bind', self.sim.devpaths[itf['name']]), self.sim.uevents[seen:])
        # …and hostdevd took it away again
        self.wait_until(lambda: self.interface_driver(itf['name']) is None, what='the new interface detached')
        self.assertTrue(self.kernel.settle())
        self.assertFalse(any(self.block_present(b) for b in block_names(itf)))
        self.assertEqual(self.device(STICK)['State'], 'prepared')
        self.wait_until(lambda: self.interfaces(STICK) == {itf['name']: ''}, what='Interfaces without a driver')
        self.wait_until(lambda: self.release([STICK]), what='Release')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])

    def test_replugged_elsewhere(self):
        """Unplugged and plugged into another port (same serial, new device
        number): still prepared there, its interface detached as it comes."""
        spec = usb_spec(self.initial, STICK)
        self.assertTrue(spec['serial'])
        self.prepare([STICK])
        self.assertTrue(self.kernel.settle())
        self.sim.remove_usb(STICK)
        moved = dict(spec, address='2-3', devnum=spec['devnum'] + 5, devpath='3',
                     devnode='/dev/bus/usb/002/%03d' % (spec['devnum'] + 5))
        moved['interfaces'] = [dict(i, name=i['name'].replace(STICK + ':', '2-3:')) for i in spec['interfaces']]
        self.sim.add_usb(moved)
        itf = moved['interfaces'][0]
        self.wait_until(lambda: self.interface_driver(itf['name']) is None, what='the moved stick detached')
        self.assertEqual(self.device('2-3')['State'], 'prepared')
        self.assertEqual(list(self.usb_records()), ['usb-prepared/2-3'])
        self.wait_until(lambda: self.release(['2-3']) is not None, what='Release')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])
        self.assertEqual(self.usb_records(), {})

    def test_restart_keeps_the_record(self):
        """The record outlives the daemon: after a restart the stick is
        still prepared, its interface still detached, and Release works."""
        itf = usb_spec(self.initial, STICK)['interfaces'][0]
        self.prepare([STICK])
        self.assertTrue(self.kernel.settle())
        self.restart_daemon()
        self.assertEqual(self.device(STICK)['State'], 'prepared')
        self.assertEqual(list(self.usb_records()), ['usb-prepared/' + STICK])
        self.assertIsNone(self.interface_driver(itf['name']))
        self.release([STICK])
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])
        self.assertEqual(self.device(STICK)['State'], 'host')

    def test_rebound_while_stopped(self):
        """Bound again while hostdevd was not running (as after a reboot):
        start-up detaches it again."""
        itf = usb_spec(self.initial, STICK)['interfaces'][0]
        self.prepare([STICK])
        self.assertTrue(self.kernel.settle())
        self.daemon.stop()
        self.write_sysfs('/sys/bus/usb/drivers_probe', itf['name'])
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])
        self.daemon.start()
        self.wait_until(lambda: self.interface_driver(itf['name']) is None, what='detached at start-up')


class BadInput(UsbPrepareTestCase):
    def test_hub(self):
        """A hub is refused by name, Prepare and dry run alike; nothing changes."""
        self.assertEqual(usb_spec(self.initial, HUB)['device_class'], '09')
        before, writes = self.store_bytes(), len(self.kernel.log)
        for options in ({}, {'dry-run': True}):
            self.expect_error(ERR_INVALID, lambda: self.prepare([HUB], options), HUB, 'hub')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertEqual(self.store_bytes(), before)
        self.assertEqual(self.device(HUB)['State'], 'host')

    def test_usb_with_pci(self):
        """USB and PCI devices in one call: InvalidArgument naming the USB one."""
        writes = len(self.kernel.log)
        self.expect_error(ERR_INVALID, lambda: self.prepare(['0000:01:00.1', DONGLE]), DONGLE)
        self.expect_error(ERR_INVALID, lambda: self.prepare([DONGLE, '0000:01:00.1']), '0000:01:00.1')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])

    def test_release_of_a_device_not_prepared(self):
        """Nothing to give back: an empty plan, nothing written."""
        writes = len(self.kernel.log)
        self.assertEqual(self.release([KEYBOARD]), [])
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])


if __name__ == '__main__':
    harness.main()
