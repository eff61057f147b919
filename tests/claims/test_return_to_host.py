#!/usr/bin/python3
"""ResourceGroup.ReturnToHost: true by default, Claim.Release puts the
claim's prepared devices back on their host drivers (host.json); set to
false through Update "return-to-host", Release leaves them on vfio-pci.
The setting is stored with the group and survives a restart."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
import harness.client  # noqa: E402
from preparecase import AUDIO1, AUDIO2, ERR_INVALID, GPU1, GPU2, VFIO  # noqa: E402
from test_claim_release import RG, ClaimTestCase  # noqa: E402


class ReturnToHost(ClaimTestCase):

    def update(self, options):
        return self.call(0, self.pool, RG, 'Update', GLib.Variant('(a{sv})', (options,)))

    def test_default_true(self):
        """A new group returns devices to the host on release."""
        self.assertIs(self.client.get(self.pool, RG, 'ReturnToHost'), True)
        c = self.claim('vm-1', 1)
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})
        self.release_claim(c)
        self.assertOnDrivers(self.host_drivers)

    def test_false_keeps_vfio(self):
        """ReturnToHost false: Release frees the member but leaves it on
        vfio-pci; it is stored, and true again restores the default."""
        rec = self.record_signals()
        self.update({'return-to-host': GLib.Variant('b', False)})
        self.assertIs(self.client.get(self.pool, RG, 'ReturnToHost'), False)
        rec.wait_for(lambda _e: rec.seen(harness.client.changed(self.pool, RG, 'ReturnToHost', False)),
                     what='PropertiesChanged of ReturnToHost')
        self.stop_daemon()
        self.daemon.start()
        self.assertIs(self.client.get(self.pool, RG, 'ReturnToHost'), False)

        c = self.claim('vm-1', 1)
        self.release_claim(c)
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO, GPU2: self.host_drivers[GPU2],
                              AUDIO2: self.host_drivers[AUDIO2]})
        self.assertEqual(self.counts(), (2, 2, 0))

        self.update({'return-to-host': GLib.Variant('b', True)})
        self.stop_daemon()
        self.daemon.start()
        self.assertIs(self.client.get(self.pool, RG, 'ReturnToHost'), True)

    def test_bad_value(self):
        """return-to-host must be a boolean; nothing changes."""
        self.expect_error(ERR_INVALID, lambda: self.update({'return-to-host': GLib.Variant('s', 'no')}))
        self.assertIs(self.client.get(self.pool, RG, 'ReturnToHost'), True)


if __name__ == '__main__':
    harness.main()
