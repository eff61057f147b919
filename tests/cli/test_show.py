#!/usr/bin/python3
"""hostdevctl show: one device by address or object path, and its errors."""

import json

import clitest
from clitest import CliTestCase, expected_json, hostspec, parse_key_values
from gi.repository import GLib


class ShowTest(CliTestCase):

    def show(self, what):
        r = self.ctl('show', what)
        self.assertEqual(r.stderr, '')
        return parse_key_values(r.stdout)

    def assertDevice(self, kv, dev):
        """The lines every device has, from its description."""
        vendor_id = dev['vendor_id'].lower()
        product_id = clitest.product_id(dev).lower()
        self.assertEqual(kv['Address'], [dev['address']])
        self.assertEqual(kv['Kind'], [dev['kind']])
        self.assertEqual(kv['Object'], [hostspec.device_path(dev)])
        self.assertEqual(kv['Vendor'], ['%s (%s)' % (dev['vendor_name'], vendor_id)
                                        if dev['vendor_name'] else vendor_id])
        self.assertEqual(kv['Product'], ['%s (%s)' % (dev['product_name'], product_id)
                                         if dev['product_name'] else product_id])
        self.assertEqual(kv['Driver'], [dev['driver'] or 'none'])
        self.assertEqual(kv['State'], [hostspec.expected_state(dev)])
        if dev['serial']:
            self.assertEqual(kv['Serial'], [dev['serial']])
        else:
            self.assertNotIn('Serial', kv)
        self.assertEqual(len(kv['Sysfs Path']), 1)
        self.assertTrue(kv['Sysfs Path'][0].endswith('/' + dev['address']))

    def assertGroup(self, kv, number):
        members, viable, blockers = clitest.described_groups(self.host)[number]
        self.assertEqual(kv['IOMMU Group'], ['%d (%s)' % (number, 'viable' if viable else 'not viable')])
        self.assertEqual(len(kv['Group Members']), len(members))
        for line, address in zip(kv['Group Members'], members):
            driver = self.host.pci_device(address)['driver']
            self.assertTrue(line.startswith(address + '  '), line)
            self.assertTrue(line.endswith('(%s)' % driver if driver else '(no driver)'), line)
        if viable:
            self.assertNotIn('Blockers', kv)
        else:
            self.assertEqual(len(kv['Blockers']), len(blockers))
            for line, (address, driver) in zip(kv['Blockers'], sorted(blockers.items())):
                self.assertIn(address, line)
                self.assertIn(driver, line)

    def test_pci_by_full_address(self):
        dev = self.host.pci_device('0000:00:1f.3')
        kv = self.show(dev['address'])
        self.assertDevice(kv, dev)
        self.assertEqual(kv['Class'], ['%s (%s)' % (dev['class_name'], dev['class'])])
        self.assertEqual(kv['Subsystem'], ['%s:%s' % (dev['subsystem_vendor_id'], dev['subsystem_id'])])
        self.assertEqual(kv['NUMA Node'], [str(dev['numa_node'])])
        self.assertEqual(kv['Reset Methods'], [' '.join(dev['reset_methods']) or 'none'])
        self.assertEqual(kv['Boot VGA'], ['no'])
        self.assertNotIn('Link Speed', kv)
        self.assertGroup(kv, dev['iommu_group'])

    def test_pci_link_and_slot(self):
        dev = self.host.pci_device('0000:01:00.0')
        kv = self.show(dev['address'])
        self.assertDevice(kv, dev)
        self.assertEqual(kv['Slot'], [dev['slot']])
        self.assertEqual(kv['Link Speed'], [dev['pcie']['link_speed']])
        self.assertEqual(kv['Link Width'], ['x%d' % dev['pcie']['link_width']])
        self.assertGroup(kv, dev['iommu_group'])

    def test_boot_vga(self):
        kv = self.show('0000:0a:00.0')
        self.assertEqual(kv['Boot VGA'], ['yes'])

    def test_short_and_upper_case_address(self):
        full = self.ctl('show', '0000:0a:00.0').stdout
        for what in ('0a:00.0', '0A:00.0', '0000:0A:00.0'):
            self.assertEqual(self.ctl('show', what).stdout, full, what)

    def test_object_path(self):
        dev = self.host.pci_device('0000:05:00.1')
        self.assertEqual(self.ctl('show', hostspec.device_path(dev)).stdout,
                         self.ctl('show', dev['address']).stdout)

    def test_usb(self):
        dev = self.host.usb_device('1-3.2')
        kv = self.show('1-3.2')
        self.assertDevice(kv, dev)
        self.assertEqual(kv['Bus Number'], [str(dev['busnum'])])
        self.assertEqual(kv['Device Number'], [str(dev['devnum'])])
        self.assertEqual(kv['Port Path'], [dev['address']])
        self.assertEqual(kv['Speed'], ['%s Mbit/s' % dev['speed']])
        self.assertEqual(kv['Device Node'], [dev['devnode']])
        self.assertEqual(kv['Authorized'], ['yes' if dev['authorized'] else 'no'])
        self.assertEqual(kv['IOMMU Group'], ['none'])
        self.assertNotIn('Class', kv)

    def test_usb_with_serial(self):
        dev = self.host.usb_device('2-1')
        self.assertDevice(self.show('2-1'), dev)

    def test_sriov(self):
        pf = self.host.pci_device('0000:03:00.0')
        vfs = self.host.virtual_functions(pf['address'])
        self.assertTrue(vfs)
        kv = self.show('03:00.0')
        self.assertEqual(kv['Virtual Functions'],
                         ['%d of %d enabled' % (pf['sriov']['numvfs'], pf['sriov']['totalvfs'])] +
                         [vf['address'] for vf in vfs])
        self.assertNotIn('Physical Function', kv)
        for vf in vfs:
            kv = self.show(vf['address'])
            self.assertDevice(kv, vf)
            self.assertEqual(kv['Physical Function'], ['%s (VF %d)' % (pf['address'], vf['vf_index'])])
            self.assertNotIn('Virtual Functions', kv)

    def test_json(self):
        dev = self.host.pci_device('0000:01:00.1')
        r = self.ctl('show', '--json', '01:00.1')
        got = json.loads(r.stdout)
        listed = {d['address']: d for d in json.loads(self.ctl('list', '--json').stdout)}
        group = got.pop('group')
        self.assertEqual(got, listed[dev['address']])
        want = expected_json(self.host, dev)
        self.assertEqual({k: got[k] for k in want}, want)
        members, viable, blockers = clitest.described_groups(self.host)[dev['iommu_group']]
        self.assertEqual(group['number'], dev['iommu_group'])
        self.assertEqual(group['viable'], viable)
        self.assertEqual([m['address'] for m in group['devices']], members)
        self.assertEqual({b['address'] for b in group['blockers']}, set(blockers))

    def test_json_usb_has_no_group(self):
        got = json.loads(self.ctl('show', '--json', '1-1').stdout)
        self.assertIsNone(got['group'])
        self.assertEqual(got['address'], '1-1')

    def test_critical_line(self):
        """"Critical: yes (reasons)" or "no", as host.json makes the device:
        a root port (a bridge), the NVMe drive the host runs from, the
        BMC's boot VGA, the I210 beside the NVMe, the host GPU (free)."""
        expected = self.expected_critical()
        for address in ('0000:00:01.0', '0000:07:00.0', '0000:0a:00.0', '0000:08:00.0',
                        '0000:01:00.0'):
            want = expected.get(address, [])
            got = json.loads(self.ctl('show', '--json', address).stdout)
            self.assertEqual(got['critical'], bool(want), address)
            self.assertReasons(address, got['critical_reasons'], want)
            kv = self.show(address)
            if want:
                texts = '; '.join(r['text'] for r in got['critical_reasons'])
                self.assertEqual(kv['Critical'], ['yes (%s)' % texts], address)
            else:
                self.assertEqual(kv['Critical'], ['no'], address)

    def assertCliError(self, what, error_name, key, **values):
        """The daemon refuses `what` with error_name; hostdevctl says so in
        its own words, message `key` of hostdevctl(1), as one line."""
        err = self.client.call_error(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'GetDevice',
                                     GLib.Variant('(s)', (what,)))
        self.assertEqual(err.name, error_name)
        r = self.ctl('show', what, expect=None)
        self.assertFailure(r)
        self.assertRegex(r.stderr, r'\Ahostdevctl: %s\n\Z' % clitest.man_message(key, **values))

    def test_unknown_pci_address(self):
        self.assertCliError('0000:0f:00.0', 'org.hostdev1.Error.NotFound', 'no-device', ADDRESS='0000:0f:00.0')
        # named as typed
        r = self.ctl('show', '0f:00.0', expect=1)
        self.assertRegex(r.stderr, clitest.man_message('no-device', ADDRESS='0f:00.0'))

    def test_unknown_usb_address(self):
        self.assertCliError('4-1.2', 'org.hostdev1.Error.NotFound', 'no-device', ADDRESS='4-1.2')

    def test_root_hub_is_not_a_device(self):
        r = self.ctl('show', 'usb1', expect=None)
        self.assertFailure(r)

    def test_garbage_address(self):
        for what in ('junk', '0000:01:00.8', '1-', 'x' * 300):
            self.assertCliError(what, 'org.hostdev1.Error.InvalidArgument', 'not-an-address', ADDRESS=what)

    def test_slot(self):
        """01:00, 01:00.* and 0000:01:00 are every function of the slot, in address order."""
        functions = sorted((d['address'] for d in self.host.pci if d['address'].startswith('0000:01:00.')),
                           key=clitest.pci_sort_key)
        self.assertGreater(len(functions), 1)
        for slot in ('01:00', '01:00.*', '0000:01:00'):
            got = json.loads(self.ctl('show', '--json', slot).stdout)
            self.assertEqual([d['address'] for d in got], functions, slot)
        text = self.ctl('show', '01:00').stdout
        self.assertEqual([parse_key_values(block)['Address'] for block in text.split('\n\n')],
                         [[a] for a in functions])
        # several arguments, each once
        got = json.loads(self.ctl('show', '--json', '01:00', functions[0]).stdout)
        self.assertEqual([d['address'] for d in got], functions)
        # a single function stays one object
        self.assertEqual(json.loads(self.ctl('show', '--json', functions[0]).stdout)['address'], functions[0])

    def test_empty_slot(self):
        self.assertFalse([d for d in self.host.pci if d['address'].startswith('0000:0f:00.')])
        r = self.ctl('show', '0f:00', expect=None)
        self.assertFailure(r, clitest.man_message('no-slot', ADDRESS='0f:00'))

    def test_unknown_object_path(self):
        r = self.ctl('show', '/org/hostdev1/pci/0000_0f_00_0', expect=None)
        self.assertFailure(r, 'No device object /org/hostdev1/pci/0000_0f_00_0')

    def test_unplugged_device(self):
        signals = self.record_signals()
        self.sim.remove_usb('1-1')
        path = hostspec.usb_path('1-1')
        signals.wait_for(lambda ev: any(e['signal'] == 'InterfacesRemoved' and e['path'] == path
                                        for e in ev), what='1-1 to go away')
        self.assertCliError('1-1', 'org.hostdev1.Error.NotFound', 'no-device', ADDRESS='1-1')


if __name__ == '__main__':
    clitest.main()
