#!/usr/bin/python3
"""hostdevctl claim, claims, unclaim and tenant: a pool of the two GPUs of
the simulated host (each with its HD audio function in its IOMMU group)
claimed from, listed, released and handed to a tenant through the CLI.
What hostdevd holds afterwards is read over D-Bus by the test, which
devices a claim must hold comes from host.json's IOMMU groups, and the
drivers from the kernel emulator's sysfs links."""

import json
import os
import shlex
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import clitest
from clitest import ResourceCliTestCase, hostspec, parse_key_values, parse_table
from harness import faults, groups
from harness.client import run_as
from harness.groups import NOBODY, RG_IFACE
from test_completion import CompletionCase

GPU1, AUDIO1 = '0000:01:00.0', '0000:01:00.1'
GPU2, AUDIO2 = '0000:02:00.0', '0000:02:00.1'
CLAIM_IFACE = 'org.hostdev1.Claim'
MANAGER = 'org.hostdev1.Manager'
CLAIM_ACTION = clitest.polkit_action('claim-devices')
TENANT_ACTION = clitest.polkit_action('assign-tenant')
CLAIMS_COLUMNS = ['ID', 'CONSUMER', 'GROUP', 'DEVICES', 'LEASE', 'SINCE']
CLAIM_KEYS = {'id', 'object_path', 'consumer', 'resource_group', 'lease', 'since', 'devices', 'missing', 'handles'}
HANDLE_KEYS = {'address', 'object_path', 'sysfs_path', 'vfio_group', 'qemu', 'libvirt', 'libvirt_interface'}

DOMAIN = """<domain type='kvm'>
  <name>hostdev-cli-claim</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
%s
  </devices>
</domain>
"""


