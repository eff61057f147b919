#!/usr/bin/python3
"""Two claims with prepare=true at once on the pool of the two GPUs (each
with its audio function): the first one's members are reserved from the
moment they are selected, so a second claim made while the first one's
devices are still moving to vfio-pci picks the other member instead of
the same one. When the first prepare fails, its reservation goes away
with it: nothing is claimed, its members are on their host drivers and
free again.

The overlap is made by the kernel emulator: GPU1's host driver takes
seconds to let go of it (DriverFaults.slow_unbind), and the second claim
is made once that unbind has reached the kernel and while GPU1 is still
on its host driver. Expectations come from host.json and sysfs."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
import harness.client  # noqa: E402
from harness.groups import PendingCall  # noqa: E402
from preparecase import AUDIO1, AUDIO2, ERR_FAILED, GPU1, GPU2, VFIO  # noqa: E402
from test_claim_release import ALL, CLAIM, ERR_INSUFFICIENT, RG, ClaimTestCase, claim_options  # noqa: E402

SLOW = 3.0


class Overlap(ClaimTestCase):

    def start_claim(self, consumer):
        return PendingCall(self.client, self.pool, RG, 'Claim',
                           GLib.Variant('(sua{sv})', (consumer, 1, claim_options({}))), timeout=60)

    def first_claim_underway(self):
        """Claim 1 member (GPU1's, the first in address order) with GPU1's
        host driver slow to let go; returns once its unbind reached the
        kernel, with GPU1 still on that driver."""
        self.faults.slow_unbind[GPU1] = SLOW
        arrived = self.faults.event('unbind', GPU1, fresh=True)
        first = self.start_claim('vm-first')
        self.assertTrue(arrived.wait(30), 'the first claim never unbound %s' % GPU1)
        self.assertEqual(self.drivers([GPU1]), {GPU1: self.host_drivers[GPU1]})
        return first

    def assertStillPreparing(self):
        """The first claim's prepare has not finished: GPU1 is still bound
        to its host driver (its unbind is being held back)."""
        self.assertEqual(self.drivers([GPU1]), {GPU1: self.host_drivers[GPU1]},
                         'the first prepare finished too early: the claims did not overlap')

    def test_overlapping_prepares(self):
        """Both claims succeed, on different members; while the first one
        is being prepared no member is left for a third claim."""
        first = self.first_claim_underway()
        second = self.claim('vm-second', 1)
        self.assertStillPreparing()
        self.assertEqual(self.client.get(second, CLAIM, 'Devices'), [self.dev_path(GPU2), self.dev_path(AUDIO2)])
        self.expect_error(ERR_INSUFFICIENT, lambda: self.claim('vm-third', 1, {'prepare': False}), '0 free')
        # The first claim has no object yet: its devices name none.
        self.assertEqual(self.device(GPU1)['Claim'], '/')
        self.assertEqual(self.claims(), [second])
        self.assertStillPreparing()

        c = first.wait(timeout=60)[0]
        self.assertEqual(self.client.get(c, CLAIM, 'Devices'), [self.dev_path(GPU1), self.dev_path(AUDIO1)])
        self.assertOnDrivers({a: VFIO for a in ALL})
        self.assertEqual(sorted(self.claims()), sorted([c, second]))
        self.assertEqual(self.counts(), (2, 0, 2))

    def test_failed_prepare_frees_its_members(self):
        """vfio-pci refuses GPU1: the first claim fails and is rolled back
        (nothing claimed, GPU1 and its audio function on their host
        drivers); the second claim made meanwhile got the other member and
        keeps it; GPU1's member is free again afterwards."""
        self.faults.refuse(GPU1, VFIO)
        first = self.first_claim_underway()
        second = self.claim('vm-second', 1)
        self.assertStillPreparing()
        self.assertEqual(self.client.get(second, CLAIM, 'Devices'), [self.dev_path(GPU2), self.dev_path(AUDIO2)])

        with self.assertRaises(harness.client.CallError) as e:
            first.wait(timeout=60)
        self.assertEqual(e.exception.name, ERR_FAILED, e.exception)
        self.assertOnDrivers({GPU1: self.host_drivers[GPU1], AUDIO1: self.host_drivers[AUDIO1],
                              GPU2: VFIO, AUDIO2: VFIO})
        self.assertEqual(self.claims(), [second])
        self.assertEqual(self.counts(), (2, 1, 1))

        third = self.claim('vm-third', 1, {'prepare': False})
        self.assertEqual(self.client.get(third, CLAIM, 'Devices'), [self.dev_path(GPU1), self.dev_path(AUDIO1)])
        self.assertEqual(self.counts(), (2, 0, 2))


if __name__ == '__main__':
    harness.main()
