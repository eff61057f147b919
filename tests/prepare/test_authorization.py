#!/usr/bin/python3
"""Who may prepare and release: org.hostdev1.prepare-devices through the
real polkitd (root; hostdev-operator through the example rules; nobody
not). A dry run is open to everyone (see test_dry_run). Host-critical
devices also need option override-critical and the polkit action
org.hostdev1.override-critical, which only an administrator gets.

The critical-device tests need Device.Critical and Device.CriticalReasons;
on a daemon without them they are skipped, saying so. The host
description makes the BMC's VGA function 0000:0a:00.0 (ast, boot_vga) the
boot console GPU, which the host needs."""

import os
import re
import signal
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, ERR_ACCESS_DENIED, ERR_CRITICAL, GPU1, NOBODY, OPERATOR, VFIO,
    PrepareTestCase, error_text)
from harness.client import CallError  # noqa: E402
from harness.critical import MountTable, add_scsi_disk  # noqa: E402
from harness.groups import SCOPED, SCOPED_GROUP  # noqa: E402

BOOT_VGA = '0000:0a:00.0'
AHCI = '0000:00:17.0'
CAPTURE = '0000:05:00.0'
ERR_INTERACTIVE = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'
OVERRIDE = {'override-critical': True}


class Authorization(PrepareTestCase):

    def state(self):
        self.assertTrue(self.faults.settle())
        self.settle_store()
        return (self.drivers(), self.overrides(), self.store_bytes())

    def refused(self, what, func, names=(ERR_ACCESS_DENIED,)):
        with self.subTest(refused=what):
            before, writes = self.state(), len(self.kernel.log)
            with self.assertRaises(CallError, msg=what) as cm:
                func()
            self.assertIn(cm.exception.name, names, '%s: %s' % (what, cm.exception.message))
            self.assertTrue(error_text(cm.exception).strip())
            self.assertTrue(self.state() == before, '%s changed something' % what)
            self.assertEqual(self.kernel.log[writes:], [], '%s wrote to the kernel' % what)

    def test_nobody_cannot_prepare_or_release(self):
        """nobody is refused Prepare (with or without user interaction
        allowed) and Release, and nothing moves."""
        self.refused('Prepare as nobody', lambda: self.prepare([GPU1], caller=NOBODY))
        # without interaction polkit may answer "an administrator could":
        # refused either way
        self.refused('Prepare as nobody, no interaction',
                     lambda: self.prepare([GPU1], {'auth.no_user_interaction': True}, caller=NOBODY),
                     (ERR_ACCESS_DENIED, ERR_INTERACTIVE))
        self.prepare([GPU1])
        self.refused('Release as nobody', lambda: self.release([GPU1], caller=NOBODY))
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})

    def test_operator_and_root_may(self):
        """hostdev-operator (group "hostdev", example rules) prepares and
        releases; so does root."""
        host = {GPU1: self.spec(GPU1)['driver'], AUDIO1: self.spec(AUDIO1)['driver']}
        for caller in (OPERATOR, 0):
            with self.subTest(caller=caller):
                self.assertEqual(len(self.prepare([GPU1], caller=caller)), 2)
                self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})
                self.assertEqual(len(self.release([GPU1], caller=caller)), 2)
                self.assertOnDrivers(host)