class ClaimCliCase(ResourceCliTestCase):
    """The pool "gpus" of both GPUs and their companions, made over D-Bus."""

    def setUp(self):
        super().setUp()
        self.pool, _companions = self.make_resource([GPU1, GPU2], 'gpus', **{'include-companions': True})

    def env(self, **extra):
        # the SINCE times are printed in local time: make that UTC
        return super().env(TZ='UTC', **extra)

    def iommu_group_of(self, address):
        """The addresses of the IOMMU group of `address` in host.json, sorted."""
        number = self.host.pci_device(address)['iommu_group']
        group, = [g for g in self.host.data['iommu_groups'] if g['number'] == number]
        return sorted(group['devices'], key=groups.address_key)

    def claims(self):
        return self.client.get(hostspec.ROOT_PATH, MANAGER, 'Claims')

    def claim_props(self, path):
        return self.client.get_all(path, CLAIM_IFACE)

    def pool_counts(self, path=None):
        p = self.client.get_all(path or self.pool, RG_IFACE)
        return p['Total'], p['Available'], p['Claimed']

    def kernel_drivers(self, addresses):
        self.assertTrue(self.kernel.settle())
        drivers = faults.pci_drivers(self.sim)
        return {a: drivers[a] for a in addresses}

    def the_claim(self):
        """The one claim hostdevd has: (path, properties)."""
        paths = self.claims()
        self.assertEqual(len(paths), 1, paths)
        return paths[0], self.claim_props(paths[0])

    def since_text(self, usec):
        return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(usec // 1000000))

    def state(self):
        """What a refused claim must leave alone."""
        return self.kernel_drivers([GPU1, AUDIO1, GPU2, AUDIO2]), self.pool_counts(), self.claims(), self.snapshot()


class ClaimCliTest(ClaimCliCase):

    def test_claim_text_and_unclaim(self):
        """Claim the first GPU: it and its audio function go to vfio-pci and
        are the claim's devices; unclaim gives them back to their drivers."""
        members = self.iommu_group_of(GPU1)
        self.assertEqual(members, [GPU1, AUDIO1])
        host_drivers = {a: self.host.pci_device(a)['driver'] for a in members}
        self.assertNotIn('vfio-pci', host_drivers.values())
        pool = [GPU1, AUDIO1, GPU2, AUDIO2]
        free = groups.expected_available(self.host, pool)
        self.assertEqual(self.pool_counts(), (len(pool), free, 0))

        r = self.ctl('claim', 'gpus', '--consumer', 'vm-1', '--device', '01:00.0')
        self.assertEqual(r.stderr, '')
        path, props = self.the_claim()
        self.assertEqual(props['Consumer'], 'vm-1')
        self.assertEqual(props['ResourceGroup'], self.pool)
        self.assertEqual(props['Lease'], '')
        self.assertEqual(props['Devices'], [self.dev_path(a) for a in members])
        self.assertEqual(self.kernel_drivers(members), {a: 'vfio-pci' for a in members})
        self.assertEqual(self.pool_counts(), (len(pool), free - 1, 1))

        kv = parse_key_values(r.stdout)
        self.assertEqual(kv['Claim'], [path.rsplit('/', 1)[1]])
        self.assertEqual(kv['Object'], [path])
        self.assertEqual(kv['Consumer'], ['vm-1'])
        self.assertEqual(kv['Resource Group'], ['gpus'])
        self.assertEqual(kv['Lease'], ['none'])
        self.assertEqual(kv['Since'], [self.since_text(props['Since'])])
        self.assertEqual([line.split('  ')[0] for line in kv['Devices']], members)
        for line, address in zip(kv['Devices'], members):
            self.assertTrue(line.endswith('(vfio-pci)'), line)
        group = self.host.pci_device(GPU1)['iommu_group']
        for line, address in zip(kv['Handles'], members):
            got_address, vfio, qemu = line.split('  ')
            self.assertEqual(got_address, address)
            self.assertTrue(vfio.endswith('/vfio/%d' % group), vfio)
            self.assertIn('host=' + address, qemu)
        self.assertEqual(len(kv['Handles']), len(members))
        # show prints the same, by id and by object path
        self.assertEqual(self.ctl('claim', 'show', kv['Claim'][0]).stdout, r.stdout)
        self.assertEqual(self.ctl('claim', 'show', path).stdout, r.stdout)
        # the devices name their state and claim
        rows = {row[0]: row for row in parse_table(self.ctl('list').stdout)[1]}
        self.assertEqual([rows[a][6] for a in members], ['claimed'] * len(members))
        for a in members:
            self.assertEqual(parse_key_values(self.ctl('show', a).stdout)['Claim'], ['%s (for vm-1)' % kv['Claim'][0]])
        self.assertNotIn('Claim', parse_key_values(self.ctl('show', GPU2).stdout))

        r = self.ctl('unclaim', kv['Claim'][0])
        self.assertEqual((r.stdout, r.stderr), ('', ''))
        self.assertEqual(self.claims(), [])
        self.assertEqual(self.kernel_drivers(members), host_drivers)
        self.assertEqual(self.pool_counts(), (len(pool), free, 0))

        # releasing twice: the claim is gone
        r = self.ctl('unclaim', kv['Claim'][0], expect=None)
        self.assertFailure(r, clitest.man_message('no-claim', CLAIM=kv['Claim'][0]) + r'\n\Z')
        r = self.ctl('claim', 'release', path, expect=None)
        self.assertFailure(r, clitest.man_message('no-claim', CLAIM=path) + r'\n\Z')

    def test_claim_release_by_path_and_no_prepare(self):
        """--no-prepare leaves the drivers alone; "claim release" takes the object path."""
        before = self.kernel_drivers([GPU1, AUDIO1, GPU2, AUDIO2])
        self.ctl('claim', 'gpus', '--consumer=vm-2', '--count=2', '--no-prepare')
        path, props = self.the_claim()
        self.assertEqual(sorted(props['Devices']), sorted(self.dev_path(a) for a in [GPU1, AUDIO1, GPU2, AUDIO2]))
        self.assertEqual(self.kernel_drivers(list(before)), before)
        self.assertEqual(self.pool_counts()[1:], (0, 2))
        r = self.ctl('claim', 'release', path)
        self.assertEqual((r.stdout, r.stderr), ('', ''))
        self.assertEqual(self.claims(), [])
        self.assertEqual(self.kernel_drivers(list(before)), before)

    def test_libvirt_format_validates(self):
        """--format=libvirt: one <hostdev> per device of the claim, each
        naming its host address, valid inside a <domain> for libvirt."""
        members = self.iommu_group_of(GPU2)
        r = self.ctl('claim', 'gpus', '--consumer', 'vm-xml', '--device', GPU2, '--format', 'libvirt')
        self.assertEqual(r.stderr, '')
        path, props = self.the_claim()
        self.assertEqual(props['Devices'], [self.dev_path(a) for a in members])
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), len(members))
        for line, address in zip(lines, members):
            e = ET.fromstring(line)
            self.assertEqual((e.tag, e.get('mode'), e.get('type'), e.get('managed')),
                             ('hostdev', 'subsystem', 'pci', 'no'))
            a = e.find('source/address')
            domain, bus, slotfn = address.split(':')
            slot, fn = slotfn.split('.')
            self.assertEqual([int(a.get(k), 16) for k in ('domain', 'bus', 'slot', 'function')],
                             [int(domain, 16), int(bus, 16), int(slot, 16), int(fn, 16)])
        xml = DOMAIN % '\n'.join('    ' + line for line in lines)
        with tempfile.NamedTemporaryFile('w', suffix='.xml') as f:
            f.write(xml)
            f.flush()
            p = subprocess.run(['virt-xml-validate', f.name, 'domain'], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, xml + p.stdout + p.stderr)
        # show prints the same elements
        self.assertEqual(self.ctl('claim', 'show', path, '--format=libvirt').stdout, r.stdout)

    def test_qemu_format(self):
        """--format=qemu: "-device vfio-pci,host=…" a line, one per device;
        the GPU and its audio function share one guest slot, function 0
        marked multifunction."""
        members = self.iommu_group_of(GPU2)
        self.ctl('claim', 'gpus', '--consumer', 'vm-q', '--device', '02:00.0', '--no-prepare')
        path, props = self.the_claim()
        r = self.ctl('claim', 'show', path.rsplit('/', 1)[1], '--format', 'qemu')
        self.assertEqual(r.stderr, '')
        args = [shlex.split(line) for line in r.stdout.splitlines()]
        self.assertEqual([a[0] for a in args], ['-device'] * len(members))
        self.assertEqual([len(a) for a in args], [2] * len(members))
        parsed = []
        for _flag, value in args:
            driver, *props_ = value.split(',')
            self.assertEqual(driver, 'vfio-pci')
            parsed.append(dict(p.split('=', 1) if '=' in p else (p, '') for p in props_))
        self.assertEqual([p['host'] for p in parsed], members)
        # host functions 0 and 1 of one slot: guest functions 0 and 1 of one slot
        slots = {p['addr'].split('.')[0] for p in parsed}
        self.assertEqual(len(slots), 1, parsed)
        self.assertEqual([p['addr'].split('.')[1] for p in parsed], ['0', '1'])
        self.assertEqual(parsed[0].get('multifunction'), 'on')
        self.assertNotIn('multifunction', parsed[1])

    def test_json(self):
        members = self.iommu_group_of(GPU2)
        got = json.loads(self.ctl('claim', 'gpus', '--consumer=vm-j', '--device=02:00.0', '--json').stdout)
        path, props = self.the_claim()
        self.assertEqual(set(got), CLAIM_KEYS)
        self.assertEqual((got['id'], got['object_path'], got['consumer'], got['resource_group'], got['lease'],
                          got['since']),
                         (path.rsplit('/', 1)[1], path, 'vm-j', 'gpus', None, props['Since']))
        self.assertEqual([d['address'] for d in got['devices']], members)
        self.assertEqual([d['object_path'] for d in got['devices']], [self.dev_path(a) for a in members])
        self.assertEqual(got['missing'], [])
        handles = props['Handles']
        self.assertEqual([h['address'] for h in got['handles']], members)
        for mine, theirs in zip(got['handles'], handles):
            self.assertEqual(set(mine), HANDLE_KEYS)
            self.assertEqual(mine, {'address': theirs['address'], 'object_path': theirs['device'],
                                    'sysfs_path': theirs['sysfs'], 'vfio_group': theirs['vfio-group'],
                                    'qemu': theirs['qemu'], 'libvirt': theirs['libvirt'],
                                    'libvirt_interface': theirs.get('libvirt-interface')})
        # --format=json is --json
        self.assertEqual(json.loads(self.ctl('claim', 'show', path, '--format=json').stdout), got)
        self.assertEqual(json.loads(self.ctl('claim', 'show', path, '--json').stdout), got)
        r = self.ctl('claim', 'show', path, '--json', '--format=qemu', expect=None)
        self.assertUsageError(r, 'claim show: --json and --format=qemu contradict')

    def test_insufficient_devices(self):
        """More than are free: InsufficientDevices in hostdevctl's words,
        with the daemon's count; nothing claimed, nothing rebound."""
        free = groups.expected_available(self.host, [GPU1, AUDIO1, GPU2, AUDIO2])
        self.assertEqual(free, 2)
        before = self.state()
        r = self.ctl('claim', 'gpus', '--consumer', 'vm-big', '--count', str(free + 1), expect=None)
        self.assertFailure(r, clitest.man_message('insufficient', COMMAND='claim') + r'\n\Z')
        self.assertIn('%d free' % free, r.stderr)
        self.assertIn('%d asked for' % (free + 1), r.stderr)
        # no member on a NUMA node the host does not have (host.json)
        nodes = {self.host.pci_device(a)['numa_node'] for a in (GPU1, GPU2)}
        other = max(nodes) + 1
        r = self.ctl('claim', 'gpus', '--consumer', 'vm-numa', '--numa', str(other), '--numa-strict', expect=None)
        self.assertFailure(r, clitest.man_message('insufficient', COMMAND='claim') + r'\n\Z')
        self.assertIn('NUMA node %d' % other, r.stderr)
        self.assertEqual(self.state(), before)

        # a device of no member of the group: the daemon's detail
        r = self.ctl('claim', 'gpus', '--consumer', 'vm-x', '--device', '05:00.0', expect=None)
        self.assertFailure(r, clitest.man_message('invalid', COMMAND='claim') + r'\n\Z')
        self.assertIn('0000:05:00.0', r.stderr)
        r = self.ctl('claim', 'nope', '--consumer', 'vm-x', expect=None)
        self.assertFailure(r, clitest.man_message('no-group', NAME='nope') + r'\n\Z')
        r = self.ctl('claim', 'gpus', '--consumer', 'vm-x', '--device', '0f:00.0', expect=None)
        self.assertFailure(r, clitest.man_message('no-device', ADDRESS='0f:00.0') + r'\n\Z')
        self.assertEqual(self.state(), before)

    def test_claims_listing(self):
        """claims lists what Manager.Claims has, oldest first; claim list is the same."""
        self.assertEqual(self.ctl('claims').stdout, 'No claims.\n')
        self.assertEqual(self.ctl('claims', '--no-legend').stdout, '')
        self.assertEqual(json.loads(self.ctl('claims', '--json').stdout), [])
        sleeper = subprocess.Popen(['sleep', '600'])
        self.addCleanup(sleeper.wait)
        self.addCleanup(sleeper.kill)
        self.ctl('claim', 'gpus', '--consumer', 'vm-a', '--device', GPU2, '--no-prepare')
        self.ctl('claim', 'gpus', '--consumer', 'vm-b', '--device', GPU1, '--no-prepare',
                 '--lease-pid', str(sleeper.pid))

        paths = self.claims()
        self.assertEqual(len(paths), 2)
        address_of = {hostspec.device_path(d): d['address'] for d in self.host.pci}
        expected = []
        for p in paths:
            props = self.claim_props(p)
            expected.append([props['Id'], props['Consumer'], 'gpus',
                             ','.join(address_of[d] for d in props['Devices']),
                             props['Lease'] or '-', self.since_text(props['Since'])])
        self.assertEqual([row[1] for row in expected], ['vm-a', 'vm-b'])
        self.assertEqual(expected[0][3], ','.join(self.iommu_group_of(GPU2)))
        self.assertEqual(expected[1][3], ','.join(self.iommu_group_of(GPU1)))
        self.assertEqual(expected[1][4], 'pid:%d' % sleeper.pid)

        r = self.ctl('claims')
        header, rows = parse_table(r.stdout)
        self.assertEqual(header, CLAIMS_COLUMNS)
        self.assertEqual(rows, expected)
        self.assertEqual(self.ctl('claim', 'list').stdout, r.stdout)
        self.assertEqual(self.ctl('claim').stdout, r.stdout)
        listed = json.loads(self.ctl('claims', '--json').stdout)
        self.assertEqual([c['object_path'] for c in listed], paths)
        self.assertEqual([c['lease'] for c in listed], [None, 'pid:%d' % sleeper.pid])

        # the lease ends with its process
        sleeper.kill()
        sleeper.wait()
        self.wait_until(lambda: len(self.claims()) == 1, what='the pid lease to end')
        self.assertEqual(parse_table(self.ctl('claims').stdout)[1], expected[:1])

    def test_refused_for_nobody(self):
        before = self.state()
        for args, key in [(['claim', 'gpus', '--consumer', 'vm-n'], 'not-authorized'),
                          (['--no-ask-password', 'claim', 'gpus', '--consumer', 'vm-n'], 'auth-required')]:
            r = run_as([clitest.paths.cli_binary()] + args, uid=NOBODY, env=self.env())
            self.assertEqual((r.returncode, r.stdout), (1, ''), r.stderr)
            self.assertRegex(r.stderr, r'\Ahostdevctl: %s\n\Z' % clitest.man_message(
                key, COMMAND='claim', ACTIONS=CLAIM_ACTION))
        self.assertEqual(self.state(), before)

        self.ctl('claim', 'gpus', '--consumer', 'vm-r', '--no-prepare')
        path, _props = self.the_claim()
        r = run_as([clitest.paths.cli_binary(), 'unclaim', path], uid=NOBODY, env=self.env())
        self.assertEqual((r.returncode, r.stdout), (1, ''), r.stderr)
        self.assertRegex(r.stderr, r'\Ahostdevctl: %s\n\Z' % clitest.man_message(
            'not-authorized', COMMAND='unclaim', ACTIONS=CLAIM_ACTION))
        self.assertEqual(self.claims(), [path])

        r = run_as([clitest.paths.cli_binary(), 'tenant', 'assign', 'gpus', 'tenant-n'], uid=NOBODY, env=self.env())
        self.assertEqual((r.returncode, r.stdout), (1, ''), r.stderr)
        self.assertRegex(r.stderr, r'\Ahostdevctl: %s\n\Z' % clitest.man_message(
            'not-authorized', COMMAND='tenant assign', ACTIONS=TENANT_ACTION))
        self.assertEqual(len(self.groups()), 1)


