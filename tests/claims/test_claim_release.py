#!/usr/bin/python3
"""ResourceGroup.Claim and Claim.Release on a pool of the two GPUs of the
simulated host, each with its HD audio function in its IOMMU group (see
tests/prepare/preparecase.py): a claim takes a member (the GPU and its
audio function go along), prepares it onto vfio-pci, and Release gives it
back to its host drivers. Expectations come from host.json and sysfs."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
import harness.client  # noqa: E402
from harness import hostspec  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, AUDIO2, ERR_ACCESS_DENIED, ERR_INVALID, ERR_NOT_FOUND, GPU1, GPU2, NOBODY, VFIO,
    BothGpusOnHost, PrepareTestCase)

CLAIM = 'org.hostdev1.Claim'
RG = 'org.hostdev1.ResourceGroup'
MANAGER = 'org.hostdev1.Manager'
IOMMU = 'org.hostdev1.IommuGroup'
ERR_INSUFFICIENT = 'org.hostdev1.Error.InsufficientDevices'
ALL = (GPU1, AUDIO1, GPU2, AUDIO2)


def claim_options(options):
    """a{sv} of Claim's options: ints are numa-node (i), lists are object paths."""
    types = {bool: 'b', int: 'i', str: 's', list: 'ao'}
    return {k: GLib.Variant(types[type(v)], v) for k, v in options.items()}


class ClaimTestCase(BothGpusOnHost, PrepareTestCase):

    def setUp(self):
        super().setUp()
        self.pool, _companions = self.make_resource([GPU1, GPU2], 'gpus')
        self.host_drivers = {a: self.spec(a)['driver'] for a in ALL}

    def claim(self, consumer, count, options=None, caller=0, group=None):
        return self.call(caller, group or self.pool, RG, 'Claim',
                         GLib.Variant('(sua{sv})', (consumer, count, claim_options(options or {}))),
                         timeout=60)[0]

    def release_claim(self, claim, caller=0):
        return self.call(caller, claim, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)), timeout=60)

    def counts(self):
        p = self.client.get_all(self.pool, RG)
        return p['Total'], p['Available'], p['Claimed']

    def claims(self):
        return self.client.get(hostspec.ROOT_PATH, MANAGER, 'Claims')

    def assertOnDrivers(self, expected, what=''):
        """As PrepareTestCase's, except that a device held by a claim (in
        the Devices of one of Manager.Claims) is "claimed" whatever its
        driver, and names that claim."""
        held = {d: c for c in self.claims() for d in self.client.get(c, CLAIM, 'Devices')}
        self.assertTrue(self.faults.settle(), 'the kernel emulator did not settle')
        self.assertEqual(self.drivers(list(expected)), expected, 'kernel drivers %s' % what)
        for a, drv in expected.items():
            props = self.device(a)
            claim = held.get(self.dev_path(a))
            self.assertEqual(props['Driver'], drv or '', '%s Driver %s' % (a, what))
            self.assertEqual(props['State'], 'claimed' if claim else 'prepared' if drv == VFIO else 'host',
                             '%s State %s' % (a, what))
            self.assertEqual(props['Claim'], claim or '/', '%s Claim %s' % (a, what))

    def state(self):
        """What a refused call must leave alone."""
        return self.drivers(list(ALL)), self.counts(), self.claims()


