#!/usr/bin/python3
"""hostdevd and polkitd: what happens when polkitd is gone, slow, silent
or failing, and what hostdevd asks it.

A mutating call is decided by polkitd, asynchronously: while polkitd
thinks, hostdevd keeps serving everyone else. Without an answer (no
polkitd, an error, a timeout) the change is refused with a clear error
and nothing changes. Here polkitd is stopped, or replaced by the polkitd
template of python-dbusmock on the same private bus.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.client import SignalRecorder, run_as  # noqa: E402
from harness.groups import (  # noqa: E402
    ERR_ACCESS_DENIED, ERR_BUSY, MANAGE_ACTION, MANAGER, POLKIT_IFACE, GroupsTestCase, MockPolkitd,
    PendingCall, create_args, make_args, options_variant, rules_variant, RG_IFACE)

from gi.repository import Gio, GLib  # noqa: E402

# A read must come back this fast while polkitd is still deciding.
PROMPT = 1.0

# src/bus/polkit.h: POLKIT_PENDING_PER_SENDER, POLKIT_PENDING_PER_USER
PENDING_PER_SENDER = 16
PENDING_PER_USER = 32
NOBODY = harness.groups.NOBODY
PYTHON = harness.groups.PYTHON

# Opens C connections and sends N CreateResourceGroup calls at once on
# each, waits until every refused call has its answer and the others have
# been outstanding for a while, then prints what came back.
FLOOD_SCRIPT = r'''
import json, sys, time
from gi.repository import Gio, GLib
address, connections, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
errors, messages, done = {}, set(), {}
def finished(c, res, name):
    try:
        c.call_finish(res)
    except GLib.Error as e:
        err = Gio.DBusError.get_remote_error(e) or 'other'
        errors[err] = errors.get(err, 0) + 1
        text = e.message.split(': ', 1)[1] if e.message.startswith('GDBus.Error:') else e.message
        messages.add(text.replace(name, ':NAME'))
    done[name] += 1
conns = []
for k in range(connections):
    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    conns.append(conn)
    done[conn.get_unique_name()] = 0
for k, conn in enumerate(conns):
    for i in range(n):
        args = GLib.Variant('(ssa{sv})', ('flood-%d-%d' % (k, i), 'pci', {}))
        conn.call('org.hostdev1', '/org/hostdev1', 'org.hostdev1.Manager', 'CreateResourceGroup',
                  args, None, Gio.DBusCallFlags.NO_AUTO_START, 100000, None, finished,
                  conn.get_unique_name())
ctx = GLib.MainContext.default()
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    ctx.iteration(False)
    time.sleep(0.01)
print(json.dumps({'pending': {name: n - d for name, d in done.items()}, 'errors': errors,
                  'messages': sorted(messages)}))
'''


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

    def ask_all(self):
        """The mock grants every check, so that each call asks all of its."""
        self.polkit.mock('AddMethod', GLib.Variant('(sssss)', (
            POLKIT_IFACE, 'CheckAuthorization', '(sa{sv})sa{ss}us', '(bba{ss})',
            'ret = (True, False, {})')))

    def asked(self, path, interface, method, params, interactive=True):
        """Make the call as root (with the D-Bus header flag that allows
        interactive authorization when `interactive`); returns the
        checks polkitd got as [(action, details, flags)], and the reply."""
        self.polkit.mock('ClearCalls')
        flags = Gio.DBusCallFlags.NO_AUTO_START
        if interactive:
            flags |= Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION
        reply = self.client.conn.call_sync(hostspec.BUS_NAME, path, interface, method, params,
                                           None, flags, 20000, None)
        calls = self.polkit.mock('GetMethodCalls', GLib.Variant('(s)', ('CheckAuthorization',)))[0]
        me = self.client.conn.get_unique_name()
        out = []
        for _time, args in calls:
            subject, action, details, flags, _cancel = args
            self.assertEqual(subject, ('system-bus-name', {'name': me}))
            out.append((action, details, flags))
        return out, (reply.unpack() if reply is not None else ())

    def test_what_polkitd_is_asked(self):
        """Each change asks for org.hostdev1.manage-resource-groups on
        behalf of the caller's bus name with details naming the group (id
        and name), the devices and what will change (polkit.message);
        MakeResource asks once per device; a rename asks under the old and
        under the new name; SetRules names the devices the new rules take."""
        self.ask_all()
        host = self.host_description()

        checks, reply = self.asked(hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                                   create_args('pool-a', 'pci', [{'driver': 'ahci'}]))
        pool = reply[0]
        pool_id = self.props(pool)['Id']
        self.assertEqual(len(checks), 1)
        action, details, _ = checks[0]
        self.assertEqual(action, MANAGE_ACTION)
        self.assertEqual(details['resource-group-name'], 'pool-a')
        self.assertNotIn('resource-group', details, 'a group being created has no id yet')
        self.assertEqual(details['devices'], ','.join(
            harness.groups.expected_members(host.pci + host.usb, 'pci', [{'driver': 'ahci'}])))
        self.assertIn('pool-a', details['polkit.message'])

        capture = ['0000:05:00.0', '0000:05:00.1']
        checks, _ = self.asked(hostspec.ROOT_PATH, MANAGER, 'MakeResource',
                               make_args([self.dev_path('0000:05:00.0')], 'capture',
                                         {'include-companions': True}))
        self.assertEqual([c[0] for c in checks], [MANAGE_ACTION] * 2)
        self.assertEqual([c[1]['device'] for c in checks], capture, 'one check per device')
        for _action, details, _flags in checks:
            spec = host.pci_device(details['device'])
            self.assertEqual(details['vendor-id'], spec['vendor_id'].lower())
            self.assertEqual(details['product-id'], spec['device_id'].lower())
            self.assertEqual(details.get('serial'), spec['serial'])
            self.assertEqual(details['devices'], ','.join(capture))
            self.assertEqual(details['resource-group-name'], 'capture')
            self.assertIn('0000:05:00.0', details['polkit.message'])

        checks, _ = self.asked(pool, RG_IFACE, 'Update', GLib.Variant.new_tuple(
            options_variant({'name': 'pool-b'})))
        self.assertEqual([(c[1]['resource-group'], c[1]['resource-group-name'],
                           c[1]['resource-group-new-name']) for c in checks],
                         [(pool_id, 'pool-a', 'pool-b'), (pool_id, 'pool-b', 'pool-b')],
                         'a rename is asked under the old name and under the new one')
        self.assertIn("'pool-a' to 'pool-b'", checks[0][1]['polkit.message'])

        checks, _ = self.asked(pool, RG_IFACE, 'Update', GLib.Variant.new_tuple(
            options_variant({'description': 'A'})))
        self.assertEqual(len(checks), 1)
        self.assertNotIn('resource-group-new-name', checks[0][1])
        self.assertEqual(checks[0][1]['resource-group-name'], 'pool-b')

        checks, _ = self.asked(pool, RG_IFACE, 'SetRules', GLib.Variant.new_tuple(
            rules_variant([{'driver': 'mei_me'}])))
        self.assertEqual(len(checks), 1)
        details = checks[0][1]
        self.assertEqual((details['resource-group'], details['resource-group-name']), (pool_id, 'pool-b'))
        self.assertEqual(details['devices'], ','.join(
            harness.groups.expected_members(host.pci + host.usb, 'pci', [{'driver': 'mei_me'}])))

        checks, _ = self.asked(pool, RG_IFACE, 'Delete', GLib.Variant.new_tuple(options_variant({})))
        self.assertEqual([(c[1]['resource-group'], c[1]['resource-group-name']) for c in checks],
                         [(pool_id, 'pool-b')])

    def test_interaction_flags(self):
        """polkit may interact only when the call carries the D-Bus
        ALLOW_INTERACTIVE_AUTHORIZATION header flag and the caller did not
        pass auth.no_user_interaction: either one saying no means no."""
        self.ask_all()
        for n, (header, option, want) in enumerate([(True, None, 1), (False, None, 0),
                                                    (True, True, 0), (False, True, 0),
                                                    (True, False, 1), (False, False, 0)]):
            with self.subTest(header=header, option=option):
                options = {} if option is None else {'auth.no_user_interaction': option}
                checks, _ = self.asked(hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                                       create_args('pool-%d' % n, 'pci', [], options),
                                       interactive=header)
                self.assertEqual([c[2] for c in checks], [want])
        # SetRules takes no options: the header alone decides
        pool = self.create('rules', rules=[])
        for header, want in ((True, 1), (False, 0)):
            checks, _ = self.asked(pool, RG_IFACE, 'SetRules', GLib.Variant.new_tuple(
                rules_variant([{'driver': 'ahci' if header else 'nvme'}])), interactive=header)
            self.assertEqual([c[2] for c in checks], [want])

    def flood(self, connections, calls):
        """nobody sends `calls` changes at once on each of `connections`
        connections while polkitd hangs; returns what came back."""
        p = run_as([PYTHON, '-c', FLOOD_SCRIPT, self.shared.address, str(connections), str(calls)],
                   uid=NOBODY, env=harness.bus.clean_env({'DBUS_SYSTEM_BUS_ADDRESS': self.shared.address}),
                   timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def assertRootServed(self, name):
        """root's next change reaches polkitd, which answers it."""
        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (False,)))
        path = self.create(name, rules=[{'driver': 'ahci'}])
        self.assertEqual(self.props(path)['Devices'], [self.dev_path('0000:00:17.0')])
        self.polkit.mock('ReleaseHangingCalls')

    def test_one_connection_cannot_starve_others(self):
        """polkitd hangs; nobody sends 100 changes on one connection: at
        most 16 of them wait for polkitd, the rest are refused at once
        with Busy naming the connection, and root's next change still
        reaches polkitd and succeeds."""
        self.allow()
        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (True,)))
        result = self.flood(1, 100)
        self.assertEqual(list(result['pending'].values()), [PENDING_PER_SENDER], result)
        self.assertEqual(result['errors'], {ERR_BUSY: 100 - PENDING_PER_SENDER}, result)
        self.assertEqual(result['messages'], [
            'Too many authorization checks pending for :NAME; try again once polkit answered them.'])
        self.assertRootServed('sata')

    def test_one_user_cannot_starve_others(self):
        """polkitd hangs; nobody sends 140 changes over 7 connections: at
        most 16 per connection and 32 in all wait for polkitd, the rest
        are refused at once with Busy, and root's next change still
        reaches polkitd and succeeds (D6)."""
        self.allow()
        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (True,)))
        result = self.flood(7, 20)
        pending = result['pending'].values()
        self.assertEqual(sum(pending), PENDING_PER_USER, result)
        self.assertLessEqual(max(pending), PENDING_PER_SENDER, result)
        self.assertEqual(result['errors'], {ERR_BUSY: 140 - PENDING_PER_USER}, result)
        self.assertIn('Too many authorization checks pending for user %d (:NAME and its other connections); '
                      'try again once polkit answered them.' % NOBODY, result['messages'])
        self.assertRootServed('sata')

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
        # a rename asks twice (old and new name): the second check must
        # not hang
        self.polkit.mock('SimulateHang', GLib.Variant('(b)', (False,)))
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
