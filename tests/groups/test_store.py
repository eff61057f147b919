#!/usr/bin/python3
"""The store: resource groups survive restarts and crashes, and a store
hostdevd cannot read stops it at start-up instead of being overwritten.

The store is the gdbm file hostdev.db in the state directory. The tests
read and write gdbm files with tests/groups/store-tool (libgdbm, as
hostdevd uses it).
"""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.client import CallError, Client  # noqa: E402
from harness.groups import (  # noqa: E402
    MANAGER, RG_IFACE, GroupsTestCase, create_args, options_variant, rules_variant,
    store_dump, store_write)

from gi.repository import GLib  # noqa: E402


def group_state(groups):
    """{name: (object path, description, class, type, rules)} of groups."""
    return {p['Name']: (path, p['Description'], p['Class'], p['Type'], p['Rules'])
            for path, p in groups.items()}


class RestartTest(GroupsTestCase):

    def test_restart_keeps_everything(self):
        """Groups made every way, renamed, re-ruled and one deleted come
        back after a restart with the same ids, names, descriptions,
        classes, types, rules and members; text with the characters a
        store format might trip on survives unchanged."""
        gpus = self.create('gpus', rules=[{'vendor-id': 0x10de, 'product-id': 0x2206}],
                           description='Both RTX 3080', **{'class': 'gpu'})
        capture, _ = self.make_resource(['0000:05:00.0'], 'capture',
                                        description='Bt878 for the DVR VM')
        odd = self.create('odd, names = 100% "real"', 'usb',
                          rules=[{'port-path': '1-3.*'}, {'serial': 'a,b=c%d:e'}],
                          description='Grafikkarten für VMs ✓ — 50% = half, a:b')
        self.create('numbers', 'pci', rules=[{'class': 0x040000, 'class-mask': 0xff0000,
                                              'numa-node': 0, 'subsystem-id': 0x403b}])
        vfs = self.create('vfs', 'sriov-nic', rules=[{'physical-function': '0000:03:00.0'}])
        self.create('empty', 'vgpu')
        doomed = self.create('doomed', rules=[{'driver': 'ahci'}])
        self.update(gpus, name='rtx-3080')
        self.set_rules(capture, [{'driver': 'bttv'}, {'driver': 'nvme'}])
        self.delete(doomed)

        before = self.groups()
        before_members = self.memberships()
        self.assertEqual(len(before), 6)
        self.assertEqual(self.props(odd)['Description'], 'Grafikkarten für VMs ✓ — 50% = half, a:b')
        self.assertEqual(self.props(vfs)['Devices'],
                         [self.dev_path('0000:03:02.0'), self.dev_path('0000:03:02.1')])

        self.stop_daemon()
        self.start_daemon()
        self.assertEqual(self.groups(), before)
        self.assertEqual(self.memberships(), before_members)

        # and once more after a crash
        self.kill_daemon()
        self.start_daemon()
        self.assertEqual(self.groups(), before)
        self.assertEqual(self.memberships(), before_members)

        records = store_dump(self.store_path)
        self.assertIn('schema-version', records)
        ids = {p['Id'] for p in before.values()}
        self.assertEqual({k for k in records if k != 'schema-version'}, {'group/' + i for i in ids})

    def test_every_reply_is_durable(self):
        """Each change is on disk when its reply arrives: hostdevd killed
        with SIGKILL right after every reply comes back with the change."""
        steps = [
            ('create', lambda: self.create('pool', rules=[{'driver': 'bttv'}])),
            ('update', lambda: self.update(self.path, name='pool-renamed', description='d')),
            ('set-rules', lambda: self.set_rules(self.path, [{'driver': 'ahci'}])),
            ('make-resource', lambda: self.make_resource(['0000:07:00.0'], 'nvme')),
            ('delete', lambda: self.delete(self.path)),
        ]
        expected = {}
        for what, step in steps:
            with self.subTest(step=what):
                result = step()
                if what == 'create':
                    self.path = result
                    expected['pool'] = ('pci', [{'driver': 'bttv'}], '')
                elif what == 'update':
                    expected['pool-renamed'] = expected.pop('pool')[:2] + ('d',)
                elif what == 'set-rules':
                    expected['pool-renamed'] = ('pci', [{'driver': 'ahci'}], 'd')
                elif what == 'make-resource':
                    expected['nvme'] = ('pci', self.props(result[0])['Rules'], '')
                else:
                    del expected['pool-renamed']
                self.kill_daemon()
                self.start_daemon()
                got = {p['Name']: (p['Type'], p['Rules'], p['Description'])
                       for p in self.groups().values()}
                self.assertEqual(got, expected)


