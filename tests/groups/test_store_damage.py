#!/usr/bin/python3
"""A damaged store never loses data silently: hostdevd either loads the
whole state it saved or refuses to start, naming the file (and the
record), and leaves the file byte for byte as it was. What can be read of
a damaged store is kept by `hostdevd --salvage-state`.

The store here is realistic: 31 resource groups made over the bus (rules
of every kind, text with escapes and non-ASCII) and the prepared records of
a GPU card, written by hostdevd itself. Damage is made by truncating it at
every 4 KiB and by flipping one random byte (1,000 seeds). The many cases
are checked with `hostdevd --verify-state` (the same loading code as
start-up, without the bus); a handful run the full daemon.

What "the full state" is comes from the undamaged file: store-tool (plain
libgdbm) reads its records, and --verify-state must print exactly those
records, re-serialized from what it loaded.
"""

import os
import random
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import faults, hostspec  # noqa: E402
from harness.groups import (  # noqa: E402
    MANAGER, RG_IFACE, ROOT, GroupsTestCase, option_dict, store_dump, store_tool)

from gi.repository import GLib  # noqa: E402

GPU, AUDIO = '0000:01:00.0', '0000:01:00.1'
BLOCK = 4096
SEEDS = 1000
DAEMON_SEEDS = 4          # flipped stores also run through the full daemon

# Built once (by the first test that needs it) and shared by the others.
REALISTIC = {}


