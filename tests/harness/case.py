"""unittest base class: a fresh simulated host and hostdevd for every test."""

import os
import shutil
import sys
import tempfile
import time
import unittest

from . import hostspec, paths
from .client import Client, SignalRecorder
from .daemon import Hostdevd
from .kernel import KernelEmulator
from .session import SharedBus
from .testbed import SimHost


class HostdevTestCase(unittest.TestCase):
    """Each test gets the simulated host of data/simhost/host.json on a new
    umockdev testbed, a kernel emulator, and a freshly started hostdevd on
    the shared private system bus. At the end the daemon must exit cleanly
    on SIGTERM without any sanitizer report, and the kernel emulator must
    not have failed; on failure the daemon's log is printed."""

    iommu = 'enabled'       # see SimHost
    start_daemon = True
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not os.access(paths.daemon_binary(), os.X_OK):
            raise unittest.SkipTest('hostdevd is not built (%s)' % paths.daemon_binary())
        cls.shared = SharedBus.get()
        cls.host = hostspec.Host.load()

    def host_description(self):
        """The host to simulate; tests may override to change it."""
        return self.host

    def setUp(self):
        # cleanups run last-in first-out, and all of them run even when
        # setUp fails half-way: hostdevd stops before the emulator, the
        # emulator before its testbed goes away
        self.workdir = tempfile.mkdtemp(prefix='hostdev-test.', dir=paths.tmpdir())
        self.sim = SimHost(self.host_description(), iommu=self.iommu,
                           proc_dir=os.path.join(self.workdir, 'proc'))
        self.addCleanup(self.sim.close)
        self.prepare_host()
        self.kernel = KernelEmulator(self.sim).start()
        self.addCleanup(self._stop_kernel)
        self.client = Client(self.shared.address)
        self.addCleanup(self.client.close)
        self.daemon = Hostdevd(self.sim, self.shared.address, self.workdir)
        self.addCleanup(self._stop_daemon)
        if self.start_daemon:
            self.daemon.start()

    def prepare_host(self):
        """Called once the testbed exists, before anything runs on it;
        test cases may override it to add to the simulated host."""

    def _stop_daemon(self):
        problems = self.daemon.stop()
        if problems:
            raise AssertionError('hostdevd: ' + '\n'.join(problems))

    def _stop_kernel(self):
        self.kernel.stop()
        if self.kernel.errors:
            raise AssertionError('kernel emulator failed:\n' + '\n'.join(self.kernel.errors))

    def run(self, result=None):
        result = result or self.defaultTestResult()
        bad = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > bad and hasattr(self, 'daemon'):
                sys.stderr.write('\n%s\n' % self.daemon.all_logs())
                sys.stderr.write('----- uevents sent -----\n%s\n' % '\n'.join(
                    '%s %s' % u for u in self.sim.uevents[-60:]))
                sys.stderr.write('----- writes the kernel emulator handled -----\n%s\n' % '\n'.join(
                    '%s %r' % w for w in self.kernel.log[-60:]))
                polkitd_log = self.shared.polkitd.log_path
                if os.path.exists(polkitd_log):
                    with open(polkitd_log, errors='replace') as f:
                        sys.stderr.write('----- polkitd -----\n%s\n' % f.read()[-4000:])
            if hasattr(self, 'workdir'):
                shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------
    def record_signals(self):
        rec = SignalRecorder(self.client, self.daemon.unique_name)
        self.addCleanup(rec.close)
        return rec

    def restart_daemon(self):
        problems = self.daemon.restart()
        if problems:
            self.fail('\n'.join(problems))

    def write_sysfs(self, path, value):
        """Write to a testbed sysfs file as a program does: open with
        O_TRUNC, one write, close. `path` starts with /sys/."""
        fd = os.open(self.sim.real(path), os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def wait_until(self, predicate, timeout=10, what='a condition'):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                # A signal sent before the replies predicate() read has
                # arrived too, but GDBus dispatches it from the main loop:
                # record it before the test looks at the recorder.
                SignalRecorder.pump()
                return value
            if time.monotonic() > deadline:
                self.fail('timed out after %gs waiting for %s' % (timeout, what))
            SignalRecorder.pump(0.01)

    def assertSignalOrder(self, rec, *matches):
        """Each of `matches` (harness.client.added, removed, changed) was
        recorded, and the first signal of each comes after the first of the
        one before it. A signal that never came fails."""
        at = [rec.index(m) for m in matches]
        for (a, ma), (b, mb) in zip(zip(at, matches), zip(at[1:], matches[1:])):
            self.assertLess(a, b, '%s (#%d) must come before %s (#%d)' % (ma, a, mb, b))

    def assertDevice(self, host, objects, dev):
        """The object of one device has exactly the interfaces `host` gives
        it, with every property as expected."""
        path = hostspec.device_path(dev)
        self.assertIn(path, objects, '%s is not published' % dev['address'])
        actual = {i: p for i, p in objects[path].items() if i.startswith('org.hostdev1.')}
        expected = host.expected_interfaces(dev)
        self.assertEqual(set(actual), set(expected), '%s: interfaces' % dev['address'])
        for iface, props in expected.items():
            props = dict(props)
            if props.get('LinkSpeed') == 'Unknown':
                # A VF's link status register reads 0 and the kernel prints
                # "Unknown". The contract says only "empty when not PCIe",
                # so the kernel's word and "" are both faithful.
                self.assertIn(actual[iface]['LinkSpeed'], ('Unknown', ''), dev['address'])
                del props['LinkSpeed']
            self.assertProperties(actual[iface], props, '%s %s' % (dev['address'], iface))

    def assertProperties(self, actual, expected, context):
        """Every expected property present with the expected value."""
        for name, value in expected.items():
            self.assertIn(name, actual, '%s: property %s missing' % (context, name))
            self.assertEqual(actual[name], value, '%s: property %s' % (context, name))
