#!/usr/bin/python3
"""Claim and Claim.Release while polkitd holds hostdevd's question
(stopped with SIGSTOP): once polkitd answers, hostdevd runs the method
again on the host as it is then. A member that went meanwhile is not
handed out, and a claim released meanwhile is not released twice. A
question polkitd leaves unanswered too long is refused."""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

import harness  # noqa: E402
from preparecase import AUDIO1, AUDIO2, ERR_ACCESS_DENIED, ERR_NOT_FOUND, GPU1, GPU2  # noqa: E402
from test_authorization import Background  # noqa: E402
from test_claim_release import ERR_INSUFFICIENT, ClaimTestCase  # noqa: E402

ACTION = 'org.hostdev1.claim-devices'


class WhilePolkitDecides(ClaimTestCase):

    def setUp(self):
        super().setUp()
        self.polkitd = self.shared.polkitd.proc

    def freeze_polkitd(self):
        os.kill(self.polkitd.pid, signal.SIGSTOP)
        self.addCleanup(self.thaw_polkitd)

    def thaw_polkitd(self):
        os.kill(self.polkitd.pid, signal.SIGCONT)

    def asked(self):
        """How often hostdevd asked polkitd for claim-devices, as its debug log says."""
        return len(re.findall(r'Asking polkit for %s \(' % re.escape(ACTION), self.daemon.log_text()))

    def wait_for_question(self, before):
        self.wait_until(lambda: self.asked() > before, what='hostdevd to ask polkitd')

    def test_member_unplugged(self):
        """Claim 2 of the two GPUs; the second GPU and its audio function
        are unplugged before polkitd answers: InsufficientDevices saying
        1 is free, no claim, nothing written to the kernel."""
        before, writes = self.asked(), len(self.kernel.log)
        self.freeze_polkitd()
        call = Background(lambda: self.claim('vm-1', 2, {'prepare': False}))
        self.wait_for_question(before)
        self.sim.remove_pci_devices([AUDIO2, GPU2])
        self.wait_until(lambda: self.counts() == (1, 1, 0), what='the pool to lose the second GPU')
        self.thaw_polkitd()
        with self.assertRaises(harness.client.CallError) as cm:
            call.result()
        self.assertEqual(cm.exception.name, ERR_INSUFFICIENT, cm.exception.message)
        self.assertIn('1 free', cm.exception.message)
        self.assertEqual(self.claims(), [])
        self.assertEqual(self.counts(), (1, 1, 0))
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertOnDrivers({GPU1: self.host_drivers[GPU1], AUDIO1: self.host_drivers[AUDIO1]})

    def test_released_meanwhile(self):
        """Two Release calls of one claim both wait for polkitd: the first
        releases it (the GPU goes back to its driver), the second is told
        it is gone (NotFound)."""
        claim = self.claim('vm-1', 1)
        self.assertOnDrivers({GPU1: 'vfio-pci', AUDIO1: 'vfio-pci'})
        before = self.asked()
        self.freeze_polkitd()
        first = Background(lambda: self.release_claim(claim))
        self.wait_for_question(before)
        second = Background(lambda: self.release_claim(claim))
        self.wait_for_question(before + 1)
        self.thaw_polkitd()
        first.result()
        with self.assertRaises(harness.client.CallError) as cm:
            second.result()
        self.assertEqual(cm.exception.name, ERR_NOT_FOUND, cm.exception.message)
        self.assertEqual(self.claims(), [])
        self.assertEqual(self.counts(), (2, 2, 0))
        self.assertOnDrivers(self.host_drivers)


    def test_unanswered(self):
        """With HOSTDEV_POLKIT_TIMEOUT_MSEC=1500 and polkitd stopped, a
        Claim is refused (AccessDenied, saying polkit did not answer)
        after about 1.5 s, and nothing is claimed. polkitd's late answer
        changes nothing; once it runs again, claims work."""
        self.stop_daemon()
        self.daemon.extra_env['HOSTDEV_POLKIT_TIMEOUT_MSEC'] = '1500'
        self.daemon.start()
        before, writes = self.asked(), len(self.kernel.log)
        self.freeze_polkitd()
        start = time.monotonic()
        call = Background(lambda: self.claim('vm-1', 1))
        self.wait_for_question(before)
        with self.assertRaises(harness.client.CallError) as cm:
            call.result(timeout=20)
        waited = time.monotonic() - start
        self.assertEqual(cm.exception.name, ERR_ACCESS_DENIED, cm.exception.message)
        self.assertIn('did not answer within 1500 ms', cm.exception.message)
        self.assertGreaterEqual(waited, 1.5)
        self.assertIn('polkit did not answer', self.daemon.log_text())
        self.assertEqual(self.claims(), [])
        self.assertEqual(self.counts(), (2, 2, 0))
        self.assertEqual(self.kernel.log[writes:], [])

        self.thaw_polkitd()
        claim = self.claim('vm-2', 1)
        self.assertEqual(self.claims(), [claim])
        self.assertOnDrivers({GPU1: 'vfio-pci', AUDIO1: 'vfio-pci', GPU2: self.host_drivers[GPU2],
                              AUDIO2: self.host_drivers[AUDIO2]})
        self.assertTrue(self.daemon.alive())


if __name__ == '__main__':
    harness.main()