def parse_dump(text):
    """{key: value} of `store-tool dump` or `hostdevd --verify-state` output."""
    out = {}
    for line in text.splitlines():
        k, v = line.split('\t', 1)
        out[unescape(k)] = unescape(v)
    return out


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == '\\' and i + 1 < len(s):
            out.append({'n': '\n', 't': '\t', '\\': '\\'}[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return ''.join(out)


def checked(key, body):
    """A record value in the store's format: the body's lines, then the
    check line (CRC-32 of key, NUL, body), computed here independently."""
    crc = zlib.crc32(key + b'\0' + body)
    return body + b'check=%08x\n' % crc


class DamagedStoreTest(GroupsTestCase):

    start_daemon = False

    # --- the realistic store ---------------------------------------------------
    def realistic(self):
        """(file bytes, {key: value}, groups, memberships, device states) of
        a store hostdevd wrote: 31 groups and a prepared GPU card."""
        if not REALISTIC:
            faults.write_boot_id(self.sim.proc)
            self.daemon.start()
            self.make_resource([GPU, AUDIO], 'gpu-card', description='RTX 3080 für die VM ✓')
            self.create('capture', rules=[{'driver': 'bttv'}], **{'class': 'capture'})
            self.create('odd, names = 100% "real"', 'usb',
                        rules=[{'port-path': '1-3.*'}, {'serial': 'a,b=c%d:e'}],
                        description='Grafikkarten für VMs — 50% = half, a:b')
            self.create('vfs', 'sriov-nic', rules=[{'physical-function': '0000:03:00.0'}])
            self.create('mdev', 'vgpu')
            for i in range(26):
                self.create('pool-%02d' % i, rules=[
                    {'serial': 'none-%d' % i, 'vendor-id': 0x1000 + i, 'class': 0x020000 + i,
                     'class-mask': 0xffff00, 'numa-node': i % 4},
                    {'product-name': 'Thing %d*' % i, 'address': '0000:%02x:*' % (0x40 + i)}],
                    description='Pool %d of 26, for tenant "t%d"' % (i, i))
            self.call_prepare([GPU, AUDIO])
            self.settle_store()
            groups, members, states = self.state()
            self.assertEqual(len(groups), 31)
            self.stop_daemon()
            with open(self.store_path, 'rb') as f:
                data = f.read()
            records = store_dump(self.store_path)
            os.unlink(self.store_path)      # each test writes the store it needs
            self.assertEqual(sum(1 for k in records if k.startswith('group/')), 31)
            self.assertIn('prepared/' + GPU, records)
            REALISTIC.update(data=data, records=records, groups=groups, members=members,
                             states=states)
        return REALISTIC

    def call_prepare(self, addresses):
        params = GLib.Variant('(aoa{sv})', ([hostspec.pci_path(a) for a in addresses], option_dict({})))
        self.call(ROOT, hostspec.ROOT_PATH, MANAGER, 'Prepare', params, timeout=60)

    def state(self):
        """What the daemon publishes that comes from the store."""
        objs = self.client.managed_objects()
        dev = 'org.hostdev1.Device'
        groups = {p: i[RG_IFACE] for p, i in objs.items() if RG_IFACE in i}
        members = {i[dev]['Address']: i[dev]['ResourceGroup'] for i in objs.values() if dev in i}
        states = {i[dev]['Address']: (i[dev]['State'], i[dev]['Driver']) for i in objs.values() if dev in i}
        return groups, members, states

    # --- helpers ------------------------------------------------------------------
    def write_store(self, data):
        os.makedirs(self.state_dir, exist_ok=True)
        with open(self.store_path, 'wb') as f:
            f.write(data)

    def verify(self, *args):
        """hostdevd --verify-state (or other args): (status, stdout, stderr)."""
        p = subprocess.run([self.daemon.binary] + list(args or ['--verify-state']),
                           env=self.daemon.environment(), capture_output=True, text=True,
                           errors='replace', timeout=30)
        return p.returncode, p.stdout, p.stderr

    def check_all_or_nothing(self, data, what):
        """The damaged bytes `data` either load completely (the records
        printed are exactly the saved ones) or are refused with a message
        naming the file; the file is unchanged. Returns True if loaded."""
        full = self.realistic()['records']
        self.write_store(data)
        rc, out, err = self.verify()
        with open(self.store_path, 'rb') as f:
            self.assertTrue(f.read() == data, '%s: --verify-state changed the file' % what)
        self.assertEqual(sorted(os.listdir(self.state_dir)), ['hostdev.db'], what)
        if rc == 0:
            self.assertEqual(parse_dump(out), full, '%s: loaded, but not the state that was saved' % what)
            return True
        self.assertEqual(rc, 1, '%s: --verify-state exited with %d:\n%s' % (what, rc, err))
        self.assertEqual(out, '', '%s: refused, yet printed records' % what)
        self.assertIn(self.store_path, err, '%s: the message does not name the file:\n%s' % (what, err))
        return False

    def check_daemon_refuses(self, data, *words):
        """The full daemon refuses to start: non-zero, message on its log
        naming the file and words; the file and directory unchanged."""
        self.write_store(data)
        rc, log = self.start_daemon_expecting_failure()
        self.assertNotEqual(rc, 0)
        self.assertIn(self.store_path, log, 'the message does not name the store file:\n' + log)
        for w in words:
            self.assertIn(w.lower(), log.lower(), 'the message does not say %r:\n%s' % (w, log))
        self.assertNotIn('out of memory', log.lower(), log)
        with open(self.store_path, 'rb') as f:
            self.assertTrue(f.read() == data, 'the store file was changed')
        self.assertEqual(sorted(os.listdir(self.state_dir)), ['hostdev.db'])
        return log

    def check_daemon_loads_all(self, data):
        real = self.realistic()
        self.write_store(data)
        self.daemon.start()
        groups, members, states = self.state()
        self.assertEqual(groups, real['groups'])
        self.assertEqual(members, real['members'])
        self.assertEqual(states, real['states'])
        self.stop_daemon()

    # --- the undamaged store ---------------------------------------------------------
    def test_realistic_store_loads(self):
        """The undamaged store loads completely, in --verify-state and in
        the daemon (same groups, members, device states as before)."""
        real = self.realistic()
        self.assertTrue(self.check_all_or_nothing(real['data'], 'undamaged'))
        self.check_daemon_loads_all(real['data'])

    def test_schema_version_1_loads(self):
        """A store of schema version 1 (records without check lines)
        loads completely; the next save writes the current version."""
        real = self.realistic()
        records = {k: v if k == 'schema-version' else v[:v.rindex('check=')]
                   for k, v in real['records'].items()}
        records['schema-version'] = '1'
        argv = [store_tool(), 'write', self.store_path]
        for k, v in records.items():
            argv += [k, v]
        os.makedirs(self.state_dir, exist_ok=True)
        subprocess.run(argv, check=True)
        rc, out, err = self.verify()
        self.assertEqual(rc, 0, err)
        self.assertEqual(parse_dump(out), real['records'])
        self.daemon.start()
        groups, members, states = self.state()
        self.assertEqual(groups, real['groups'])
        self.assertEqual(states, real['states'])

    # --- truncations ----------------------------------------------------------------------
    def test_truncated_at_every_4k(self):
        """Cut at 0, 4 KiB, 8 KiB, … and one byte short of the end."""
        data = self.realistic()['data']
        sizes = list(range(0, len(data), BLOCK)) + [len(data) - 1]
        loaded = [n for n in sizes if self.check_all_or_nothing(data[:n], 'cut at %d' % n)]
        sys.stderr.write('%d-byte store, %d truncations: %d refused, %d loaded completely\n'
                         % (len(data), len(sizes), len(sizes) - len(loaded), len(loaded)))

    def test_truncated_16k_daemon(self):
        """The case of the issue: the store cut to 16 KiB started with 0 of
        31 groups; now hostdevd refuses to start and keeps the file."""
        data = self.realistic()['data']
        self.assertGreater(len(data), 16384)
        self.check_daemon_refuses(data[:16384], 'salvage')

    # --- byte flips ------------------------------------------------------------------------
    def flipped(self, seed):
        data = bytearray(self.realistic()['data'])
        rng = random.Random(seed)
        pos = rng.randrange(len(data))
        data[pos] ^= rng.randrange(1, 256)
        return bytes(data), pos

    def test_random_byte_flips(self):
        """One byte changed at a random place, 1,000 seeds."""
        loaded = 0
        for seed in range(SEEDS):
            data, pos = self.flipped(seed)
            with self.subTest(seed=seed, offset=pos):
                loaded += self.check_all_or_nothing(data, 'seed %d (byte %d)' % (seed, pos))
        sys.stderr.write('%d byte flips: %d refused, %d loaded completely (flips in unused space)\n'
                         % (SEEDS, SEEDS - loaded, loaded))

    def test_byte_flips_daemon(self):
        """A few flipped stores through the full daemon: refused ones
        stop it, loaded ones give exactly the state before."""
        refused = loaded = 0
        for seed in range(SEEDS):
            if refused >= DAEMON_SEEDS and loaded >= 1:
                break
            data, pos = self.flipped(seed)
            ok = self.check_all_or_nothing(data, 'seed %d' % seed)
            with self.subTest(seed=seed, offset=pos):
                if ok and loaded < 1:
                    loaded += 1
                    self.check_daemon_loads_all(data)
                elif not ok and refused < DAEMON_SEEDS:
                    refused += 1
                    self.check_daemon_refuses(data)
        self.assertEqual(refused, DAEMON_SEEDS)

    # --- records that gdbm reads but are not what hostdevd writes -------------------------
    def bad_record_store(self, key, body):
        """The realistic records plus one record (bytes), correctly checked."""
        real = self.realistic()
        argv = [store_tool(), 'write', self.store_path]
        for k, v in real['records'].items():
            argv += [k.encode(), v.encode()]
        argv += [key, checked(key, body)]
        os.makedirs(self.state_dir, exist_ok=True)
        subprocess.run(argv, check=True)
        with open(self.store_path, 'rb') as f:
            return f.read()

    def group_body(self, **fields):
        body = {b'name': b'extra', b'description': b'', b'class': b'', b'type': b'pci'}
        body.update({k.encode(): v for k, v in fields.items()})
        return b''.join(k + b'=' + v + b'\n' for k, v in body.items())

    def test_empty_group_key(self):
        """'group/' (no id) gave "Out of memory"; now a message naming it."""
        data = self.bad_record_store(b'group/', self.group_body())
        self.assertFalse(self.check_all_or_nothing(data, 'empty id'))
        self.check_daemon_refuses(data, "'group/'", 'id')

    def test_group_key_with_slash(self):
        data = self.bad_record_store(b'group/a/b', self.group_body())
        self.assertFalse(self.check_all_or_nothing(data, 'id with /'))
        self.check_daemon_refuses(data, "'group/a/b'", 'id')

    def test_description_not_utf8(self):
        """Invalid UTF-8 in a description made GetManagedObjects fail for
        every client; now the store is refused at start-up."""
        key = b'group/g0123456789abcdef0123456789abcdef'
        data = self.bad_record_store(key, self.group_body(description=b'caf\xe9'))
        self.assertFalse(self.check_all_or_nothing(data, 'latin-1 description'))
        self.check_daemon_refuses(data, key.decode(), 'utf-8')

    def test_duplicate_name(self):
        key = b'group/g0123456789abcdef0123456789abcdef'
        data = self.bad_record_store(key, self.group_body(name=b'capture'))
        # which of the two is named depends on gdbm's order
        self.check_daemon_refuses(data, "another group has the name 'capture'")

    def test_bad_prepared_driver(self):
        """A driver name goes into a sysfs path: '../x' is refused."""
        key = b'prepared/0000:02:00.0'
        body = b'ids=10de:2206\noriginal-driver=..%2Fx\nreleasing=0\n'
        data = self.bad_record_store(key, body)
        self.check_daemon_refuses(data, key.decode(), 'original-driver')

    def test_changed_value(self):
        """A value changed in a way that still parses (a description
        letter) is caught by the record's checksum."""
        real = self.realistic()
        key = next(k for k in real['records'] if k.startswith('group/'))
        records = dict(real['records'])
        records[key] = records[key].replace('description=', 'description=X', 1)
        argv = [store_tool(), 'write', self.store_path]
        for k, v in records.items():
            argv += [k, v]
        os.makedirs(self.state_dir, exist_ok=True)
        subprocess.run(argv, check=True)
        with open(self.store_path, 'rb') as f:
            data = f.read()
        self.check_daemon_refuses(data, key, 'checksum')

    # --- not a regular file ------------------------------------------------------------------
    def check_not_regular(self, what):
        rc, log = self.start_daemon_expecting_failure()
        self.assertNotEqual(rc, 0)
        self.assertIn(self.store_path, log)
        self.assertIn(what, log)
        rc, out, err = self.verify()
        self.assertEqual(rc, 1)
        self.assertIn(what, err)

    def test_fifo(self):
        """A FIFO hung start-up; now it is refused at once."""
        os.makedirs(self.state_dir, exist_ok=True)
        os.mkfifo(self.store_path)
        self.check_not_regular('a FIFO')
        self.assertTrue(os.path.exists(self.store_path))

    def test_directory(self):
        os.makedirs(self.store_path)
        self.check_not_regular('a directory')
        self.assertTrue(os.path.isdir(self.store_path))

    def test_symlink(self):
        """A symbolic link, even to a valid store, is refused and left alone."""
        real = self.realistic()
        target = os.path.join(self.workdir, 'elsewhere.db')
        with open(target, 'wb') as f:
            f.write(real['data'])
        os.makedirs(self.state_dir, exist_ok=True)
        os.symlink(target, self.store_path)
        self.check_not_regular('symbolic link')
        self.assertEqual(os.readlink(self.store_path), target)
        with open(target, 'rb') as f:
            self.assertTrue(f.read() == real['data'])

    # --- salvage -----------------------------------------------------------------------------------
    def salvage(self):
        rc, out, err = self.verify('--salvage-state')
        self.assertEqual(rc, 0, 'salvage failed:\n' + err)
        damaged = [n for n in os.listdir(self.state_dir) if n.startswith('hostdev.db.damaged-')]
        self.assertEqual(len(damaged), 1, os.listdir(self.state_dir))
        self.assertEqual(sorted(os.listdir(self.state_dir)), sorted(['hostdev.db'] + damaged))
        self.assertIn(damaged[0], out)
        return out, os.path.join(self.state_dir, damaged[0])

    def test_salvage_one_bad_record(self):
        """One record is damaged: salvage keeps every other record, names
        the dropped one, keeps the damaged file; hostdevd then starts with
        all groups but that one."""
        real = self.realistic()
        bad = next(k for k in sorted(real['records']) if k.startswith('group/'))
        records = dict(real['records'])
        records[bad] = records[bad].replace('type=', 'type=X', 1)
        argv = [store_tool(), 'write', self.store_path]
        for k, v in records.items():
            argv += [k, v]
        os.makedirs(self.state_dir, exist_ok=True)
        subprocess.run(argv, check=True)
        with open(self.store_path, 'rb') as f:
            data = f.read()

        report, damaged = self.salvage()
        self.assertIn(bad, report)
        self.assertIn('kept 30 groups, 2 prepared devices', report)
        with open(damaged, 'rb') as f:
            self.assertTrue(f.read() == data, 'the damaged file was not kept as it was')
        expected = {k: v for k, v in real['records'].items() if k != bad}
        self.assertEqual(store_dump(self.store_path), expected)

        self.daemon.start()
        groups, members, states = self.state()
        bad_path = hostspec.ROOT_PATH + '/resource_group/' + bad[len('group/'):]
        want = {p: g for p, g in real['groups'].items() if g['Id'] != bad[len('group/'):]}
        self.assertEqual(groups, want, 'not the groups expected (dropped: %s)' % bad_path)
        self.assertEqual(states, real['states'])

    def test_salvage_truncated(self):
        """The store cut at 16 KiB: salvage keeps only records that are
        exactly as saved, the daemon starts with them, the damaged file is
        kept byte for byte, and salvaging again changes nothing."""
        real = self.realistic()
        data = real['data'][:16384]
        self.write_store(data)
        report, damaged = self.salvage()
        with open(damaged, 'rb') as f:
            self.assertTrue(f.read() == data)
        kept = store_dump(self.store_path)
        for k, v in kept.items():
            self.assertEqual(v, real['records'].get(k), 'salvage kept %s, not as saved' % k)
        n_groups = sum(1 for k in kept if k.startswith('group/'))
        self.assertIn('kept %d group' % n_groups, report)
        sys.stderr.write('salvage of the store cut at 16 KiB kept %d of 31 groups\n' % n_groups)

        rc, out, _ = self.verify('--salvage-state')
        self.assertEqual(rc, 0)
        self.assertIn('nothing to salvage', out)

        self.daemon.start()
        groups, _, _ = self.state()
        ids = {k[len('group/'):] for k in kept if k.startswith('group/')}
        self.assertEqual({g['Id'] for g in groups.values()}, ids)
        for p, g in groups.items():
            self.assertEqual(g, real['groups'][p])

    def test_salvage_garbage(self):
        """Nothing readable at all: salvage says so, keeps the file, and
        hostdevd starts with an empty state."""
        data = random.Random(7).randbytes(BLOCK)
        self.write_store(data)
        report, damaged = self.salvage()
        self.assertIn('kept 0 groups, 0 prepared devices, 0 reboot reasons', report)
        self.assertIn('Dropped', report)
        with open(damaged, 'rb') as f:
            self.assertTrue(f.read() == data)
        self.daemon.start()
        self.assertEqual(self.groups(), {})

    def test_salvage_refuses_what_it_must_not_touch(self):
        """No file, a FIFO, a newer schema: salvage changes nothing."""
        records = dict(self.realistic()['records'])
        if os.path.exists(self.store_path):
            os.unlink(self.store_path)
        rc, _, err = self.verify('--salvage-state')
        self.assertEqual(rc, 1)
        self.assertIn('nothing to salvage', err)
        os.mkfifo(self.store_path)
        rc, _, err = self.verify('--salvage-state')
        self.assertEqual(rc, 1)
        self.assertIn('a FIFO', err)
        os.unlink(self.store_path)
        records['schema-version'] = str(int(records['schema-version']) + 1)
        argv = [store_tool(), 'write', self.store_path]
        for k, v in records.items():
            argv += [k, v]
        subprocess.run(argv, check=True)
        with open(self.store_path, 'rb') as f:
            data = f.read()
        rc, _, err = self.verify('--salvage-state')
        self.assertEqual(rc, 1)
        self.assertIn('newer', err)
        self.assertEqual(os.listdir(self.state_dir), ['hostdev.db'])
        with open(self.store_path, 'rb') as f:
            self.assertTrue(f.read() == data)


if __name__ == '__main__':
    harness.main()
