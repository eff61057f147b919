"""A private system bus and a real polkitd on it.

The bus is configured like Debian's system bus (deny by default, method
calls allowed only where a policy file says so) and includes the project's
data/org.hostdev1.conf, so the tests also check that policy. polkitd reads
the project's actions and example rules, plus the tests' rules, through
bind mounts in the test's private mount namespace (see sandbox.py).

Two identities exist inside that namespace, through bind-mounted copies of
/etc/passwd and /etc/group:
  nobody (65534)            an ordinary user with no rights
  hostdev-operator (64000)  a member of group "hostdev", which the example
                            rules let prepare and claim devices
  tenant-a (64001)          a member of group "tenant-a" only, which the
                            tests' rules let claim from the tenant tenant-a's
                            resource groups (tests/harness/polkit)
  tenant-b (64002)          likewise for group and tenant "tenant-b", which
                            no rule names
"""

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import time

from . import paths
from .sandbox import DIE_WITH_PARENT

POLKITD = '/usr/lib/polkit-1/polkitd'
POLKIT_CONF = '/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf'
NOBODY = 65534
OPERATOR_UID = 64000
OPERATOR_GID = 64000
OPERATOR = 'hostdev-operator'
# name -> uid (= gid of the user's own group)
TENANTS = {'tenant-a': 64001, 'tenant-b': 64002}

_BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
  <includedir>{includedir}</includedir>
  <limit name="reply_timeout">60000</limit>
</busconfig>
'''

# Used only while the project has no data/org.hostdev1.conf of its own.
_FALLBACK_POLICY = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root"><allow own="org.hostdev1"/></policy>
  <policy context="default"><allow send_destination="org.hostdev1"/></policy>
</busconfig>
'''


def clean_env(extra=None):
    """Environment for helpers that must not see the testbed."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('LD_PRELOAD', 'UMOCKDEV_DIR') and not k.startswith('HOSTDEV_')}
    env.update(extra or {})
    return env


class SystemBus:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, 'bus')
        os.makedirs(os.path.join(self.dir, 'system.d'))
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, 'system_bus_socket')
        self.address = 'unix:path=' + self.socket
        self.proc = None

    def start(self):
        inc = os.path.join(self.dir, 'system.d')
        if os.path.exists(paths.BUS_POLICY):
            shutil.copy(paths.BUS_POLICY, inc)
        else:
            with open(os.path.join(inc, 'org.hostdev1.conf'), 'w') as f:
                f.write(_FALLBACK_POLICY)
        if os.path.exists(POLKIT_CONF):
            shutil.copy(POLKIT_CONF, inc)
        conf = os.path.join(self.dir, 'system.conf')
        with open(conf, 'w') as f:
            f.write(_BUS_CONFIG.format(socket=self.socket, includedir=inc))
        self.log = open(os.path.join(self.dir, 'dbus-daemon.log'), 'w')
        self.proc = subprocess.Popen(DIE_WITH_PARENT + ['dbus-daemon', '--config-file=' + conf,
                                                        '--nofork', '--print-address'],
                                     stdout=subprocess.PIPE, stderr=self.log, env=clean_env(),
                                     text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError('dbus-daemon did not start')
        os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = self.address
        return self

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
            self.log.close()


def _bind(src, dst):
    subprocess.run(['mount', '--bind', src, dst], check=True)


class Namespace:
    """What the private mount namespace holds: polkit's directories and the
    test identities. Set up once per test process."""

    _instance = None

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = cls()
            atexit.register(shutil.rmtree, cls._instance.dir, True)
        return cls._instance

    def __init__(self):
        from . import sandbox
        if not sandbox.in_namespace():
            raise RuntimeError('not in the private mount namespace (call sandbox.enter())')
        self.dir = tempfile.mkdtemp(prefix='hostdev-ns.', dir=paths.tmpdir())
        os.chmod(self.dir, 0o755)
        self.actions = self._mkdir('actions')
        self.rules = self._mkdir('rules.d')
        self.empty = self._mkdir('empty')
        for policy in glob.glob(os.path.join(paths.POLKIT_DIR, '*.policy')):
            shutil.copy(policy, self.actions)
        for rules in glob.glob(os.path.join(paths.POLKIT_DIR, '*.rules*')):
            name = os.path.basename(rules).replace('.rules.example', '.rules')
            shutil.copy(rules, os.path.join(self.rules, name))
        for rules in glob.glob(os.path.join(paths.TEST_RULES_DIR, '*.rules')):
            shutil.copy(rules, self.rules)
        for d in (self.rules, self.actions):
            for f in os.listdir(d):
                os.chmod(os.path.join(d, f), 0o644)  # polkitd reads them as its own user
        for d in ('/usr/share/polkit-1/actions', '/etc/polkit-1/rules.d',
                  '/usr/share/polkit-1/rules.d'):
            os.makedirs(d, exist_ok=True)
        _bind(self.actions, '/usr/share/polkit-1/actions')
        _bind(self.rules, '/etc/polkit-1/rules.d')
        _bind(self.empty, '/usr/share/polkit-1/rules.d')
        self._identities()

    def _mkdir(self, name):
        d = os.path.join(self.dir, name)
        os.makedirs(d)
        os.chmod(d, 0o755)
        return d

    def _identities(self):
        passwd = os.path.join(self.dir, 'passwd')
        group = os.path.join(self.dir, 'group')
        with open('/etc/passwd') as f:
            text = f.read()
        with open(passwd, 'w') as f:
            f.write(text + '%s:x:%d:%d:hostdev test operator:/nonexistent:/usr/sbin/nologin\n'
                    % (OPERATOR, OPERATOR_UID, OPERATOR_GID))
            for name, uid in TENANTS.items():
                f.write('%s:x:%d:%d:hostdev test tenant:/nonexistent:/usr/sbin/nologin\n' % (name, uid, uid))
        with open('/etc/group') as f:
            text = f.read()
        with open(group, 'w') as f:
            f.write(text + 'hostdev:x:%d:%s\n' % (OPERATOR_GID, OPERATOR))
            for name, uid in TENANTS.items():
                f.write('%s:x:%d:%s\n' % (name, uid, name))
        for p in (passwd, group):
            os.chmod(p, 0o644)
        _bind(passwd, '/etc/passwd')
        _bind(group, '/etc/group')

    def add_rules(self, name, text):
        """Add a polkit rules file; polkitd reloads its rules on changes."""
        p = os.path.join(self.rules, name)
        with open(p, 'w') as f:
            f.write(text)
        os.chmod(p, 0o644)


class Polkitd:
    def __init__(self, bus, log_path):
        self.bus = bus
        self.log_path = log_path
        self.proc = None

    def start(self, timeout=10):
        from .client import Client
        self.log = open(self.log_path, 'w')
        # Started as root, polkitd drops to its own user by itself (which
        # clears the parent-death signal; the bus going away ends it then).
        self.proc = subprocess.Popen(
            DIE_WITH_PARENT + [POLKITD, '--no-debug'],
            env=clean_env({'DBUS_SYSTEM_BUS_ADDRESS': self.bus.address}),
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        client = Client(self.bus.address)
        deadline = time.monotonic() + timeout
        try:
            while not client.name_has_owner('org.freedesktop.PolicyKit1'):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('polkitd did not start:\n' + open(self.log_path).read())
                time.sleep(0.02)
        finally:
            client.close()
        return self

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()
