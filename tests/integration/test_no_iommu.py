#!/usr/bin/python3
"""No IOMMU: the host was booted without one, and hostdevd says what to do.

The same machine, but VT-d is off in the firmware or the kernel command
line lacks intel_iommu=on: /sys/kernel/iommu_groups is empty (or, on some
kernels, missing), no device has a group, and vfio-pci cannot take the
spare GPU (its probe fails, so it stays without a driver). hostdevd still
lists every device, publishes no group, and its manager explains how to
turn the IOMMU on.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.hostspec import NO_OBJECT, ROOT_PATH, pci_path  # noqa: E402


def without_iommu(host):
    """What host.json's machine looks like booted without an IOMMU."""
    h = host.copy()
    for dev in h.pci:
        dev['iommu_group'] = None
        if hostspec.is_prepared_driver(dev['driver']):
            dev['driver'] = None
    return h


class NoIommuMixin:

    def test_manager_explains(self):
        """IommuEnabled is false and IommuMessage tells the administrator to
        enable VT-d/AMD-Vi in the firmware and to boot with intel_iommu=on or
        amd_iommu=on."""
        props = self.client.get_all(ROOT_PATH, 'org.hostdev1.Manager')
        self.assertIs(props['IommuEnabled'], False)
        msg = props['IommuMessage']
        self.assertIn('intel_iommu=on', msg)
        self.assertIn('amd_iommu=on', msg)
        self.assertIn('firmware', msg.lower())

    def test_devices_are_still_listed(self):
        """Every PCI function and USB device is published, with the same
        properties as on the IOMMU host except that none has a group and the
        spare GPU has no driver."""
        expected = without_iommu(self.host)
        objs = self.client.managed_objects()
        self.assertEqual({p for p in objs if '/iommu_group/' not in p}, expected.device_paths())
        for dev in expected.devices:
            with self.subTest(device=dev['address']):
                self.assertDevice(expected, objs, dev)
                path = hostspec.device_path(dev)
                self.assertEqual(objs[path]['org.hostdev1.Device']['IommuGroup'], NO_OBJECT)

    def test_no_groups(self):
        """No IOMMU group object exists."""
        objs = self.client.managed_objects()
        self.assertEqual([p for p in objs if p.startswith('/org/hostdev1/iommu_group/')], [])

    def test_lookup_still_works(self):
        """GetDevice finds devices as usual."""
        self.assertEqual(self.client.get_device('02:00.0'), pci_path('0000:02:00.0'))
        self.assertEqual(self.client.get_device('1-3.2'), '/org/hostdev1/usb/1_3_2')


class NoIommuEmptyDirectory(NoIommuMixin, HostdevTestCase):
    """/sys/kernel/iommu_groups exists and is empty (what Linux shows)."""
    iommu = 'empty'


class NoIommuNoDirectory(NoIommuMixin, HostdevTestCase):
    """/sys/kernel/iommu_groups does not exist at all."""
    iommu = 'absent'


if __name__ == '__main__':
    harness.main()
