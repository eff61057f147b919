"""What the resource group tests add to the harness.

* Identities and polkit rules for them, in the private namespace:
    hostdev-rgadmin (64010)  member of "hostdev-rgadmins", which the test
                             rules let manage resource groups
    hostdev-scoped (64011)   may manage only the group named SCOPED_GROUP,
                             and make a resource only of SCOPED_DEVICE; may
                             prepare the devices of SCOPED_GROUP only: the
                             rules read the details hostdevd passes
    hostdev-capture (64012)  may set the rules of the group named
                             CAPTURE_GROUP only, and only to rules that take
                             SCOPED_DEVICE alone (the "devices" detail)
  plus the harness's own: nobody (65534) and hostdev-operator (64000,
  group "hostdev", allowed by the project's example rules).
* call_as(): a D-Bus call made by a separate process running as a given
  user, so that the bus and polkitd see that user.
* Rules as a{sv} with the field types of the contract, and a model of
  which devices of a host description a group's rules take.
* The store: its path, and store-tool to read and write gdbm files.
* MockPolkitd: python-dbusmock's polkitd template in place of polkitd.
* GroupsTestCase: the base class of the tests in tests/groups.
"""

import fnmatch
import json
import os
import signal
import subprocess
import sys
import time

from gi.repository import Gio, GLib

from . import bus, hostspec, paths
from .bus import Namespace
from .case import HostdevTestCase
from .client import CallError, Client, run_as

PYTHON = '/usr/bin/python3'
MANAGER = 'org.hostdev1.Manager'
RG_IFACE = 'org.hostdev1.ResourceGroup'
DEVICE_IFACE = 'org.hostdev1.Device'
RG_PREFIX = hostspec.ROOT_PATH + '/resource_group/'
MANAGE_ACTION = 'org.hostdev1.manage-resource-groups'

ROOT = 0
NOBODY = bus.NOBODY
OPERATOR = bus.OPERATOR_UID
RG_ADMIN = 64010
SCOPED = 64011
SCOPED_GROUP = 'scoped-pool'
SCOPED_DEVICE = '0000:05:00.0'
CAPTURE_ADMIN = 64012
CAPTURE_GROUP = 'capture'
PREPARE_ACTION = 'org.hostdev1.prepare-devices'

ERR_ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
ERR_INVALID = 'org.hostdev1.Error.InvalidArgument'
ERR_NOT_FOUND = 'org.hostdev1.Error.NotFound'
ERR_EXISTS = 'org.hostdev1.Error.Exists'
ERR_BUSY = 'org.hostdev1.Error.Busy'

TEST_RULES = '''// Test rules of the resource group tests.
polkit.addRule(function(action, subject) {
    if (action.id == "%(action)s" && subject.isInGroup("hostdev-rgadmins"))
        return polkit.Result.YES;
});

polkit.addRule(function(action, subject) {
    if (action.id == "%(action)s" && subject.user == "hostdev-scoped" &&
        (action.lookup("resource-group-name") == "%(group)s" || action.lookup("device") == "%(device)s"))
        return polkit.Result.YES;
});

polkit.addRule(function(action, subject) {
    if (action.id == "%(prepare)s" && subject.user == "hostdev-scoped" &&
        action.lookup("resource-group-name") == "%(group)s")
        return polkit.Result.YES;
});

polkit.addRule(function(action, subject) {
    if (action.id == "%(action)s" && subject.user == "hostdev-capture" &&
        /^g[0-9a-f]{32}$/.test(action.lookup("resource-group") || "") &&
        action.lookup("resource-group-name") == "%(capture)s" &&
        action.lookup("devices") == "%(device)s")
        return polkit.Result.YES;
});
''' % {'action': MANAGE_ACTION, 'prepare': PREPARE_ACTION, 'group': SCOPED_GROUP,
       'device': SCOPED_DEVICE, 'capture': CAPTURE_GROUP}

_identities_done = False


