#!/usr/bin/python3
"""hostdevctl sriov show and sriov set-vfs: the PFs and counts printed
come from host.json and the testbed's sysfs; set-vfs changes what the
kernel emulator has, through 0, and --no-autoprobe leaves new VFs
without a driver."""

import json
import os

import clitest
from clitest import ResourceCliTestCase, parse_table


class SriovCliTest(ResourceCliTestCase):

    def pfs(self):
        return {d['address']: d for d in self.host.pci if d.get('sriov')}

    def sysfs(self, address, attr):
        return self.sim.read(self.sim.devpaths[address] + '/' + attr).strip()

    def kernel_vfs(self, pf):
        out = []
        for i in range(int(self.sysfs(pf, 'sriov_totalvfs'))):
            link = self.sim.real(self.sim.devpaths[pf] + '/virtfn%d' % i)
            if not os.path.islink(link):
                break
            out.append(os.path.basename(os.readlink(link)))
        return out

    def test_show(self):
        r = self.ctl('sriov', 'show')
        header, cells = parse_table(r.stdout)
        self.assertEqual(header, ['PF', 'VFS', 'TOTAL', 'AUTOPROBE'])
        rows = [dict(zip(header, c)) for c in cells]
        self.assertEqual(sorted(row['PF'] for row in rows), sorted(self.pfs()))
        for row in rows:
            pf = self.pfs()[row['PF']]
            self.assertEqual(int(row['VFS']), pf['sriov']['numvfs'])
            self.assertEqual(int(row['TOTAL']), pf['sriov']['totalvfs'])
            self.assertEqual(row['AUTOPROBE'], 'yes' if pf['sriov'].get('drivers_autoprobe', True) else 'no')
        r = self.ctl('--json', 'sriov', 'show', next(iter(sorted(self.pfs()))))
        out = json.loads(r.stdout)
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0]['virtual_functions'], self.kernel_vfs(out[0]['address']))

    def test_set_vfs(self):
        pf = next(a for a, d in sorted(self.pfs().items()) if d['sriov']['numvfs'] == 0)
        self.ctl('sriov', 'set-vfs', pf, '3', '--no-autoprobe')
        self.assertTrue(self.kernel.settle())
        vfs = self.kernel_vfs(pf)
        self.assertEqual(len(vfs), 3)
        self.assertEqual(self.sysfs(pf, 'sriov_drivers_autoprobe'), '0')
        self.assertEqual({self.sim.driver_of(a) for a in vfs}, {None})
        self.ctl('sriov', 'set-vfs', pf, '1')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(len(self.kernel_vfs(pf)), 1)
        self.assertEqual(self.kernel.sriov_writes(pf), ['3', '0', '1'])

    def test_bad_count(self):
        pf = next(iter(sorted(self.pfs())))
        r = self.ctl('sriov', 'set-vfs', pf, 'many', expect=2)
        self.assertIn('many', r.stderr)
        total = self.pfs()[pf]['sriov']['totalvfs']
        r = self.ctl('sriov', 'set-vfs', pf, str(total + 1), expect=1)
        self.assertIn(str(total), r.stderr)
        self.assertEqual(self.kernel.sriov_writes(pf), [])

    def test_set_vf(self):
        """set-vf hands the settings to hostdevd, which applies them over
        rtnetlink: the kernel emulator holds them; a bad value changes
        nothing."""
        pf = next(a for a, d in sorted(self.pfs().items()) if d['sriov']['numvfs'] > 0)
        r = self.ctl('sriov', 'set-vf', pf, '1', 'mac=52:54:00:12:34:56', 'vlan=100', 'trust=on',
                     'link-state=disable')
        self.assertIn('VF 1', r.stdout)
        got = self.kernel.rtnl.settings(pf, 1)
        self.assertEqual((got['mac'], got['vlan'], got['trust'], got['link-state']),
                         ('52:54:00:12:34:56', 100, True, 'disable'))
        # sriov show PF lists the VFs' settings, as the kernel has them
        n = self.pfs()[pf]['sriov']['numvfs']
        r = self.ctl('--json', 'sriov', 'show', pf)
        vfs = json.loads(r.stdout)[0]['vf_config']
        self.assertEqual([v['index'] for v in vfs], list(range(n)))
        for v in vfs:
            k = self.kernel.rtnl.settings(pf, v['index'])
            self.assertEqual((v['mac'], v['vlan'], v['qos'], v['trust'], v['spoofchk'], v['link_state']),
                             (k['mac'], k['vlan'], k['qos'], k['trust'], k['spoofchk'], k['link-state']))
        r = self.ctl('sriov', 'show', pf)
        tables = r.stdout.split('\n\n')
        self.assertEqual(len(tables), 2, r.stdout)
        header, cells = parse_table(tables[1])
        self.assertEqual(header[:3], ['VF', 'MAC', 'VLAN'])
        rows = {int(c[0]): dict(zip(header, c)) for c in cells}
        self.assertEqual(sorted(rows), list(range(n)))
        self.assertEqual((rows[1]['MAC'], rows[1]['VLAN'], rows[1]['TRUST'], rows[1]['LINK']),
                         ('52:54:00:12:34:56', '100', 'on', 'disable'))
        writes = len(self.kernel.log)
        r = self.ctl('sriov', 'set-vf', pf, '1', 'vlan=5000', expect=1)
        self.assertIn('4094', r.stderr)
        r = self.ctl('sriov', 'set-vf', pf, '0', 'color=red', expect=2)
        self.assertIn('color', r.stderr)
        r = self.ctl('sriov', 'set-vf', pf, '0', 'trust=maybe', expect=2)
        self.assertIn('maybe', r.stderr)
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])


if __name__ == '__main__':
    clitest.main()
