#!/usr/bin/python3
"""hostdevd and polkitd: what happens when polkitd is gone, slow, silent
or failing, and what hostdevd asks it.

A mutating call is decided by polkitd, asynchronously: while polkitd
thinks, hostdevd keeps serving everyone else. Without an answer (no
polkitd, an error, a timeout) the change is refused with a clear error
and nothing changes. Here polkitd is stopped, or replaced by the polkitd
template of python-dbusmock on the same private bus.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.client import SignalRecorder  # noqa: E402
from harness.groups import (  # noqa: E402
    ERR_ACCESS_DENIED, MANAGE_ACTION, MANAGER, POLKIT_IFACE, GroupsTestCase, MockPolkitd,
    PendingCall, create_args, make_args, options_variant, rules_variant, RG_IFACE)

from gi.repository import GLib  # noqa: E402

# A read must come back this fast while polkitd is still deciding.
PROMPT = 1.0


class PolkitdStoppedTest(GroupsTestCase):

    def test_no_polkitd(self):
        """With polkitd stopped, root's changes are refused with
        AccessDenied saying polkit could not be asked, nothing changes, and
        reading goes on; once polkitd is back the same change succeeds."""
        capture = self.create('capture', rules=[{'driver': 'bttv'}])
        self.shared.polkitd.stop()
        self.addCleanup(self.restart_polkitd)
        harness.groups.wait_name_released(self.client, 'org.freedesktop.PolicyKit1')

        for what, func in [
                ('CreateResourceGroup', lambda: self.create('sata', rules=[{'driver': 'ahci'}])),
                ('MakeResource', lambda: self.make_resource(['0000:00:17.0'], 'sata')),
                ('Update', lambda: self.update(capture, description='changed')),
                ('SetRules', lambda: self.set_rules(capture, [{'driver': 'ahci'}])),
                ('Delete', lambda: self.delete(capture))]:
            err = self.refused(what + ' without polkitd', func)
            if err is not None:
                self.assertIn('polkit', harness.groups.error_message(err).lower())

        self.assertEqual(self.props(capture)['Devices'], [self.dev_path('0000:05:00.0')])
        self.assertEqual(self.client.get_device('05:00.0'), self.dev_path('0000:05:00.0'))

        self.restart_polkitd()
        sata = self.create('sata', rules=[{'driver': 'ahci'}])
        self.assertEqual(self.props(sata)['Devices'], [self.dev_path('0000:00:17.0')])

    def restart_polkitd(self):
        if self.shared.polkitd.proc is None:
            self.shared.polkitd.start()


class MockPolkitdTest(GroupsTestCase):
    """polkitd replaced by python-dbusmock's polkitd template, which
    denies everything until told otherwise."""

    def setUp(self):
        super().setUp()
        self.shared.polkitd.stop()
        self.addCleanup(self.shared.polkitd.start)
        self.polkit = MockPolkitd(self.shared.address, os.path.join(self.workdir, 'mock-polkitd.log'))
        self.polkit.start()
        self.addCleanup(self.polkit.stop)

    def allow(self):
        self.polkit.mock('SetAllowed', GLib.Variant('(as)', ([MANAGE_ACTION],)))

    def pending_create(self, name, driver):
        return PendingCall(self.client, hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                           create_args(name, 'pci', [{'driver': driver}]))

    def assertReadsPrompt(self, group):
        """Reads of every kind are answered within PROMPT seconds."""
        reads = [
            ('Manager.Version', lambda: self.client.ping()),
            ('GetManagedObjects', lambda: self.client.managed_objects()),
            ('group properties', lambda: self.props(group)),
            ('GetDevice', lambda: self.client.get_device('0000:01:00.0')),
        ]
        for what, read in reads:
            t0 = time.monotonic()
            read()
            took = time.monotonic() - t0
            self.assertLess(took, PROMPT, '%s took %.2fs while polkitd was deciding' % (what, took))

    def test_polkit_decides(self):
        """hostdevd does what polkit answers, for root too: while the mock
        denies the action, every change is refused; once it allows it,
        they succeed."""
        self.allow()
        capture = self.create('capture', rules=[{'driver': 'bttv'}])
        self.polkit.mock('SetAllowed', GLib.Variant('(as)', ([],)))
        for what, func in [
                ('CreateResourceGroup', lambda: self.create('sata', rules=[{'driver': 'ahci'}])),
                ('MakeResource', lambda: self.make_resource(['0000:00:17.0'], 'sata')),
                ('Update', lambda: self.update(capture, description='changed')),
                ('SetRules', lambda: self.set_rules(capture, [{'driver': 'ahci'}])),
                ('Delete', lambda: self.delete(capture))]:
            self.refused(what + ' denied by polkit', func)
        self.allow()
        self.update(capture, description='changed')
        self.assertEqual(self.props(capture)['Description'], 'changed')

    def test_slow_polkitd(self):
        """polkitd takes 3 s to decide: reads issued meanwhile are
        answered at once, and the change completes after the answer."""
        self.allow()
        capture = self.create('capture', rules=[{'driver': 'bttv'}])
        self.polkit.mock('SetDelay', GLib.Variant('(d)', (3.0,)))

        pending = self.pending_create('sata', 'ahci')
        time.sleep(0.3)  # hostdevd has asked; the mock is sleeping on it
        self.assertReadsPrompt(capture)
        SignalRecorder.pump(0)
        self.assertFalse(pending.done, 'the change was answered before polkitd decided')

        path = pending.wait(30)[0]
        self.assertGreaterEqual(pending.elapsed(), 2.5)
        self.assertEqual(self.props(path)['Devices'], [self.dev_path('0000:00:17.0')])

    def test_other_callers_served_while_polkitd_decides(self):
        """While one change waits for polkitd, reads are answered and
        another caller's change goes through; the first completes when
        polkitd answers it."""
        self.allow()
        capture = self.create('capture', rules=[{'driver': 'bttv'}])
        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (True,)))

        first = self.pending_create('sata', 'ahci')
        self.wait_until(lambda: self.polkit.mock('HaveHangingCalls')[0], what='the check to reach polkitd')
        self.assertReadsPrompt(capture)

        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (False,)))
        other = self.client_as_other_connection()
        nvme = other.call(hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                          create_args('nvme', 'pci', [{'driver': 'nvme'}]))[0]
        self.assertEqual(self.props(nvme)['Devices'], [self.dev_path('0000:07:00.0')])
        SignalRecorder.pump(0)
        self.assertFalse(first.done, 'the first change was answered before polkitd decided')

        self.polkit.mock('ReleaseHangingCalls')
        sata = first.wait(30)[0]
        self.assertEqual(self.props(sata)['Devices'], [self.dev_path('0000:00:17.0')])

    def test_polkitd_never_answers(self):
        """polkitd takes the question and never answers: the change is
        refused with AccessDenied naming polkit once the call times out,
        reads are served all along, and nothing changes."""
        self.allow()
        capture = self.create('capture', rules=[{'driver': 'bttv'}])
        before = self.snapshot()
        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (True,)))

        pending = self.pending_create('sata', 'ahci')
        self.wait_until(lambda: self.polkit.mock('HaveHangingCalls')[0], what='the check to reach polkitd')
        self.assertReadsPrompt(capture)
        with self.assertRaises(harness.client.CallError) as cm:
            pending.wait(80)
        self.assertCallError(cm.exception, ERR_ACCESS_DENIED, 'polkit')
        self.assertUnchanged(before, 'a change polkitd never answered')

    def test_polkitd_fails(self):
        """polkitd answers with an error: the change is refused with
        AccessDenied naming polkit, and nothing changes."""
        self.allow()
        capture = self.create('capture', rules=[{'driver': 'bttv'}])
        self.polkit.mock('AddMethod', GLib.Variant('(sssss)', (
            POLKIT_IFACE, 'CheckAuthorization', '(sa{sv})sa{ss}us', '(bba{ss})',
            "raise dbus.exceptions.DBusException('the authority is broken', "
            "name='org.freedesktop.PolicyKit1.Error.Failed')")))
        err = self.refused('SetRules while polkitd fails',
                           lambda: self.set_rules(capture, [{'driver': 'ahci'}]))
        if err is not None:
            self.assertIn('polkit', harness.groups.error_message(err).lower())

    def test_what_polkitd_is_asked(self):
        """Each change asks for org.hostdev1.manage-resource-groups on
        behalf of the caller's bus name, with the group (and for
        MakeResource the devices) as details; interaction is allowed
        unless the caller passes auth.no_user_interaction."""
        self.polkit.mock('AddMethod', GLib.Variant('(sssss)', (
            POLKIT_IFACE, 'CheckAuthorization', '(sa{sv})sa{ss}us', '(bba{ss})',
            'ret = (True, False, {})')))
        me = self.client.conn.get_unique_name()

        def asked(path, interface, method, params):
            """Make the call; return the details and flags polkitd got."""
            self.polkit.mock('ClearCalls')
            reply = self.client.call(path, interface, method, params)
            calls = self.polkit.mock('GetMethodCalls', GLib.Variant('(s)', ('CheckAuthorization',)))[0]
            self.assertEqual(len(calls), 1, '%s asked polkit %d times' % (method, len(calls)))
            subject, action, details, flags, _cancel = calls[0][1]
            self.assertEqual(subject, ('system-bus-name', {'name': me}))
            self.assertEqual(action, MANAGE_ACTION)
            return details, flags, reply

        details, flags, reply = asked(hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                                      create_args('pool-a', 'pci', [{'driver': 'ahci'}]))
        pool = reply[0]
        self.assertEqual(details.get('resource-group'), 'pool-a')
        self.assertEqual(flags, 1, 'AllowUserInteraction expected')

        details, flags, _ = asked(hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                                  create_args('pool-b', 'pci', [{'driver': 'nvme'}],
                                              {'auth.no_user_interaction': True}))
        self.assertEqual(details.get('resource-group'), 'pool-b')
        self.assertEqual(flags, 0, 'auth.no_user_interaction must clear AllowUserInteraction')

        details, flags, _ = asked(hostspec.ROOT_PATH, MANAGER, 'MakeResource',
                                  make_args([self.dev_path('0000:05:00.0')], 'capture',
                                            {'include-companions': True}))
        self.assertEqual(details.get('resource-group'), 'capture')
        self.assertEqual(sorted(details.get('device', '').split(',')),
                         ['0000:05:00.0', '0000:05:00.1'])
        self.assertEqual(flags, 1)

        details, flags, _ = asked(pool, RG_IFACE, 'Update', GLib.Variant.new_tuple(
            options_variant({'description': 'A', 'auth.no_user_interaction': True})))
        self.assertEqual((details.get('resource-group'), flags), ('pool-a', 0))
        details, flags, _ = asked(pool, RG_IFACE, 'SetRules', GLib.Variant.new_tuple(
            rules_variant([{'driver': 'mei_me'}])))
        self.assertEqual((details.get('resource-group'), flags), ('pool-a', 1))
        details, flags, _ = asked(pool, RG_IFACE, 'Delete', GLib.Variant.new_tuple(
            options_variant({'auth.no_user_interaction': True})))
        self.assertEqual((details.get('resource-group'), flags), ('pool-a', 0))

    def race(self, first, second):
        """Two changes sent while polkitd holds its answers, then both
        answered: returns their PendingCalls, completed."""
        self.allow()
        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (True,)))
        other = self.client_as_other_connection()
        a = PendingCall(self.client, *first)
        b = PendingCall(other, *second)
        self.wait_until(lambda: self.polkit.mock('HaveHangingCalls')[0], what='the checks')
        time.sleep(0.5)  # the second check reaches the mock too
        self.polkit.mock('ReleaseHangingCalls')
        for p in (a, b):
            try:
                p.wait(30)
            except harness.client.CallError:
                pass
        return a, b

    def test_racing_creates_with_one_name(self):
        """Two callers create a group named "twin" while polkitd decides:
        both pass the checks made before asking polkitd, but one only
        is created; the other gets Exists."""
        a, b = self.race(
            (hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
             create_args('twin', 'pci', [{'driver': 'bttv'}])),
            (hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
             create_args('twin', 'pci', [{'driver': 'ahci'}])))
        outcomes = sorted([p.error.name if p.error else 'ok' for p in (a, b)])
        self.assertEqual(outcomes, ['ok', 'org.hostdev1.Error.Exists'])
        names = [g['Name'] for g in self.groups().values()]
        self.assertEqual(names.count('twin'), 1)

    def test_racing_creates_of_one_device(self):
        """Two callers create groups taking the capture card while polkitd
        decides: one gets it, the other Busy naming the card."""
        a, b = self.race(
            (hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
             create_args('by-driver', 'pci', [{'driver': 'bttv'}])),
            (hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
             create_args('by-address', 'pci', [{'address': '0000:05:00.0'}])))
        outcomes = sorted([p.error.name if p.error else 'ok' for p in (a, b)])
        self.assertEqual(outcomes, ['ok', 'org.hostdev1.Error.Busy'])
        loser = a if a.error else b
        self.assertIn('0000:05:00.0', loser.error.message)
        self.assertEqual(len(self.groups()), 1)

    def test_racing_renames_to_one_name(self):
        """Two groups renamed to the same name while polkitd decides: one
        rename wins, the other gets Exists; names stay unique."""
        self.allow()
        g1 = self.create('one', rules=[{'driver': 'bttv'}])
        g2 = self.create('two', rules=[{'driver': 'ahci'}])
        a, b = self.race(
            (g1, RG_IFACE, 'Update', GLib.Variant.new_tuple(options_variant({'name': 'same'}))),
            (g2, RG_IFACE, 'Update', GLib.Variant.new_tuple(options_variant({'name': 'same'}))))
        outcomes = sorted([p.error.name if p.error else 'ok' for p in (a, b)])
        self.assertEqual(outcomes, ['ok', 'org.hostdev1.Error.Exists'])
        self.assertEqual(sorted(g['Name'] for g in self.groups().values()),
                         sorted(['same', 'two' if a.done and not a.error else 'one']))

    def test_stopped_while_polkitd_decides(self):
        """hostdevd stopped (SIGTERM) while a change waits for polkitd
        exits cleanly; the caller gets an error and, after a restart,
        the change is not there."""
        self.allow()
        self.create('capture', rules=[{'driver': 'bttv'}])
        before = sorted(g['Name'] for g in self.groups().values())
        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (True,)))
        pending = self.pending_create('sata', 'ahci')
        self.wait_until(lambda: self.polkit.mock('HaveHangingCalls')[0], what='the check')
        self.stop_daemon()
        with self.assertRaises(harness.client.CallError):
            pending.wait(30)
        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (False,)))
        self.polkit.mock('ReleaseHangingCalls')
        self.start_daemon()
        self.assertEqual(sorted(g['Name'] for g in self.groups().values()), before)
        self.assertEqual(before, ['capture'])

    def client_as_other_connection(self):
        c = harness.client.Client(self.shared.address)
        self.addCleanup(c.close)
        return c


if __name__ == '__main__':
    harness.main()
