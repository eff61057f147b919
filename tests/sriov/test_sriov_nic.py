#!/usr/bin/python3
"""SR-IOV NIC pools: resource groups of type sriov-nic, whose members are
VFs picked by rules on their PF (physical-function, pf-serial, pf-netdev,
link-type) and VF index ranges; claims on them carrying a MAC and VLAN
per VF and handing out a libvirt <interface type='hostdev'> besides the
vfio handles; a claimed VF keeps SetNumVfs from shrinking past it.

The simulated host (data/simhost/host.json) has an Intel X710 with two
PFs: 0000:03:00.0 with 2 VFs and 0000:03:00.1 with none; the kernel
emulator makes VFs on sriov_numvfs writes. Expectations come from the
host description the emulator keeps up to date (host.json plus the VFs
it made) and from the testbed's sysfs, never from hostdevd's answers."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cli'))

import harness  # noqa: E402
from clitest import cli_env, run_cli  # noqa: E402
from gi.repository import GLib  # noqa: E402
from harness import faults  # noqa: E402
from harness.groups import expected_members, pf_netdev  # noqa: E402
from preparecase import ERR_INVALID, VFIO  # noqa: E402
from test_sriov import ERR_BUSY, SRIOV, SriovTestCase  # noqa: E402

ZERO_MAC = '00:00:00:00:00:00'
IFLA_VF_VLAN = 2
RG = 'org.hostdev1.ResourceGroup'
CLAIM = 'org.hostdev1.Claim'

DOMAIN = """<domain type='kvm'>
  <name>hostdev-vf-claim</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
%s
  </devices>
