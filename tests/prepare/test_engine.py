#!/usr/bin/python3
"""Changes run on the event loop, not in the method handler.

Both cards are on their host drivers. The audio function of the first
card (01:00.1) has a driver that never lets go: the Prepare of the first
GPU waits for it (HOSTDEV_BIND_TIMEOUT_MSEC is a few seconds). Meanwhile
hostdevd answers property reads at once, prepares the second card (another
IOMMU group) and refuses a second Prepare of the first card with
org.hostdev1.Error.Busy naming the change that holds it. Then the first
Prepare fails and is rolled back.

A driver that lets go only after the wait timed out (a late unbind): the
Prepare is rolled back, and when the unbind does come, hostdevd notices it
and puts the device back on its driver, so nothing is left without one. The
same with HOSTDEV_BIND_TIMEOUT_MSEC=1, where every kernel reaction is late."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.groups import PendingCall  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, AUDIO2, DEVICE, ERR_FAILED, GPU1, GPU2, MANAGER, VFIO, BothGpusOnHost, PrepareTestCase,
    error_text)

ERR_BUSY = 'org.hostdev1.Error.Busy'
HANG_TIMEOUT_MSEC = 4000
READS = 50
READ_BOUND = 0.050     # seconds, as the issue states


class HangingUnbind(BothGpusOnHost, PrepareTestCase):

    bind_timeout_msec = HANG_TIMEOUT_MSEC

    def host_drivers(self, addresses):
        return {a: self.spec(a)['driver'] for a in addresses}

    def start_prepare(self, addresses):
        return PendingCall(self.client, hostspec.ROOT_PATH, MANAGER, 'Prepare',
                           self.args(addresses, {}), timeout=60)

    def hang_first_card(self):
        """Prepare of the first GPU, stuck at the unbind of its audio function."""
        self.faults.hang_unbind(AUDIO1)
        arrived = self.faults.event('unbind', AUDIO1, fresh=True)
        call = self.start_prepare([GPU1])
        self.wait_until(lambda: arrived.is_set() or call.done, timeout=20,
                        what='the unbind of %s to reach the kernel' % AUDIO1)
        self.assertFalse(call.done, 'Prepare answered before the stuck unbind: %r' % (call.reply,))
        return call

    def test_reads_and_other_groups_are_served_meanwhile(self):
        """50 property reads each answer within 50 ms, GetManagedObjects
        answers, and a Prepare of the second card's group completes, all
        while the first Prepare waits; then the first fails and is undone."""
        call = self.hang_first_card()
        slowest = 0.0
        for i in range(READS):
            address = (GPU1, AUDIO1, GPU2, AUDIO2)[i % 4]
            started = time.monotonic()
            driver = self.client.get(self.dev_path(address), DEVICE, 'Driver')
            took = time.monotonic() - started
            slowest = max(slowest, took)
            self.assertLess(took, READ_BOUND, 'read %d of %s Driver took %.1f ms' % (i, address, took * 1000))
            self.assertIsInstance(driver, str)
        objects = self.client.managed_objects()
        self.assertIn(self.dev_path(GPU2), objects)
        self.assertFalse(call.done, 'the stuck Prepare was answered during the reads')

        plan = self.prepare([GPU2])
        self.assertEqual(sorted(p[0] for p in plan), [GPU2, AUDIO2])
        self.assertOnDrivers({GPU2: VFIO, AUDIO2: VFIO}, 'after the Prepare of the other group')
        self.assertFalse(call.done, 'the stuck Prepare was answered before its timeout')

        with self.assertRaises(Exception) as cm:
            call.wait(30)
        self.assertEqual(cm.exception.name, ERR_FAILED, cm.exception)
        self.assertIn(AUDIO1, error_text(cm.exception))
        self.assertOnDrivers(self.host_drivers([GPU1, AUDIO1]), 'after the rollback')
        self.assertNoOverride([GPU1, AUDIO1], 'after the rollback')
        self.assertEqual(sorted(self.stored_prepared()), [GPU2, AUDIO2])
        # the second card is still prepared
        self.assertOnDrivers({GPU2: VFIO, AUDIO2: VFIO}, 'after the rollback of the first card')

    def test_second_change_of_the_same_device_is_busy(self):
        """A second Prepare of the first card, and a Release of it, are
        refused with Busy naming the device, who started the holding change
        and what it is; nothing of it is changed by them."""
        call = self.hang_first_card()
        me = self.client.conn.get_unique_name()
        for method in ('Prepare', 'Release'):
            func = (lambda: self.prepare([GPU1])) if method == 'Prepare' else (lambda: self.release([AUDIO1]))
            err = self.expect_error(ERR_BUSY, func, me, 'Prepare of %s, %s' % (GPU1, AUDIO1))
            text = error_text(err)
            self.assertTrue(GPU1 in text.split(' is being')[0] or AUDIO1 in text.split(' is being')[0],
                            'Busy does not start with the device: %s' % text)
        self.assertFalse(call.done)
        with self.assertRaises(Exception) as cm:
            call.wait(30)
        self.assertEqual(cm.exception.name, ERR_FAILED, cm.exception)
        self.assertOnDrivers(self.host_drivers([GPU1, AUDIO1]), 'after the rollback')
        self.assertEqual(self.stored_prepared(), {})
        # and once it is over, the device can be changed again
        self.faults.clear()
        self.prepare([GPU1])
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})


class LateUnbind(PrepareTestCase):
    """The GPU's driver lets go 0.8 s after the unbind, the wait is 0.2 s."""

    bind_timeout_msec = 200

    def test_late_unbind_ends_on_the_original_driver(self):
        """Prepare fails and is rolled back while the unbind is still under
        way; when it completes, hostdevd binds the GPU back to its driver."""
        host = {a: self.spec(a)['driver'] for a in (GPU1, AUDIO1)}
        self.faults.slow_unbind[GPU1] = 0.8
        self.expect_error(ERR_FAILED, lambda: self.prepare([GPU1]), GPU1, host[GPU1])
        self.assertTrue(self.faults.settle(), 'the late unbind did not happen')
        self.wait_until(lambda: self.drivers([GPU1, AUDIO1]) == host, timeout=15,
                        what='both functions back on %r (kernel: %r)' % (host, self.drivers([GPU1, AUDIO1])))
        self.assertOnDrivers(host, 'after the late unbind')
        self.assertNoOverride([GPU1, AUDIO1])
        self.assertEqual(self.stored_prepared(), {})
        self.assertTrue(self.manager()['Converged'])


