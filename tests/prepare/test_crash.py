#!/usr/bin/python3
"""hostdevd killed (SIGKILL) in the middle of a Prepare or Release of
several devices, while it waits for the kernel: after a restart the kernel
and the store agree - every function recorded as prepared is on vfio-pci,
every other one on the driver it had - and no function that had a driver
is left without one.

Both cards are on their host drivers here, and Prepare of both GPU
functions moves four: 01:00.0, 01:00.1, 02:00.0, 02:00.1 in that order.
The kernel is made slow for the third (its driver takes two seconds to
let go, or vfio-pci two seconds to take it), and hostdevd is killed once
that write has reached the kernel."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness.groups import PendingCall  # noqa: E402
from harness import hostspec  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, AUDIO2, GPU1, GPU2, MANAGER, VFIO, BothGpusOnHost, PrepareTestCase)

ALL = (GPU1, AUDIO1, GPU2, AUDIO2)
SLOW = 2.0


class CrashTestCase(BothGpusOnHost, PrepareTestCase):

    def host_drivers(self):
        return {a: self.spec(a)['driver'] for a in ALL}

    def start_call(self, method, addresses, kill_at):
        """Call `method` without waiting; kill_at = (kind, address): the
        write kill_when() waits for."""
        self.kill_at = self.faults.event(*kill_at, fresh=True), kill_at
        return PendingCall(self.client, hostspec.ROOT_PATH, MANAGER, method,
                           self.args(addresses, {}), timeout=60)

    def kill_when(self, call):
        """SIGKILL hostdevd once the write start_call() named reached the
        kernel, while the call is still unanswered."""
        ev, (kind, address) = self.kill_at
        self.wait_until(lambda: ev.is_set() or call.done, timeout=30,
                        what='the %s of %s to reach the kernel' % (kind, address))
        self.assertFalse(call.done, 'the call was answered before the kill: %r' % (call.reply,))
        self.kill_daemon()
        # the slow driver finishes after hostdevd died, as a real one would
        self.assertTrue(self.faults.settle(), 'the delayed kernel reactions did not happen')

    def assertAgree(self, when):
        """The kernel and the store agree, nothing is left without a driver,
        and hostdevd says it converged."""
        records = self.stored_prepared()
        drivers = self.drivers(ALL)
        host = self.host_drivers()
        for a in ALL:
            if a in records and records[a].get('releasing') != '1':
                self.assertEqual(drivers[a], VFIO, '%s: %s is recorded as prepared' % (when, a))
            else:
                self.assertEqual(drivers[a], host[a], '%s: %s is not recorded as prepared' % (when, a))
        boot = {d['address']: d['driver'] for d in self.initial.pci}
        for a, drv in self.drivers().items():
            if boot.get(a):
                self.assertIsNotNone(drv, '%s: %s was left without a driver' % (when, a))
        m = self.manager()
        self.assertTrue(m['Converged'], '%s: %r' % (when, m['ConvergeProblems']))
        self.assertEqual(m['ConvergeProblems'], [])
        for a in ALL:
            self.assertEqual(self.device(a)['Driver'], drivers[a], '%s: %s Driver' % (when, a))
        return records


class Crash(CrashTestCase):

    def test_kill_while_a_driver_lets_go(self):
        """Killed while 02:00.0's driver takes its time to let go; it does
        let go afterwards, so 02:00.0 is left with no driver at all until
        hostdevd starts again. The recorded intent is completed."""
        self.faults.slow_unbind[GPU2] = SLOW
        call = self.start_call('Prepare', [GPU1, GPU2], ('unbind', GPU2))
        ev, _what = self.kill_at
        self.assertTrue(ev.wait(30), 'the unbind of %s did not reach the kernel' % GPU2)
        # the intent was recorded before the kernel was touched
        self.assertEqual(sorted(self.stored_prepared()), sorted(ALL))
        self.kill_when(call)
        self.assertIsNone(self.drivers([GPU2])[GPU2], 'the slow unbind did not complete')
        self.daemon.start()
        records = self.assertAgree('after the restart')
        # completing is what hostdevd does: all prepared
        self.assertEqual(sorted(records), sorted(ALL))
        self.assertOnDrivers({a: VFIO for a in ALL})
        # and it all goes back where it came from
        self.release([GPU1, GPU2])
        self.assertOnDrivers(self.host_drivers())
        self.assertEqual(self.stored_prepared(), {})

    def test_kill_while_vfio_probes(self):
        """Killed while vfio-pci takes its time to bind 02:00.0."""
        self.faults.slow_probe[GPU2] = SLOW
        call = self.start_call('Prepare', [GPU1, GPU2], ('probe', GPU2))
        self.kill_when(call)
        self.daemon.start()
        self.assertAgree('after the restart')
        self.assertOnDrivers({a: VFIO for a in ALL})

    def test_kill_during_release(self):
        """Killed in the middle of the Release of all four: after the
        restart every one is back on its host driver and the records are
        gone."""
        self.prepare([GPU1, GPU2])
        self.faults.slow_unbind[GPU2] = SLOW
        call = self.start_call('Release', [GPU1, GPU2], ('unbind', GPU2))
        self.kill_when(call)
        self.daemon.start()
        self.assertAgree('after the restart')
        self.assertOnDrivers(self.host_drivers())
        self.assertNoOverride(ALL)
        self.assertEqual(self.stored_prepared(), {})

    def test_kill_then_reboot(self):
        """Killed mid-Prepare, then the host reboots before hostdevd runs
        again: the new boot converges to the recorded intent."""
        self.faults.slow_unbind[GPU2] = SLOW
        call = self.start_call('Prepare', [GPU1, GPU2], ('unbind', GPU2))
        self.kill_when(call)
        self.faults.clear()
        self.reboot()
        self.assertAgree('after the reboot')


class CrashWithStuckDriver(CrashTestCase):
    """The driver of 02:00.0 never lets go, in this boot: killed while
    hostdevd waits for it, restarted, hostdevd tries again, gives up after
    HOSTDEV_BIND_TIMEOUT_MSEC and says so."""

    bind_timeout_msec = 3000

    def test_kill_while_a_driver_hangs(self):
        """After the restart everything else is as recorded; 02:00.0 is
        still on nouveau, Converged is false with a problem for it alone,
        and RebootRequired names it. Nothing is left without a driver."""
        self.faults.hang_unbind(GPU2)
        call = self.start_call('Prepare', [GPU1, GPU2], ('unbind', GPU2))
        self.kill_when(call)
        self.daemon.start(timeout=60)
        m = self.manager()
        self.assertFalse(m['Converged'])
        self.assertEqual([a for a, _p in m['ConvergeProblems']], [GPU2])
        self.assertTrue(m['RebootRequired'])
        self.assertIn(self.dev_path(GPU2), [s for s, _r in m['RebootReasons']])
        drivers = self.drivers(ALL)
        self.assertEqual(drivers[GPU2], self.host_drivers()[GPU2])
        self.assertEqual({a: drivers[a] for a in (GPU1, AUDIO1)}, {GPU1: VFIO, AUDIO1: VFIO})
        self.assertNotIn(None, drivers.values())
        self.assertNoOverride([GPU2])
        for a in ALL:
            self.assertEqual(self.device(a)['Driver'], drivers[a])


if __name__ == '__main__':
    harness.main()