def install_identities():
    """Add the test users, groups and polkit rules to the namespace.

    Runs before polkitd starts (the first SharedBus) so that its first
    reading of the rules has them. The passwd and group files written are
    the namespace's private copies, bind-mounted over /etc."""
    global _identities_done
    if _identities_done:
        return
    ns = Namespace.get()
    with open(os.path.join(ns.dir, 'passwd'), 'a') as f:
        f.write('hostdev-rgadmin:x:%d:%d:resource group admin:/nonexistent:/usr/sbin/nologin\n'
                % (RG_ADMIN, RG_ADMIN))
        f.write('hostdev-scoped:x:%d:%d:scoped manager:/nonexistent:/usr/sbin/nologin\n'
                % (SCOPED, SCOPED))
        f.write('hostdev-capture:x:%d:%d:capture group manager:/nonexistent:/usr/sbin/nologin\n'
                % (CAPTURE_ADMIN, CAPTURE_ADMIN))
    with open(os.path.join(ns.dir, 'group'), 'a') as f:
        f.write('hostdev-rgadmins:x:%d:hostdev-rgadmin\n' % RG_ADMIN)
        f.write('hostdev-scoped:x:%d:\n' % SCOPED)
        f.write('hostdev-capture:x:%d:\n' % CAPTURE_ADMIN)
    ns.add_rules('60-hostdev-groups-test.rules', TEST_RULES)
    _identities_done = True


# ----------------------------------------------------------------------
# calls as another user

_CALL_SCRIPT = r'''
import json, sys
from gi.repository import Gio, GLib
address, dest, path, iface, method, sig, params, timeout, interactive = sys.argv[1:]
conn = Gio.DBusConnection.new_for_address_sync(
    address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
    Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
args = GLib.Variant.parse(GLib.VariantType(sig), params, None, None) if sig else None
try:
    flags = Gio.DBusCallFlags.NO_AUTO_START
    if interactive == '1':
        flags |= Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION
    reply = conn.call_sync(dest, path, iface, method, args, None,
                           flags, int(float(timeout) * 1000), None)
    print(json.dumps({'reply': reply.print_(True) if reply is not None else None}))
except GLib.Error as e:
    name = Gio.DBusError.get_remote_error(e) or 'GLib.Error:%s:%d' % (e.domain, e.code)
    prefix = 'GDBus.Error:%s: ' % name
    message = e.message[len(prefix):] if e.message.startswith(prefix) else e.message
    print(json.dumps({'error': name, 'message': message}))
'''


def call_as(address, uid, path, interface, method, params=None, dest=hostspec.BUS_NAME,
            timeout=30, interactive=True):
    """Call a method from a process running as `uid` (with the groups of
    its passwd entry). Like hostdevctl, the call allows interactive
    authorization (the D-Bus header flag) unless `interactive` is False.
    Returns the unpacked reply; raises CallError."""
    sig = params.get_type_string() if params is not None else ''
    text = params.print_(True) if params is not None else ''
    argv = [PYTHON, '-c', _CALL_SCRIPT, address, dest, path, interface, method, sig, text,
            str(timeout), '1' if interactive else '0']
    env = bus.clean_env({'DBUS_SYSTEM_BUS_ADDRESS': address})
    p = run_as(argv, uid=uid, groups=True, env=env, timeout=timeout + 30)
    if p.returncode != 0 or not p.stdout.strip():
        raise AssertionError('call as uid %d failed to run (%d):\n%s' % (uid, p.returncode, p.stderr))
    out = json.loads(p.stdout.strip().splitlines()[-1])
    if 'error' in out:
        raise CallError(out['error'], out['message'])
    if out['reply'] is None:
        return ()
    return GLib.Variant.parse(None, out['reply'], None, None).unpack()


# ----------------------------------------------------------------------
# rules

# The field types of org.hostdev1.ResourceGroup.Rules.
FIELD_TYPES = {
    'vendor-id': 'q', 'product-id': 'q', 'subsystem-vendor-id': 'q', 'subsystem-id': 'q',
    'class': 'u', 'class-mask': 'u', 'vendor-name': 's', 'product-name': 's',
    'address': 's', 'slot': 's', 'serial': 's', 'driver': 's', 'numa-node': 'i',
    'physical-function': 's', 'port-path': 's',
}


def rule_variants(rule):
    """{field: value} -> {field: GLib.Variant}; values that are already
    variants (for tests of wrong types) and unknown fields pass as given."""
    out = {}
    for k, v in rule.items():
        if isinstance(v, GLib.Variant):
            out[k] = v
        else:
            out[k] = GLib.Variant(FIELD_TYPES.get(k, 's'), v)
    return out


def rules_variant(rules):
    return GLib.Variant('aa{sv}', [rule_variants(r) for r in rules])


def options_variant(options):
    """{key: python value or GLib.Variant} -> a{sv}; rules lists become aa{sv}."""
    return GLib.Variant('a{sv}', option_dict(options))


