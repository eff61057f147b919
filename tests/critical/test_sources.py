#!/usr/bin/python3
"""Where host-critical devices come from, apart from the daemon.

critical-probe prints what the kernel side finds (kernel_critical_hits) on
the simulated host, and with --watch prints it again whenever the critical
watch reports a change. It runs inside a network namespace whose links are
named like the simulated host's NICs, so routes come from the real kernel
over rtnetlink; NetworkManager is python3-dbusmock's template on the
private bus, read through libnm. Expectations come from host.json and from
what each test sets up.
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import paths  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.critical import (MockNetworkManager, MountTable, NetNamespace, add_dm,  # noqa: E402
                              add_framebuffer, add_scsi_disk, add_virtual_netdev,
                              block_devices, host_mounts, net_devices, write_swaps)


def probe_binary():
    return os.environ.get('HOSTDEV_CRITICAL_PROBE') or \
        os.path.join(paths.BUILD_ROOT, 'tests', 'critical', 'critical-probe')


def parse(lines):
    return {tuple(line.split('\t', 2)) for line in lines}


class Watch:
    """critical-probe --watch: each printed set lands in a queue."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv + ['--watch'], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.sets = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self):
        current = []
        for line in self.proc.stdout:
            line = line.rstrip('\n')
            if line == '--':
                self.sets.put(parse(current))
                current = []
            else:
                current.append(line)

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def next(self, timeout=10):
        try:
            return self.sets.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError('critical-probe printed nothing within %ds:\n%s'
                                 % (timeout, ''.join(self.stderr[-40:]))) from None

    def wait_for(self, predicate, timeout=10, what='a change'):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.sets.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if predicate(last):
                return last
        raise AssertionError('timed out waiting for %s; last set: %r\n%s'
                             % (what, last, ''.join(self.stderr[-40:])))

    def quiet(self, period=0.5):
        """Nothing more printed for `period` seconds (no polling behind)."""
        try:
            extra = self.sets.get(timeout=period)
        except queue.Empty:
            return None
        return extra

    def maps(self):
        with open('/proc/%d/maps' % self.proc.pid) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


