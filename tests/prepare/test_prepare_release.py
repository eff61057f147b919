#!/usr/bin/python3
"""Prepare moves a device and its IOMMU group companions to vfio-pci
through driver_override, unbind and drivers_probe (the kernel emulator
reacts as Linux does); Release gives each back the driver it had. The
group's viability and every property follow, with PropertiesChanged."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, DEVICE, GPU1, GPU2, GROUP, VFIO, PrepareTestCase)


class PrepareRelease(PrepareTestCase):

    def last(self, rec, address_or_group, interface, prop):
        path = hostspec.group_path(address_or_group) if isinstance(address_or_group, int) \
            else self.dev_path(address_or_group)
        values = rec.changed(path, interface, prop)
        return values[-1] if values else None

    def test_gpu_prepare_and_release(self):
        """Prepare of the first GPU takes its audio function along: both end
        on vfio-pci with driver_override set, group 12 turns viable and
        /dev/vfio/12 appears, each change signalled. Release gives them back
        to nouveau and snd_hda_intel, clears the overrides, and the group is
        blocked by both again, as at boot."""
        gpu, audio = self.spec(GPU1), self.spec(AUDIO1)
        self.assertGroup(12)
        self.assertFalse(self.group(12)['Viable'])
        rec = self.record_signals()

        plan = self.prepare([GPU1])
        self.assertPlan(plan, self.expected_prepare_plan([GPU1]), {GPU1})
        self.assertEqual(sorted(p[0] for p in plan), [GPU1, AUDIO1])
        # the reply comes once the kernel has done it, and hostdevd shows it
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO}, 'after Prepare')
        self.assertEqual(self.overrides([GPU1, AUDIO1]), {GPU1: 'vfio-pci\n', AUDIO1: 'vfio-pci\n'})
        self.assertGroup(12, {GPU1: VFIO, AUDIO1: VFIO})
        self.assertTrue(self.group(12)['Viable'])
        self.assertIn(12, self.sim.vfio_groups())
        self.assertEqual(sorted(self.stored_prepared()), [GPU1, AUDIO1])
        self.assertEqual(self.stored_prepared()[GPU1].get('original-driver'), gpu['driver'])
        self.assertEqual(self.stored_prepared()[AUDIO1].get('original-driver'), audio['driver'])

        rec.wait_for(lambda _e: all(self.last(rec, a, DEVICE, 'Driver') == VFIO and
                                    self.last(rec, a, DEVICE, 'State') == 'prepared'
                                    for a in (GPU1, AUDIO1)) and
                     self.last(rec, 12, GROUP, 'Viable') is True and
                     self.last(rec, 12, GROUP, 'Blockers') == [],
                     what='Driver/State of both functions and Viable/Blockers of group 12')
        # viable once, and only after both functions left their host drivers
        rec.quiet()
        self.assertEqual(rec.changed(hostspec.group_path(12), GROUP, 'Viable'), [True])

        rec.clear()
        plan = self.release([GPU1])
        self.assertPlan(plan, [(GPU1, VFIO, gpu['driver']), (AUDIO1, VFIO, audio['driver'])], {GPU1},
                        release=True)
        self.assertOnDrivers({GPU1: gpu['driver'], AUDIO1: audio['driver']}, 'after Release')
        self.assertNoOverride([GPU1, AUDIO1], 'after Release')
        self.assertGroup(12)
        self.assertNotIn(12, self.sim.vfio_groups())
        self.assertEqual(self.stored_prepared(), {})
        rec.wait_for(lambda _e: self.last(rec, GPU1, DEVICE, 'Driver') == gpu['driver'] and
                     self.last(rec, AUDIO1, DEVICE, 'Driver') == audio['driver'] and
                     self.last(rec, GPU1, DEVICE, 'State') == 'host' and
                     self.last(rec, AUDIO1, DEVICE, 'State') == 'host' and
                     self.last(rec, 12, GROUP, 'Viable') is False and
                     [b[0] for b in self.last(rec, 12, GROUP, 'Blockers') or []] ==
                     [b[0] for b in self.expected_group(12)['Blockers']],
                     what='Driver/State back and group 12 blocked again')
        self.assertBlockers(self.last(rec, 12, GROUP, 'Blockers'), self.expected_group(12)['Blockers'], 12)

    def test_selecting_the_companion(self):
        """Selecting the audio function brings the GPU function along, the
        GPU being the companion now."""
        plan = self.prepare([AUDIO1])
        self.assertPlan(plan, self.expected_prepare_plan([AUDIO1]), {AUDIO1})
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})
        plan = self.release([AUDIO1])
        self.assertEqual(sorted(p[0] for p in plan), [GPU1, AUDIO1])
        self.assertOnDrivers({GPU1: self.spec(GPU1)['driver'], AUDIO1: self.spec(AUDIO1)['driver']})

    def test_nothing_to_do(self):
        """The second card is on vfio-pci from boot: its plan is empty and
        the kernel sees no write. A second Prepare of a prepared card has
        nothing to do either; a Release of a card on its host drivers the
        same."""
        self.assertEqual(self.expected_prepare_plan([GPU2]), [])
        writes = len(self.kernel.log)
        self.assertEqual(self.prepare([GPU2]), [])
        self.assertEqual(self.release([GPU1]), [])
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])

        self.prepare([GPU1])
        self.assertTrue(self.kernel.settle())
        writes = len(self.kernel.log)
        self.assertEqual(self.prepare([GPU1]), [])
        self.assertEqual(self.prepare([AUDIO1]), [])
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})

    def test_a_driverless_function_stays_driverless(self):
        """The PCH's shared SRAM (00:14.2) has no driver and shares group 4
        with the USB controller: Prepare moves both to vfio-pci (from no
        driver, and from xhci_hcd); Release gives the controller back to
        xhci_hcd and leaves the SRAM function without a driver, as it was."""
        sram, xhci = '0000:00:14.2', '0000:00:14.0'
        self.assertIsNone(self.spec(sram)['driver'])
        plan = self.prepare([sram])
        self.assertPlan(plan, self.expected_prepare_plan([sram]), {sram})
        self.assertIn((sram, '', VFIO), [p[:3] for p in plan])
        self.assertOnDrivers({sram: VFIO, xhci: VFIO})
        self.assertGroup(4, {sram: VFIO, xhci: VFIO})
        plan = self.release([sram])
        self.assertPlan(plan, [(sram, VFIO, ''), (xhci, VFIO, self.spec(xhci)['driver'])], {sram},
                        release=True)
        self.assertOnDrivers({sram: None, xhci: self.spec(xhci)['driver']})
        self.assertNoOverride([sram, xhci])
        self.assertGroup(4)

    def test_the_kernel_is_asked_as_it_wants(self):
        """Only driver_override, unbind and drivers_probe are written, never
        new_id or bind (which would take every device with the ids)."""
        self.prepare([GPU1])
        self.release([GPU1])
        self.assertTrue(self.kernel.settle())
        used = {os.path.basename(path) for path, _v in self.kernel.log}
        self.assertTrue(used, 'no write reached the kernel')
        self.assertLessEqual(used, {'driver_override', 'unbind', 'drivers_probe'}, used)
        self.assertEqual(self.kernel.dynamic_ids, {})


if __name__ == '__main__':
    harness.main()
