#!/usr/bin/python3
"""What Prepare and Release refuse, by name, before anything changes:
objects that are not devices, a device twice, no device, unknown or
mistyped options, override-critical on Release, PCI bridges (they stay
with the host), USB hubs and USB devices mixed with PCI devices. A refused
call with a valid device among its devices leaves that one alone too."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from gi.repository import GLib  # noqa: E402
from harness import hostspec  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, ERR_INVALID, ERR_NOT_FOUND, ERR_NOT_SUPPORTED, GPU1, MANAGER, VFIO, PrepareTestCase)

ROOT_PORT = '0000:00:01.0'      # the GPU's root port, pcieport
PCI_BRIDGE = '0000:04:00.0'     # PCIe-to-PCI bridge, no driver
USB_DISK = '2-1'
USB_HUB = '1-3'


class BadInput(PrepareTestCase):

    def state(self):
        self.assertTrue(self.faults.settle())
        self.settle_store()
        return (self.drivers(), self.overrides(), self.store_bytes(), self.client.managed_objects())

    def raw(self, method, paths, options=None):
        """Prepare/Release with object paths as given."""
        return self.client.call(hostspec.ROOT_PATH, MANAGER, method,
                                GLib.Variant('(aoa{sv})', (paths, options or {})))

    def refused(self, what, error, func, *fragments):
        with self.subTest(what):
            before, writes = self.state(), len(self.kernel.log)
            self.expect_error(error, func, *fragments)
            self.assertTrue(self.state() == before, '%s changed something' % what)
            self.assertEqual(self.kernel.log[writes:], [], '%s wrote to the kernel' % what)

    def both(self, what, error, call, *fragments):
        for method in ('Prepare', 'Release'):
            self.refused('%s (%s)' % (what, method), error, lambda: call(method), *fragments)

    def test_not_devices(self):
        """A path where no device is, a group object and the root object
        are NotFound, naming the path."""
        for path in (hostspec.pci_path('0000:42:00.0'), hostspec.group_path(12), hostspec.ROOT_PATH,
                     hostspec.usb_path('9-9')):
            self.both('not a device: ' + path, ERR_NOT_FOUND, lambda m: self.raw(m, [path]), path)
        self.both('a missing device after a good one', ERR_NOT_FOUND,
                  lambda m: self.raw(m, [self.dev_path(GPU1), hostspec.pci_path('0000:42:00.0')]))

    def test_selection(self):
        """No device, and a device twice, are InvalidArgument."""
        self.both('empty list', ERR_INVALID, lambda m: self.raw(m, []))
        self.both('twice', ERR_INVALID, lambda m: self.raw(m, [self.dev_path(GPU1)] * 2), GPU1)

    def test_options(self):
        """Unknown options, mistyped ones, and override-critical on Release
        (which has no such option) are InvalidArgument naming the option."""
        self.both('unknown option', ERR_INVALID,
                  lambda m: self.raw(m, [self.dev_path(GPU1)], {'force': GLib.Variant('b', True)}),
                  'force')
        self.both('dry-run as a string', ERR_INVALID,
                  lambda m: self.raw(m, [self.dev_path(GPU1)], {'dry-run': GLib.Variant('s', 'yes')}),
                  'dry-run')
        self.refused('override-critical on Release', ERR_INVALID,
                     lambda: self.release([GPU1], {'override-critical': True}), 'override-critical')
        self.prepare([GPU1])
        self.refused('override-critical on Release of a prepared device', ERR_INVALID,
                     lambda: self.release([GPU1], {'override-critical': True}), 'override-critical')
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})

    def test_bridges(self):
        """A root port and a PCIe-to-PCI bridge cannot be prepared, alone
        or with a GPU."""
        for bridge in (ROOT_PORT, PCI_BRIDGE):
            self.assertTrue(hostspec.is_bridge(self.initial.pci_device(bridge)))
            self.refused('bridge ' + bridge, ERR_INVALID, lambda: self.prepare([bridge]), bridge)
            self.refused('bridge %s with a GPU' % bridge, ERR_INVALID,
                         lambda: self.prepare([GPU1, bridge]), bridge)

    def test_usb(self):
        """USB devices are prepared apart from PCI devices (tests/usb):
        together they are InvalidArgument naming the odd one; a hub is
        refused by name."""
        self.refused('USB with a GPU', ERR_INVALID, lambda: self.prepare([GPU1, USB_DISK]), USB_DISK)
        self.refused('GPU with USB', ERR_INVALID, lambda: self.prepare([USB_DISK, GPU1]), GPU1)
        self.both('USB hub', ERR_INVALID, lambda m: self.raw(m, [self.dev_path(USB_HUB)]), USB_HUB)


class NoIommu(PrepareTestCase):
    """A host booted without an IOMMU: nothing can be prepared, and the
    host needs a reboot (with the IOMMU on) for that."""

    iommu = 'empty'

    def test_prepare_not_supported_and_reboot_required(self):
        m = self.manager()
        self.assertFalse(m['IommuEnabled'])
        self.assertTrue(m['IommuMessage'])
        self.assertTrue(m['RebootRequired'])
        self.assertIn(hostspec.ROOT_PATH, [s for s, _r in m['RebootReasons']])
        before, writes = self.state(), len(self.kernel.log)
        self.expect_error(ERR_NOT_SUPPORTED, lambda: self.prepare([GPU1]))
        self.assertTrue(self.state() == before)
        self.assertEqual(self.kernel.log[writes:], [])

    state = BadInput.state


if __name__ == '__main__':
    harness.main()