class Sources(HostdevTestCase):
    start_daemon = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.access(probe_binary(), os.X_OK):
            raise unittest.SkipTest('critical-probe is not built (%s)' % probe_binary())

    def setUp(self):
        super().setUp()
        self.mounts = MountTable(self.sim)
        self.netns = NetNamespace(self.workdir)
        self.addCleanup(self.netns.close)
        self.nics = net_devices(self.host)
        self.disks = block_devices(self.host)

    def env(self):
        return self.daemon.environment()

    def probe(self):
        r = subprocess.run([self.netns.wrap(probe_binary())], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[-1], '--', r.stdout)
        return parse(lines[:-1])

    def watch(self):
        w = Watch([self.netns.wrap(probe_binary())], self.env())

        def stop():
            rc = w.stop()
            self.assertIn(rc, (0, -15), 'critical-probe --watch failed:\n' + ''.join(w.stderr[-40:]))
        self.addCleanup(stop)
        return w

    def nm(self):
        nm = MockNetworkManager(self.shared, self.workdir)
        self.addCleanup(nm.stop)
        return nm

    # ------------------------------------------------------------------
    def test_storage_from_the_fixture(self):
        """/ and /boot/efi of host.json's mount table are on the NVMe drive:
        both are found, named by mount point and device; nothing else in
        that table is storage the host needs, and without routes no NIC is
        critical."""
        expected = set()
        for source, mount_point, _ in host_mounts(self.host):
            name = source[len('/dev/'):] if source.startswith('/dev/') else None
            if name in self.disks and mount_point in ('/', '/boot/efi'):
                code = 'root-filesystem' if mount_point == '/' else 'boot-filesystem'
                expected.add((self.disks[name][0], code, 'holds %s (%s)' % (mount_point, source)))
        self.assertEqual(len(expected), 2)
        self.assertEqual(self.probe(), expected)

    def test_stack_and_swap(self):
        """/var on LVM and swap on LUKS, both on a SATA disk behind the
        AHCI controller, followed down to the PCI function with the way down
        in the text."""
        ahci = '0000:00:17.0'
        extra = add_scsi_disk(self.sim, ahci, 'sda', 8, partitions=2)
        extra.update(add_dm(self.sim, 'dm-0', 'cryptswap', '253:0', ['sda1']))
        extra.update(add_dm(self.sim, 'dm-1', 'data-var', '253:1', ['sda2']))
        self.mounts.mount('/dev/mapper/data-var', '/var', 'xfs', extra['dm-1'])
        write_swaps(self.sim, [('/dev/dm-0', 'partition')])
        hits = self.probe()
        self.assertIn((ahci, 'var-filesystem', 'holds /var (/dev/mapper/data-var on sda2)'), hits)
        self.assertIn((ahci, 'swap', 'holds swap (/dev/dm-0 on sda1)'), hits)

    def test_default_routes_from_rtnetlink(self):
        """An IPv4 default route on eno1 and an IPv6 one on enp3s0f1: the
        I210 and the X710's second port carry them."""
        self.netns.add_link('eno1')
        self.netns.set_default_route('eno1', '192.0.2')
        self.netns.add_link('enp3s0f1')
        self.netns.set_default_route('enp3s0f1', '2001:db8:1', family=6)
        hits = self.probe()
        self.assertIn((self.nics['eno1'], 'default-route', 'carries the default route (eno1)'), hits)
        self.assertIn((self.nics['enp3s0f1'], 'default-route', 'carries the default route (enp3s0f1)'), hits)
        self.assertNotIn(self.nics['enp3s0f0'], {h[0] for h in hits})

    def test_bridge_known_to_the_kernel(self):
        """A real bridge br0 over enp3s0f0 carries the default route; the
        simulated sysfs knows nothing of br0: the kernel's link table leads
        to the X710's first port."""
        self.netns.add_bridge('br0')
        self.netns.add_link('enp3s0f0', master='br0')
        self.netns.set_default_route('br0', '198.51.100')
        hits = self.probe()
        self.assertIn((self.nics['enp3s0f0'], 'default-route', 'carries the default route (enp3s0f0 via br0)'),
                      hits)
        self.assertEqual({h[0] for h in hits if h[1] == 'default-route'}, {self.nics['enp3s0f0']})

    def test_bond_known_to_sysfs(self):
        """bond0 over both X710 ports exists in sysfs (lower_* links); the
        kernel only has a link named bond0 with the default route: both
        ports are critical."""
        add_virtual_netdev(self.sim, 'bond0', ['enp3s0f0', 'enp3s0f1'])
        self.netns.add_link('bond0')
        self.netns.set_default_route('bond0', '203.0.113')
        hits = self.probe()
        self.assertEqual({h for h in hits if h[1] == 'default-route'}, {
            (self.nics['enp3s0f0'], 'default-route', 'carries the default route (enp3s0f0 via bond0)'),
            (self.nics['enp3s0f1'], 'default-route', 'carries the default route (enp3s0f1 via bond0)'),
        })

    def test_console(self):
        """fbcon on the BMC VGA's framebuffer."""
        add_framebuffer(self.sim, '0000:0a:00.0', 'astdrmfb')
        self.assertIn(('0000:0a:00.0', 'console', 'drives the framebuffer console (fb0, astdrmfb)'),
                      self.probe())

    def test_networkmanager(self):
        """An active NetworkManager connection on eno1, read through libnm
        from the mock: the I210 carries it."""
        nm = self.nm().start()
        nm.activate('eno1', 'mgmt')
        hits = self.probe()
        self.assertIn((self.nics['eno1'], 'nm-connection',
                       'carries the active NetworkManager connection "mgmt" (eno1)'), hits)

    def test_watch_mounts(self):
        """Mounting /var on another disk and unmounting it again are seen
        by the watch, once each, and nothing is printed while nothing
        changes."""
        ahci = '0000:00:17.0'
        extra = add_scsi_disk(self.sim, ahci, 'sdb', 8)
        w = self.watch()
        first = w.next()
        self.assertNotIn(ahci, {h[0] for h in first})
        self.assertIsNone(w.quiet(), 'printed again without a change')

        self.mounts.mount('/dev/sdb1', '/var', 'ext4', extra['sdb1'])
        now = w.wait_for(lambda s: any(h[0] == ahci for h in s), what='/var on sdb1')
        self.assertIn((ahci, 'var-filesystem', 'holds /var (/dev/sdb1)'), now)

        self.mounts.umount('/var')
        w.wait_for(lambda s: all(h[0] != ahci for h in s), what='/var gone')

    def test_watch_swaps(self):
        w = self.watch()
        w.next()
        write_swaps(self.sim, [('/dev/nvme0n1p2', 'partition')])
        w.wait_for(lambda s: (self.disks['nvme0n1p2'][0], 'swap', 'holds swap (/dev/nvme0n1p2)') in s,
                   what='swap on nvme0n1p2')

    def test_watch_routes(self):
        """The default route appears on eno1, then moves to enp3s0f0: each
        change reaches the watch over rtnetlink."""
        self.netns.add_link('eno1')
        self.netns.add_link('enp3s0f0')
        w = self.watch()
        self.assertFalse({h for h in w.next() if h[1] == 'default-route'})

        self.netns.set_default_route('eno1', '192.0.2')
        w.wait_for(lambda s: {h[0] for h in s if h[1] == 'default-route'} == {self.nics['eno1']},
                   what='the default route on eno1')
        self.netns.ip('addr', 'add', '198.51.100.10/24', 'dev', 'enp3s0f0')
        self.netns.ip('route', 'replace', 'default', 'via', '198.51.100.1', 'dev', 'enp3s0f0')
        w.wait_for(lambda s: {h[0] for h in s if h[1] == 'default-route'} == {self.nics['enp3s0f0']},
                   what='the default route moved to enp3s0f0')

    def test_watch_networkmanager(self):
        """NetworkManager starts after the watch; libnm is loaded only from
        then on; activating and deactivating a connection are seen."""
        w = self.watch()
        w.next()
        self.assertNotIn('libnm.so', w.maps(), 'libnm loaded without NetworkManager')
        nm = self.nm().start()
        w.next()  # NetworkManager came: recomputed, nothing active yet
        active = nm.activate('enp3s0f1', 'storage')
        expected = (self.nics['enp3s0f1'], 'nm-connection',
                    'carries the active NetworkManager connection "storage" (enp3s0f1)')
        w.wait_for(lambda s: expected in s, what='the connection on enp3s0f1')
        self.assertIn('libnm.so', w.maps())
        nm.deactivate('enp3s0f1', active)
        w.wait_for(lambda s: expected not in s, what='the connection gone')

    def test_networkmanager_hangs(self):
        """NetworkManager stops answering: the next recomputation waits for
        it a few seconds at most and keeps its connections critical; the
        ones after it do not wait for it again."""
        nm = self.nm().start()
        nm.activate('eno1', 'mgmt')
        expected = (self.nics['eno1'], 'nm-connection', 'carries the active NetworkManager connection "mgmt" (eno1)')
        w = self.watch()
        self.assertIn(expected, w.next())
        os.kill(nm.proc.pid, signal.SIGSTOP)
        self.addCleanup(lambda: nm.proc and os.kill(nm.proc.pid, signal.SIGCONT))

        start = time.monotonic()
        self.mounts.write()
        self.assertIn(expected, w.next(timeout=20))
        self.assertLess(time.monotonic() - start, 10)
        start = time.monotonic()
        self.mounts.write()
        self.assertIn(expected, w.next())
        self.assertLess(time.monotonic() - start, 2, 'waited for the hung NetworkManager again')


if __name__ == '__main__':
    harness.main()