def option_dict(options):
    """{key: python value or GLib.Variant} -> {key: GLib.Variant}."""
    out = {}
    for k, v in options.items():
        if isinstance(v, GLib.Variant):
            out[k] = v
        elif isinstance(v, bool):
            out[k] = GLib.Variant('b', v)
        elif isinstance(v, str):
            out[k] = GLib.Variant('s', v)
        elif isinstance(v, list):
            out[k] = rules_variant(v)
        else:
            raise TypeError('option %s: %r' % (k, v))
    return out


def canonical_address(a):
    return a if a.count(':') == 2 else '0000:' + a


def accepts(group_type, dev):
    """Which devices a group type can hold: pci - PCI functions but PCI
    bridges (class 0604xx); sriov-nic - virtual functions; usb - USB
    devices (root hubs are not published); vgpu - none yet."""
    if group_type == 'pci':
        return dev['kind'] == 'pci' and not dev['class'].startswith('0604')
    if group_type == 'sriov-nic':
        return dev['kind'] == 'pci' and bool(dev.get('physfn'))
    if group_type == 'usb':
        # Hubs (class 09) and root hubs are never members.
        return dev['kind'] == 'usb' and not dev['root_hub'] and dev['device_class'] != '09'
    return False


def _glob(pattern, value, casefold=False):
    if value is None:
        return False
    if casefold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def field_matches(field, value, rule, dev):
    """One field of a rule against a device of a host description, as
    the contract describes the fields."""
    pci = dev['kind'] == 'pci'
    if field == 'vendor-id':
        return int(dev['vendor_id'], 16) == value
    if field == 'product-id':
        return int(dev['device_id'] if pci else dev['product_id'], 16) == value
    if field == 'subsystem-vendor-id':
        return pci and int(dev['subsystem_vendor_id'], 16) == value
    if field == 'subsystem-id':
        return pci and int(dev['subsystem_id'], 16) == value
    if field == 'class':
        mask = rule.get('class-mask', 0xffffff)
        if not pci:
            return value in [int(dev['device_class'], 16)] + [int(i['cls'], 16)
                                                             for i in dev['interfaces']]
        return (int(dev['class'], 16) & mask) == (value & mask)
    if field == 'class-mask':
        return True
    if field == 'vendor-name':
        return _glob(value, dev.get('vendor_name'), casefold=True)
    if field == 'product-name':
        return _glob(value, dev.get('product_name'), casefold=True)
    if field == 'address':
        return pci and _glob(value if any(c in value for c in '*?[') else canonical_address(value),
                             dev['address'])
    if field == 'slot':
        return pci and dev.get('slot') == value
    if field == 'serial':
        return dev.get('serial') == value
    if field == 'driver':
        return dev.get('driver') == value
    if field == 'numa-node':
        return pci and dev['numa_node'] == value
    if field == 'physical-function':
        return pci and dev.get('physfn') == canonical_address(value)
    if field == 'port-path':
        return not pci and _glob(value, dev['address'])
    raise KeyError(field)


def rule_matches(rule, dev):
    return all(field_matches(f, v, rule, dev) for f, v in rule.items())


def expected_members(devices, group_type, rules):
    """Addresses of the devices (host description entries) a group of
    this type and rules takes, sorted as Devices is."""
    out = [d['address'] for d in devices
           if accepts(group_type, d) and any(rule_matches(r, d) for r in rules)]
    return sorted(out, key=address_key)


def expected_available(host, addresses):
    """Free members among the devices at `addresses` when nothing is
    claimed, from the host description: a member is a PCI function's IOMMU
    group (companions count once), or a USB device; a group with a
    function the host needs (its bridges aside) has no free member, nor is
    a USB device the host needs (the only keyboard) one."""
    from . import critical
    taken = set(addresses)
    reasons = critical.expected_reasons(host, critical.storage_reasons(host))
    blocked = {d['iommu_group'] for d in host.pci
               if d['address'] in reasons and not d['class'].startswith('06')}
    groups = {('iommu', d['iommu_group']) if d.get('iommu_group') is not None else ('dev', d['address'])
              for d in host.pci if d['address'] in taken and d.get('iommu_group') not in blocked}
    return len(groups) + sum(1 for d in host.usb if d['address'] in taken and d['address'] not in reasons)


