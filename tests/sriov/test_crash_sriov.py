#!/usr/bin/python3
"""hostdevd killed (SIGKILL) in the middle of SriovPhysicalFunction.SetNumVfs,
while the kernel has not yet acted on a write to sriov_numvfs (the
emulator holds that one reaction back, harness/holdback.py): after the
kernel acted and hostdevd started again, the PF has exactly the count the
store holds for it (the old one or the one asked for, nothing else), the
VF objects are exactly the kernel's VFs, and Converged is true.

0 → 4 is killed once 4 was written; 4 → 2 goes through 0 and is killed
between the two writes: 0 written (the VFs go once hostdevd is dead), 2
not yet. Expectations come from host.json, the testbed's sysfs and the
store."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness.groups import PendingCall, option_dict, store_dump  # noqa: E402
from harness.holdback import HoldBack  # noqa: E402
from test_sriov import SRIOV, SriovTestCase  # noqa: E402

NUMVFS = ('pci-dev', 'sriov_numvfs')


class SriovCrash(SriovTestCase):

    def stored_count(self, pf):
        """num-vfs of the PF's record; 0 when there is none (nothing to
        reapply)."""
        if not os.path.exists(self.store_path):
            return 0
        body = store_dump(self.store_path).get('sriov/' + pf)
        if body is None:
            return 0
        fields = dict(line.split('=', 1) for line in body.splitlines() if '=' in line)
        return int(fields['num-vfs'])

    def kill_at_write(self, pf, count, value):
        """SetNumVfs(count) on pf; SIGKILL once `value` reached the PF's
        sriov_numvfs, the kernel holding its reaction back; then the kernel
        reacts. Returns how many writes the PF had before the call."""
        hold = HoldBack(self.kernel, NUMVFS, lambda addr, v: addr == pf and v == str(value))
        self.addCleanup(hold.close)
        before = len(self.kernel.sriov_writes(pf))
        call = PendingCall(self.client, self.dev_path(pf), SRIOV, 'SetNumVfs',
                           GLib.Variant('(ua{sv})', (count, option_dict({}))), timeout=60)
        self.wait_until(lambda: hold.arrived.is_set() or call.done, timeout=30,
                        what='%s written to sriov_numvfs of %s' % (value, pf))
        self.assertFalse(call.done, 'answered before the kill: %r %r' % (call.reply, call.error))
        self.kill_daemon()
        self.assertTrue(hold.release(), 'the kernel emulator did not settle')
        self.assertEqual(self.kernel.sriov_writes(pf)[before:], [str(value)])
        self.assertEqual(len(self.kernel_vfs(pf)), value, 'the kernel did not act on %s' % value)
        return before

    def assertStoredCountApplied(self, pf, old, new):
        """The store holds old or new for pf, and the PF has that many
        VFs, published as such; Converged."""
        self.wait_until(lambda: self.manager()['Converged'], timeout=30,
                        what='hostdevd to converge: %r' % (self.manager()['ConvergeProblems'],))
        stored = self.stored_count(pf)
        self.assertIn(stored, (old, new), 'the store holds %d VFs for %s' % (stored, pf))
        self.assertVfs(pf, stored)
        m = self.manager()
        self.assertTrue(m['Converged'])
        self.assertEqual(m['ConvergeProblems'], [])
        return stored

    def test_kill_0_to_4(self):
        """Killed once 4 is written, before the VFs exist."""
        pf = self.pf_without['address']
        self.assertEqual(self.kernel_vfs(pf), {})
        self.kill_at_write(pf, 4, 4)
        self.daemon.start()
        self.assertStoredCountApplied(pf, 0, 4)
        # and SetNumVfs goes on from there
        self.assertVfs(pf, 1, self.set_num_vfs(pf, 1))
        self.assertEqual(self.stored_count(pf), 1)

    def test_kill_4_to_2_between_the_writes(self):
        """4 → 2: killed once 0 is written; the VFs go while hostdevd is
        dead, 2 was never written."""
        pf = self.pf_without['address']
        self.assertVfs(pf, 4, self.set_num_vfs(pf, 4))
        self.assertEqual(self.stored_count(pf), 4)
        before = self.kill_at_write(pf, 2, 0)
        self.assertEqual(self.sysfs(pf, 'sriov_numvfs'), '0')
        self.daemon.start()
        stored = self.assertStoredCountApplied(pf, 4, 2)
        self.assertEqual(self.kernel.sriov_writes(pf)[before:], ['0', str(stored)])

    def test_kill_then_reboot(self):
        """Killed between the writes of 4 → 2, then the host reboots (its
        own count, 0 VFs, at boot) before hostdevd runs again."""
        pf = self.pf_without['address']
        self.set_num_vfs(pf, 4)
        self.kill_at_write(pf, 2, 0)
        self.reboot()
        self.assertStoredCountApplied(pf, 4, 2)


if __name__ == '__main__':
    harness.main()
