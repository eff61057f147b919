#!/usr/bin/python3
"""Host-critical USB devices.

The simulated host has one USB keyboard (1-1, a boot keyboard interface
03/01/01): it is critical as the only keyboard, and Prepare refuses it with
CriticalDevice unless override-critical; a second keyboard plugged in takes
that away from both. The stick of host.json's "usb-backup-stick" variant,
once its partition is mounted (the variant's mounts line, written to
/proc/self/mountinfo), is critical for holding that file system, and so is
the SanDisk stick while its partition is swap. Expectations come from
host.json."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.critical import MountTable, write_swaps  # noqa: E402
from preparecase import DEVICE, ERR_CRITICAL, PrepareTestCase  # noqa: E402
from usbcase import BACKUP, KEYBOARD, STICK, block_names, usb_spec  # noqa: E402


def is_keyboard(spec):
    return any((i['cls'], i['subclass'], i['protocol']) == ('03', '01', '01') for i in spec['interfaces'])


class UsbCritical(PrepareTestCase):
    def prepare_host(self):
        super().prepare_host()
        self.mounts = MountTable(self.sim)

    def reasons(self, address):
        return self.client.get(hostspec.usb_path(address), DEVICE, 'CriticalReasons')

    def codes(self, address):
        return sorted(code for code, _text in self.reasons(address))

    def interface_driver(self, name):
        link = self.sim.real('/sys/bus/usb/devices/%s/driver' % name)
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None

    def test_only_keyboard(self):
        keyboards = [d['address'] for d in self.initial.data['usb'] if is_keyboard(d)]
        self.assertEqual(keyboards, [KEYBOARD])
        self.assertEqual(self.codes(KEYBOARD), ['only-keyboard'])
        self.assertTrue(self.device(KEYBOARD)['Critical'])
        others = [d['address'] for d in self.initial.published_usb if d['address'] != KEYBOARD]
        for address in others:
            self.assertEqual(self.reasons(address), [], address)

        writes = len(self.kernel.log)
        self.expect_error(ERR_CRITICAL, lambda: self.prepare([KEYBOARD]), KEYBOARD, 'only keyboard',
                          'override-critical')
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])

        spec = usb_spec(self.initial, KEYBOARD)
        plan = self.prepare([KEYBOARD], {'override-critical': True})
        self.assertEqual(sorted(s[0] for s in plan), sorted(i['name'] for i in spec['interfaces']))
        self.assertTrue(self.kernel.settle())
        self.assertEqual([self.interface_driver(i['name']) for i in spec['interfaces']],
                         [None] * len(spec['interfaces']))
        self.release([KEYBOARD])
        self.assertTrue(self.kernel.settle())
        self.assertEqual([self.interface_driver(i['name']) for i in spec['interfaces']],
                         [i['driver'] for i in spec['interfaces']])

    def test_second_keyboard(self):
        """With two keyboards neither is the only one."""
        second = dict(usb_spec(self.initial, KEYBOARD), address='1-4', devnum=9, devpath='4',
                      devnode='/dev/bus/usb/001/009')
        second['interfaces'] = [dict(i, name=i['name'].replace('1-1:', '1-4:'))
                                for i in second['interfaces']]
        self.sim.add_usb(second)
        self.wait_until(lambda: not self.device(KEYBOARD)['Critical'], what='the keyboard no longer critical')
        self.assertEqual(self.reasons('1-4'), [])
        self.sim.remove_usb('1-4')
        self.wait_until(lambda: self.device(KEYBOARD)['Critical'], what='the only keyboard again')

    def test_mounted_stick(self):
        variant = self.initial.data['hotplug'][BACKUP]
        spec = variant['usb'][0]
        source, mount_point, fstype = variant['mounts'][0].split()[:3]
        devno = {c['devname']: c['dev'] for i in spec['interfaces'] for c in i.get('children', [])}
        address = spec['address']
        self.sim.add_usb(spec)
        self.wait_until(lambda: hostspec.usb_path(address) in self.client.managed_objects(), what='the stick')
        self.assertEqual(self.reasons(address), [])

        self.mounts.mount(source, mount_point, fstype, devno=devno[source[len('/dev/'):]])
        self.wait_until(lambda: self.reasons(address), what='the mounted stick critical')
        self.assertEqual(self.codes(address), ['mounted-filesystem'])
        self.assertIn(mount_point, self.reasons(address)[0][1])
        self.assertEqual(self.reasons(STICK), [])

        itf = spec['interfaces'][0]
        writes = len(self.kernel.log)
        self.expect_error(ERR_CRITICAL, lambda: self.prepare([address]), address, mount_point)
        self.assertTrue(self.kernel.settle())
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertEqual(self.interface_driver(itf['name']), itf['driver'])
        self.prepare([address], {'override-critical': True})
        self.assertTrue(self.kernel.settle())
        self.assertIsNone(self.interface_driver(itf['name']))
        self.release([address])

        self.mounts.umount(mount_point)
        self.wait_until(lambda: not self.reasons(address), what='the unmounted stick no longer critical')

    def test_swap_on_the_stick(self):
        partition = block_names(usb_spec(self.initial, STICK)['interfaces'][0])[-1]
        write_swaps(self.sim, [('/dev/' + partition, 'partition')])
        self.wait_until(lambda: self.reasons(STICK), what='the stick with swap critical')
        self.assertEqual(self.codes(STICK), ['swap'])
        self.assertIn(partition, self.reasons(STICK)[0][1])


if __name__ == '__main__':
    harness.main()