class Critical(PrepareTestCase):
    """Needs Device.Critical (the critical-device detection)."""

    def setUp(self):
        super().setUp()
        xml = self.client.introspect(self.dev_path(BOOT_VGA))
        missing = [p for p in ('Critical', 'CriticalReasons') if '<property name="%s"' % p not in xml]
        if missing:
            self.skipTest('hostdevd does not publish org.hostdev1.Device.%s yet (critical-device '
                          'detection); the override-critical tests need it' % ', '.join(missing))
        self.assertTrue(self.initial.pci_device(BOOT_VGA)['boot_vga'])

    def reason_texts(self, address):
        """The human texts of Device.CriticalReasons (pairs or plain strings)."""
        reasons = self.device(address)['CriticalReasons']
        return [r[-1] if isinstance(r, (tuple, list)) else r for r in reasons]

    def state(self):
        self.assertTrue(self.faults.settle())
        self.settle_store()
        return (self.drivers(), self.overrides(), self.store_bytes())

    def test_refused_for_root_without_override(self):
        """The boot console GPU is critical; root's Prepare without
        override-critical fails with CriticalDevice naming it and why."""
        self.assertTrue(self.device(BOOT_VGA)['Critical'], '%s (boot VGA) is not critical' % BOOT_VGA)
        texts = self.reason_texts(BOOT_VGA)
        self.assertTrue(texts, 'no CriticalReasons for %s' % BOOT_VGA)
        before = self.state()
        self.expect_error(ERR_CRITICAL, lambda: self.prepare([BOOT_VGA]), BOOT_VGA, *texts)
        # with a harmless device in the same call, nothing of it moves either
        self.expect_error(ERR_CRITICAL, lambda: self.prepare([GPU1, BOOT_VGA]), BOOT_VGA)
        self.assertTrue(self.state() == before, 'a refused Prepare changed something')

    def test_allowed_for_root_with_override(self):
        """With override-critical root prepares it (polkit grants root
        every action) and releases it again."""
        driver = self.spec(BOOT_VGA)['driver']
        plan = self.prepare([BOOT_VGA], OVERRIDE)
        self.assertPlan(plan, self.expected_prepare_plan([BOOT_VGA]), {BOOT_VGA})
        self.assertOnDrivers({BOOT_VGA: VFIO})
        self.release([BOOT_VGA])
        self.assertOnDrivers({BOOT_VGA: driver})

    def test_override_refused_for_others(self):
        """nobody is refused; so is hostdev-operator, whom the example
        rules give prepare-devices but not override-critical."""
        for caller in (NOBODY, OPERATOR):
            with self.subTest(caller=caller):
                before, writes = self.state(), len(self.kernel.log)
                self.expect_error(ERR_ACCESS_DENIED, lambda: self.prepare([BOOT_VGA], OVERRIDE, caller=caller))
                self.assertTrue(self.state() == before)
                self.assertEqual(self.kernel.log[writes:], [])
        # the operator may still prepare what is not critical
        self.assertFalse(self.device(GPU1)['Critical'])
        self.prepare([GPU1], caller=OPERATOR)
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})

    def test_the_override_is_not_kept(self):
        """override-critical is asked for every call: root's override does
        not let the operator's next call through."""
        self.prepare([BOOT_VGA], OVERRIDE)
        self.release([BOOT_VGA])
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.prepare([BOOT_VGA], OVERRIDE, caller=OPERATOR))
        self.assertOnDrivers({BOOT_VGA: self.spec(BOOT_VGA)['driver']})


class Background(threading.Thread):
    """A call made in a thread, so that the test can act while it waits."""

    def __init__(self, func):
        super().__init__(daemon=True)
        self.func = func
        self.reply = self.error = None
        self.start()

    def run(self):
        try:
            self.reply = self.func()
        except CallError as e:
            self.error = e

    def result(self, timeout=60):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError('the call was not answered within %gs' % timeout)
        if self.error:
            raise self.error
        return self.reply


class GroupDetails(PrepareTestCase):
    """ResourceGroup.Prepare/Release pass the group acted on as
    resource-group and resource-group-name (D5): the test rules let
    hostdev-scoped prepare the devices of "scoped-pool" only."""

    def test_group_prepare_names_the_group(self):
        """hostdev-scoped prepares and releases scoped-pool (the GPU, its
        audio function coming along), but neither prepares other-pool nor
        the capture card in it through Manager.Prepare."""
        mine = self.create(SCOPED_GROUP, rules=[{'address': GPU1}])
        other = self.create('other-pool', rules=[{'address': CAPTURE}])
        before, writes = self.drivers(), len(self.kernel.log)
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.group_call(other, 'Prepare', caller=SCOPED))
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.prepare([CAPTURE], caller=SCOPED))
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.drivers(), before)
        self.assertEqual(self.kernel.log[writes:], [])

        plan = self.group_call(mine, 'Prepare', caller=SCOPED)
        self.assertPlan(plan, self.expected_prepare_plan([GPU1]), {GPU1})
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})
        self.group_call(mine, 'Release', caller=SCOPED)
        self.assertOnDrivers({GPU1: self.spec(GPU1)['driver'], AUDIO1: self.spec(AUDIO1)['driver']})