class TenantCliTest(ClaimCliCase):

    def test_assign_claim_return(self):
        """tenant assign moves a member into the tenant's own group; while
        it is claimed it cannot go back; then tenant return gives it back."""
        pool = [GPU1, AUDIO1, GPU2, AUDIO2]
        free = groups.expected_available(self.host, pool)
        # the second GPU, which the daemon would not pick first on its own
        r = self.ctl('tenant', 'assign', 'gpus', 'tenant-a', '--device', '02:00.0')
        self.assertEqual(r.stderr, '')
        new = [p for p in self.groups() if p != self.pool]
        self.assertEqual(len(new), 1)
        tg = new[0]
        props = self.props(tg)
        self.assertEqual((props['Tenant'], props['Parent']), ('tenant-a', self.pool))
        self.assertIn(self.dev_path(GPU2), props['Devices'])
        self.assertTrue(set(props['Devices']) <= {self.dev_path(a) for a in self.iommu_group_of(GPU2)})
        self.assertEqual((props['Available'], props['Claimed']), (1, 0))
        self.assertEqual(self.pool_counts(), (len(pool), free - 1, 0))

        kv = parse_key_values(r.stdout)
        self.assertEqual(kv['Name'], [props['Name']])
        self.assertEqual(kv['Object'], [tg])
        self.assertEqual(kv['Tenant'], ['tenant-a'])
        self.assertEqual(kv['Parent'], ['gpus'])
        self.assertEqual(kv['Claimed'], ['0'])
        # the parent names its tenant group; the list shows the tenant
        kv = parse_key_values(self.ctl('group', 'show', 'gpus').stdout)
        self.assertEqual(kv['Tenant Groups'], ['%s (tenant tenant-a, %d total)' % (props['Name'], props['Total'])])
        self.assertNotIn('Tenant', kv)
        header, rows = parse_table(self.ctl('group', 'list').stdout)
        rows = {row[0]: dict(zip(header, row)) for row in rows}
        self.assertEqual((rows[props['Name']]['TENANT'], rows['gpus']['TENANT']), ('tenant-a', '-'))
        self.assertEqual((rows['gpus']['AVAILABLE'], rows['gpus']['CLAIMED']), (str(free - 1), '0'))
        shown = json.loads(self.ctl('group', 'show', '--json', props['Id']).stdout)
        self.assertEqual((shown['tenant'], shown['parent'], shown['claimed']), ('tenant-a', 'gpus', 0))

        self.ctl('claim', props['Name'], '--consumer', 'vm-t', '--no-prepare')
        path, claim = self.the_claim()
        self.assertEqual(claim['ResourceGroup'], tg)
        self.assertEqual(self.props(tg)['Claimed'], 1)
        self.assertEqual(parse_key_values(self.ctl('group', 'show', props['Name']).stdout)['Claimed'], ['1'])
        r = self.ctl('tenant', 'return', props['Name'], expect=None)
        self.assertFailure(r, clitest.man_message('claim-busy', COMMAND='tenant return') + r'\n\Z')
        self.assertIn(claim['Id'], r.stderr)
        self.assertIn(tg, self.groups())

        self.ctl('unclaim', claim['Id'])
        r = self.ctl('tenant', 'return', props['Id'])
        self.assertEqual((r.stdout, r.stderr), ('', ''))
        self.assertEqual(list(self.groups()), [self.pool])
        self.assertEqual(self.pool_counts(), (len(pool), free, 0))

        # the pool belongs to no tenant
        r = self.ctl('tenant', 'return', 'gpus', expect=None)
        self.assertFailure(r, "Resource group 'gpus' belongs to no tenant")

    def test_assign_count_and_insufficient(self):
        free = groups.expected_available(self.host, [GPU1, AUDIO1, GPU2, AUDIO2])
        before = self.state()
        r = self.ctl('tenant', 'assign', 'gpus', 'tenant-b', '--count', str(free + 1), expect=None)
        self.assertFailure(r, clitest.man_message('insufficient', COMMAND='tenant assign') + r'\n\Z')
        self.assertIn('%d free' % free, r.stderr)
        self.assertEqual(self.state(), before)
        self.ctl('tenant', 'assign', 'gpus', 'tenant-b', '--count', str(free))
        tg, = [p for p in self.groups() if p != self.pool]
        self.assertEqual(self.props(tg)['Available'], free)
        self.assertEqual(self.pool_counts()[1], 0)


