#!/usr/bin/python3
"""Device.State and Device.Claim follow claims: every device of a claim,
companions included, is "claimed" and names its claim, with or without
prepare, and goes back to "host" and "/" on release, each change sent as
PropertiesChanged. The pool is the two GPUs of the simulated host with
their audio functions (see tests/prepare/preparecase.py)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

import harness  # noqa: E402
import harness.client  # noqa: E402
from preparecase import AUDIO1, AUDIO2, GPU1, GPU2  # noqa: E402
from test_claim_release import CLAIM, ClaimTestCase  # noqa: E402

DEVICE = 'org.hostdev1.Device'


class DeviceState(ClaimTestCase):

    def state_claim(self, address):
        p = self.client.get_all(self.dev_path(address), DEVICE)
        return p['State'], p['Claim']

    def check_claim_cycle(self, options):
        free = {a: self.state_claim(a) for a in (GPU1, AUDIO1, GPU2, AUDIO2)}
        # Nothing is claimed yet: State is what the driver says (host.json).
        for a, (state, claim) in free.items():
            self.assertEqual(claim, '/')
            self.assertEqual(state, 'prepared' if self.spec(a)['driver'] == 'vfio-pci' else 'host')
        rec = self.record_signals()
        c = self.claim('vm-1', 1, options)
        members = [self.dev_path(x) for x in (GPU1, AUDIO1)]
        self.assertEqual(self.client.get(c, CLAIM, 'Devices'), members)
        for a in (GPU1, AUDIO1):
            self.assertEqual(self.state_claim(a), ('claimed', c))
            path = self.dev_path(a)
            rec.wait_for(lambda _e, path=path: rec.seen(harness.client.changed(path, DEVICE, 'State', 'claimed'))
                         and rec.seen(harness.client.changed(path, DEVICE, 'Claim', c)),
                         what='PropertiesChanged of State and Claim of ' + a)
        for a in (GPU2, AUDIO2):
            self.assertEqual(self.state_claim(a), free[a])

        self.release_claim(c)
        for a in (GPU1, AUDIO1):
            self.assertEqual(self.state_claim(a), free[a])
            path = self.dev_path(a)
            rec.wait_for(lambda _e, path=path, a=a: rec.seen(
                harness.client.changed(path, DEVICE, 'State', free[a][0]))
                and rec.seen(harness.client.changed(path, DEVICE, 'Claim', '/')),
                what='PropertiesChanged back of ' + a)

    def test_no_prepare(self):
        """prepare=false: the drivers stay, the devices are still claimed."""
        self.check_claim_cycle({'prepare': False})
        self.assertEqual(self.drivers([GPU1, AUDIO1, GPU2, AUDIO2]), self.host_drivers)

    def test_prepared(self):
        """A prepared claim is "claimed", not merely "prepared"."""
        self.check_claim_cycle({})
        self.assertOnDrivers(self.host_drivers)

    def test_driver_change_signalled(self):
        """A member's driver changing re-signals IommuGroup.VfioDevice and
        the Handles of the claim holding it: a prepared claim binds vfio-pci
        (VfioDevice appears); rebinding a device of a prepare=false claim
        behind hostdevd's back invalidates that claim's Handles."""
        group = '/org/hostdev1/iommu_group/%d' % self.initial_group_of(GPU1)
        rec = self.record_signals()

        def invalidated(path, interface, prop):
            return lambda _e: any(e['signal'] == 'PropertiesChanged' and e['path'] == path and
                                  e['interface'] == interface and prop in e['invalidated']
                                  for e in rec.events)

        c = self.claim('vm-1', 1)
        rec.wait_for(invalidated(group, 'org.hostdev1.IommuGroup', 'VfioDevice'),
                     what='VfioDevice of %s invalidated' % group)
        self.assertTrue(self.client.get(group, 'org.hostdev1.IommuGroup', 'VfioDevice').endswith(
            '/vfio/%d' % self.initial_group_of(GPU1)))
        self.release_claim(c)

        c = self.claim('vm-2', 1, {'prepare': False, 'devices': [self.dev_path(GPU2)]})
        self.assertTrue(self.sim.unbind(AUDIO2))
        rec.wait_for(invalidated(c, CLAIM, 'Handles'), what='Handles of %s invalidated' % c)
        self.assertTrue(self.sim.bind(AUDIO2, self.host_drivers[AUDIO2]))
        self.release_claim(c)

    def test_restart(self):
        """After a restart the claim's devices are still claimed by it."""
        c = self.claim('vm-1', 1, {'prepare': False})
        self.stop_daemon()
        self.daemon.start()
        for a in (GPU1, AUDIO1):
            self.assertEqual(self.state_claim(a), ('claimed', c))
        self.assertEqual(self.state_claim(GPU2)[1], '/')
        self.release_claim(c)


if __name__ == '__main__':
    harness.main()
