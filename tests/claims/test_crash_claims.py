#!/usr/bin/python3
"""hostdevd killed (SIGKILL) while a ResourceGroup.Claim with prepare=true,
or a Claim.Release, waits for the kernel: after a restart the claim is
either complete (in the store, published, and each of its devices on
vfio-pci) or gone (not in the store, not published, and its devices back
on their host drivers), never in between, and no function that had a
driver is left without one.

The pool is the two GPUs of the simulated host (tests/prepare/preparecase.py,
both cards on their host drivers): a claim of one member takes 01:00.0 and
its audio function 01:00.1, which move to vfio-pci in that order. The
kernel is made slow for the second (its driver takes two seconds to let
go, or vfio-pci two seconds to take it), and hostdevd is killed once that
write has reached the kernel: the GPU is on vfio-pci then, its audio
function on its way. Variants: a reboot before the restart, a claim
leased to a caller that is gone too, a kill while a failed prepare is
rolled back, and a kill during Claim.Release. Expectations come from
host.json, sysfs and the store, never from hostdevd's answers."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.client import Client  # noqa: E402
from harness.groups import PendingCall, store_dump  # noqa: E402
from preparecase import AUDIO1, GPU1, VFIO  # noqa: E402
from test_claim_release import ALL, CLAIM, MANAGER, RG, ClaimTestCase, claim_options  # noqa: E402

SLOW = 2.0
MEMBER = (GPU1, AUDIO1)      # what a claim of one member takes (host.json: group 12)


class ClaimCrashTestCase(ClaimTestCase):

    # --- the store ---------------------------------------------------------------
    def stored_claims(self):
        """{id: {'consumer', 'prepared', 'devices'}} of the claim records."""
        out = {}
        if not os.path.exists(self.store_path):
            return out
        for k, v in store_dump(self.store_path).items():
            if not k.startswith('claim/'):
                continue
            fields, devices = {}, []
            for line in v.splitlines():
                key, _eq, value = line.partition('=')
                if key == 'member':
                    devices += value.split(',')
                else:
                    fields[key] = value
            out[k[len('claim/'):]] = {'consumer': fields.get('consumer'),
                                      'prepared': fields.get('prepared'),
                                      'devices': sorted(devices)}
        return out

    # --- calls that hostdevd will not live to answer -----------------------------------
    def start_claim(self, consumer, kill_at, client=None, options=None):
        self.kill_at = self.faults.event(*kill_at, fresh=True), kill_at
        return PendingCall(client or self.client, self.pool, RG, 'Claim',
                           GLib.Variant('(sua{sv})', (consumer, 1, claim_options(dict(options or {},
                                                                                      prepare=True)))),
                           timeout=60)

    def start_release(self, claim, kill_at):
        self.kill_at = self.faults.event(*kill_at, fresh=True), kill_at
        return PendingCall(self.client, claim, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)), timeout=60)

    def kill_when(self, call):
        """SIGKILL hostdevd once the write named in kill_at reached the
        kernel, the call unanswered; the slow driver finishes afterwards."""
        ev, (kind, address) = self.kill_at
        self.wait_until(lambda: ev.is_set() or call.done, timeout=30,
                        what='the %s of %s to reach the kernel' % (kind, address))
        self.assertFalse(call.done, 'the call was answered before the kill: %r %r' % (call.reply, call.error))
        self.kill_daemon()
        self.assertTrue(self.faults.settle(), 'the delayed kernel reactions did not happen')

    # --- what must hold after the restart ---------------------------------------------
    def at_rest(self, consumer):
        """The kernel reacted to everything, and the claim's devices are
        where a whole claim, or none, puts them (a release started at
        start-up may still be moving them: Converged does not wait for
        that)."""
        if not self.faults.settle():
            return False
        stored = [c for c in self.stored_claims().values() if c['consumer'] == consumer]
        drivers = self.drivers(list(ALL))
        if stored:
            return all(drivers[a] == VFIO for a in MEMBER)
        return drivers == self.host_drivers

    def assertWholeOrNothing(self, consumer, when):
        """The claim of `consumer` is complete or gone; returns True when
        complete. Waits for hostdevd to converge first (a rollback may
        still be moving devices back)."""
        self.wait_until(lambda: self.manager()['Converged'] and self.at_rest(consumer), timeout=30,
                        what='hostdevd to converge %s: %r' % (when, self.manager()['ConvergeProblems']))
        stored = {i: c for i, c in self.stored_claims().items() if c['consumer'] == consumer}
        self.assertLessEqual(len(stored), 1, '%s: %r' % (when, stored))
        drivers = self.drivers(list(ALL))
        published = self.claims()
        prepared = self.stored_prepared()
        if stored:
            (cid, rec), = stored.items()
            self.assertEqual(rec['devices'], sorted(MEMBER), when)
            self.assertEqual(rec['prepared'], '1', when)
            self.assertEqual(drivers, dict(self.host_drivers, **{a: VFIO for a in MEMBER}),
                             '%s: the claim %s is recorded, its devices are not all on vfio-pci' % (when, cid))
            for a in MEMBER:
                self.assertIn(a, prepared, '%s: %s of claim %s is not recorded as prepared' % (when, a, cid))
                self.assertNotEqual(prepared[a].get('releasing'), '1', when)
            path = hostspec.ROOT_PATH + '/claim/' + cid
            self.assertEqual(published, [path], when)
            self.assertEqual(sorted(self.client.get(path, CLAIM, 'Devices')),
                             sorted(self.dev_path(a) for a in MEMBER), when)
        else:
            self.assertEqual(published, [], '%s: a claim is published that the store does not hold' % when)
            self.assertEqual(drivers, self.host_drivers,
                             '%s: no claim, but its devices are not back on their host drivers' % when)
            self.assertEqual({a: r for a, r in prepared.items() if a in ALL}, {}, when)
            self.assertNoOverride(ALL, when)
        boot = {d['address']: d['driver'] for d in self.initial.pci}
        for a, drv in self.drivers().items():
            if boot.get(a):
                self.assertIsNotNone(drv, '%s: %s was left without a driver' % (when, a))
        self.wait_drivers(drivers)
        self.assertOnDrivers(drivers, when)
        total, available, claimed = self.counts()
        self.assertEqual((total, available, claimed), (2, 1, 1) if stored else (2, 2, 0), when)
        self.assertEqual(self.manager()['ConvergeProblems'], [])
        return bool(stored)


class ClaimCrash(ClaimCrashTestCase):

    def test_kill_while_a_driver_lets_go(self):
        """Killed while snd_hda_intel takes its time to let go of 01:00.1
        (01:00.0 on vfio-pci already); it does let go afterwards, so
        01:00.1 has no driver until hostdevd starts again."""
        self.faults.slow_unbind[AUDIO1] = SLOW
        call = self.start_claim('vm-1', ('unbind', AUDIO1))
        self.kill_when(call)
        self.assertIsNone(self.drivers([AUDIO1])[AUDIO1], 'the slow unbind did not complete')
        self.assertEqual(self.drivers([GPU1])[GPU1], VFIO)
        self.daemon.start()
        complete = self.assertWholeOrNothing('vm-1', 'after the restart')
        # and the pool works on: both members claimable once it is over
        if complete:
            self.release_claim(self.claims()[0])
        self.assertOnDrivers(self.host_drivers)
        both = [self.claim('vm-2', 1), self.claim('vm-3', 1)]
        self.assertOnDrivers({a: VFIO for a in ALL})
        for c in both:
            self.release_claim(c)
        self.assertOnDrivers(self.host_drivers)

    def test_kill_while_vfio_probes(self):
        """Killed while vfio-pci takes its time to bind 01:00.1."""
        self.faults.slow_probe[AUDIO1] = SLOW
        call = self.start_claim('vm-1', ('probe', AUDIO1))
        self.kill_when(call)
        self.daemon.start()
        self.assertWholeOrNothing('vm-1', 'after the restart')

    def test_kill_then_reboot(self):
        """Killed mid-claim, then the host reboots before hostdevd runs
        again (every function back on its boot driver): the new boot ends
        in one of the two states as well."""
        self.faults.slow_unbind[AUDIO1] = SLOW
        call = self.start_claim('vm-1', ('unbind', AUDIO1))
        self.kill_when(call)
        self.faults.clear()
        self.reboot()
        self.assertWholeOrNothing('vm-1', 'after the reboot')

    def test_kill_with_a_lease_whose_holder_is_gone(self):
        """A claim leased to its caller's bus connection: killed mid-claim,
        and the caller is gone too when hostdevd starts again (the VM
        died with it). The claim is released at start-up, while the
        devices are being brought back in line: they end on their host
        drivers."""
        for slow_at_start in (False, True):
            with self.subTest(slow_at_start=slow_at_start):
                holder = Client(self.shared.address)
                self.addCleanup(holder.close)
                self.faults.slow_unbind[AUDIO1] = SLOW
                call = self.start_claim('vm-1', ('unbind', AUDIO1), client=holder, options={'lease': 'peer'})
                self.kill_when(call)
                holder.close()
                # vfio-pci slow to take 01:00.1 when start-up re-applies
                # it: the lease ends while that is under way
                if slow_at_start:
                    self.faults.slow_probe[AUDIO1] = SLOW
                self.daemon.start()
                self.assertFalse(self.assertWholeOrNothing('vm-1', 'after the restart'),
                                 'the lease holder is gone')
                self.faults.clear()

    def test_kill_during_release(self):
        """Killed while the claim's devices go back to their host drivers
        (vfio-pci slow to let go of 01:00.1): after the restart the claim
        is gone and both are on their host drivers, or it is whole."""
        claim = self.claim('vm-1', 1)
        self.assertOnDrivers(dict(self.host_drivers, **{a: VFIO for a in MEMBER}))
        self.faults.slow_unbind[AUDIO1] = SLOW
        call = self.start_release(claim, ('unbind', AUDIO1))
        self.kill_when(call)
        self.daemon.start()
        complete = self.assertWholeOrNothing('vm-1', 'after the restart')
        if complete:
            self.release_claim(self.claims()[0])
            self.assertOnDrivers(self.host_drivers)
        self.assertEqual(self.stored_claims(), {})


class ClaimCrashWhileRollingBack(ClaimCrashTestCase):
    """vfio-pci refuses 01:00.1, so the claim's prepare fails and is rolled
    back, last step first: 01:00.1 goes back to snd_hda_intel (slowly),
    then 01:00.0 to nouveau. hostdevd is killed while the first undo step
    waits for the kernel."""

    bind_timeout_msec = 3000

    def test_kill_during_the_rollback(self):
        """After the restart (vfio-pci takes 01:00.1 again) the claim is
        whole or gone."""
        self.faults.refuse(AUDIO1, VFIO)
        self.faults.slow_probe[AUDIO1] = SLOW
        call = self.start_claim('vm-1', ('probe', AUDIO1))
        first, _what = self.kill_at
        self.wait_until(lambda: first.is_set() or call.done, timeout=30, what='the probe of %s' % AUDIO1)
        # the next probe of 01:00.1 is the rollback's
        self.kill_at = self.faults.event('probe', AUDIO1, fresh=True), ('probe', AUDIO1)
        self.kill_when(call)
        self.assertEqual(self.drivers([GPU1, AUDIO1]), {GPU1: VFIO, AUDIO1: self.host_drivers[AUDIO1]})
        self.faults.clear()
        self.daemon.start()
        self.assertWholeOrNothing('vm-1', 'after the restart')


if __name__ == '__main__':
    harness.main()
