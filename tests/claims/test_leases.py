#!/usr/bin/python3
"""Claim leases: "peer" ties a claim to the caller's bus connection,
"pid:N" to a process; without a lease a claim outlives its client and
hostdevd. A holder that is gone releases the claim (within 1 s while
hostdevd runs, at start-up after a restart) with Manager.ClaimReleased.
The pool is the two GPUs of the simulated host; claims here do not
prepare, so only the bookkeeping is under test."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

from gi.repository import Gio, GLib  # noqa: E402

import harness  # noqa: E402
from harness import bus, hostspec  # noqa: E402
from test_claim_release import CLAIM, MANAGER, ClaimTestCase  # noqa: E402

# A client that claims with the given lease, prints the claim and waits
# to be killed.
HOLDER = r'''
import sys
from gi.repository import Gio, GLib
address, group, lease = sys.argv[1:]
conn = Gio.DBusConnection.new_for_address_sync(
    address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
    Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
opts = {'prepare': GLib.Variant('b', False)}
if lease:
    opts['lease'] = GLib.Variant('s', lease)
reply = conn.call_sync('org.hostdev1', group, 'org.hostdev1.ResourceGroup', 'Claim',
                       GLib.Variant('(sua{sv})', ('vm-lease', 1, opts)), None,
                       Gio.DBusCallFlags.NONE, 30000, None)
print(reply.unpack()[0] + ' ' + conn.get_unique_name(), flush=True)
sys.stdin.read()
'''


class ReleasedSignals:
    def __init__(self, test):
        self.signals = []
        conn = test.client.conn
        sub = conn.signal_subscribe(hostspec.BUS_NAME, MANAGER, 'ClaimReleased', hostspec.ROOT_PATH, None,
                                    Gio.DBusSignalFlags.NONE, self._on)
        test.addCleanup(conn.signal_unsubscribe, sub)
        test.client.name_has_owner(hostspec.BUS_NAME)

    def _on(self, _conn, _sender, _path, _iface, _member, params):
        self.signals.append(tuple(params.unpack()))


class Leases(ClaimTestCase):

    def holder(self, lease):
        p = subprocess.Popen(['/usr/bin/python3', '-c', HOLDER, self.shared.address, self.pool, lease],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=bus.clean_env({}))
        self.addCleanup(lambda: (p.kill(), p.wait()))
        claim, name = p.stdout.readline().split()
        return p, claim, name

    def wait_released(self, claim, timeout=1.0):
        """The claim is gone within `timeout` seconds."""
        start = time.monotonic()
        while claim in self.claims():
            if time.monotonic() - start > timeout:
                self.fail('%s still claimed %gs after its holder went' % (claim, timeout))
            time.sleep(0.02)
        self.assertNotIn(claim, self.client.managed_objects())

    def test_peer_lease(self):
        """lease=peer: the holder is killed → released within 1 s."""
        sig = ReleasedSignals(self)
        p, claim, name = self.holder('peer')
        self.assertEqual(self.client.get(claim, CLAIM, 'Lease'), 'peer:' + name)
        self.assertEqual(self.counts(), (2, 1, 1))
        p.kill()
        p.wait()
        self.wait_released(claim)
        self.assertEqual(self.counts(), (2, 2, 0))
        self.wait_until(lambda: any(s[0] == claim for s in sig.signals), what='ClaimReleased')

    def test_pid_lease(self):
        """lease=pid:N: process N exits → released within 1 s."""
        sleeper = subprocess.Popen(['sleep', '600'])
        self.addCleanup(lambda: (sleeper.kill(), sleeper.wait()))
        claim = self.claim('vm-pid', 1, {'prepare': False, 'lease': 'pid:%d' % sleeper.pid})
        self.assertEqual(self.client.get(claim, CLAIM, 'Lease'), 'pid:%d' % sleeper.pid)
        sleeper.kill()
        sleeper.wait()
        self.wait_released(claim)
        self.assertEqual(self.counts(), (2, 2, 0))

    def test_pid_lease_of_no_process(self):
        """A pid lease needs a live process."""
        p = subprocess.Popen(['true'])
        p.wait()
        before = self.state()
        self.expect_error('org.hostdev1.Error.InvalidArgument',
                          lambda: self.claim('vm-1', 1, {'lease': 'pid:%d' % p.pid}), 'process')
        self.assertEqual(self.state(), before)

    def test_no_lease_survives(self):
        """Without a lease a claim outlives its client and a restart."""
        p, claim, _name = self.holder('')
        p.kill()
        p.wait()
        time.sleep(0.5)
        self.assertEqual(self.claims(), [claim])
        self.stop_daemon()
        self.daemon.start()
        self.assertEqual(self.claims(), [claim])

    def test_restart_with_dead_holder(self):
        """A restart finds the pid lease's process gone: the claim is
        released at start-up and ClaimReleased says so; a claim whose
        holder lives on is kept."""
        dead = subprocess.Popen(['sleep', '600'])
        alive = subprocess.Popen(['sleep', '600'])
        self.addCleanup(lambda: (alive.kill(), alive.wait()))
        c1 = self.claim('vm-dead', 1, {'prepare': False, 'lease': 'pid:%d' % dead.pid})
        c2 = self.claim('vm-alive', 1, {'prepare': False, 'lease': 'pid:%d' % alive.pid})
        self.stop_daemon()
        dead.kill()
        dead.wait()
        sig = ReleasedSignals(self)
        self.daemon.start()
        self.wait_until(lambda: self.claims() == [c2], what='the dead holder\'s claim released')
        self.wait_until(lambda: any(s[0] == c1 for s in sig.signals), what='ClaimReleased')
        self.assertIn(str(dead.pid), [s[1] for s in sig.signals if s[0] == c1][0])
        self.assertEqual(self.counts(), (2, 1, 1))


if __name__ == '__main__':
    harness.main()
