#!/usr/bin/python3
"""32 clients, each on its own bus connection, claim (prepare=false) 8
members each at once from a pool of SR-IOV VFs: exactly as many succeed
as the pool holds 8s, no device is in two claims, Available ends at 0,
and a restarted hostdevd has the same claims.

The issue asks for a pool of 240 VFs (30 winners). The simulated host
(data/simhost/host.json) has two PFs, 0000:03:00.0 and 0000:03:00.1,
whose sriov_totalvfs allow 64 VFs each; this test simulates the same
host with 120 VFs on each PF (the second PF's VF offset moved past the
first PF's VFs, as on a card with that many). The expectations come
from sysfs: total_vfs // 8 (30) of the 32 clients succeed, the others
get InsufficientDevices; every answer is final (no retries)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'sriov'))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.client import Client  # noqa: E402
from harness.groups import PendingCall  # noqa: E402
from test_sriov import SriovTestCase  # noqa: E402

CLAIM = 'org.hostdev1.Claim'
RG = 'org.hostdev1.ResourceGroup'
MANAGER = 'org.hostdev1.Manager'
ERR_INSUFFICIENT = 'org.hostdev1.Error.InsufficientDevices'
CLIENTS = 32
EACH = 8
VFS_PER_PF = 120


class Concurrent(SriovTestCase):

    def host_description(self):
        host = self.host.copy()
        pfs = sorted((d for d in host.pci if d.get('sriov')), key=lambda d: d['address'])
        end = 0
        for pf in pfs:
            devfn = int(pf['address'][8:10], 16) * 8 + int(pf['address'][11], 16)
            sriov = pf['sriov']
            sriov['totalvfs'] = VFS_PER_PF
            sriov['offset'] = max(sriov['offset'], end - devfn)
            end = devfn + sriov['offset'] + VFS_PER_PF * sriov['stride']
        return host

    def test_32_clients(self):
        pfs = [d['address'] for d in self.initial.pci if d.get('sriov')]
        vfs = []
        for pf in pfs:
            total = int(self.sysfs(pf, 'sriov_totalvfs'))
            if self.kernel_vfs(pf):
                self.set_num_vfs(pf, 0)
            self.set_num_vfs(pf, total)
            vfs += list(self.kernel_vfs(pf).values())
        self.assertEqual(len(vfs), sum(int(self.sysfs(pf, 'sriov_totalvfs')) for pf in pfs))
        self.assertEqual(len(vfs), len(pfs) * VFS_PER_PF)
        winners = len(vfs) // EACH
        pool, _companions = self.make_resource(vfs, 'vfs')
        self.assertEqual(self.client.get(pool, RG, 'Available'), len(vfs))

        clients = [Client(self.shared.address) for _ in range(CLIENTS)]
        options = {'prepare': GLib.Variant('b', False)}
        def start(i):
            return PendingCall(clients[i], pool, RG, 'Claim',
                               GLib.Variant('(sua{sv})', ('vm-%d' % i, EACH, options)), timeout=120)

        calls = [start(i) for i in range(CLIENTS)]
        for call in calls:
            try:
                call.wait(timeout=120)
            except Exception:
                pass
        ok = [c.reply[0] for c in calls if c.error is None]
        refused = [c.error for c in calls if c.error is not None]
        self.assertEqual(len(ok), winners, sorted(set(str(e) for e in refused)))
        self.assertEqual(len(refused), CLIENTS - winners)
        for e in refused:
            self.assertEqual(e.name, ERR_INSUFFICIENT, e)

        devices = {}
        for claim in ok:
            ds = self.client.get(claim, CLAIM, 'Devices')
            self.assertEqual(len(ds), EACH)
            for d in ds:
                self.assertNotIn(d, devices, '%s in %s and %s' % (d, devices.get(d), claim))
                devices[d] = claim
        self.assertEqual(sorted(devices), sorted(self.dev_path(a) for a in vfs))
        self.assertEqual(self.client.get(pool, RG, 'Available'), 0)
        self.assertEqual(sorted(self.client.get(hostspec.ROOT_PATH, MANAGER, 'Claims')), sorted(ok))

        before = {c: self.client.get_all(c, CLAIM) for c in ok}
        self.stop_daemon()
        self.daemon.start()
        self.assertEqual(sorted(self.client.get(hostspec.ROOT_PATH, MANAGER, 'Claims')), sorted(ok))
        for c in ok:
            self.assertEqual(self.client.get_all(c, CLAIM), before[c])
        self.assertEqual(self.client.get(pool, RG, 'Available'), 0)


if __name__ == '__main__':
    harness.main()
