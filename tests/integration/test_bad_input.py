#!/usr/bin/python3
"""Bad input: nonsense is refused with a reason, and the daemon carries on.

Any local user can call GetDevice, so it must cope with anything: garbage,
addresses of devices that do not exist, a megabyte of text, the wrong
argument types. Malformed addresses are org.hostdev1.Error.InvalidArgument,
well-formed ones of absent devices org.hostdev1.Error.NotFound, each with a
message a person can act on; afterwards the daemon still answers and still
publishes the same objects.
"""

import os
import sys

from gi.repository import GLib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.hostspec import ROOT_PATH, pci_path  # noqa: E402

MANAGER = 'org.hostdev1.Manager'
INVALID = 'org.hostdev1.Error.InvalidArgument'
NOT_FOUND = 'org.hostdev1.Error.NotFound'

MALFORMED = [
    '', ' ', 'garbage', '0000:01:00', '0000:01:00.8', '01:00', '01.00.0', '0000:01:00.0.0',
    'zz:00.0', '0000:01:100.0', ':01:00.0', '0000:01:00.0 ', ' 01:00.0',
    '0000:01:00.0\n', '-1', '1-', '1-3..2', '1-3.', '-3.2', 'usb1', '1-0:1.0', '1-3.2:1.0',
    '../../../etc/passwd', '/sys/bus/pci/devices/0000:01:00.0', '0000:01:00.0/../..',
    '%s', '%n%n%n%n', '\u00e9\u00e9:00.0', '0x10de', '01:00.-1', '1-a', 'a-1',
]

ABSENT = ['0000:42:00.0', '42:00.0', '0001:01:00.0', 'ffff:ff:1f.7', '0000:01:00.7',
          '9-1', '1-9', '1-3.4', '1-3.2.1', '2-1.1']


class BadInput(HostdevTestCase):

    def get_device_error(self, address):
        return self.client.call_error(ROOT_PATH, MANAGER, 'GetDevice',
                                      GLib.Variant('(s)', (address,)))

    def test_malformed_addresses(self):
        """Garbage is InvalidArgument with a message."""
        for address in MALFORMED:
            with self.subTest(address=address):
                err = self.get_device_error(address)
                self.assertEqual(err.name, INVALID)
                self.assertTrue(err.message.strip(), 'an empty error message')
        self.assertEqual(self.client.get_device('01:00.0'), pci_path('0000:01:00.0'))

    def test_absent_devices(self):
        """Well-formed addresses of devices that are not there are NotFound."""
        for address in ABSENT:
            with self.subTest(address=address):
                err = self.get_device_error(address)
                self.assertEqual(err.name, NOT_FOUND)
                self.assertTrue(err.message.strip(), 'an empty error message')

    def test_a_megabyte(self):
        """A 1 MiB address is refused as malformed (and not echoed back
        whole), and so is one of 4096 valid-looking characters."""
        for address in ('0' * (1 << 20), '1-' + '.'.join(['1'] * 2048), 'a' * 4096):
            err = self.get_device_error(address)
            self.assertEqual(err.name, INVALID)
            self.assertTrue(err.message.strip())
            self.assertLess(len(err.message), 64 * 1024, 'the error echoes the whole input')
        self.client.ping()

    def test_wrong_signature(self):
        """An int, no argument, two arguments: refused as invalid arguments,
        by sd-bus's own check (org.freedesktop.DBus.Error.InvalidArgs) or the
        daemon's."""
        for params in (GLib.Variant('(i)', (1,)), None, GLib.Variant('(ss)', ('01:00.0', 'x')),
                       GLib.Variant('(o)', ('/org/hostdev1',)), GLib.Variant('(as)', (['01:00.0'],))):
            with self.subTest(params=params):
                err = self.client.call_error(ROOT_PATH, MANAGER, 'GetDevice', params)
                self.assertIn(err.name, ('org.freedesktop.DBus.Error.InvalidArgs', INVALID))
                self.assertTrue(err.message.strip())

    def test_unknown_members_and_read_only_properties(self):
        """Unknown methods, interfaces and properties, and writes to read-only
        properties, get the standard errors."""
        err = self.client.call_error(ROOT_PATH, MANAGER, 'Explode')
        self.assertEqual(err.name, 'org.freedesktop.DBus.Error.UnknownMethod')
        err = self.client.call_error(pci_path('0000:01:00.0'), 'org.freedesktop.DBus.Properties',
                                     'Get', GLib.Variant('(ss)', ('org.hostdev1.Device', 'Colour')))
        self.assertEqual(err.name, 'org.freedesktop.DBus.Error.UnknownProperty')
        err = self.client.call_error(pci_path('0000:01:00.0'), 'org.freedesktop.DBus.Properties',
                                     'Set', GLib.Variant('(ssv)', ('org.hostdev1.Device', 'Driver',
                                                                   GLib.Variant('s', 'vfio-pci'))))
        self.assertIn(err.name, ('org.freedesktop.DBus.Error.PropertyReadOnly',
                                 'org.freedesktop.DBus.Error.AccessDenied'))
        self.assertEqual(self.client.get(pci_path('0000:01:00.0'), 'org.hostdev1.Device', 'Driver'),
                         'nouveau')
        err = self.client.call_error('/org/hostdev1/pci/0000_42_00_0', 'org.freedesktop.DBus.Properties',
                                     'GetAll', GLib.Variant('(s)', ('org.hostdev1.Device',)))
        self.assertIn(err.name, ('org.freedesktop.DBus.Error.UnknownObject',
                                 'org.freedesktop.DBus.Error.UnknownInterface',
                                 'org.freedesktop.DBus.Error.UnknownMethod'))

    def test_still_serving(self):
        """After a storm of bad calls the objects are all still there and the
        daemon answers."""
        before = sorted(self.client.managed_objects())
        for address in MALFORMED + ABSENT:
            self.get_device_error(address)
        self.get_device_error('0' * (1 << 20))
        self.assertTrue(self.daemon.alive())
        self.assertEqual(sorted(self.client.managed_objects()), before)
        self.assertEqual(self.client.get_device('1-3.2'), '/org/hostdev1/usb/1_3_2')


if __name__ == '__main__':
    harness.main()