class ClaimCompletionTest(ClaimCliCase, CompletionCase):

    def test_claim_ids(self):
        """unclaim, claim show and claim release offer the ids of Manager.Claims."""
        self.assertEqual(self.complete('unclaim', ''), [])
        self.ctl('claim', 'gpus', '--consumer', 'vm-1', '--device', GPU2, '--no-prepare')
        self.ctl('claim', 'gpus', '--consumer', 'vm-2', '--device', GPU1, '--no-prepare')
        ids = sorted(self.claim_props(p)['Id'] for p in self.claims())
        self.assertEqual(len(ids), 2)
        self.assertEqual(sorted(self.complete('unclaim', '')), ids)
        self.assertEqual(sorted(self.complete('claim', 'show', '')), ids)
        self.assertEqual(sorted(self.complete('--json', 'claim', 'release', '')), ids)
        self.assertEqual(self.complete('claim', 'release', ids[0][:12]), [i for i in ids if i.startswith(ids[0][:12])])
        self.assertEqual(self.complete('unclaim', ids[0], ''), [])
        # the hidden command itself
        self.assertEqual(sorted(self.ctl('__complete', 'claims').stdout.split()), ids)

    def test_commands_groups_and_options(self):
        self.assertEqual(self.complete('cl'), ['claim', 'claims'])
        self.assertEqual(self.complete('claim', ''), ['list', 'show', 'release', 'gpus'])
        self.assertEqual(self.complete('tenant', ''), ['assign', 'return'])
        self.assertEqual(self.complete('tenant', 'assign', 'g'), ['gpus'])
        self.assertEqual(self.complete('claim', 'gpus', '--format=l'), ['--format=libvirt'])
        self.assertEqual(self.complete('claim', 'gpus', '--no-p'), ['--no-prepare'])
        self.assertEqual(self.complete('claim', 'gpus', '--numa'), ['--numa=', '--numa-strict'])


