#!/usr/bin/python3
"""The test environment itself, before any daemon is judged in it.

The testbed built from data/simhost/host.json is judged by lspci and lsusb
(run under the umockdev preload, they read the testbed as they would read
/sys); the kernel emulator must react to writes as Linux does; the private
bus must enforce the project's bus policy and polkitd must read the
project's actions and rules. No hostdevd is involved.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.bus import NOBODY, OPERATOR_UID, clean_env  # noqa: E402
from harness.client import Client, run_as  # noqa: E402
from harness.daemon import Hostdevd  # noqa: E402
from harness.kernel import KernelEmulator  # noqa: E402
from harness.session import SharedBus  # noqa: E402
from harness.testbed import SimHost  # noqa: E402


class SimulatedHost(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.host = hostspec.Host.load()

    def setUp(self):
        self.sim = SimHost(self.host)
        self.addCleanup(self.sim.close)
        self.kernel = KernelEmulator(self.sim).start()
        self.addCleanup(self.kernel.stop)
        self.env = dict(os.environ, UMOCKDEV_DIR=self.sim.root)

    def run_tool(self, *argv):
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def write(self, path, value):
        fd = os.open(self.sim.real(path), os.O_WRONLY | os.O_TRUNC)
        os.write(fd, value.encode())
        os.close(fd)

    def read(self, path):
        with open(self.sim.real(path)) as f:
            return f.read()

    def settle(self):
        self.assertTrue(self.kernel.settle(), 'the kernel emulator did not settle')

    def lspci_records(self):
        out = self.run_tool('lspci', '-vmm', '-nn', '-D', '-k')
        records = {}
        for block in out.strip().split('\n\n'):
            rec = dict(line.split(':\t', 1) for line in block.splitlines() if ':\t' in line)
            records[rec['Slot']] = rec
        return records

    def test_lspci_sees_the_host(self):
        """lspci lists every function with the names, class, revision,
        driver, NUMA node, IOMMU group and physical slot of host.json."""
        records = self.lspci_records()
        self.assertEqual(sorted(records), sorted(d['address'] for d in self.host.pci))
        for dev in self.host.pci:
            with self.subTest(device=dev['address']):
                r = records[dev['address']]
                self.assertEqual(r['Class'], '%s [%s]' % (dev['class_name'], dev['class'][:4]))
                self.assertEqual(r['Vendor'], '%s [%s]' % (dev['vendor_name'], dev['vendor_id']))
                self.assertEqual(r['Device'], '%s [%s]' % (dev['product_name'], dev['device_id']))
                if dev['revision'] != '00':
                    self.assertEqual(r['Rev'], dev['revision'])
                self.assertEqual(r.get('Driver'), dev['driver'])
                self.assertEqual(r['NUMANode'], str(dev['numa_node']))
                self.assertEqual(r['IOMMUGroup'], str(dev['iommu_group']))
                self.assertEqual(r.get('PhySlot'), dev['slot'])

    def test_lspci_decodes_serials(self):
        """lspci -vvv finds each Device Serial Number in config space, and the
        X710's serial in its VPD."""
        for dev in self.host.pci:
            out = self.run_tool('lspci', '-vvv', '-s', dev['address'])
            dsn = re.findall(r'Device Serial Number (\S+)', out)
            with self.subTest(device=dev['address']):
                if dev['serial_source'] == 'dsn':
                    self.assertEqual(dsn, [dev['serial']])
                else:
                    self.assertEqual(dsn, [])
                if dev['serial_source'] == 'vpd':
                    self.assertIn('[SN] Serial number: %s' % dev['serial'], out)
                    self.assertRegex(out, r'\[RV\] Reserved: checksum good')
                if dev.get('sriov'):
                    self.assertIn('Total VFs: %d, Number of VFs: %d' % (
                        dev['sriov']['totalvfs'], dev['sriov']['numvfs']), out)

    def test_config_sizes(self):
        """Conventional functions have 256 bytes of config space, PCIe ones
        4096."""
        for dev in self.host.pci:
            size = os.path.getsize(self.sim.attr_path(dev['address'], 'config'))
            self.assertEqual(size, 4096 if dev['pcie'] else 256, dev['address'])

    def test_lsusb_sees_the_devices(self):
        """lsusb lists the root hubs and the four devices with their ids at
        the right bus and device numbers."""
        out = self.run_tool('lsusb')
        for dev in self.host.usb:
            self.assertIn('Bus %03d Device %03d: ID %s:%s' % (
                dev['busnum'], dev['devnum'], dev['vendor_id'], dev['product_id']), out)

    def test_iommu_groups_on_disk(self):
        """/sys/kernel/iommu_groups holds the groups of host.json, and each
        device's iommu_group link points at its own."""
        root = self.sim.real('/sys/kernel/iommu_groups')
        on_disk = {int(n): sorted(os.listdir(os.path.join(root, n, 'devices')))
                   for n in os.listdir(root)}
        expected = {n: [d['address'] for d in m] for n, m in self.host.groups().items()}
        self.assertEqual(on_disk, expected)
        for g in self.host.data['iommu_groups']:
            self.assertEqual(expected[g['number']], g['devices'], 'host.json groups section')
            self.assertEqual(g['viable'], self.host.expected_group(g['number'])['Viable'])

    def test_rebind_through_sysfs(self):
        """driver_override, unbind through the driver link and drivers_probe
        move the host GPU to vfio-pci, with bind/unbind uevents and
        /dev/vfio/12; clearing the override and probing again brings nouveau
        back and removes /dev/vfio/12. (Like a program that waits for each
        device to move before the next.)"""
        dev = '/sys/bus/pci/devices/0000:01:00.0'
        for a in ('0000:01:00.0', '0000:01:00.1'):
            self.write('/sys/bus/pci/devices/%s/driver_override' % a, 'vfio-pci\n')
            self.write('/sys/bus/pci/devices/%s/driver/unbind' % a, a)
            self.write('/sys/bus/pci/drivers_probe', a)
            self.settle()
        self.assertEqual(self.read(dev + '/driver_override'), 'vfio-pci\n')
        self.assertEqual(os.path.basename(os.readlink(self.sim.real(dev + '/driver'))), 'vfio-pci')
        self.assertTrue(os.path.islink(self.sim.real('/sys/bus/pci/drivers/vfio-pci/0000:01:00.0')))
        self.assertFalse(os.path.lexists(self.sim.real('/sys/bus/pci/drivers/nouveau/0000:01:00.0')))
        self.assertIn('DRIVER=vfio-pci\n', self.read(dev + '/uevent'))
        self.assertTrue(os.path.exists(os.path.join(self.sim.dev, 'vfio', '12')))
        actions = [(a, p.rsplit('/', 1)[1]) for a, p in self.sim.uevents]
        self.assertEqual(actions, [('unbind', '0000:01:00.0'), ('add', '12'), ('bind', '0000:01:00.0'),
                                   ('unbind', '0000:01:00.1'), ('bind', '0000:01:00.1')])
        for a in ('0000:01:00.0', '0000:01:00.1'):
            self.write('/sys/bus/pci/devices/%s/driver_override' % a, '\n')
            self.write('/sys/bus/pci/devices/%s/driver/unbind' % a, a)
            self.write('/sys/bus/pci/drivers_probe', a)
            self.settle()
        self.assertEqual(self.read(dev + '/driver_override'), '(null)\n')
        self.assertEqual(os.path.basename(os.readlink(self.sim.real(dev + '/driver'))), 'nouveau')
        self.assertFalse(os.path.exists(os.path.join(self.sim.dev, 'vfio', '12')))
        self.assertEqual(self.kernel.errors, [])

    def test_quick_writes_are_not_lost(self):
        """Ten unbinds written back to back, without waiting, all happen."""
        addrs = ['0000:00:1f.3', '0000:01:00.1']  # both snd_hda_intel
        addrs += ['0000:00:14.0', '0000:00:16.0', '0000:00:17.0', '0000:05:00.0',
                  '0000:07:00.0', '0000:08:00.0', '0000:0a:00.0', '0000:03:02.0']
        for a in addrs:
            drv = self.sim.driver_of(a)
            self.write('/sys/bus/pci/drivers/%s/unbind' % drv, a)
        self.settle()
        self.assertEqual([a for a in addrs if self.sim.driver_of(a)], [])

    def test_sriov_numvfs(self):
        """0 to sriov_numvfs removes the VFs (links, groups); 3 creates three
        on iavf in the lowest free groups; 2 while 3 exist is refused."""
        pf = '/sys/bus/pci/devices/0000:03:00.0'
        self.write(pf + '/sriov_numvfs', '0')
        self.settle()
        self.assertFalse(os.path.lexists(self.sim.real(pf + '/virtfn0')))
        self.assertFalse(os.path.exists(self.sim.real('/sys/kernel/iommu_groups/17')))
        self.write(pf + '/sriov_numvfs', '3')
        self.settle()
        for i in range(3):
            vf = '/sys/bus/pci/devices/0000:03:02.%d' % i
            self.assertEqual(os.readlink(self.sim.real(pf + '/virtfn%d' % i)), '../0000:03:02.%d' % i)
            self.assertEqual(os.path.basename(os.readlink(self.sim.real(vf + '/driver'))), 'iavf')
            self.assertEqual(os.path.basename(os.readlink(self.sim.real(vf + '/iommu_group'))),
                             str(17 + i))
        self.write(pf + '/sriov_numvfs', '2')
        self.settle()
        self.assertEqual(self.read(pf + '/sriov_numvfs'), '3\n')

    def test_usb_deauthorize(self):
        """Writing 0 to a USB device's authorized removes its interfaces and
        sends "change"; 1 brings them back."""
        d = '/sys/bus/usb/devices/1-1'
        self.write(d + '/authorized', '0')
        self.settle()
        self.assertFalse(os.path.exists(self.sim.real(d + '/1-1:1.0')))
        self.assertEqual(self.sim.uevents[-1][0], 'change')
        self.write(d + '/authorized', '1')
        self.settle()
        self.assertTrue(os.path.islink(self.sim.real(d + '/1-1:1.0/driver')))

    def test_hotplug_helpers(self):
        """The third GPU is added (add, add, bind, bind, in the PCI core's
        order) and removed (unbind, unbind, remove, remove) with its group."""
        gpu3 = self.host.data['hotplug']['gpu3']['pci']
        self.sim.add_pci_devices(gpu3)
        self.assertEqual([a for a, _ in self.sim.uevents], ['add', 'add', 'bind', 'bind'])
        self.assertEqual(sorted(os.listdir(self.sim.real('/sys/kernel/iommu_groups/19/devices'))),
                         ['0000:06:00.0', '0000:06:00.1'])
        self.sim.uevents.clear()
        self.sim.remove_pci_devices([d['address'] for d in gpu3])
        self.assertEqual([a for a, _ in self.sim.uevents], ['unbind', 'unbind', 'remove', 'remove'])
        self.assertFalse(os.path.exists(self.sim.real('/sys/kernel/iommu_groups/19')))
        self.assertFalse(os.path.lexists(self.sim.real('/sys/bus/pci/devices/0000:06:00.0')))

    def test_unbind_fault(self):
        """With the "unbind hangs" fault on a device, its unbind never
        completes."""
        self.kernel.faults['unbind-hangs'].add('0000:01:00.1')
        self.write('/sys/bus/pci/drivers/snd_hda_intel/unbind', '0000:01:00.1')
        self.settle()
        time.sleep(0.05)
        self.assertEqual(self.sim.driver_of('0000:01:00.1'), 'snd_hda_intel')


