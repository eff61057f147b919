"""cockpit-ws and a Chromium driven by tests/browser/browser.mjs.

cockpit-ws runs per test as an ordinary user (root is always authorized
by polkit, so a refusal could not be shown otherwise), with the page's
built package linked into its XDG_DATA_HOME and both bus addresses
pointing at the test's private system bus, so that the bridge talks to the
hostdevd under test and starts no session bus of its own.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

from harness.bus import clean_env
from harness.sandbox import DIE_WITH_PARENT

COCKPIT_WS = '/usr/lib/cockpit/cockpit-ws'
CHROMIUM = '/usr/bin/chromium'


def missing_tools():
    """What the suite needs and this machine lacks (tools/install-deps
    installs all of it)."""
    out = []
    for tool in (COCKPIT_WS, '/usr/bin/cockpit-bridge', CHROMIUM):
        if not os.access(tool, os.X_OK):
            out.append(tool)
    if not shutil.which('node'):
        out.append('node')
    return out


def loopback_up():
    """The test's private network namespace starts with lo down."""
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class CockpitWs:
    def __init__(self, workdir, package_dir, bus_address, uid, gid):
        self.dir = os.path.join(workdir, 'cockpit-ws.%d' % uid)
        self.uid, self.gid = uid, gid
        data = os.path.join(self.dir, 'data', 'cockpit')
        runtime = os.path.join(self.dir, 'runtime')
        home = os.path.join(self.dir, 'home')
        for d in (data, runtime, home):
            os.makedirs(d)
        # a copy rather than a link: the build tree may not be readable
        # for the session's user
        shutil.copytree(package_dir, os.path.join(data, 'hostdev'))
        for root, dirs, files in os.walk(self.dir):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid)
        os.chown(self.dir, uid, gid)
        # every directory above must be searchable for that user
        d = self.dir
        while d != '/':
            d = os.path.dirname(d)
            st = os.stat(d)
            if not st.st_mode & 0o001:
                os.chmod(d, st.st_mode | 0o111)
        os.chmod(runtime, 0o700)
        self.port = free_port()
        self.env = clean_env({
            'XDG_DATA_HOME': os.path.join(self.dir, 'data'),
            'XDG_RUNTIME_DIR': runtime,
            'HOME': home,
            'DBUS_SYSTEM_BUS_ADDRESS': bus_address,
            'DBUS_SESSION_BUS_ADDRESS': bus_address,
            'G_MESSAGES_DEBUG': '',
        })
        self.log_path = os.path.join(self.dir, 'cockpit-ws.log')
        self.proc = None

    @property
    def base(self):
        return 'http://127.0.0.1:%d' % self.port

    def start(self, timeout=30):
        self.log = open(self.log_path, 'w')
        cmd = DIE_WITH_PARENT + ['setpriv', '--reuid=%d' % self.uid, '--regid=%d' % self.gid,
                                 '--init-groups', COCKPIT_WS, '--no-tls', '--address', '127.0.0.1',
                                 '--port', str(self.port), '--local-session=cockpit-bridge']
        self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.monotonic() + timeout
        url = self.base + '/cockpit/@localhost/manifests.json'
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    manifests = json.loads(r.read())
                if 'hostdev' in manifests:
                    self.manifest = manifests['hostdev']
                    return self
                raise RuntimeError('cockpit-ws does not see the hostdev package: %s'
                                   % sorted(manifests))
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('cockpit-ws did not start:\n' + self.log_text())
                time.sleep(0.05)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()

    def log_text(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''


class StepFailed(AssertionError):
    pass


class Browser:
    """node browser.mjs: one request and one answer per line."""

    def __init__(self, url, screenshots, node_modules, workdir):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'browser.mjs')
        env = clean_env({'HOSTDEV_NODE_MODULES': node_modules, 'TMPDIR': workdir,
                         'HOME': workdir, 'CHROMIUM': CHROMIUM})
        self.timings = []
        self.stderr_path = os.path.join(workdir, 'browser.stderr')
        self.stderr = open(self.stderr_path, 'w')
        self.proc = subprocess.Popen(DIE_WITH_PARENT + ['node', script, url, screenshots],
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1)

    def step(self, step_name, **args):
        args["step"] = step_name
        started = time.monotonic()
        self.proc.stdin.write(json.dumps(args) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            with open(self.stderr_path, errors='replace') as f:
                raise StepFailed('the browser driver exited (%s) during %s:\n%s'
                                 % (self.proc.returncode, step_name, f.read()[-4000:]))
        answer = json.loads(line)
        if not answer['ok']:
            raise StepFailed('step %s %r failed: %s\n--- page text ---\n%s\n--- page problems ---\n%s'
                             % (step_name, args, answer['error'], answer.get('page', ''),
                                '\n'.join(answer.get('problems', []))))
        self.timings.append((step_name, time.monotonic() - started))
        return answer['value']

    def close(self):
        if self.proc:
            try:
                self.proc.stdin.close()
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
            self.stderr.close()