class ClaimGpus(ClaimTestCase):

    def test_claim_prepare_release(self):
        """Claim 1 → the first GPU and its audio function on vfio-pci,
        Available 1; claim 2 more → InsufficientDevices, nothing changed;
        release → Available 2 and the host drivers back."""
        self.assertEqual(self.counts(), (2, 2, 0))
        self.assertEqual(set(self.host_drivers.values()), {'nouveau', 'snd_hda_intel'})
        rec = self.record_signals()

        claim = self.claim('vm-1', 1)
        self.assertTrue(claim.startswith(hostspec.ROOT_PATH + '/claim/'), claim)
        props = self.client.get_all(claim, CLAIM)
        self.assertEqual(props['Consumer'], 'vm-1')
        self.assertEqual(props['ResourceGroup'], self.pool)
        self.assertEqual(props['Lease'], '')
        self.assertGreater(props['Since'], 0)
        self.assertEqual(props['Devices'], [self.dev_path(GPU1), self.dev_path(AUDIO1)])
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO, GPU2: self.host_drivers[GPU2],
                              AUDIO2: self.host_drivers[AUDIO2]})
        self.assertEqual(self.counts(), (2, 1, 1))
        self.assertEqual(self.claims(), [claim])
        rec.wait_for(lambda _e: rec.seen(harness.client.added(claim)), what='InterfacesAdded of the claim')

        group = self.initial_group_of(GPU1)
        handles = props['Handles']
        self.assertEqual([h['address'] for h in handles], [GPU1, AUDIO1])
        for h in handles:
            self.assertEqual(h['device'], self.dev_path(h['address']))
            self.assertTrue(h['vfio-group'].endswith('/vfio/%d' % group), h)
            self.assertTrue(h['sysfs'].endswith('/bus/pci/devices/' + h['address']), h)
            self.assertIn('host=' + h['address'], h['qemu'])
            self.assertIn("<hostdev mode='subsystem' type='pci' managed='no'>", h['libvirt'])
        self.assertIn('multifunction=on', handles[0]['qemu'])
        vfio = self.client.get('/org/hostdev1/iommu_group/%d' % group, IOMMU, 'VfioDevice')
        self.assertEqual(vfio, handles[0]['vfio-group'])
        other = self.initial_group_of(GPU2)
        self.assertEqual(self.client.get('/org/hostdev1/iommu_group/%d' % other, IOMMU, 'VfioDevice'), '')

        before = self.state()
        self.expect_error(ERR_INSUFFICIENT, lambda: self.claim('vm-2', 2), '1 free')
        self.assertEqual(self.state(), before)

        self.release_claim(claim)
        self.assertOnDrivers(self.host_drivers)
        self.assertEqual(self.counts(), (2, 2, 0))
        self.assertEqual(self.claims(), [])
        self.assertNotIn(claim, self.client.managed_objects())
        rec.wait_for(lambda _e: rec.seen(harness.client.removed(claim)), what='InterfacesRemoved of the claim')
        self.expect_error(ERR_NOT_FOUND, lambda: self.release_claim(claim), 'released')

    def test_no_prepare(self):
        """prepare=false claims without touching a driver; both members
        may be claimed, by two consumers, and no device is in two claims."""
        a = self.claim('vm-a', 1, {'prepare': False})
        b = self.claim('vm-b', 1, {'prepare': False})
        self.assertEqual(self.drivers(list(ALL)), self.host_drivers)
        self.assertEqual(self.counts(), (2, 0, 2))
        da = self.client.get(a, CLAIM, 'Devices')
        db = self.client.get(b, CLAIM, 'Devices')
        self.assertFalse(set(da) & set(db))
        self.assertEqual(sorted(da + db), sorted(self.dev_path(x) for x in ALL))
        self.assertEqual(sorted(self.claims()), sorted([a, b]))
        objs = self.client.managed_objects()
        self.assertEqual(objs[a][CLAIM]['Consumer'], 'vm-a')
        self.release_claim(a)
        self.release_claim(b)
        self.assertEqual(self.counts(), (2, 2, 0))
        self.assertEqual(self.drivers(list(ALL)), self.host_drivers)

    def test_devices_option(self):
        """devices names the members exactly; its audio function is no member."""
        c = self.claim('vm-1', 1, {'prepare': False, 'devices': [self.dev_path(GPU2)]})
        self.assertEqual(self.client.get(c, CLAIM, 'Devices'), [self.dev_path(GPU2), self.dev_path(AUDIO2)])
        self.release_claim(c)

    def test_bad_input(self):
        """Named errors, nothing changed."""
        before = self.state()
        for count in (0, 4097):
            self.expect_error(ERR_INVALID, lambda: self.claim('vm-1', count), 'count')
        self.expect_error(ERR_INVALID, lambda: self.claim('', 1), 'consumer')
        self.expect_error(ERR_INVALID, lambda: self.claim('vm-1', 1, {'devices': [self.dev_path(AUDIO1)]}))
        self.expect_error(ERR_NOT_FOUND, lambda: self.claim(
            'vm-1', 1, {'devices': [hostspec.pci_path('0000:7f:00.0')]}))
        self.expect_error(ERR_INVALID, lambda: self.claim('vm-1', 1, {'lease': 'pid:x'}), 'lease')
        self.expect_error(ERR_INVALID, lambda: self.claim('vm-1', 1, {'lease': 'peer', 'persistent': True}),
                          'persistent')
        self.assertEqual(self.state(), before)

    def test_refused_for_nobody(self):
        """An unprivileged caller may neither claim nor release."""
        before = self.state()
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.claim('vm-1', 1, caller=NOBODY))
        self.assertEqual(self.state(), before)
        c = self.claim('vm-1', 1, {'prepare': False})
        during = self.state()
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.release_claim(c, caller=NOBODY))
        self.assertEqual(self.state(), during)
        self.release_claim(c)

    def test_restart_keeps_claims(self):
        """Claims are in the store: a restarted hostdevd has the same
        claims, with the same properties, and their members stay taken."""
        a = self.claim('vm-a', 1, {'prepare': False})
        b = self.claim('vm-b', 1)
        before = {c: self.client.get_all(c, CLAIM) for c in (a, b)}
        drivers = self.drivers(list(ALL))
        self.stop_daemon()
        self.daemon.start()
        self.assertEqual(sorted(self.claims()), sorted([a, b]))
        for c in (a, b):
            self.assertEqual(self.client.get_all(c, CLAIM), before[c])
        self.assertEqual(self.counts(), (2, 0, 2))
        self.assertEqual(self.drivers(list(ALL)), drivers)
        self.release_claim(b)
        self.assertOnDrivers(self.host_drivers)
        self.stop_daemon()
        self.daemon.start()
        self.assertEqual(self.claims(), [a])


if __name__ == '__main__':
    harness.main()
