#!/usr/bin/python3
"""Prepared devices stay prepared: across a restart of hostdevd, and
across a reboot, after which the kernel has given every device its boot
driver again and hostdevd re-applies the recorded bindings at start-up
(Converged). A card moved to another slot is found by its serial number;
a card that is gone is reported (Converged false, ConvergeProblems)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import faults  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, GPU1, GPU2, AUDIO2, HOTPLUG_BRIDGE, VFIO, PrepareTestCase)

# Slot 3, behind the hotplug port 00:1b.4: bus 06, IOMMU group 19 (see
# host.json's hotplug entry "gpu3" for a card there).
MOVED_GPU, MOVED_AUDIO = '0000:06:00.0', '0000:06:00.1'
MOVED_GROUP = 19


class Persistence(PrepareTestCase):

    def host_drivers(self):
        return {GPU1: self.spec(GPU1)['driver'], AUDIO1: self.spec(AUDIO1)['driver']}

    def assertConverged(self):
        m = self.manager()
        self.assertTrue(m['Converged'], 'not converged: %r' % (m['ConvergeProblems'],))
        self.assertEqual(m['ConvergeProblems'], [])

    def test_restart(self):
        """A restart in the same boot: still prepared, nothing to re-apply,
        no write to the kernel."""
        self.prepare([GPU1])
        self.assertTrue(self.faults.settle())
        writes = len(self.kernel.log)
        self.restart()
        self.assertConverged()
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})
        self.assertTrue(self.group(12)['Viable'])
        self.assertEqual(self.kernel.log[writes:], [])

    def test_reboot(self):
        """After a reboot both functions are on nouveau and snd_hda_intel
        again (the override is gone too); hostdevd binds them to vfio-pci
        before it takes its name, and Converged is true. The second card,
        on vfio-pci from boot and never prepared by hostdevd, is left as it
        is. After a Release and another reboot nothing is re-applied."""
        self.prepare([GPU1])
        self.stop_daemon()
        faults.reboot(self.sim, self.kernel)
        self.assertEqual(self.drivers([GPU1, AUDIO1]), self.host_drivers(), 'the reboot did not reset')
        self.daemon.start()
        self.assertConverged()
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO, GPU2: VFIO, AUDIO2: VFIO})
        self.assertTrue(self.group(12)['Viable'])
        self.assertEqual(self.overrides([GPU1, AUDIO1]), {GPU1: 'vfio-pci\n', AUDIO1: 'vfio-pci\n'})
        self.assertEqual(sorted(self.stored_prepared()), [GPU1, AUDIO1])

        # the original drivers survive the reboot too
        self.release([GPU1])
        self.assertOnDrivers(self.host_drivers())
        self.reboot()
        self.assertConverged()
        self.assertOnDrivers(self.host_drivers())
        self.assertEqual(self.stored_prepared(), {})

    def test_reboot_twice(self):
        """Re-applied bindings are kept for the next boot as well."""
        self.prepare([GPU1])
        self.reboot()
        self.reboot()
        self.assertConverged()
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})

    def test_moved_card(self):
        """The first card comes back in slot 3 (bus 06) with its serial: it
        is found and both functions are bound to vfio-pci there; the
        records follow it, and Release gives it its host drivers."""
        self.prepare([GPU1])
        serial = self.spec(GPU1)['serial']
        self.assertTrue(serial)
        moved = [faults.moved_spec(self.sim.pci[GPU1], MOVED_GPU, HOTPLUG_BRIDGE, MOVED_GROUP, '3'),
                 faults.moved_spec(self.sim.pci[AUDIO1], MOVED_AUDIO, HOTPLUG_BRIDGE, MOVED_GROUP, '3')]
        self.reboot(remove=[GPU1, AUDIO1], add=moved)
        self.assertNotIn(GPU1, self.sim.pci)
        self.assertConverged()
        self.assertOnDrivers({MOVED_GPU: VFIO, MOVED_AUDIO: VFIO})
        self.assertEqual(self.device(MOVED_GPU)['Serial'], serial)
        self.assertTrue(self.group(MOVED_GROUP)['Viable'])
        self.assertEqual(sorted(self.stored_prepared()), [MOVED_GPU, MOVED_AUDIO])

        plan = self.release([MOVED_GPU])
        self.assertPlan(plan, [(MOVED_GPU, VFIO, self.spec(GPU1)['driver']),
                               (MOVED_AUDIO, VFIO, self.spec(AUDIO1)['driver'])], {MOVED_GPU}, release=True)
        self.assertOnDrivers({MOVED_GPU: self.spec(GPU1)['driver'], MOVED_AUDIO: self.spec(AUDIO1)['driver']})
        self.assertEqual(self.stored_prepared(), {})

    def test_another_card_in_the_old_slot(self):
        """A different card (other serial) in the old slot is not taken for
        the prepared one: it stays on its host drivers, and the prepared
        card, now missing, is reported."""
        self.prepare([GPU1])
        other = [dict(self.sim.pci[a], serial='1a-2b-3c-4d-5e-6f-70-99', driver=self.spec(a)['native_driver'],
                      driver_override=None) for a in (GPU1, AUDIO1)]
        self.reboot(remove=[GPU1, AUDIO1], add=other)
        self.assertEqual(self.device(GPU1)['Serial'], '1a-2b-3c-4d-5e-6f-70-99')
        self.assertOnDrivers(self.host_drivers())
        m = self.manager()
        self.assertFalse(m['Converged'])
        self.assertEqual(sorted(a for a, _p in m['ConvergeProblems']), [GPU1, AUDIO1])

    def test_missing_card(self):
        """The card is gone after the reboot: Converged is false and
        ConvergeProblems names both functions; the rest of the host is
        untouched and the records are kept for when it returns."""
        self.prepare([GPU1])
        self.stop_daemon()
        faults.reboot(self.sim, self.kernel, remove=[GPU1, AUDIO1])
        before = self.drivers()
        writes = len(self.kernel.log)
        self.daemon.start()
        m = self.manager()
        self.assertFalse(m['Converged'])
        problems = dict(m['ConvergeProblems'])
        self.assertEqual(sorted(problems), [GPU1, AUDIO1])
        for a, text in problems.items():
            self.assertTrue(text.strip(), 'no problem text for %s' % a)
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.drivers(), before)
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertEqual(sorted(self.stored_prepared()), [GPU1, AUDIO1])


    def move_by_hand(self, address, driver):
        """What an administrator (or driverctl) does, behind hostdevd's back."""
        self.write_sysfs('/sys/bus/pci/devices/%s/driver_override' % address, driver or '\n')
        self.write_sysfs('/sys/bus/pci/devices/%s/driver/unbind' % address, address)
        self.write_sysfs('/sys/bus/pci/drivers_probe', address)
        self.wait_drivers({address: driver or self.spec(address)['native_driver']})

    def test_converged_follows_the_kernel(self):
        """Converged says whether every device recorded as prepared is on
        vfio-pci: a prepared function moved back to its host driver by hand
        makes it false (with PropertiesChanged), moving it to vfio-pci again
        true."""
        self.prepare([GPU1])
        self.assertConverged()
        rec = self.record_signals()
        self.move_by_hand(AUDIO1, None)
        self.wait_until(lambda: not self.manager()['Converged'], timeout=5,
                        what='Converged to turn false while %s is on %s'
                        % (AUDIO1, self.spec(AUDIO1)['driver']))
        self.assertIn(False, rec.changed('/org/hostdev1', 'org.hostdev1.Manager', 'Converged'))
        self.move_by_hand(AUDIO1, VFIO)
        self.wait_until(lambda: self.manager()['Converged'], timeout=5, what='Converged again')


if __name__ == '__main__':
    harness.main()