class EveryReactionLate(PrepareTestCase):
    """HOSTDEV_BIND_TIMEOUT_MSEC=1: the kernel emulator always answers later."""

    bind_timeout_msec = 1

    def test_never_left_without_a_driver(self):
        """Whatever the Prepare answers, each function of the card ends on
        its host driver (the change was undone), on vfio-pci (it was done),
        or is named in RebootReasons; never without a driver."""
        host = {a: self.spec(a)['driver'] for a in (GPU1, AUDIO1)}
        try:
            self.prepare([GPU1])
            done = True
        except Exception as e:  # noqa: BLE001
            self.assertEqual(getattr(e, 'name', None), ERR_FAILED, e)
            done = False
        self.assertTrue(self.faults.settle())

        def settled():
            drivers = self.drivers([GPU1, AUDIO1])
            reasons = [s for s, _r in self.manager()['RebootReasons']]
            for a in (GPU1, AUDIO1):
                want = VFIO if done else host[a]
                if drivers[a] is None:
                    return False
                if drivers[a] != want and self.dev_path(a) not in reasons:
                    return False
            return True
        self.wait_until(settled, timeout=20,
                        what='each function on a driver (kernel: %r)' % (self.drivers([GPU1, AUDIO1]),))
        # and it stays so once hostdevd has nothing left to do
        self.assertTrue(self.faults.settle())
        time.sleep(0.5)
        self.assertTrue(settled(), 'kernel: %r' % (self.drivers([GPU1, AUDIO1]),))


if __name__ == '__main__':
    harness.main()