class ChangedWhilePolkitDecides(PrepareTestCase):
    """polkitd is stopped (SIGSTOP) while it holds hostdevd's question;
    meanwhile the host changes. The answer polkitd gives afterwards is
    about the host as it was: hostdevd must not act on it (D1)."""

    def setUp(self):
        super().setUp()
        self.disk = add_scsi_disk(self.sim, AHCI, 'sda', 8)
        self.mounts = MountTable(self.sim, self.disk)
        self.polkitd = self.shared.polkitd.proc

    def freeze_polkitd(self):
        os.kill(self.polkitd.pid, signal.SIGSTOP)
        self.addCleanup(self.thaw_polkitd)

    def thaw_polkitd(self):
        os.kill(self.polkitd.pid, signal.SIGCONT)

    def asked(self, action, device=None):
        """How often hostdevd asked polkitd for `action` (about `device`),
        as its debug log says."""
        pattern = r'Asking polkit for %s \(\d+ of \d+\)' % re.escape(action)
        if device:
            pattern += ' about ' + re.escape(device) + ' '
        return len(re.findall(pattern, self.daemon.log_text()))

    def make_critical(self):
        """/var on the SATA disk: the AHCI controller turns critical."""
        self.mounts.mount('/dev/sda1', '/var', 'ext4', self.disk['sda1'])
        self.wait_until(lambda: self.device(AHCI)['Critical'], what='%s to turn critical' % AHCI)

    def prepare_while_it_turns_critical(self, options):
        self.assertFalse(self.device(AHCI)['Critical'])
        before, writes = self.drivers(), len(self.kernel.log)
        asked = self.asked('org.hostdev1.prepare-devices')
        self.freeze_polkitd()
        call = Background(lambda: self.prepare([AHCI], options, caller=OPERATOR))
        self.wait_until(lambda: self.asked('org.hostdev1.prepare-devices') > asked,
                        what='hostdevd to ask polkitd')
        self.make_critical()
        self.thaw_polkitd()
        with self.assertRaises(CallError) as cm:
            call.result()
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.drivers(), before, 'the refused Prepare moved a driver')
        self.assertEqual(self.kernel.log[writes:], [], 'the refused Prepare wrote to the kernel')
        self.assertEqual(self.device(AHCI)['Driver'], self.spec(AHCI)['driver'])
        return cm.exception

    def test_override_asked_again(self):
        """hostdev-operator (prepare-devices only) prepares the SATA
        controller with override-critical while it is not critical; /var
        is mounted from its disk before polkitd answers. hostdevd asks
        again, now for override-critical too, which the operator does
        not get: refused, the controller stays on ahci."""
        err = self.prepare_while_it_turns_critical(OVERRIDE)
        self.assertEqual(err.name, ERR_ACCESS_DENIED, err.message)
        self.assertIn('override-critical', error_text(err))
        self.assertGreater(self.asked('org.hostdev1.override-critical'), 0,
                           'polkitd was never asked for override-critical')
        self.assertIn('asking again', self.daemon.log_text())

    def test_without_override(self):
        """The same without override-critical: once the controller is
        critical the call is refused as CriticalDevice, whatever polkitd
        answered about the host before."""
        err = self.prepare_while_it_turns_critical({})
        self.assertEqual(err.name, ERR_CRITICAL, err.message)
        self.assertIn(AHCI, error_text(err))
        self.assertIn('/var', error_text(err))

    def test_device_joins_the_group(self):
        """hostdev-operator prepares the resource group "gpus" (GPU1 and
        the slot-3 GPU by address) while only GPU1 is there; the slot-3
        card is plugged in before polkitd answers and joins the group.
        hostdevd asks again, about the new card too, before it moves it."""
        gpu3 = [dict(s) for s in self.initial.data['hotplug']['gpu3']['pci']]
        group = self.create('gpus', rules=[{'address': GPU1}, {'address': gpu3[0]['address']}])
        self.freeze_polkitd()
        call = Background(lambda: self.group_call(group, 'Prepare', caller=OPERATOR))
        self.wait_until(lambda: self.asked('org.hostdev1.prepare-devices') > 0, what='hostdevd to ask polkitd')
        self.sim.add_pci_devices(gpu3)
        self.wait_until(lambda: self.dev_path(gpu3[0]['address']) in self.props(group)['Devices'],
                        what='the slot-3 GPU to join the group')
        self.assertEqual(self.asked('org.hostdev1.prepare-devices', gpu3[0]['address']), 0)
        self.thaw_polkitd()
        call.result()
        self.assertIn('asking again', self.daemon.log_text())
        for s in gpu3:
            self.assertGreater(self.asked('org.hostdev1.prepare-devices', s['address']), 0,
                               'polkitd was never asked about %s' % s['address'])
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO, gpu3[0]['address']: VFIO, gpu3[1]['address']: VFIO})

    def test_root_override_still_works(self):
        """For root, who gets override-critical, the question asked again
        is granted and the controller is prepared."""
        before = self.asked('org.hostdev1.override-critical')
        self.freeze_polkitd()
        call = Background(lambda: self.prepare([AHCI], OVERRIDE))
        self.wait_until(lambda: self.asked('org.hostdev1.prepare-devices') > 0, what='hostdevd to ask polkitd')
        self.make_critical()
        self.thaw_polkitd()
        call.result()
        self.assertGreater(self.asked('org.hostdev1.override-critical'), before)
        self.assertOnDrivers({AHCI: VFIO})
        self.release([AHCI])


if __name__ == '__main__':
    harness.main()