class ClaimUsageTest(clitest.CliTestCase):
    """Usage errors are found before the bus is reached."""
    start_daemon = False

    def env(self, **extra):
        return super().env(DBUS_SYSTEM_BUS_ADDRESS='unix:path=/nonexistent/bus', **extra)

    def test_help(self):
        r = self.ctl('--help')
        for words in ('claim GROUP --consumer=ID', 'claim list', 'claim show CLAIM', 'claim release CLAIM',
                      'claims', 'unclaim', 'tenant assign GROUP TENANT', 'tenant return GROUP', '--consumer=',
                      '--count=', '--device=', '--numa=', '--numa-strict', '--lease-pid=', '--no-prepare',
                      '--mac=', '--vlan=',
                      '--format='):
            self.assertIn(words, r.stdout)

    def test_usage_errors(self):
        for args, pattern in [
                (['claim', 'gpus'], 'claim: missing option --consumer'),
                (['claim', '--consumer=x'], 'claim: missing argument GROUP'),
                (['claim', 'gpus', '--consumer=x', '--count=0'], "Option '--count' takes a number from 1 to 4096"),
                (['claim', 'gpus', '--consumer=x', '--count=4097'], "Option '--count' takes a number"),
                (['claim', 'gpus', '--consumer=x', '--count=two'], "Option '--count' takes a number"),
                (['claim', 'gpus', '--consumer=x', '--numa=-1'], "Option '--numa' takes a number"),
                (['claim', 'gpus', '--consumer=x', '--lease-pid=0'], "Option '--lease-pid' takes a number"),
                (['claim', 'vfs', '--consumer=x', '--vlan=0'], "Option '--vlan' takes a number from 1 to 4094"),
                (['claim', 'vfs', '--consumer=x', '--vlan=4095'], "Option '--vlan' takes a number"),
                (['claim', 'vfs', '--consumer=x', '--mac=a', '--mac=b'], "Option '--mac' given twice"),
                (['prepare', '01:00.0', '--mac=52:54:00:00:00:01'], "prepare: option '--mac' does not apply"),
                (['claim', 'gpus', '--consumer=x', '--format=xml'], "Unknown format 'xml'"),
                (['claim', 'gpus', '--consumer=x', '--numa-strict'], "claim: option '--numa-strict' needs --numa"),
                (['claim', 'gpus', 'more', '--consumer=x'], 'claim: too many arguments'),
                (['claim', 'show'], 'claim show: missing argument CLAIM'),
                (['claim', 'list', '--consumer=x'], "claim list: option '--consumer' does not apply"),
                (['claims', '--format=qemu'], "claims: option '--format' does not apply"),
                (['unclaim'], 'unclaim: missing argument CLAIM'),
                (['tenant'], 'tenant: missing command'),
                (['tenant', 'assign', 'gpus'], 'tenant assign: missing argument'),
                (['tenant', 'return', 'gpus', '--count=1'], "tenant return: option '--count' does not apply"),
                (['tenant', 'frob'], "Unknown command 'tenant frob'"),
                (['prepare', '01:00.0', '--consumer=x'], "prepare: option '--consumer' does not apply")]:
            self.assertUsageError(self.ctl(*args, expect=None), pattern)


if __name__ == '__main__':
    clitest.main()
