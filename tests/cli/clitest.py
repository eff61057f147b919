"""Shared pieces of the hostdevctl tests: running the real binary against
the real hostdevd of the harness, reading its tables and key/value output,
and what host.json says the output must be."""

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness  # noqa: E402
from harness import hostspec, paths  # noqa: E402
from harness.bus import clean_env  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.critical import MountTable, expected_reasons, reasons_match, storage_reasons  # noqa: E402
from harness.groups import RG_IFACE, GroupsTestCase, expected_members  # noqa: E402
from gi.repository import GLib  # noqa: E402

main = harness.main

LIST_COLUMNS = ['ADDRESS', 'KIND', 'VENDOR', 'PRODUCT', 'DRIVER', 'GROUP', 'STATE']
ELLIPSIS = '\u2026'


def cli_env(bus_address, extra=None):
    """hostdevctl runs as an ordinary program would: no umockdev preload,
    no HOSTDEV_* variables, a UTF-8 locale, no $COLUMNS unless asked."""
    env = clean_env({'DBUS_SYSTEM_BUS_ADDRESS': bus_address, 'LANG': 'C.UTF-8'})
    env.pop('COLUMNS', None)
    env.pop('LC_ALL', None)
    env.update(extra or {})
    return env


def run_cli(args, env, timeout=30):
    return subprocess.run([paths.cli_binary()] + list(args), env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def run_cli_on_tty(args, env, columns, rows=50, timeout=30):
    """Run hostdevctl with stdout on a pseudo-terminal of the given size.
    Returns (exit status, stdout text with \\n line ends, stderr text)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', rows, columns, 0, 0))
    # no \n -> \r\n translation, so the text is exactly what was written
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen([paths.cli_binary()] + list(args), env=env, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = b''
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:      # EIO: the last writer closed the terminal
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError('hostdevctl %s did not finish on a terminal' % ' '.join(args))
        err = proc.stderr.read().decode()
        rc = proc.wait(timeout)
    finally:
        proc.stderr.close()
        os.close(master)
    return rc, out.decode(), err


def parse_table(text):
    """A table printed by hostdevctl: (header, rows). Columns are cut at
    the header's column starts, which is exact for left-aligned columns."""
    lines = text.splitlines()
    header = lines[0].split()
    starts = [lines[0].index(h) for h in header]
    rows = []
    for line in lines[1:]:
        cells = []
        for i, s in enumerate(starts):
            e = starts[i + 1] if i + 1 < len(starts) else None
            cells.append(line[s:e].rstrip())
        rows.append(cells)
    return header, rows


def parse_key_values(text):
    """`hostdevctl show` output: {key: [value line, ...]} in order."""
    lines = text.splitlines()
    width = lines[0].index(': ')
    out = {}
    key = None
    for line in lines:
        if line[:width].strip() and line[width:width + 2] == ': ':
            key = line[:width].strip()
            out[key] = [line[width + 2:]]
        else:
            if key is None or line[:width + 2].strip():
                raise AssertionError('unexpected line in show output: %r' % line)
            out[key].append(line[width + 2:])
    return out


def pci_sort_key(address):
    domain, bus, devfn = address.split(':')
    dev, fn = devfn.split('.')
    return tuple(int(x, 16) for x in (domain, bus, dev, fn))


def usb_sort_key(address):
    bus, ports = address.split('-')
    return (int(bus), [int(p) for p in ports.split('.')])


def sorted_devices(host):
    """The order of `hostdevctl list`: PCI by address, then USB by bus and ports."""
    return sorted(host.pci, key=lambda d: pci_sort_key(d['address'])) + \
        sorted(host.published_usb, key=lambda d: usb_sort_key(d['address']))


def product_id(dev):
    return dev['device_id'] if dev['kind'] == 'pci' else dev['product_id']


def driver(dev, iommu=True):
    """The driver a device has on the simulated host: without an IOMMU,
    vfio-pci cannot bind, so the devices meant for it have none."""
    if not iommu and hostspec.is_prepared_driver(dev['driver']):
        return None
    return dev['driver']


def state(dev, iommu=True):
    return hostspec.expected_state(dict(dev, driver=driver(dev, iommu)))


def expected_row(dev, iommu=True):
    group = dev.get('iommu_group') if dev['kind'] == 'pci' and iommu else None
    return [
        dev['address'],
        dev['kind'],
        dev['vendor_name'] or dev['vendor_id'].lower(),
        dev['product_name'] or product_id(dev).lower(),
        driver(dev, iommu) or '-',
        '-' if group is None else str(group),
        state(dev, iommu),
    ]


COMMON_KEYS = {'object_path', 'kind', 'address', 'sysfs_path', 'vendor_id', 'product_id',
               'vendor_name', 'product_name', 'serial', 'driver', 'numa_node', 'iommu_group',
               'state', 'resource_group', 'critical', 'critical_reasons'}
# checked apart, by the rules of harness.critical
CRITICAL_KEYS = ('critical', 'critical_reasons')
PCI_KEYS = COMMON_KEYS | {'class', 'class_name', 'subsystem_vendor_id', 'subsystem_id', 'slot',
                          'link_speed', 'link_width', 'reset_methods', 'boot_vga',
                          'physical_function', 'virtual_function_index', 'sriov'}
USB_KEYS = COMMON_KEYS | {'bus_number', 'device_number', 'port_path', 'speed', 'dev_node',
                          'authorized'}


def expected_json(host, dev, iommu=True):
    """One element of `hostdevctl list --json`, as hostdevctl(1) documents
    it, from the description of the device, in no resource group
    (sysfs_path and CRITICAL_KEYS are checked apart)."""
    pci = dev['kind'] == 'pci'
    group = dev.get('iommu_group') if pci and iommu else None
    numa = dev.get('numa_node') if pci else None
    out = {
        'object_path': hostspec.device_path(dev),
        'kind': dev['kind'],
        'address': dev['address'],
        'vendor_id': dev['vendor_id'].lower(),
        'product_id': product_id(dev).lower(),
        'vendor_name': dev['vendor_name'] or None,
        'product_name': dev['product_name'] or None,
        'serial': dev['serial'] or None,
        'driver': driver(dev, iommu) or None,
        'numa_node': numa if numa is not None and numa >= 0 else None,
        'iommu_group': group,
        'state': state(dev, iommu),
        'resource_group': None,
    }
    if pci:
        pcie = dev.get('pcie')
        sriov = dev.get('sriov')
        out.update({
            'class': dev['class'].lower(),
            'class_name': dev['class_name'] or None,
            'subsystem_vendor_id': dev['subsystem_vendor_id'].lower(),
            'subsystem_id': dev['subsystem_id'].lower(),
            'slot': dev.get('slot') or None,
            # the kernel's "Unknown" (a VF has no link of its own) is no speed
            'link_speed': pcie['link_speed'] if pcie and pcie['link_speed'] != 'Unknown' else None,
            'link_width': pcie['link_width'] if pcie and pcie['link_width'] else None,
            'reset_methods': list(dev['reset_methods']),
            'boot_vga': bool(dev.get('boot_vga')),
            'physical_function': dev.get('physfn'),
            'virtual_function_index': dev.get('vf_index'),
            'sriov': None if not sriov else {
                'total_vfs': sriov['totalvfs'],
                'num_vfs': sriov['numvfs'],
                'virtual_functions': [vf['address'] for vf in host.virtual_functions(dev['address'])],
            },
        })
    else:
        out.update({
            'bus_number': dev['busnum'],
            'device_number': dev['devnum'],
            # the same string as the address and the port-path rule field
            'port_path': dev['address'],
            'speed': dev['speed'] or None,
            'dev_node': dev['devnode'] or None,
            'authorized': dev['authorized'],
        })
    return out


def described_groups(host):
    """host.json's IOMMU groups by number: ([member addresses], viable,
    {blocking address: driver})."""
    out = {}
    for g in host.data['iommu_groups']:
        out[g['number']] = (list(g['devices']), g['viable'],
                            {b['device']: b['driver'] for b in g['blockers']})
    return out


MAN_PAGE = os.path.join(paths.SOURCE_ROOT, 'docs', 'hostdevctl.1')


def polkit_action(name):
    """The id of a polkit action, checked against the shipped policy."""
    with open(os.path.join(paths.SOURCE_ROOT, 'polkit', 'org.hostdev1.policy.in')
              if os.path.exists(os.path.join(paths.SOURCE_ROOT, 'polkit', 'org.hostdev1.policy.in'))
              else os.path.join(paths.SOURCE_ROOT, 'polkit', 'org.hostdev1.policy')) as f:
        actions = re.findall(r'<action id="([^"]+)"', f.read())
    action = 'org.hostdev1.' + name
    assert action in actions, (action, actions)
    return action


def _man_text(line):
    """A line of roff as the reader sees it; placeholders (italics) kept as <WORD>."""
    line = re.sub(r'\\fI([A-Z_]+)\\fR', r'<\1>', line)
    for roff, text in ((r'\-', '-'), (r'\(aq', "'"), (r'\(lq', '"'), (r'\(rq', '"'),
                       (r'\fB', ''), (r'\fI', ''), (r'\fR', ''), (r'\~', ' ')):
        line = line.replace(roff, text)
    return line


def man_messages():
    """hostdevctl(1)'s MESSAGES: {key: text with <PLACEHOLDER>s}."""
    with open(MAN_PAGE) as f:
        lines = f.read().split('\n')
    start = lines.index('.SH MESSAGES')
    out = {}
    i = start + 1
    while i < len(lines) and not lines[i].startswith('.SH'):
        if lines[i] == '.TP' and lines[i + 1].startswith('.B '):
            out[_man_text(lines[i + 1][3:])] = _man_text(lines[i + 2])
            i += 3
        else:
            i += 1
    return out


def man_message(key, **values):
    """A regex for message `key` of hostdevctl(1) with the given values
    for its placeholders; placeholders not given match anything."""
    text = man_messages()[key]
    parts = re.split(r'<([A-Z_]+)>', text)
    out = ''
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out += re.escape(part)
        else:
            out += re.escape(values[part]) if part in values else '.+'
    return out


def daemon_message(error):
    """The text of a D-Bus error without the "GDBus.Error:NAME: " that GLib
    puts in front of remote errors."""
    prefix = 'GDBus.Error:%s: ' % error.name
    return error.message[len(prefix):] if error.message.startswith(prefix) else error.message


class CliTestCase(HostdevTestCase):
    """A fresh simulated host and hostdevd per test (see harness.case), and
    hostdevctl run against them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.access(paths.cli_binary(), os.X_OK):
            raise unittest.SkipTest('hostdevctl is not built (%s)' % paths.cli_binary())

    def env(self, **extra):
        return cli_env(self.shared.address, extra)

    def ctl(self, *args, env=None, expect=0):
        """Run hostdevctl; check its exit status unless expect is None."""
        r = run_cli(args, env or self.env())
        if expect is not None:
            self.assertEqual(r.returncode, expect,
                             'hostdevctl %s: exit status %d\nstdout:\n%s\nstderr:\n%s'
                             % (' '.join(args), r.returncode, r.stdout, r.stderr))
        return r

    def assertUsageError(self, r, pattern):
        """Exit status 2, nothing on stdout, one 'hostdevctl: ' line on stderr."""
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, '')
        self.assertRegex(r.stderr, r'\Ahostdevctl: ' + pattern)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    def assertFailure(self, r, pattern=''):
        """Exit status 1, nothing on stdout, one 'hostdevctl: ' line on stderr."""
        self.assertEqual(r.returncode, 1, 'stdout:\n%s\nstderr:\n%s' % (r.stdout, r.stderr))
        self.assertEqual(r.stdout, '')
        self.assertRegex(r.stderr, r'\Ahostdevctl: ' + pattern)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    def prepare_host(self):
        # host.json's own mounts as /proc/self/mountinfo: the host runs from
        # the NVMe drive, which makes it and its group mates critical. The
        # tests run in a network namespace without routes, so no NIC
        # carries a default route.
        MountTable(self.sim)

    def expected_critical(self):
        """{address: [(code, about)]} of every critical device, by the
        rules of harness.critical applied to host.json."""
        host = self.host_description()
        if self.iommu != 'enabled':
            host = host.copy()
            for dev in host.pci:
                dev['iommu_group'] = None
        return expected_reasons(host, storage_reasons(host))

    def assertReasons(self, address, reasons, want):
        """reasons ([{code, text}], as hostdevctl prints them in JSON) are
        those of want ([(code, about)])."""
        problem = reasons_match([(r['code'], r['text']) for r in reasons], want)
        self.assertIsNone(problem, '%s: %s' % (address, problem))

    def assertCriticalJson(self, got):
        """The critical keys of a device object say what host.json makes
        of the device; pops them."""
        want = self.expected_critical().get(got['address'], [])
        self.assertEqual(got.pop('critical'), bool(want), '%s: critical' % got['address'])
        self.assertReasons(got['address'], got.pop('critical_reasons'), want)

    def monitor(self, *args):
        m = Monitor(list(args), self.env())
        self.addCleanup(m.kill)
        return m


class ResourceCliTestCase(CliTestCase, GroupsTestCase):
    """hostdevctl against hostdevd, with the resource group helpers."""

    def members(self, group_type, rules):
        """Addresses a group of this type and rules ({field: python value}) takes."""
        host = self.host_description()
        return expected_members(host.pci + host.usb, group_type, rules)

    def group_by_name(self, name):
        """(path, ResourceGroup properties) of the group named `name`, read over D-Bus."""
        found = [(p, g) for p, g in self.groups().items() if g['Name'] == name]
        self.assertEqual(len(found), 1, 'groups named %r: %r' % (name, found))
        return found[0]

    def typed_rules(self, path):
        """Rules of a group with each value's D-Bus type: [{field: (type, value)}]."""
        reply = self.client.conn.call_sync(
            hostspec.BUS_NAME, path, 'org.freedesktop.DBus.Properties', 'Get',
            GLib.Variant('(ss)', (RG_IFACE, 'Rules')), None, 0, 10000, None)
        rules = reply.get_child_value(0).get_variant()
        out = []
        for i in range(rules.n_children()):
            rule = rules.get_child_value(i)
            fields = {}
            for j in range(rule.n_children()):
                entry = rule.get_child_value(j)
                value = entry.get_child_value(1).get_variant()
                fields[entry.get_child_value(0).get_string()] = (value.get_type_string(), value.unpack())
            out.append(fields)
        return out

    def member_line_ok(self, line, address):
        dev = self.host.pci_device(address)
        self.assertTrue(line.startswith(address + '  '), line)
        self.assertIn('%s %s' % (dev['vendor_name'], dev['product_name']), line)
        self.assertTrue(line.endswith('(%s)' % dev['driver'] if dev['driver'] else '(no driver)'), line)


class Monitor:
    """`hostdevctl monitor` reading from a pipe, as a script would."""

    READY = 'Monitoring hostdevd events'

    def __init__(self, args, env, timeout=10):
        self.proc = subprocess.Popen([paths.cli_binary(), 'monitor'] + args, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._out = b''
        self._err = b''
        self.lines = []
        # the line on stderr says the match rules are in place
        deadline = time.monotonic() + timeout
        while b'\n' not in self._err:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.kill()
                raise AssertionError('hostdevctl monitor did not start: %r'
                                     % (self._err + self.proc.stderr.read()).decode())
            ready, _, _ = select.select([self.proc.stderr], [], [], left)
            if ready:
                self._err += os.read(self.proc.stderr.fileno(), 4096)
        first = self._err.decode().splitlines()[0]
        if not first.startswith(self.READY):
            self.kill()
            raise AssertionError('hostdevctl monitor: %s' % first)

    def read_until(self, predicate, timeout=10, what='a line'):
        """Read lines until one satisfies predicate; returns all lines so far."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while not any(predicate(line) for line in self.lines):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('hostdevctl monitor: no %s within %gs; got:\n%s'
                                     % (what, timeout, '\n'.join(self.lines) or '(nothing)'))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            data = os.read(fd, 65536)
            if not data:
                raise AssertionError('hostdevctl monitor exited (%s); got:\n%s'
                                     % (self.proc.wait(), '\n'.join(self.lines)))
            self._out += data
            *complete, self._out = self._out.split(b'\n')
            self.lines += [c.decode() for c in complete]
        return self.lines

    def stop(self, sig=signal.SIGINT, timeout=10):
        """Send sig; returns (exit status, remaining stdout, stderr)."""
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, (self._out + out).decode(), (self._err + err).decode()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        for f in (self.proc.stdout, self.proc.stderr):
            if f and not f.closed:
                f.close()
