#!/usr/bin/python3
"""A driver that does not let go: the unbind of the first GPU's audio
function never completes (HOSTDEV_BIND_TIMEOUT_MSEC is short). Prepare
fails with org.hostdev1.Error.Failed naming the step, undoes what it did
(the GPU function goes back to nouveau, no driver_override is left), and
the host now needs a reboot: RebootRequired with a reason naming the
device, RebootRequiredChanged. That survives a restart of hostdevd in the
same boot and clears itself when a new boot converges."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, ERR_FAILED, GPU1, MANAGER, VFIO, ManagerSignals, PrepareTestCase)

TIMEOUT_MSEC = 400


class StuckDriver(PrepareTestCase):

    bind_timeout_msec = TIMEOUT_MSEC

    def host_drivers(self):
        return {GPU1: self.spec(GPU1)['driver'], AUDIO1: self.spec(AUDIO1)['driver']}

    def assertRolledBack(self):
        self.assertOnDrivers(self.host_drivers(), 'after the rollback')
        self.assertNoOverride([GPU1, AUDIO1], 'after the rollback')
        self.assertGroup(12)
        self.assertEqual(self.stored_prepared(), {}, 'a failed Prepare left records in the store')

    def assertRebootReason(self, reasons):
        audio = self.spec(AUDIO1)
        mine = [r for s, r in reasons if s == self.dev_path(AUDIO1)]
        self.assertEqual(len(mine), 1, 'one reason for %s in %r' % (AUDIO1, reasons))
        self.assertIn(AUDIO1, mine[0])
        # what clears it: the device's ids for vfio-pci at boot, and a reboot
        self.assertIn('%s:%s' % (audio['vendor_id'], audio['device_id']), mine[0].lower())
        self.assertIn('reboot', mine[0].lower())

    def fail_prepare(self):
        self.faults.hang_unbind(AUDIO1)
        rec = self.record_signals()
        sig = ManagerSignals(self)
        self.assertFalse(self.manager()['RebootRequired'])
        started = time.monotonic()
        err = self.expect_error(ERR_FAILED, lambda: self.prepare([GPU1]),
                                AUDIO1, self.spec(AUDIO1)['driver'])
        # one wait for the stuck unbind, then the rollback: well within
        # a few timeouts, not the default ten seconds
        self.assertLess(time.monotonic() - started, 5 + 3 * TIMEOUT_MSEC / 1000, err.message)
        return rec, sig

    def test_stuck_unbind(self):
        """Failed names the step; everything is rolled back; RebootRequired
        is set with a reason for the audio function, with the signal and
        PropertiesChanged."""
        rec, sig = self.fail_prepare()
        self.assertRolledBack()
        m = self.manager()
        self.assertTrue(m['RebootRequired'])
        self.assertRebootReason(m['RebootReasons'])
        self.wait_until(lambda: sig.signals, what='RebootRequiredChanged')
        self.assertEqual(sig.signals[-1], (True, m['RebootReasons']))
        rec.wait_for(lambda _e: rec.changed(hostspec.ROOT_PATH, MANAGER, 'RebootRequired'),
                     what='PropertiesChanged of RebootRequired')
        self.assertEqual(rec.changed(hostspec.ROOT_PATH, MANAGER, 'RebootRequired')[-1], True)
        # the daemon still serves, and other work goes on
        self.assertEqual(self.prepare([GPU1], {'dry-run': True})[0][0], GPU1)

    def test_the_same_failure_twice_is_one_reason(self):
        """Failing again on the same device adds no second reason."""
        self.fail_prepare()
        reasons = self.manager()['RebootReasons']
        self.expect_error(ERR_FAILED, lambda: self.prepare([GPU1]), AUDIO1)
        self.assertRolledBack()
        self.assertEqual(self.manager()['RebootReasons'], reasons)

    def test_survives_restart_and_clears_with_a_new_boot(self):
        """A restart in the same boot keeps RebootRequired and its reasons;
        after a reboot (new boot_id, the driver now lets go) the new boot
        converges and the state is cleared, also in the store."""
        self.fail_prepare()
        reasons = self.manager()['RebootReasons']
        self.restart()
        m = self.manager()
        self.assertTrue(m['RebootRequired'], 'lost across a restart in the same boot')
        self.assertEqual(m['RebootReasons'], reasons)
        self.assertTrue(m['Converged'])

        self.faults.clear()
        self.reboot()
        m = self.manager()
        self.assertTrue(m['Converged'])
        self.assertFalse(m['RebootRequired'], 'not cleared by a new boot that converged')
        self.assertEqual(m['RebootReasons'], [])
        self.restart()
        self.assertFalse(self.manager()['RebootRequired'], 'cleared state came back from the store')
        # and now the driver lets go
        self.prepare([GPU1])
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})

    def test_a_new_boot_that_does_not_converge_keeps_it(self):
        """A new boot in which a prepared device cannot be bound again has
        not converged: the earlier reasons stay."""
        self.prepare([GPU1])
        self.release([GPU1])
        self.fail_prepare()
        reasons = self.manager()['RebootReasons']
        self.faults.clear()
        self.prepare([GPU1])
        # the card is gone in the next boot: its records cannot be applied
        self.reboot(remove=[GPU1, AUDIO1])
        m = self.manager()
        self.assertFalse(m['Converged'])
        self.assertTrue(m['RebootRequired'])
        for pair in reasons:
            self.assertIn(pair, m['RebootReasons'])


class StuckProbe(PrepareTestCase):
    """vfio-pci does not take the device: the move fails at the probe."""

    bind_timeout_msec = TIMEOUT_MSEC

    def test_probe_fails(self):
        """Failed names the device; the GPU function that moved first and
        the audio function that was left without a driver both get their
        host drivers back, without overrides."""
        self.faults.refuse(AUDIO1, VFIO)
        self.expect_error(ERR_FAILED, lambda: self.prepare([GPU1]), AUDIO1)
        host = {GPU1: self.spec(GPU1)['driver'], AUDIO1: self.spec(AUDIO1)['driver']}
        self.assertOnDrivers(host)
        self.assertNoOverride([GPU1, AUDIO1])
        self.assertEqual(self.stored_prepared(), {})


if __name__ == '__main__':
    harness.main()
