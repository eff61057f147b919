#!/usr/bin/python3
"""The kernel emulator's USB interfaces: unbinding usb-storage from the
stick's interface takes its SCSI disk and partition away, drivers_probe
brings them back, and a device that is re-enumerated (deauthorized and
authorized again) gets its interfaces back bound. What hostdevd's USB
Prepare and Release rely on, checked apart from it."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from usbcase import STICK, UsbTestCase, block_names, usb_spec  # noqa: E402


class EmulatorTest(UsbTestCase):
    start_daemon = False

    def test_unbind_and_probe_the_stick(self):
        itf = usb_spec(self.host, STICK)['interfaces'][0]
        blocks = block_names(itf)
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])
        self.assertTrue(blocks and all(self.block_present(b) for b in blocks))

        self.write_sysfs('/sys/bus/usb/drivers/%s/unbind' % itf['driver'], itf['name'])
        self.assertTrue(self.kernel.settle())
        self.assertIsNone(self.interface_driver(itf['name']))
        self.assertFalse(any(self.block_present(b) for b in blocks))
        self.assertIn(('unbind', self.sim.devpaths[itf['name']]), self.sim.uevents)

        self.write_sysfs('/sys/bus/usb/drivers_probe', itf['name'])
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])
        self.assertTrue(all(self.block_present(b) for b in blocks))

    def test_reenumeration_binds_again(self):
        itf = usb_spec(self.host, STICK)['interfaces'][0]
        self.write_sysfs('/sys/bus/usb/drivers/%s/unbind' % itf['driver'], itf['name'])
        self.assertTrue(self.kernel.settle())
        for value in ('0', '1'):
            self.write_sysfs('/sys/bus/usb/devices/%s/authorized' % STICK, value)
            self.assertTrue(self.kernel.settle())
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])
        self.assertTrue(all(self.block_present(b) for b in block_names(itf)))


if __name__ == '__main__':
    harness.main()