def address_key(address):
    """Addresses in their natural order: PCI by domain, bus, device and
    function; USB by bus, then port by port ("1-3.2" before "2-1")."""
    if ':' in address:
        return tuple(int(x, 16) for x in address.replace('.', ':').split(':'))
    bus_number, ports = address.split('-', 1)
    return (int(bus_number),) + tuple(int(p) for p in ports.split('.'))


def device_path(host, address):
    for d in host.pci + host.usb:
        if d['address'] == address:
            return hostspec.device_path(d)
    raise KeyError(address)


# ----------------------------------------------------------------------
# the store

STORE_FILE = 'hostdev.db'


def store_tool():
    return os.environ.get('HOSTDEV_STORE_TOOL') or \
        os.path.join(paths.BUILD_ROOT, 'tests', 'groups', 'store-tool')


def store_dump(path):
    """{key: value} of a gdbm file, read with libgdbm; raises when the
    file cannot be read."""
    p = subprocess.run([store_tool(), 'dump', path], capture_output=True, text=True,
                       env=bus.clean_env())
    if p.returncode != 0:
        raise AssertionError('store-tool cannot read %s: %s' % (path, p.stderr.strip()))
    out = {}
    for line in p.stdout.splitlines():
        k, v = line.split('\t', 1)
        out[_unescape(k)] = _unescape(v)
    return out


def _unescape(s):
    return s.replace('\\n', '\n').replace('\\t', '\t').replace('\\\\', '\\')


def store_write(path, records):
    """A new gdbm file holding exactly these records."""
    argv = [store_tool(), 'write', path]
    for k, v in records.items():
        argv += [k, v]
    subprocess.run(argv, check=True, env=bus.clean_env())


# ----------------------------------------------------------------------
# calls that are answered later

class PendingCall:
    """An asynchronous call from this process; its reply is dispatched by
    the default main context (SignalRecorder.pump, wait())."""

    def __init__(self, client, path, interface, method, params=None, timeout=90):
        self.done = False
        self.reply = None
        self.error = None
        self.what = '%s.%s' % (interface, method)
        self.started = time.monotonic()
        self.finished = None
        client.conn.call(hostspec.BUS_NAME, path, interface, method, params, None,
                         Gio.DBusCallFlags.NO_AUTO_START, int(timeout * 1000), None, self._done)

    def _done(self, conn, result):
        try:
            reply = conn.call_finish(result)
            self.reply = reply.unpack() if reply is not None else ()
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e) or 'GLib.Error:%s:%d' % (e.domain, e.code)
            self.error = CallError(name, e.message)
        self.finished = time.monotonic()
        self.done = True

    def wait(self, timeout=90):
        """Dispatch until the reply is in; returns the reply or raises its error."""
        deadline = time.monotonic() + timeout
        ctx = GLib.MainContext.default()
        while not self.done:
            if time.monotonic() > deadline:
                raise AssertionError('%s not answered within %gs' % (self.what, timeout))
            ctx.iteration(False)
            time.sleep(0.005)
        if self.error:
            raise self.error
        return self.reply

    def elapsed(self):
        return (self.finished or time.monotonic()) - self.started


def wait_name_released(client, name, timeout=10):
    deadline = time.monotonic() + timeout
    while client.name_has_owner(name):
        if time.monotonic() > deadline:
            raise AssertionError('%s still owned after %gs' % (name, timeout))
        time.sleep(0.01)


# ----------------------------------------------------------------------
# polkitd replaced by python-dbusmock

POLKIT_NAME = 'org.freedesktop.PolicyKit1'
POLKIT_PATH = '/org/freedesktop/PolicyKit1/Authority'
POLKIT_IFACE = 'org.freedesktop.PolicyKit1.Authority'
MOCK_IFACE = 'org.freedesktop.DBus.Mock'