</domain>
"""


def source_address(address):
    """The <address …/> of a PCI address inside <source>, as libvirt writes it."""
    domain, bus, rest = address.split(':')
    slot, function = rest.split('.')
    return ("<address type='pci' domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/>"
            % (domain, bus, slot, function))


class SriovNicTestCase(SriovTestCase):

    def live_devices(self):
        """Every device the simulated host has now (host.json and the VFs
        the kernel emulator made since)."""
        with self.sim.lock:
            return [dict(s) for s in self.sim.pci.values()] + list(self.initial.usb)

    def expected(self, group_type, rules):
        return [self.dev_path(a) for a in expected_members(self.live_devices(), group_type, rules)]

    def claim(self, group, consumer, count, options=None):
        return self.call(0, group, RG, 'Claim',
                         GLib.Variant('(sua{sv})', (consumer, count, options or {})), timeout=60)[0]

    def release_claim(self, claim):
        return self.call(0, claim, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)), timeout=60)

    def vf_pool(self, pf, count, name='vfs', rules=None):
        """count VFs on pf, and a sriov-nic group of them."""
        self.set_num_vfs(pf, count)
        self.assertVfs(pf, count)
        return self.create(name, 'sriov-nic', rules=rules or [{'physical-function': pf}])


class Rules(SriovNicTestCase):

    def test_pf_and_vf_index(self):
        """physical-function + vf-index=1-2,4 takes exactly VFs 1, 2 and 4
        of that PF, by the PF's virtfn links."""
        pf = self.pf_without['address']
        self.set_num_vfs(pf, 6)
        self.assertVfs(pf, 6)
        rules = [{'physical-function': pf, 'vf-index': '4,1-2'}]
        g = self.create('some-vfs', 'sriov-nic', rules=rules)
        vfs = self.kernel_vfs(pf)
        want = sorted([vfs[1], vfs[2], vfs[4]])
        self.assertEqual([self.dev_path(a) for a in want], self.expected('sriov-nic', rules))
        props = self.props(g)
        self.assertEqual(props['Devices'], [self.dev_path(a) for a in want])
        self.assertEqual(props['Total'], 3)
        # stored in the canonical form
        self.assertEqual(props['Rules'][0]['vf-index'], '1-2,4')
        self.assertEqual(props['UnmatchedRules'], [])
        # VFs made later join when their index is named
        self.set_num_vfs(pf, 0)
        self.assertEqual(self.props(g)['Devices'], [])
        self.set_num_vfs(pf, 3)
        vfs = self.kernel_vfs(pf)
        self.assertEqual(self.props(g)['Devices'], [self.dev_path(vfs[1]), self.dev_path(vfs[2])])

    def test_cli_ranges_unquoted(self):
        """hostdevctl takes vf-index=1-2,4 without quotes, beside other fields."""
        pf = self.pf_without['address']
        self.set_num_vfs(pf, 5)
        env = cli_env(self.shared.address)
        r = run_cli(['group', 'create', 'cli-vfs', '--type=sriov-nic',
                     '--rule=physical-function=%s,vf-index=1-2,4,link-type=ethernet' % pf], env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rules = [{'physical-function': pf, 'vf-index': '1-2,4', 'link-type': 'ethernet'}]
        g = next(p for p, props in self.groups().items() if props['Name'] == 'cli-vfs')
        self.assertEqual(self.props(g)['Rules'], rules)
        vfs = self.kernel_vfs(pf)
        self.assertEqual(self.props(g)['Devices'], self.expected('sriov-nic', rules))
        self.assertEqual(self.props(g)['Devices'], [self.dev_path(vfs[i]) for i in (1, 2, 4)])

    def test_pf_netdev_serial_link_type(self):
        """Rules on what the PF is: its interface, serial and link type
        take its VFs and never the PF itself."""
        pf = self.pf_with
        name, _ = pf_netdev(pf)
        self.assertIsNotNone(name, 'the PF in host.json has no network interface')
        for i, rule in enumerate([{'pf-netdev': name, 'link-type': 'ethernet'},
                                  {'pf-serial': pf['serial'], 'vf-index': '0'},
                                  {'vendor-id': int(pf['vendor_id'], 16)}]):
            with self.subTest(rule=rule):
                want = self.expected('sriov-nic', [rule])
                self.assertTrue(want, 'no VF matches %r in the host description' % rule)
                self.assertNotIn(self.dev_path(pf['address']), want)
                g = self.create('nics-%d' % i, 'sriov-nic', rules=[rule])
                self.assertEqual(self.props(g)['Devices'], want)
                self.delete(g)

    def test_infiniband_matches_nothing_here(self):
        """link-type=infiniband on an Ethernet-only host: an empty pool."""
        rules = [{'link-type': 'infiniband'}]
        self.assertEqual(self.expected('sriov-nic', rules), [])
        g = self.create('ib', 'sriov-nic', rules=rules)
        self.assertEqual(self.props(g)['Devices'], [])
        self.assertEqual(self.props(g)['UnmatchedRules'], [1])

    def test_bad_rules(self):
        """Reversed or overlapping ranges, a PF the host does not have, a
        device that is no PF, contradicting PF fields, sriov-nic fields on
        a pci group: InvalidArgument naming the problem, nothing made."""
        pf = self.pf_with['address']
        gpu = next(d['address'] for d in self.initial.pci if d['class'].startswith('0300'))
        cases = [
            ('sriov-nic', {'physical-function': pf, 'vf-index': '7-3'}, 'reversed'),
            ('sriov-nic', {'vf-index': '0-4,3'}, 'twice'),
            ('sriov-nic', {'vf-index': 'seven'}, 'vf-index'),
            ('sriov-nic', {'physical-function': '0000:42:00.0'}, '0000:42:00.0'),
            ('sriov-nic', {'physical-function': gpu}, 'no SR-IOV physical function'),
            ('sriov-nic', {'physical-function': pf, 'pf-serial': 'NOT-' + self.pf_with['serial']},
             'contradict'),
            ('sriov-nic', {'physical-function': pf,
                           'vf-index': str(self.pf_with['sriov']['totalvfs'])}, 'at most'),
            ('sriov-nic', {'link-type': 'token-ring'}, 'link-type'),
            ('pci', {'vf-index': '0'}, 'sriov-nic'),
        ]
        for i, (group_type, rule, fragment) in enumerate(cases):
            err = self.refused('%s %r' % (group_type, rule),
                               lambda: self.create('bad-%d' % i, group_type, rules=[rule]), ERR_INVALID)
            self.assertCallError(err, ERR_INVALID, fragment)
        # SetRules is checked the same way
        g = self.create('fine', 'sriov-nic', rules=[{'physical-function': pf}])
        err = self.refused('SetRules vf-index=7-3',
                           lambda: self.set_rules(g, [{'physical-function': pf, 'vf-index': '7-3'}]),
                           ERR_INVALID)
        self.assertCallError(err, ERR_INVALID, 'reversed')

    def test_group_show_says_unmatched(self):
        """A rule that matches nothing shows in UnmatchedRules and in
        'hostdevctl group show', for a sriov-nic group and a pci one."""
        pf = self.pf_with['address']
        rules = [{'physical-function': pf, 'vf-index': '0'}, {'pf-netdev': 'nosuchnic*'}]
        unmatched = [i + 1 for i, r in enumerate(rules) if not self.expected('sriov-nic', [r])]
        self.assertEqual(unmatched, [2])
        g = self.create('half', 'sriov-nic', rules=rules)
        self.assertEqual(self.props(g)['UnmatchedRules'], unmatched)
        pci_rules = [{'vendor-id': 0xdead}]
        self.assertEqual(self.expected('pci', pci_rules), [])
        self.create('none', 'pci', rules=pci_rules)

        env = cli_env(self.shared.address)
        r = run_cli(['group', 'show', 'half'], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('rule 2 matches no device', r.stdout)
        self.assertNotIn('rule 1 matches no device', r.stdout)
        r = run_cli(['group', 'show', 'none'], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('rule 1 matches no device', r.stdout)


class Claims(SriovNicTestCase):

    def settings(self):
        return GLib.Variant('aa{sv}', [
            {'mac': GLib.Variant('s', '52:54:00:aa:00:01'), 'vlan': GLib.Variant('u', 100)},
            {'mac': GLib.Variant('s', '52:54:00:aa:00:02')},
        ])

    def test_claim_two_with_settings_blocks_shrink(self):
        """Claim 2 VFs with a MAC each (and a VLAN on the first): the
        handles carry a libvirt <interface> that validates; SetNumVfs
        cannot shrink past them (Busy naming the VF and the claim, nothing
        written) until the claim is released."""
        pf = self.pf_without['address']
        g = self.vf_pool(pf, 4)
        vfs = self.kernel_vfs(pf)
        claim = self.claim(g, 'vm-net', 2, {'vf-settings': self.settings()})
        taken = sorted([vfs[0], vfs[1]])
        self.assertEqual(self.client.get(claim, CLAIM, 'Devices'), [self.dev_path(a) for a in taken])
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.drivers(taken), {a: VFIO for a in taken})
        for a in taken:
            self.assertEqual(self.device(a)['State'], 'claimed')

        # set on the VFs through their PF (the rtnetlink emulator's view)
        self.assertVf(pf, 0, '52:54:00:aa:00:01', 100)
        self.assertVf(pf, 1, '52:54:00:aa:00:02', 0)
        self.assertVf(pf, 2, ZERO_MAC, 0)

        handles = self.client.get(claim, CLAIM, 'Handles')
        self.assertEqual([h['address'] for h in handles], taken)
        macs = {taken[0]: '52:54:00:aa:00:01', taken[1]: '52:54:00:aa:00:02'}
        for h in handles:
            x = h['libvirt-interface']
            self.assertTrue(x.startswith("<interface type='hostdev' managed='no'>"), x)
            self.assertIn('<source>%s</source>' % source_address(h['address']), x)
            self.assertIn("<mac address='%s'/>" % macs[h['address']], x)
            self.assertIn('host=' + h['address'], h['qemu'])
        self.assertIn("<vlan><tag id='100'/></vlan>", handles[0]['libvirt-interface'])
        self.assertNotIn('<vlan>', handles[1]['libvirt-interface'])
        self.assertValidDomain([h['libvirt-interface'] for h in handles])
        # the claim keeps its settings over a restart of hostdevd
        self.restart()
        self.assertEqual(self.client.get(claim, CLAIM, 'Handles'), handles)

        writes = len(self.kernel.log)
        err = self.call_error(0, self.dev_path(pf), SRIOV, 'SetNumVfs',
                              GLib.Variant('(ua{sv})', (2, {})))
        claim_id = claim.rsplit('/', 1)[1]
        self.assertCallError(err, ERR_BUSY, taken[0], claim_id)
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertVfs(pf, 4)

        self.release_claim(claim)
        # nothing is stored for these VFs: the next VM gets no MAC or VLAN
        self.assertVf(pf, 0, ZERO_MAC, 0)
        self.assertVf(pf, 1, ZERO_MAC, 0)
        self.assertVfs(pf, 1, self.set_num_vfs(pf, 1))

    def test_settings_back_after_reboot(self):
        """A reboot loses every VF setting: at start-up the claim's MAC and
        VLAN are set again (after the VF count), and a restart in the same
        boot writes nothing."""
        pf = self.pf_with['address']
        g = self.create('boot-vfs', 'sriov-nic', rules=[{'physical-function': pf}])
        vf = self.kernel_vfs(pf)[0]
        claim = self.claim(g, 'vm-boot', 1, {'mac': GLib.Variant('s', '52:54:00:aa:00:07'),
                                             'vlan': GLib.Variant('u', 42),
                                             'devices': GLib.Variant('ao', [self.dev_path(vf)])})
        self.assertVf(pf, 0, '52:54:00:aa:00:07', 42)
        writes = len(self.kernel.log)
        self.restart()
        self.assertEqual(self.kernel.log[writes:], [])

        self.stop_daemon()
        self.assertTrue(self.kernel.settle())
        self.kernel.rtnl.forget(pf)
        self.boot_id = faults.reboot(self.sim, self.kernel)
        self.assertVf(pf, 0, ZERO_MAC, 0)
        self.daemon.start()
        self.wait_converged()
        self.assertVf(pf, 0, '52:54:00:aa:00:07', 42)
        self.assertEqual(self.client.get('/org/hostdev1', 'org.hostdev1.Manager', 'Claims'), [claim])
        m = self.manager()
        self.assertTrue(m['Converged'], m['ConvergeProblems'])

    def test_failed_settings_roll_back(self):
        """The PF's driver refuses the VLAN of the second VF: the first
        VF's MAC is put back, nothing is claimed or bound to vfio-pci."""
        pf = self.pf_without['address']
        g = self.vf_pool(pf, 3)
        vfs = self.kernel_vfs(pf)
        drivers = self.drivers(list(vfs.values()))
        real = self.kernel.rtnl._vf_attr
        self.kernel.rtnl._vf_attr = lambda f, p: (1, None) if f == IFLA_VF_VLAN else real(f, p)
        self.addCleanup(setattr, self.kernel.rtnl, '_vf_attr', real)
        settings = GLib.Variant('aa{sv}', [
            {'mac': GLib.Variant('s', '52:54:00:aa:00:01')},
            {'mac': GLib.Variant('s', '52:54:00:aa:00:02'), 'vlan': GLib.Variant('u', 5)},
        ])
        err = self.call_error(0, g, RG, 'Claim', GLib.Variant('(sua{sv})', ('vm-x', 2, {'vf-settings': settings})))
        self.assertCallError(err, 'org.hostdev1.Error.Failed', vfs[1], 'nothing was claimed')
        self.assertEqual(self.props(g)['Claimed'], 0)
        self.assertEqual(self.client.get('/org/hostdev1', 'org.hostdev1.Manager', 'Claims'), [])
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.drivers(list(vfs.values())), drivers)
        self.assertVf(pf, 0, ZERO_MAC, 0)
        self.assertVf(pf, 1, ZERO_MAC, 0)

    def test_single_mac_vlan(self):
        """count 1 with mac and vlan: one interface with both."""
        pf = self.pf_without['address']
        g = self.vf_pool(pf, 2)
        claim = self.claim(g, 'vm-1', 1, {'mac': GLib.Variant('s', '52:54:00:aa:00:09'),
                                          'vlan': GLib.Variant('u', 7), 'prepare': GLib.Variant('b', False)})
        (h,) = self.client.get(claim, CLAIM, 'Handles')
        self.assertEqual(h['address'], self.kernel_vfs(pf)[0])
        self.assertIn("<mac address='52:54:00:aa:00:09'/><vlan><tag id='7'/></vlan>", h['libvirt-interface'])
        self.release_claim(claim)

    def test_cli_mac_vlan(self):
        """hostdevctl claim --mac --vlan: the VF gets both before it goes
        to vfio-pci, --format=libvirt prints its <interface> (valid in a
        domain), and hostdevctl unclaim takes them back."""
        pf = self.pf_without['address']
        self.vf_pool(pf, 2, name='cli-nics')
        env = cli_env(self.shared.address)
        r = run_cli(['claim', 'cli-nics', '--consumer=vm-cli', '--mac=52:54:00:aa:00:0c', '--vlan=12',
                     '--format=libvirt'], env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        vf = self.kernel_vfs(pf)[0]
        self.assertVf(pf, 0, '52:54:00:aa:00:0c', 12)
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.drivers([vf]), {vf: VFIO})
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertTrue(lines[0].startswith("<interface type='hostdev' managed='no'>"), lines[0])
        self.assertIn("<mac address='52:54:00:aa:00:0c'/><vlan><tag id='12'/></vlan>", lines[0])
        self.assertIn('<source>%s</source>' % source_address(vf), lines[0])
        self.assertValidDomain(lines)

        (claim,) = self.client.get('/org/hostdev1', 'org.hostdev1.Manager', 'Claims')
        r = run_cli(['unclaim', claim.rsplit('/', 1)[1]], env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertVf(pf, 0, ZERO_MAC, 0)
        self.assertTrue(self.faults.settle())
        self.assertNotEqual(self.drivers([vf])[vf], VFIO)

        # the daemon judges the address; nothing is claimed or written
        writes = len(self.kernel.log)
        r = run_cli(['claim', 'cli-nics', '--consumer=vm-cli', '--mac=01:00:5e:00:00:01'], env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('multicast', r.stderr)
        self.assertEqual(self.client.get('/org/hostdev1', 'org.hostdev1.Manager', 'Claims'), [])
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.kernel.log[writes:], [])

    def test_bad_settings(self):
        """Wrong settings are InvalidArgument and claim nothing."""
        pf = self.pf_without['address']
        g = self.vf_pool(pf, 3)
        gpus = self.make_resource([next(d['address'] for d in self.initial.pci
                                        if d['class'].startswith('0300') and d['driver'] != VFIO)], 'gpu')[0]
        s = lambda v: GLib.Variant('s', v)  # noqa: E731
        u = lambda v: GLib.Variant('u', v)  # noqa: E731
        cases = [
            (g, 1, {'mac': s('01:00:5e:00:00:01')}, 'multicast'),
            (g, 1, {'vlan': u(4095)}, 'vlan'),
            (g, 2, {'mac': s('52:54:00:aa:00:01')}, 'vf-settings'),
            (g, 2, {'vf-settings': GLib.Variant('aa{sv}', [{'mac': s('52:54:00:aa:00:01')}])}, 'entries'),
            (g, 2, {'vf-settings': GLib.Variant('aa{sv}', [{'mac': s('52:54:00:aa:00:01')},
                                                           {'mac': s('52:54:00:aa:00:01')}])}, 'two VFs'),
            (g, 1, {'vf-settings': GLib.Variant('aa{sv}', [{'speed': u(1)}])}, 'mac'),
            (g, 1, {'mac': s('52:54:00:aa:00:01'),
                    'vf-settings': GLib.Variant('aa{sv}', [{'vlan': u(1)}])}, 'not both'),
            (gpus, 1, {'mac': s('52:54:00:aa:00:01')}, 'sriov-nic'),
        ]
        for group, count, options, fragment in cases:
            with self.subTest(options=options):
                writes = len(self.kernel.log)
                err = self.call_error(0, group, RG, 'Claim',
                                      GLib.Variant('(sua{sv})', ('vm-x', count, options)))
                self.assertCallError(err, ERR_INVALID, fragment)
                self.assertEqual(self.props(group)['Claimed'], 0)
                self.assertTrue(self.faults.settle())
                self.assertEqual(self.kernel.log[writes:], [])

    def wait_converged(self, timeout=30):
        """Start-up is done once Converged is true (or problems show)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.manager()
            if m['Converged'] or m['ConvergeProblems']:
                return
            time.sleep(0.05)
        self.fail('hostdevd did not converge in %ds' % timeout)

    def assertVf(self, pf, index, mac, vlan):
        got = self.kernel.rtnl.settings(pf, index)
        self.assertEqual((got['mac'], got['vlan']), (mac, vlan), 'VF %d of %s' % (index, pf))

    def assertValidDomain(self, elements):
        if not shutil.which('virt-xml-validate'):
            self.skipTest('virt-xml-validate (libvirt-clients) is not installed')
        xml = DOMAIN % '\n'.join('    ' + e for e in elements)
        with tempfile.NamedTemporaryFile('w', suffix='.xml') as f:
            f.write(xml)
            f.flush()
            p = subprocess.run(['virt-xml-validate', f.name, 'domain'], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, xml + p.stdout + p.stderr)


if __name__ == '__main__':
    harness.main()