class CrashTest(GroupsTestCase):
    """SIGKILL at many points of a stream of changes: after a restart the
    groups are exactly the state before or after the change in flight,
    never a mixture, and the store file can be read."""

    ITERATIONS = 80
    SEED = 4

    def test_sigkill_during_changes(self):
        rng = random.Random(self.SEED)
        counter = [0]
        outcomes = {'old': 0, 'new': 0, 'idle': 0}
        for iteration in range(self.ITERATIONS):
            with self.subTest(iteration=iteration):
                state = group_state(self.groups())
                worker = ChangeStream(self.shared.address, state, rng.randrange(1 << 30), counter)
                worker.start()
                time.sleep(rng.uniform(0.0, 0.12))
                self.kill_daemon()
                worker.join(30)
                self.assertFalse(worker.is_alive(), 'the change stream hangs')
                self.assertFalse(worker.failure, worker.failure)

                records = store_dump(self.store_path) if os.path.exists(self.store_path) else {}
                self.start_daemon()
                after = group_state(self.groups())
                allowed = [worker.confirmed]
                if worker.in_flight is not None:
                    allowed.append(worker.in_flight)
                self.assertTrue(any(same_state(after, s) for s in allowed),
                                'after the crash: %r\nexpected one of: %r\n(last change: %s)'
                                % (after, allowed, worker.last))
                if worker.in_flight is None:
                    outcomes['idle'] += 1
                else:
                    outcomes['new' if same_state(after, worker.in_flight) else 'old'] += 1
                self.assertEqual(sum(1 for k in records if k.startswith('group/')), len(after),
                                 'the store file read before the restart holds another state')
        sys.stderr.write('%d changes confirmed; killed with a change in flight %d times '
                         '(%d kept, %d lost), between changes %d times\n'
                         % (counter[0], outcomes['old'] + outcomes['new'], outcomes['new'],
                            outcomes['old'], outcomes['idle']))
        self.assertGreater(counter[0], self.ITERATIONS // 2, 'too few changes were confirmed to matter')


def same_state(got, expected):
    """Equal, where a group created by the change in flight (no reply,
    so its object path is not known) may be at any path."""
    if set(got) != set(expected):
        return False
    for name, (path, *rest) in expected.items():
        if got[name][1:] != tuple(rest) or (path is not None and got[name][0] != path):
            return False
    return True


class ChangeStream(threading.Thread):
    """Changes one after another, from its own connection, until one
    fails (hostdevd was killed). `confirmed` is the state after the last
    change that was answered; `in_flight` the state the unanswered change
    would make, if any."""

    def __init__(self, address, state, seed, counter):
        super().__init__(daemon=True)
        self.address = address
        self.confirmed = dict(state)
        self.in_flight = None
        self.rng = random.Random(seed)
        self.counter = counter
        self.failure = None
        self.last = None

    def run(self):
        client = Client(self.address)
        try:
            while True:
                op, params, path, new_state = self.next_change()
                self.in_flight = new_state
                self.last = op
                try:
                    reply = client.call(path, MANAGER if op == 'CreateResourceGroup' else RG_IFACE,
                                        op, params, timeout=10)
                except CallError as e:
                    if 'org.hostdev1.' in e.name:
                        self.failure = '%s refused: %s' % (op, e)
                    return
                if op == 'CreateResourceGroup':
                    name = params.get_child_value(0).get_string()
                    new_state[name] = (reply[0],) + new_state[name][1:]
                self.confirmed, self.in_flight = new_state, None
                self.counter[0] += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.failure = repr(e)
        finally:
            client.close()

    def next_change(self):
        """A random change to the confirmed state, and the state it makes."""
        state = dict(self.confirmed)
        n = self.rng.randrange(1 << 20)
        names = sorted(state)
        choice = self.rng.random()
        if not names or (choice < 0.35 and len(names) < 6):
            name = 'g%d' % n
            rules = self.rules(n)
            state[name] = (None, 'made %d' % n, 'c%d' % (n % 7), 'pci', rules)
            options = {'description': 'made %d' % n, 'class': 'c%d' % (n % 7), 'rules': rules}
            return ('CreateResourceGroup', create_args(name, 'pci', None, options),
                    hostspec.ROOT_PATH, state)
        name = self.rng.choice(names)
        path, desc, cls, gtype, rules = state[name]
        if choice < 0.55:
            del state[name]
            return ('Delete', GLib.Variant.new_tuple(options_variant({})), path, state)
        if choice < 0.75:
            new_rules = self.rules(n)
            state[name] = (path, desc, cls, gtype, new_rules)
            return ('SetRules', GLib.Variant.new_tuple(rules_variant(new_rules)), path, state)
        new_name = 'r%d' % n
        del state[name]
        state[new_name] = (path, 'renamed %d' % n, cls, gtype, rules)
        return ('Update', GLib.Variant.new_tuple(options_variant(
            {'name': new_name, 'description': 'renamed %d' % n})), path, state)

    def rules(self, n):
        """Rules of every field type that take no device (no such serial),
        so that no change is ever Busy."""
        return [{'serial': 'none-%d' % n, 'vendor-id': n & 0xffff, 'class': n & 0xffffff,
                 'class-mask': 0xffff00, 'numa-node': n % 4},
                {'serial': 'none-%d,=%%x' % n, 'product-name': 'Thing %d*' % n}][:1 + n % 2]


class BadStoreTest(GroupsTestCase):
    """A store hostdevd cannot use stops it at start-up with a message
    naming the file; the file is left exactly as it was."""

    start_daemon = False

    def check_refused(self, content_bytes, *words):
        path = self.store_path
        rc, log = self.start_daemon_expecting_failure()
        self.assertNotEqual(rc, 0, 'hostdevd exited with status 0')
        self.assertIn(path, log, 'the message does not name the store file:\n' + log)
        for w in words:
            self.assertIn(w.lower(), log.lower(), 'the message does not say %r:\n%s' % (w, log))
        with open(path, 'rb') as f:
            self.assertTrue(f.read() == content_bytes, 'the store file was changed')
        self.assertEqual(sorted(os.listdir(self.state_dir)), ['hostdev.db'])

    def write_store(self, data):
        os.makedirs(self.state_dir, exist_ok=True)
        with open(self.store_path, 'wb') as f:
            f.write(data)

    def real_store(self):
        """The records of a store that hostdevd wrote itself."""
        self.daemon.start()
        self.create('gpus', rules=[{'vendor-id': 0x10de, 'product-id': 0x2206}])
        self.settle_store()
        self.stop_daemon()
        records = store_dump(self.store_path)
        os.unlink(self.store_path)
        return records

    def test_garbage(self):
        """4 KiB of random bytes where the store should be."""
        data = random.Random(7).randbytes(4096)
        self.write_store(data)
        self.check_refused(data)

    def test_empty_file(self):
        """An empty file (say, a disk that filled up) is no store either."""
        self.write_store(b'')
        self.check_refused(b'')

    def test_truncated(self):
        """A real store cut in half."""
        store_write(self.store_path, self.real_store())
        with open(self.store_path, 'rb') as f:
            data = f.read()
        data = data[:len(data) // 2]
        self.write_store(data)
        self.check_refused(data)

    def test_future_schema_version(self):
        """A store written by a newer hostdev (the version hostdevd writes,
        plus one): refused, saying so; after moving it away hostdevd starts
        with no groups."""
        records = self.real_store()
        records['schema-version'] = str(int(records['schema-version']) + 1)
        store_write(self.store_path, records)
        with open(self.store_path, 'rb') as f:
            data = f.read()
        self.check_refused(data, 'version')
        os.rename(self.store_path, self.store_path + '.future')
        self.daemon.start()
        self.assertEqual(self.groups(), {})

    def test_no_schema_version(self):
        """A gdbm file without a schema version is not a hostdev store."""
        records = self.real_store()
        del records['schema-version']
        store_write(self.store_path, records)
        with open(self.store_path, 'rb') as f:
            data = f.read()
        self.check_refused(data)

    def test_damaged_record(self):
        """A valid gdbm file with the right version and a group record
        that is not one."""
        records = self.real_store()
        key = next(k for k in records if k.startswith('group/'))
        records[key] = 'this is not a group\n\x01\x02'
        store_write(self.store_path, records)
        with open(self.store_path, 'rb') as f:
            data = f.read()
        self.check_refused(data)


if __name__ == '__main__':
    harness.main()