class MockPolkitd:
    """The polkitd template of python-dbusmock, owning polkitd's name on
    the private bus; it runs as the polkitd user because the bus policy
    lets only that user own the name."""

    def __init__(self, address, log_path):
        self.address = address
        self.log_path = log_path
        self.proc = None
        self.client = Client(address)

    def start(self, timeout=15):
        wait_name_released(self.client, POLKIT_NAME)
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(
            ['setpriv', '--reuid=polkitd', '--regid=polkitd', '--init-groups',
             PYTHON, '-m', 'dbusmock', '--system', '--template', 'polkitd'],
            env=bus.clean_env({'DBUS_SYSTEM_BUS_ADDRESS': self.address}),
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.client.name_has_owner(POLKIT_NAME):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('dbusmock polkitd did not start:\n' + open(self.log_path).read())
            time.sleep(0.02)
        return self

    def mock(self, method, params=None):
        return self.client.call(POLKIT_PATH, MOCK_IFACE, method, params, dest=POLKIT_NAME)

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
        deadline = time.monotonic() + 10
        while self.client.name_has_owner(POLKIT_NAME) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.client.close()


# ----------------------------------------------------------------------

class GroupsTestCase(HostdevTestCase):
    """HostdevTestCase with the identities above, and calls and checks for groups."""

    @classmethod
    def setUpClass(cls):
        from . import sandbox
        if sandbox.in_namespace():
            install_identities()
        super().setUpClass()

    def setUp(self):
        # polkitd decides every change here: if it died since the last
        # test, say so with its log (and start it again) instead of
        # letting every later test fail with "cannot ask polkit"
        polkitd = self.shared.polkitd
        if polkitd.proc is not None and polkitd.proc.poll() is not None:
            with open(polkitd.log_path, errors='replace') as f:
                log = f.read()[-3000:]
            sys.stderr.write('\npolkitd exited with status %d; its log:\n%s\n'
                             % (polkitd.proc.returncode, log))
            polkitd.proc = None
            polkitd.log.close()
            polkitd.start()
        super().setUp()

    # --- paths -------------------------------------------------------------
    @property
    def state_dir(self):
        return os.path.join(self.workdir, 'state')

    @property
    def store_path(self):
        return os.path.join(self.state_dir, STORE_FILE)

    def store_bytes(self):
        """The store file's bytes, None when there is none."""
        try:
            with open(self.store_path, 'rb') as f:
                return f.read()
        except FileNotFoundError:
            return None

    def dev_path(self, address):
        return device_path(self.host_description(), address)

    # --- calls ---------------------------------------------------------------
    def call(self, caller, path, interface, method, params=None, timeout=30, interactive=True):
        """A call as root (in this process) or as another uid."""
        if caller == ROOT:
            return self.client.call(path, interface, method, params, timeout=timeout)
        return call_as(self.shared.address, caller, path, interface, method, params,
                       timeout=timeout, interactive=interactive)

    def call_error(self, caller, path, interface, method, params=None, timeout=30):
        try:
            reply = self.call(caller, path, interface, method, params, timeout)
        except CallError as e:
            return e
        self.fail('%s.%s on %s as uid %d succeeded (%r), expected an error'
                  % (interface, method, path, caller, reply))

    def create(self, name, group_type='pci', rules=None, caller=ROOT, **options):
        """CreateResourceGroup; returns the group's object path."""
        return self.call(caller, hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                         create_args(name, group_type, rules, options))[0]

    def make_resource(self, addresses, name, caller=ROOT, **options):
        """MakeResource; returns (group path, companion paths)."""
        devices = [self.dev_path(a) for a in addresses]
        return self.call(caller, hostspec.ROOT_PATH, MANAGER, 'MakeResource',
                         make_args(devices, name, options))

    def update(self, path, caller=ROOT, **options):
        return self.call(caller, path, RG_IFACE, 'Update',
                         GLib.Variant.new_tuple(options_variant(options)))

    def set_rules(self, path, rules, caller=ROOT):
        return self.call(caller, path, RG_IFACE, 'SetRules',
                         GLib.Variant.new_tuple(rules_variant(rules)))

    def delete(self, path, caller=ROOT, **options):
        return self.call(caller, path, RG_IFACE, 'Delete',
                         GLib.Variant.new_tuple(options_variant(options)))

    def props(self, path):
        return self.client.get_all(path, RG_IFACE)

    def device_group(self, address):
        return self.client.get(self.dev_path(address), DEVICE_IFACE, 'ResourceGroup')

    def groups(self):
        """{path: ResourceGroup properties} of every group published."""
        objs = self.client.managed_objects()
        return {p: ifaces[RG_IFACE] for p, ifaces in objs.items() if RG_IFACE in ifaces}

    def memberships(self):
        """{device address: Device.ResourceGroup} of every device."""
        objs = self.client.managed_objects()
        return {ifaces[DEVICE_IFACE]['Address']: ifaces[DEVICE_IFACE]['ResourceGroup']
                for ifaces in objs.values() if DEVICE_IFACE in ifaces}

    def snapshot(self):
        """Everything a refused call must leave alone. hostdevd may still
        be writing the store for an earlier change (it records the serials
        of new members after its reply): wait until the file is stable."""
        self.settle_store()
        objs = self.client.managed_objects()
        return {'store': self.store_bytes(),
                'groups': {p: i[RG_IFACE] for p, i in objs.items() if RG_IFACE in i},
                'memberships': {i[DEVICE_IFACE]['Address']: i[DEVICE_IFACE]['ResourceGroup']
                                for i in objs.values() if DEVICE_IFACE in i}}

    def settle_store(self, quiet=0.2, timeout=10):
        """Wait until the store file was last written `quiet` seconds ago
        (each save replaces the file, so its mtime is that of the save)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                age = time.time() - os.stat(self.store_path).st_mtime
            except FileNotFoundError:
                age = quiet
            if age >= quiet:
                return
            if time.monotonic() > deadline:
                self.fail('the store file kept changing for %gs' % timeout)
            time.sleep(min(quiet - age, quiet) + 0.01)

    def assertUnchanged(self, before, what):
        after = self.snapshot()
        self.assertEqual(after['groups'], before['groups'], '%s changed the groups' % what)
        self.assertEqual(after['memberships'], before['memberships'],
                         '%s changed memberships' % what)
        self.assertTrue(after['store'] == before['store'],
                        '%s changed the store file' % what)

    def assertCallError(self, err, name, *fragments):
        """A named error with a message that says what is wrong; fragments
        must appear in the message (case-insensitive)."""
        self.assertEqual(err.name, name, 'error %s: %s' % (err.name, err.message))
        message = error_message(err)
        self.assertTrue(message.strip(), 'error %s without a message' % name)
        for frag in fragments:
            self.assertIn(frag.lower(), message.lower(),
                          'message of %s does not name %r: %s' % (name, frag, message))

    def refused(self, what, func, error=ERR_ACCESS_DENIED):
        """func() must fail with `error` and leave the groups, the
        memberships and the store file exactly as they were. A subtest, so
        that what the test does next is tried even when this fails."""
        with self.subTest(refused=what):
            before = self.snapshot()
            with self.assertRaises(CallError, msg=what) as cm:
                func()
            self.assertUnchanged(before, what)
            self.assertCallError(cm.exception, error)
            return cm.exception

    def expected_devices(self, group_type, rules, host=None):
        host = host or self.host_description()
        addrs = expected_members(host.pci + host.usb, group_type, rules)
        return [device_path(host, a) for a in addrs]

    # --- daemon life -------------------------------------------------------
    def kill_daemon(self):
        """SIGKILL hostdevd, as a crash or power cut would stop it."""
        proc = self.daemon.proc
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        self.daemon.proc = None
        self.daemon.log.close()
        self.wait_name_gone()

    def wait_name_gone(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.client.name_has_owner(hostspec.BUS_NAME):
            if time.monotonic() > deadline:
                self.fail('%s still owned %gs after hostdevd died' % (hostspec.BUS_NAME, timeout))
            time.sleep(0.01)

    def start_daemon(self):
        self.daemon.start()

    def stop_daemon(self):
        problems = self.daemon.stop()
        if problems:
            self.fail('\n'.join(problems))
        self.wait_name_gone()

    def start_daemon_expecting_failure(self, timeout=30):
        """Start hostdevd when it must refuse to run; returns (status, log)."""
        self.daemon.start(wait=False)
        proc = self.daemon.proc
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.daemon.stop()
            self.fail('hostdevd kept running, expected it to refuse to start')
        self.daemon.proc = None
        self.daemon.log.close()
        owner = self.client.name_has_owner(hostspec.BUS_NAME)
        self.assertFalse(owner, 'hostdevd owned %s before exiting' % hostspec.BUS_NAME)
        return rc, self.daemon.log_text()


def error_message(err):
    """The message of a CallError without GDBus's "GDBus.Error:NAME: " prefix."""
    prefix = 'GDBus.Error:%s: ' % err.name
    return err.message[len(prefix):] if err.message.startswith(prefix) else err.message


def create_args(name, group_type, rules=None, options=None):
    opts = dict(options or {})
    if rules is not None:
        opts['rules'] = rules
    return GLib.Variant('(ssa{sv})', (name, group_type, option_dict(opts)))


def make_args(devices, name, options=None):
    return GLib.Variant('(aosa{sv})', (devices, name, option_dict(options or {})))