class PrivateBus(unittest.TestCase):
    """The private system bus and the real polkitd on it."""

    @classmethod
    def setUpClass(cls):
        cls.shared = SharedBus.get()
        cls.client = Client(cls.shared.address)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def check(self, uid, action):
        """Ask polkitd, as hostdevd would, about a process of `uid`."""
        proc = subprocess.Popen(['setpriv', '--reuid=%d' % uid, '--regid=%d' % uid,
                                 '--init-groups' if uid == OPERATOR_UID else '--clear-groups',
                                 'sleep', '30'])
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        deadline = time.monotonic() + 5
        while os.stat('/proc/%d' % proc.pid).st_uid != uid and time.monotonic() < deadline:
            time.sleep(0.01)
        with open('/proc/%d/stat' % proc.pid) as f:
            start = int(f.read().rsplit(')', 1)[1].split()[19])
        subject = ('unix-process', {'pid': GLib.Variant('u', proc.pid),
                                    'start-time': GLib.Variant('t', start),
                                    'uid': GLib.Variant('i', uid)})
        reply = self.client.call(
            '/org/freedesktop/PolicyKit1/Authority', 'org.freedesktop.PolicyKit1.Authority',
            'CheckAuthorization',
            GLib.Variant('((sa{sv})sa{ss}us)', (subject, action, {'device': '0000:01:00.0'}, 0, '')),
            dest='org.freedesktop.PolicyKit1')
        return reply[0]

    def test_polkitd_reads_the_project_policy(self):
        """polkitd knows the project's actions, and the example rules let the
        "hostdev" group's member prepare devices while nobody may not."""
        actions = self.client.call('/org/freedesktop/PolicyKit1/Authority',
                                   'org.freedesktop.PolicyKit1.Authority', 'EnumerateActions',
                                   GLib.Variant('(s)', ('',)), dest='org.freedesktop.PolicyKit1')[0]
        ids = {a[0] for a in actions}
        self.assertIn('org.hostdev1.prepare-devices', ids)
        self.assertNotIn('org.freedesktop.hostname1.set-hostname', ids, 'the host\'s actions leak in')
        self.assertTrue(self.check(OPERATOR_UID, 'org.hostdev1.prepare-devices')[0])
        self.assertFalse(self.check(NOBODY, 'org.hostdev1.prepare-devices')[0])
        self.assertFalse(self.check(OPERATOR_UID, 'org.hostdev1.override-critical')[0])

    def test_bus_policy(self):
        """Only root may own org.hostdev1 on the bus (data/org.hostdev1.conf)."""
        env = clean_env({'DBUS_SYSTEM_BUS_ADDRESS': self.shared.address})
        r = run_as(['gdbus', 'call', '--system', '--dest', 'org.freedesktop.DBus',
                    '--object-path', '/org/freedesktop/DBus', '--method',
                    'org.freedesktop.DBus.RequestName', 'org.hostdev1', '0'], uid=NOBODY, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('AccessDenied', r.stderr)


FAKE_DAEMON = '''#!/usr/bin/python3
import os, signal, sys
from gi.repository import Gio, GLib
mode = os.environ["FAKE_MODE"]
loop = GLib.MainLoop()
def quit(*a):
    if mode == "report":
        sys.stderr.write("==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\\n")
    loop.quit()
    return False
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, quit)
Gio.bus_own_name(Gio.BusType.SYSTEM, "org.hostdev1", 0, None, None, None)
loop.run()
sys.exit(3 if mode == "status" else 0)
'''


class DaemonChecks(unittest.TestCase):
    """The harness notices a daemon that exits badly or reports a sanitizer
    error (checked with a stand-in that owns the name and misbehaves)."""

    @classmethod
    def setUpClass(cls):
        cls.shared = SharedBus.get()

    def run_fake(self, mode):
        workdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, workdir, True)
        script = os.path.join(workdir, 'fake-hostdevd')
        with open(script, 'w') as f:
            f.write(FAKE_DAEMON)
        os.chmod(script, 0o755)
        sim = SimHost()
        self.addCleanup(sim.close)
        d = Hostdevd(sim, self.shared.address, workdir, binary=script, env={'FAKE_MODE': mode})
        d.args = []
        d.start(timeout=20)
        return d.stop()

    def test_clean_exit_passes(self):
        """Exit status 0 and a clean log: no problem."""
        self.assertEqual(self.run_fake('clean'), [])

    def test_exit_status_is_noticed(self):
        """A non-zero exit status after SIGTERM is a problem."""
        problems = self.run_fake('status')
        self.assertEqual(len(problems), 1)
        self.assertIn('status 3', problems[0])

    def test_sanitizer_report_is_noticed(self):
        """An AddressSanitizer report in the log is a problem."""
        problems = self.run_fake('report')
        self.assertEqual(len(problems), 1)
        self.assertIn('AddressSanitizer', problems[0])


if __name__ == '__main__':
    harness.main()
