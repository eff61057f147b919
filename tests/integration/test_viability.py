#!/usr/bin/python3
"""Viability: a group can go to a VM exactly when the host lets go of all of it.

The tests move devices between drivers the way an administrator (or
driverctl) does, by writing into sysfs: driver_override, unbind through the
device's driver link, then drivers_probe. The kernel emulator reacts as
Linux does; hostdevd only watches.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.client import Match, changed  # noqa: E402
from harness.hostspec import group_path, pci_path  # noqa: E402

DEVICE = 'org.hostdev1.Device'
GROUP = 'org.hostdev1.IommuGroup'


class Viability(HostdevTestCase):

    def move(self, address, driver):
        """driver_override + unbind + drivers_probe, then wait for the daemon
        to show the new driver ("" clears the override: back to the
        device's own driver)."""
        self.write_sysfs('/sys/bus/pci/devices/%s/driver_override' % address, driver or '\n')
        if os.path.islink(self.sim.real('/sys/bus/pci/devices/%s/driver' % address)):
            self.write_sysfs('/sys/bus/pci/devices/%s/driver/unbind' % address, address)
        self.write_sysfs('/sys/bus/pci/drivers_probe', address)
        want = driver or self.host.pci_device(address)['native_driver']
        self.wait_until(lambda: self.client.get(pci_path(address), DEVICE, 'Driver') == want,
                        what='%s on %s' % (address, want))

    def group(self, n):
        return self.client.get_all(group_path(n), GROUP)

    def test_gpu_group_becomes_viable_with_its_last_member(self):
        """The host GPU's group turns viable exactly when its last member, the
        video function, leaves nouveau on its way to vfio-pci (a driverless
        member does not block), not when the audio function goes first. Both
        end "prepared" and /dev/vfio/12 exists."""
        rec = self.record_signals()
        self.move('0000:01:00.1', 'vfio-pci')
        g = self.group(12)
        self.assertFalse(g['Viable'])
        self.assertEqual([b[0] for b in g['Blockers']], [pci_path('0000:01:00.0')])
        self.assertEqual(self.client.get(pci_path('0000:01:00.1'), DEVICE, 'State'), 'prepared')
        self.assertNotIn(True, rec.changed(group_path(12), GROUP, 'Viable'))

        self.move('0000:01:00.0', 'vfio-pci')
        rec.wait_for(lambda ev: True in rec.changed(group_path(12), GROUP, 'Viable'),
                     what='Viable true on group 12')
        g = self.group(12)
        self.assertTrue(g['Viable'])
        self.assertEqual(g['Blockers'], [])
        for a in ('0000:01:00.0', '0000:01:00.1'):
            self.assertEqual(self.client.get(pci_path(a), DEVICE, 'State'), 'prepared')
        self.assertTrue(os.path.exists(os.path.join(self.sim.dev, 'vfio', '12')))
        # one change to viable, after the video function left nouveau
        rec.quiet()
        video = pci_path('0000:01:00.0')
        left_nouveau = Match('PropertiesChanged %s Driver other than nouveau' % video,
                             lambda e: changed(video, DEVICE, 'Driver')(e) and
                             e['changed']['Driver'] != 'nouveau')
        self.assertEqual(rec.changed(group_path(12), GROUP, 'Viable').count(True), 1)
        self.assertSignalOrder(rec, left_nouveau, changed(group_path(12), GROUP, 'Viable', True))
        self.assertEqual(rec.changed(group_path(12), GROUP, 'Viable')[-1], True)

    def test_giving_a_device_back_blocks_the_group(self):
        """The spare GPU's group is viable; when its audio function goes back
        to snd_hda_intel the group is blocked by exactly that function."""
        self.assertTrue(self.group(13)['Viable'])
        self.move('0000:02:00.1', None)
        g = self.group(13)
        self.assertFalse(g['Viable'])
        self.assertEqual([b[0] for b in g['Blockers']], [pci_path('0000:02:00.1')])
        self.assertIn('snd_hda_intel', g['Blockers'][0][1])
        self.assertEqual(self.client.get(pci_path('0000:02:00.1'), DEVICE, 'State'), 'host')
        self.assertTrue(os.path.exists(os.path.join(self.sim.dev, 'vfio', '13')),
                        'the video function still holds the vfio group')

    def test_driverless_members_and_bridges_do_not_block(self):
        """The legacy capture card's group holds a PCIe-to-PCI bridge with no
        driver, the capture chip on bttv and its driverless audio function:
        unbinding bttv alone makes it viable. The boot disk's group becomes
        viable when nvme and igb let go, although its two root ports stay on
        pcieport."""
        self.write_sysfs('/sys/bus/pci/drivers/bttv/unbind', '0000:05:00.0')
        self.wait_until(lambda: self.group(15)['Viable'], what='group 15 viable')
        self.assertEqual(self.group(15)['Blockers'], [])

        self.write_sysfs('/sys/bus/pci/drivers/nvme/unbind', '0000:07:00.0')
        self.write_sysfs('/sys/bus/pci/drivers/igb/unbind', '0000:08:00.0')
        self.wait_until(lambda: self.group(9)['Viable'], what='group 9 viable')
        for port in ('0000:00:1c.0', '0000:00:1c.4'):
            self.assertEqual(self.client.get(pci_path(port), DEVICE, 'Driver'), 'pcieport')

    def test_pci_stub_and_vfio_variants_release_the_host(self):
        """pci-stub counts as released, and so does a vendor variant of
        vfio-pci ("*-vfio-pci"), which also makes a device "prepared"."""
        self.move('0000:05:00.0', 'pci-stub')
        self.assertTrue(self.group(15)['Viable'])
        self.assertEqual(self.client.get(pci_path('0000:05:00.0'), DEVICE, 'State'), 'host')

        self.sim.pci_driver_dir('mlx5-vfio-pci')
        self.move('0000:03:02.0', 'mlx5-vfio-pci')
        self.assertTrue(self.group(17)['Viable'])
        self.assertEqual(self.client.get(pci_path('0000:03:02.0'), DEVICE, 'State'), 'prepared')

    def test_a_new_driver_makes_the_group_unviable_again(self):
        """A prepared group that loses a member to a host driver (someone
        cleared the override and reprobed) is no longer viable."""
        self.move('0000:02:00.0', None)
        g = self.group(13)
        self.assertFalse(g['Viable'])
        self.assertEqual([b[0] for b in g['Blockers']], [pci_path('0000:02:00.0')])
        self.assertIn('nouveau', g['Blockers'][0][1])


if __name__ == '__main__':
    harness.main()
