"""Run the real hostdevd against a simulated host on the private bus."""

import os
import re
import signal
import subprocess
import time

from . import hostspec, paths
from .client import Client
from .kernel import RTNL_SOCKET
from .sandbox import DIE_WITH_PARENT

# what sanitizers print when they find something
SANITIZER_REPORT = re.compile(
    r'ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer)'
    r'|runtime error: |SUMMARY: (Address|Leak|UndefinedBehavior|Thread)Sanitizer'
    r'|WARNING: ThreadSanitizer')


class DaemonError(AssertionError):
    pass


class Hostdevd:
    """One hostdevd process: started, waited for, stopped and checked.

    Its stdout and stderr go to a log file (HOSTDEV_TEST_LOG is not needed:
    the harness prints the log when a test fails)."""

    def __init__(self, simhost, bus_address, workdir, binary=None, args=(), env=None):
        self.sim = simhost
        self.bus_address = bus_address
        self.workdir = workdir
        self.binary = binary or paths.daemon_binary()
        self.args = ['--log-level=debug'] + list(args)
        self.extra_env = dict(env or {})
        # False: started without the umockdev preload (bench/run-claims
        # measures hostdevd as a host runs it; no uevent reaches it then).
        self.preload = True
        self.proc = None
        self.runs = 0
        self.log_path = None
        self.problems = []

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith('HOSTDEV_')}
        run = os.path.join(self.workdir, 'run')
        state = os.path.join(self.workdir, 'state')
        for d in (run, state):
            os.makedirs(d, exist_ok=True)
        env.update({
            'UMOCKDEV_DIR': self.sim.root,
            'HOSTDEV_SYSFS_ROOT': self.sim.sys,
            'HOSTDEV_DEV_ROOT': self.sim.dev,
            'HOSTDEV_PROC_ROOT': self.sim.proc,
            'HOSTDEV_RUN_ROOT': run,
            'HOSTDEV_STATE_DIRECTORY': state,
            'DBUS_SYSTEM_BUS_ADDRESS': self.bus_address,
            # rtnetlink VF settings go to the kernel emulator (rtnl.py), never to the host's links
            'HOSTDEV_RTNL_SOCKET': os.path.join(self.sim.root, RTNL_SOCKET),
        })
        # No verify_asan_link_order=0: a sanitizer runtime that loads after
        # the umockdev preload never sees the calls the preload wraps
        # (fclose of an open_memstream stream among them) and aborts sooner
        # or later. tools/run-tests --sanitize builds with clang, which links
        # the runtime into the program; a GCC build is refused by ASan's
        # own check instead of failing by chance.
        if not self.preload:
            for k in ('LD_PRELOAD', 'UMOCKDEV_DIR'):
                env.pop(k, None)
        if 'UBSAN_OPTIONS' not in env:
            env['UBSAN_OPTIONS'] = 'print_stacktrace=1'
        env.update(self.extra_env)
        return env

    def start(self, wait=True, timeout=30):
        if not os.access(self.binary, os.X_OK):
            raise FileNotFoundError(self.binary)
        self.runs += 1
        self.log_path = os.path.join(self.workdir, 'hostdevd.%d.log' % self.runs)
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(DIE_WITH_PARENT + [self.binary] + self.args,
                                     env=self.environment(), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_for_name(timeout)
        return self

    def wait_for_name(self, timeout=30):
        client = Client(self.bus_address)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if client.name_has_owner(hostspec.BUS_NAME):
                    self.unique_name = client.name_owner(hostspec.BUS_NAME)
                    return self.unique_name
                rc = self.proc.poll()
                if rc is not None:
                    raise DaemonError('hostdevd exited with status %d before owning %s:\n%s'
                                      % (rc, hostspec.BUS_NAME, self.log_text()))
                if time.monotonic() > deadline:
                    raise DaemonError('hostdevd did not own %s within %ds:\n%s'
                                      % (hostspec.BUS_NAME, timeout, self.log_text()))
                time.sleep(0.02)
        finally:
            client.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM, then check: exit status 0 and no sanitizer report.
        Returns the list of problems found (also kept in self.problems)."""
        if self.proc is None:
            return []
        problems = []
        rc = self.proc.poll()
        if rc is not None:
            problems.append('hostdevd had exited on its own with status %d' % rc)
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append('hostdevd did not exit within %ds of SIGTERM' % timeout)
                rc = 0
            if rc != 0:
                problems.append('hostdevd exited with status %d after SIGTERM' % rc)
        self.proc = None
        self.log.close()
        text = self.log_text()
        m = SANITIZER_REPORT.search(text)
        if m:
            problems.append('sanitizer report in the hostdevd log: %r' % m.group(0))
        self.problems += problems
        return problems

    def restart(self, timeout=30):
        problems = self.stop()
        self.start(timeout=timeout)
        return problems

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ''
        with open(self.log_path, errors='replace') as f:
            return f.read()

    def all_logs(self):
        out = []
        for i in range(1, self.runs + 1):
            p = os.path.join(self.workdir, 'hostdevd.%d.log' % i)
            if os.path.exists(p):
                with open(p, errors='replace') as f:
                    out.append('----- hostdevd log (run %d) -----\n%s' % (i, f.read()))
        return '\n'.join(out)
