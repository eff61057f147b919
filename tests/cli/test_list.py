#!/usr/bin/python3
"""hostdevctl list: the table and its JSON form, against host.json."""

import json
import re

import clitest
from clitest import ELLIPSIS, LIST_COLUMNS, CliTestCase, expected_json, expected_row, \
    parse_table, run_cli_on_tty, sorted_devices
from harness.client import run_as


class ListTest(CliTestCase):

    def test_table_rows_and_order(self):
        r = self.ctl('list')
        self.assertEqual(r.stderr, '')
        header, rows = parse_table(r.stdout)
        self.assertEqual(header, LIST_COLUMNS)
        expected = [expected_row(d) for d in sorted_devices(self.host)]
        self.assertEqual(rows, expected)
        # root hubs are not published, so not listed
        self.assertFalse([row for row in rows if row[0].startswith('usb')])

    def test_default_command_is_list(self):
        self.assertEqual(self.ctl().stdout, self.ctl('list').stdout)

    def test_no_legend(self):
        r = self.ctl('list', '--no-legend')
        # without the header the columns may be narrower: compare cells
        rows = [re.split(r' {2,}', line) for line in r.stdout.splitlines()]
        self.assertEqual(rows, [expected_row(d) for d in sorted_devices(self.host)])
        # the option may come first as well
        self.assertEqual(self.ctl('--no-legend', 'list').stdout, r.stdout)

    def test_json(self):
        r = self.ctl('list', '--json')
        self.assertEqual(r.stderr, '')
        devices = json.loads(r.stdout)
        expected = sorted_devices(self.host)
        self.assertEqual([d['address'] for d in devices], [d['address'] for d in expected])
        for got, dev in zip(devices, expected):
            keys = clitest.PCI_KEYS if dev['kind'] == 'pci' else clitest.USB_KEYS
            self.assertEqual(set(got), keys, dev['address'])
            self.assertTrue(got['sysfs_path'].startswith('/sys/devices/'), got['sysfs_path'])
            self.assertTrue(got['sysfs_path'].endswith('/' + dev['address']), got['sysfs_path'])
            del got['sysfs_path']
            self.assertCriticalJson(got)
            self.assertEqual(got, expected_json(self.host, dev), dev['address'])

    def test_json_option_before_command(self):
        self.assertEqual(json.loads(self.ctl('-j', 'list').stdout),
                         json.loads(self.ctl('list', '--json').stdout))

    def test_piped_output_is_not_cut(self):
        # even with a narrow $COLUMNS: only a terminal gets a fitted table
        r = self.ctl('list', env=self.env(COLUMNS='40'))
        self.assertNotIn(ELLIPSIS, r.stdout)
        self.assertNotIn('...', r.stdout)
        _, rows = parse_table(r.stdout)
        self.assertEqual(rows, [expected_row(d) for d in sorted_devices(self.host)])
        longest = max(len(d['product_name'] or '') for d in self.host.devices)
        self.assertGreater(max(len(line) for line in r.stdout.splitlines()), longest)

    def assertFitted(self, text, width, ellipsis):
        header, rows = parse_table(text)
        self.assertEqual(header, LIST_COLUMNS)
        for line in text.splitlines():
            self.assertLessEqual(len(line), width, line)
        expected = [expected_row(d) for d in sorted_devices(self.host)]
        self.assertEqual(len(rows), len(expected))
        cut = 0
        for got, want in zip(rows, expected):
            # only VENDOR and PRODUCT may be cut, and only at their end
            for i in (0, 1, 4, 5, 6):
                self.assertEqual(got[i], want[i])
            for i in (2, 3):
                if got[i] != want[i]:
                    self.assertTrue(got[i].endswith(ellipsis), got[i])
                    self.assertTrue(want[i].startswith(got[i][:-len(ellipsis)]), (got[i], want[i]))
                    cut += 1
        self.assertGreater(cut, 0, 'nothing was cut to fit %d columns' % width)

    def test_terminal_width(self):
        rc, out, err = run_cli_on_tty(['list'], self.env(), columns=80)
        self.assertEqual((rc, err), (0, ''))
        self.assertFitted(out, 80, ELLIPSIS)

    def test_columns_variable_on_terminal(self):
        # $COLUMNS wins over the terminal's size
        rc, out, err = run_cli_on_tty(['list'], self.env(COLUMNS='72'), columns=200)
        self.assertEqual((rc, err), (0, ''))
        self.assertFitted(out, 72, ELLIPSIS)

    def test_terminal_without_utf8(self):
        rc, out, err = run_cli_on_tty(['list'], self.env(LANG='C'), columns=80)
        self.assertEqual((rc, err), (0, ''))
        self.assertNotIn(ELLIPSIS, out)
        self.assertFitted(out, 80, '...')

    def test_wide_terminal_is_not_cut(self):
        rc, out, err = run_cli_on_tty(['list'], self.env(), columns=400)
        self.assertEqual((rc, err), (0, ''))
        self.assertEqual(parse_table(out)[1], [expected_row(d) for d in sorted_devices(self.host)])

    def test_unprivileged_user(self):
        # reading needs no privileges: the bus policy lets anyone list
        r = run_as([clitest.paths.cli_binary(), 'list', '--json'],
                                          env=self.env())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([d['address'] for d in json.loads(r.stdout)],
                         [d['address'] for d in sorted_devices(self.host)])

    def test_follows_driver_changes(self):
        signals = self.record_signals()
        address = '0000:01:00.1'
        self.write_sysfs('/sys/bus/pci/drivers/snd_hda_intel/unbind', address)
        path = clitest.hostspec.pci_path(address)
        signals.wait_for(lambda ev: '' in signals.changed(path, 'org.hostdev1.Device', 'Driver'),
                         what='Driver of %s to become empty' % address)
        rows = {row[0]: row for row in parse_table(self.ctl('list').stdout)[1]}
        self.assertEqual(rows[address][4], '-')
        self.assertEqual(rows[address][6], 'host')


class ListWithoutIommuTest(CliTestCase):
    iommu = 'empty'

    def test_note_and_no_groups(self):
        message = self.client.get(clitest.hostspec.ROOT_PATH, 'org.hostdev1.Manager',
                                  'IommuMessage')
        self.assertTrue(message)
        for args in (['list'], ['list', '--json']):
            r = self.ctl(*args)
            self.assertEqual(r.stderr, 'Note: %s\n' % message)
        _, rows = parse_table(self.ctl('list').stdout)
        self.assertEqual(rows, [expected_row(d, iommu=False) for d in sorted_devices(self.host)])
        devices = json.loads(self.ctl('list', '--json').stdout)
        self.assertEqual([d['iommu_group'] for d in devices], [None] * len(devices))


if __name__ == '__main__':
    clitest.main()
