#!/usr/bin/python3
"""`hostdevctl usb` against hostdevd on the simulated host: the USB tree by
port, bus by bus, with ids, names, serials, interface drivers, prepared
state and claim owner, in text and JSON. Expectations come from host.json
(the root hubs are not published: a bus is its ports)."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cli'))

from gi.repository import GLib  # noqa: E402

import clitest  # noqa: E402
from test_completion import CompletionCase  # noqa: E402
from harness import hostspec  # noqa: E402
from usbcase import STICK  # noqa: E402

HEADERS = ['PORT', 'ID', 'NAME', 'SERIAL', 'DRIVERS', 'STATE', 'CLAIM']


def port_key(address):
    bus, ports = address.split('-')
    return [int(bus)] + [int(p) for p in ports.split('.')]


def is_hub(spec):
    return any(i['cls'] == '09' for i in spec['interfaces'])


def drivers_text(spec, prepared=False):
    drivers = ['(none)' if prepared or not i['driver'] else i['driver'] for i in spec['interfaces']]
    return ', '.join(drivers) if drivers else '-'


class UsbCli(clitest.CliTestCase):
    def devices(self):
        return sorted(self.host.published_usb, key=lambda d: port_key(d['address']))

    def expected_rows(self, prepared=()):
        rows, bus = [], None
        for d in self.devices():
            if d['busnum'] != bus:
                bus = d['busnum']
                rows.append(['bus %d' % bus] + [''] * 6)
            depth = d['address'].count('.')
            rows.append([' ' * (2 + 2 * depth) + d['address'],
                         '%s:%s' % (d['vendor_id'], d['product_id']),
                         '%s %s%s' % (d['vendor_name'], d['product_name'], ' (hub)' if is_hub(d) else ''),
                         d['serial'] or '-',
                         drivers_text(d, d['address'] in prepared),
                         'prepared' if d['address'] in prepared else 'host',
                         '-'])
        return rows

    def table(self):
        r = self.ctl('usb')
        header, rows = clitest.parse_table(r.stdout)
        self.assertEqual(header, HEADERS)
        # the PORT column keeps its indentation: cut by the header's starts
        lines = r.stdout.splitlines()
        starts = [lines[0].index(h) for h in HEADERS]
        ports = [line[:starts[1]].rstrip() for line in lines[1:]]
        return [[p] + row[1:] for p, row in zip(ports, rows)]

    def test_tree(self):
        self.assertEqual(self.table(), self.expected_rows())

    def test_prepared(self):
        self.client.call(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'Prepare',
                         GLib.Variant('(aoa{sv})', ([hostspec.usb_path(STICK)], {})), timeout=60)
        self.assertTrue(self.kernel.settle())
        self.wait_until(lambda: self.table() == self.expected_rows(prepared=(STICK,)), what='the stick prepared')

    def test_json(self):
        out = json.loads(self.ctl('--json', 'usb').stdout)
        self.assertEqual([d['port_path'] for d in out], [d['address'] for d in self.devices()])
        for got, spec in zip(out, self.devices()):
            parent = spec['parent'] if not spec['parent'].startswith('usb') else None
            self.assertEqual(got, {
                'port_path': spec['address'],
                'bus': spec['busnum'],
                'device_number': spec['devnum'],
                'parent': parent,
                'vendor_id': spec['vendor_id'],
                'product_id': spec['product_id'],
                'vendor_name': spec['vendor_name'],
                'product_name': spec['product_name'],
                'serial': spec['serial'],
                'hub': is_hub(spec),
                'interfaces': [{'name': i['name'],
                                'class': '%s/%s/%s' % (i['cls'], i['subclass'], i['protocol']),
                                'driver': i['driver']} for i in spec['interfaces']],
                'state': 'host',
                'claim': None,
            })


    def test_port_path_spelling(self):
        """One spelling of a port path everywhere: the kernel's "1-3.2".
        UsbDevice.PortPath, `show` and the rule field take it; the sysfs
        devpath without the bus ("3.2") is refused, naming what was typed;
        an unknown port path is not found, by name."""
        for spec in self.devices():
            address = spec['address']
            self.assertEqual(self.client.get(hostspec.usb_path(address), 'org.hostdev1.UsbDevice', 'PortPath'),
                             address)
            self.assertEqual(json.loads(self.ctl('show', '--json', address).stdout)['port_path'], address)
        devpath = next(d['devpath'] for d in self.devices() if d['devpath'] != d['address'] and '.' in d['devpath'])
        err = self.client.call_error(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'GetDevice',
                                     GLib.Variant('(s)', (devpath,)))
        self.assertEqual(err.name, 'org.hostdev1.Error.InvalidArgument')
        self.assertIn("'%s'" % devpath, err.message)
        r = self.ctl('show', devpath, expect=None)
        self.assertFailure(r, "'%s' is not a device address" % devpath)
        err = self.client.call_error(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'GetDevice',
                                     GLib.Variant('(s)', ('9-9.9',)))
        self.assertEqual(err.name, 'org.hostdev1.Error.NotFound')
        self.assertIn('9-9.9', err.message)
        r = self.ctl('group', 'create', 'sticks', '--type=usb', '--rule', 'port-path=%s' % devpath, expect=None)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('port-path', r.stderr)

    def test_help_and_completion(self):
        """The command is in the help text and the bash completion offers it."""
        self.assertRegex(self.ctl('help').stdout, r'\n  usb +Show the USB devices by port')
        self.assertEqual(CompletionCase.complete(self, 'us'), ['usb'])


if __name__ == '__main__':
    clitest.main()
