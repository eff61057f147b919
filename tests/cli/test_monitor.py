#!/usr/bin/python3
"""hostdevctl monitor: one line per signal of hostdevd, read through a pipe."""

import json
import re
import signal

import clitest
from clitest import CliTestCase, hostspec

TIMESTAMP = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d'


def event_line(event, path):
    return re.compile(r'^%s %s %s( |$)' % (TIMESTAMP, event, re.escape(path)))


class MonitorTest(CliTestCase):

    def test_pci_hotplug(self):
        m = self.monitor()
        gpu = self.host.data['hotplug']['gpu3']
        self.sim.add_pci_devices(gpu['pci'])
        for spec in gpu['pci']:
            added = event_line('added', hostspec.pci_path(spec['address']))
            lines = m.read_until(added.search, what='added line of %s' % spec['address'])
            line = next(line for line in lines if added.search(line))
            # the interfaces of the device, not the ones every object has
            self.assertEqual(sorted(re.findall(r' \[([\w.]+)\]', line)),
                             ['org.hostdev1.Device', 'org.hostdev1.PciDevice'])
            self.assertNotIn('org.freedesktop.DBus', line)
            self.assertIn(' Address=%s ' % spec['address'], line)
            self.assertIn(' VendorId=%d ' % int(spec['vendor_id'], 16), line)
            self.assertIn(' IommuGroup=%s ' % hostspec.group_path(spec['iommu_group']), line)
            self.assertIn(' VendorName="%s" ' % spec['vendor_name'], line)
            # the driver binds after the device appears: in the same line or a later one
            path = hostspec.pci_path(spec['address'])
            m.read_until(lambda line: ' %s ' % path in line and ' Driver=%s' % spec['driver'] in line,
                         what='driver of %s' % spec['address'])
        for group in gpu['iommu_groups']:
            added = event_line('added', hostspec.group_path(group['number']))
            lines = m.read_until(added.search, what='added line of group %d' % group['number'])
            line = next(line for line in lines if added.search(line))
            self.assertIn(' [org.hostdev1.IommuGroup] ', line)
            self.assertIn(' Number=%d ' % group['number'], line)
            # the group appears with its first member; the others join in
            # the same line or in later ones
            devices = 'Devices=[%s]' % ','.join(hostspec.pci_path(a) for a in group['devices'])
            path = hostspec.group_path(group['number'])
            m.read_until(lambda line: ' %s ' % path in line and devices in line,
                         what='all members of group %d' % group['number'])
        rc, _, err = m.stop()
        self.assertEqual(rc, 0, err)

    def test_unbind(self):
        m = self.monitor()
        address = '0000:01:00.1'
        self.write_sysfs('/sys/bus/pci/drivers/snd_hda_intel/unbind', address)
        changed = event_line('changed', hostspec.pci_path(address))
        m.read_until(lambda line: changed.search(line) and ' Driver=""' in line,
                     what='Driver of %s to become empty' % address)
        # the group loses a blocker: only the GPU function still blocks it
        group = event_line('changed', hostspec.group_path(12))
        gpu = hostspec.pci_path('0000:01:00.0')
        lines = m.read_until(lambda line: group.search(line) and ' Blockers=[' in line,
                             what='Blockers of group 12')
        line = [line for line in lines if group.search(line) and ' Blockers=[' in line][-1]
        blockers = re.search(r' Blockers=\[(.*?)\](?: |$)', line).group(1)
        self.assertTrue(blockers.startswith('(%s,' % gpu), blockers)
        self.assertNotIn(hostspec.pci_path(address), blockers)
        rc, _, err = m.stop(signal.SIGTERM)
        self.assertEqual(rc, 0, err)

    def test_json_usb_unplug_and_replug(self):
        m = self.monitor('--json')
        spec = self.host.usb_device('1-3.2')
        path = hostspec.usb_path('1-3.2')
        self.sim.remove_usb('1-3.2')
        lines = m.read_until(lambda line: json.loads(line)['event'] == 'removed',
                             what='a removed event')
        events = [json.loads(line) for line in lines]
        removed = [e for e in events if e['event'] == 'removed']
        self.assertEqual(removed[0]['object'], path)
        # JSON keeps what the signal carries, the standard interfaces too
        self.assertLessEqual({'org.hostdev1.Device', 'org.hostdev1.UsbDevice'},
                             set(removed[0]['interfaces']))
        self.assertFalse({i for i in removed[0]['interfaces'] if i.startswith('org.hostdev1.')} -
                         {'org.hostdev1.Device', 'org.hostdev1.UsbDevice'})
        self.assertRegex(removed[0]['timestamp'], '^%s$' % TIMESTAMP)

        self.sim.add_usb(spec)
        lines = m.read_until(lambda line: json.loads(line)['event'] == 'added',
                             what='an added event')
        added = [json.loads(line) for line in lines if json.loads(line)['event'] == 'added'][0]
        self.assertEqual(added['object'], path)
        device = added['interfaces']['org.hostdev1.Device']
        self.assertEqual(device['Address'], '1-3.2')
        self.assertEqual(device['Kind'], 'usb')
        self.assertEqual(device['VendorId'], int(spec['vendor_id'], 16))
        self.assertEqual(device['IommuGroup'], '/')
        usb = added['interfaces']['org.hostdev1.UsbDevice']
        self.assertEqual(usb['BusNumber'], spec['busnum'])
        self.assertEqual(usb['PortPath'], spec['address'])
        rc, _, err = m.stop()
        self.assertEqual(rc, 0, err)

    def test_json_driver_change(self):
        m = self.monitor('--json')
        address = '0000:08:00.0'
        self.write_sysfs('/sys/bus/pci/drivers/igb/unbind', address)
        path = hostspec.pci_path(address)

        def driver_gone(line):
            e = json.loads(line)
            return e['event'] == 'changed' and e['object'] == path and \
                e['properties'].get('Driver') == ''
        lines = m.read_until(driver_gone, what='Driver of %s to become empty' % address)
        e = json.loads(next(line for line in lines if driver_gone(line)))
        self.assertEqual(e['interface'], 'org.hostdev1.Device')
        self.assertEqual(e['invalidated'], [])
        rc, _, err = m.stop()
        self.assertEqual(rc, 0, err)


class MonitorBeforeDaemonTest(CliTestCase):
    start_daemon = False

    def test_waits_for_daemon(self):
        # the match rules name org.hostdev1, whoever owns it later
        m = self.monitor()
        self.daemon.start()
        address = '0000:00:17.0'
        self.write_sysfs('/sys/bus/pci/drivers/ahci/unbind', address)
        changed = event_line('changed', hostspec.pci_path(address))
        m.read_until(lambda line: changed.search(line) and ' Driver=""' in line,
                     what='Driver of %s to become empty' % address)
        rc, _, err = m.stop()
        self.assertEqual(rc, 0, err)


if __name__ == '__main__':
    clitest.main()
