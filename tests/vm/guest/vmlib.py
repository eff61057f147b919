"""What the guest cases stand on: the kernel's own view (sysfs, read
directly), the ID databases, the system bus, the daemon, and TAP output.

Nothing here asks hostdevd what to expect: expectations come from sysfs,
pci.ids/usb.ids, VFIO's own verdict and the emulated hardware (FIXTURE in
cases.py).
"""

import fcntl
import os
import signal
import struct
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET

from gi.repository import Gio, GLib

BUS_NAME = 'org.hostdev1'
ROOT = '/org/hostdev1'
PROPS = 'org.freedesktop.DBus.Properties'
OBJMGR = 'org.freedesktop.DBus.ObjectManager'
MANAGER = 'org.hostdev1.Manager'
DEVICE = 'org.hostdev1.Device'
PCI = 'org.hostdev1.PciDevice'
USB = 'org.hostdev1.UsbDevice'
SRIOV = 'org.hostdev1.SriovPhysicalFunction'
GROUP = 'org.hostdev1.IommuGroup'
RESOURCE_GROUP = 'org.hostdev1.ResourceGroup'
SYS_PCI = '/sys/bus/pci/devices'
SYS_USB = '/sys/bus/usb/devices'
SYS_GROUPS = '/sys/kernel/iommu_groups'
TIMEOUT = 30  # seconds; TCG is slow, the daemon is not expected to be


class Skip(Exception):
    pass


def pci_path(addr):
    return '%s/pci/%s' % (ROOT, addr.replace(':', '_').replace('.', '_'))


def usb_path(name):
    return '%s/usb/%s' % (ROOT, name.replace('-', '_').replace('.', '_'))


def group_path(number):
    return '%s/iommu_group/%s' % (ROOT, number)


# --- the kernel's view ---------------------------------------------------------

def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        if default is None:
            raise
        return default


def write(path, value):
    with open(path, 'w') as f:
        f.write(value)


def link_name(path):
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return ''


def pci_addresses():
    return sorted(os.listdir(SYS_PCI))


def pci_info(addr):
    """One PCI function as sysfs has it."""
    d = os.path.join(SYS_PCI, addr)
    return {
        'address': addr,
        'syspath': os.path.realpath(d),
        'vendor': int(read(d + '/vendor'), 16),
        'device': int(read(d + '/device'), 16),
        'class': int(read(d + '/class'), 16),
        'subsystem_vendor': int(read(d + '/subsystem_vendor'), 16),
        'subsystem_device': int(read(d + '/subsystem_device'), 16),
        'driver': link_name(d + '/driver'),
        'group': link_name(d + '/iommu_group'),
        'numa_node': int(read(d + '/numa_node', '-1')),
        'reset_method': read(d + '/reset_method', '').split(),
        'link_speed': read(d + '/current_link_speed', ''),
        'link_width': read(d + '/current_link_width', ''),
        'serial': dsn(d + '/config'),
        'has_vpd': os.path.exists(d + '/vpd'),
        'totalvfs': read(d + '/sriov_totalvfs', ''),
        'numvfs': read(d + '/sriov_numvfs', ''),
        'physfn': link_name(d + '/physfn'),
    }


def dsn(config_path):
    """The PCIe Device Serial Number capability, as lspci prints it."""
    try:
        with open(config_path, 'rb') as f:
            cfg = f.read()
    except OSError:
        return ''
    off, seen = 0x100, set()
    while 0x100 <= off <= len(cfg) - 12 and off not in seen:
        seen.add(off)
        hdr, = struct.unpack_from('<I', cfg, off)
        if hdr in (0, 0xffffffff):
            break
        if hdr & 0xffff == 0x0003:
            low, high = struct.unpack_from('<II', cfg, off + 4)
            b = '%08x%08x' % (high, low)
            return '-'.join(b[i:i + 2] for i in range(0, 16, 2))
        off = (hdr >> 20) & 0xffc
    return ''


def find_pci(ids):
    """Addresses of the functions with (vendor, device) ids."""
    found = []
    for a in pci_addresses():
        d = os.path.join(SYS_PCI, a)
        if (int(read(d + '/vendor'), 16), int(read(d + '/device'), 16)) == ids:
            found.append(a)
    return found


def find_one_pci(ids, what):
    found = find_pci(ids)
    if len(found) != 1:
        raise AssertionError('expected one %s (%04x:%04x) in sysfs, found %r' % (what, ids[0], ids[1], found))
    return found[0]


def iommu_groups():
    """{number: sorted member addresses} from /sys/kernel/iommu_groups."""
    groups = {}
    for n in os.listdir(SYS_GROUPS):
        groups[n] = sorted(os.listdir(os.path.join(SYS_GROUPS, n, 'devices')))
    return groups


def pci_slots():
    """{"0000:01:00": slot name} from /sys/bus/pci/slots."""
    slots = {}
    base = '/sys/bus/pci/slots'
    for s in os.listdir(base) if os.path.isdir(base) else []:
        a = read(os.path.join(base, s, 'address'), '')
        if a:
            slots[a] = s
    return slots


def usb_names():
    """USB devices as hostdevd publishes them: no root hubs, no interfaces."""
    return sorted(n for n in os.listdir(SYS_USB) if ':' not in n and not n.startswith('usb'))


def usb_info(name):
    d = os.path.join(SYS_USB, name)
    uevent = dict(line.split('=', 1) for line in read(d + '/uevent').splitlines() if '=' in line)
    return {
        'address': name,
        'syspath': os.path.realpath(d),
        'vendor': int(read(d + '/idVendor'), 16),
        'product': int(read(d + '/idProduct'), 16),
        'busnum': int(read(d + '/busnum')),
        'devnum': int(read(d + '/devnum')),
        'devpath': read(d + '/devpath'),
        'speed': read(d + '/speed'),
        'serial': read(d + '/serial', ''),
        'manufacturer': read(d + '/manufacturer', ''),
        'product_string': read(d + '/product', ''),
        'authorized': read(d + '/authorized', '1') == '1',
        'devname': uevent.get('DEVNAME', ''),
        'driver': link_name(d + '/driver'),
    }


def rebind(addr, driver):
    """Bind a PCI function to driver ('' = its own), the way an admin does:
    driver_override, unbind, drivers_probe."""
    d = os.path.join(SYS_PCI, addr)
    write(d + '/driver_override', (driver or '') + '\n')
    if os.path.exists(d + '/driver'):
        write(d + '/driver/unbind', addr)
    write('/sys/bus/pci/drivers_probe', addr)


def vfio_group_viable(number):
    """VFIO's own verdict on a group (VFIO_GROUP_GET_STATUS), None when
    the group has no /dev/vfio node."""
    path = '/dev/vfio/%s' % number
    if not os.path.exists(path):
        return None
    fd = os.open(path, os.O_RDWR)
    try:
        buf = bytearray(struct.pack('<II', 8, 0))
        fcntl.ioctl(fd, (ord(';') << 8) | (100 + 3), buf)  # VFIO_GROUP_GET_STATUS
        return bool(struct.unpack('<II', buf)[1] & 1)     # VFIO_GROUP_FLAGS_VIABLE
    finally:
        os.close(fd)


def block_pci_ancestor(mountpoint):
    """The PCI function above the block device mounted at mountpoint."""
    majmin = None
    with open('/proc/self/mountinfo') as f:
        for line in f:
            fields = line.split()
            if fields[4] == mountpoint:
                majmin = fields[2]
    if majmin is None:
        raise AssertionError('nothing is mounted at ' + mountpoint)
    syspath = os.path.realpath('/sys/dev/block/' + majmin)
    pci = None
    for part in syspath.split('/'):
        if len(part) == 12 and part[4] == ':' and part[7] == ':' and part[10] == '.':
            pci = part
    return pci, os.path.basename(syspath)


# --- ID databases, read here independently of libpci -------------------------------

class PciIds:
    def __init__(self, path='/usr/share/misc/pci.ids'):
        self.vendors, self.devices, self.classes, self.subclasses = {}, {}, {}, {}
        vendor = cls = None
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                line = line.rstrip('\n')
                if not line or line.startswith('#'):
                    continue
                if line.startswith('C '):
                    cls, vendor = int(line[2:4], 16), None
                    self.classes[cls] = line[6:]
                elif not line.startswith('\t'):
                    vendor, cls = int(line[:4], 16), None
                    self.vendors[vendor] = line[6:]
                elif not line.startswith('\t\t'):
                    if vendor is not None:
                        self.devices[(vendor, int(line[1:5], 16))] = line[7:]
                    elif cls is not None:
                        self.subclasses[(cls, int(line[1:3], 16))] = line[5:]

    def class_name(self, code):
        base, sub = code >> 16, (code >> 8) & 0xff
        return self.subclasses.get((base, sub)) or self.classes.get(base, '')


class UsbIds:
    def __init__(self, path='/usr/share/misc/usb.ids'):
        self.vendors, self.products = {}, {}
        vendor = None
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                line = line.rstrip('\n')
                if not line or line.startswith('#'):
                    continue
                if line.startswith('C '):
                    break
                if not line.startswith('\t'):
                    vendor = int(line[:4], 16)
                    self.vendors[vendor] = line[6:]
                elif not line.startswith('\t\t') and vendor is not None:
                    self.products[(vendor, int(line[1:5], 16))] = line[7:]


# --- the system bus ---------------------------------------------------------------

class CallError(Exception):
    def __init__(self, name, message):
        super().__init__('%s: %s' % (name, message))
        self.name = name
        self.message = message


class Bus:
    """The guest's system bus, as a client of hostdevd; records every
    signal hostdevd sends."""

    def __init__(self):
        self.conn = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
        self.signals = []
        self.conn.signal_subscribe(None, None, None, None, None, Gio.DBusSignalFlags.NONE,
                                   self._on_signal, None)

    def _on_signal(self, conn, sender, path, iface, member, params, data):
        if path == ROOT or path.startswith(ROOT + '/'):
            self.signals.append((path, iface, member, params.unpack()))

    def pump(self, seconds=0.0):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + seconds
        while True:
            while ctx.pending():
                ctx.iteration(False)
            if time.monotonic() >= end:
                return
            time.sleep(0.01)

    def wait(self, predicate, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError('timed out after %d s waiting for %s' % (timeout, what))
            time.sleep(0.05)

    def mark(self):
        self.pump()
        return len(self.signals)

    def since(self, mark, member=None):
        return [s for s in self.signals[mark:] if member is None or s[2] == member]

    def call(self, path, iface, method, params=None, dest=BUS_NAME, timeout=TIMEOUT):
        try:
            reply = self.conn.call_sync(dest, path, iface, method, params, None,
                                        Gio.DBusCallFlags.NO_AUTO_START, int(timeout * 1000), None)
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e) or 'GLib.Error'
            Gio.DBusError.strip_remote_error(e)
            raise CallError(name, e.message) from None
        return reply.unpack() if reply is not None else ()

    def get_all(self, path, iface):
        return self.call(path, PROPS, 'GetAll', GLib.Variant('(s)', (iface,)))[0]

    def get(self, path, iface, prop):
        return self.call(path, PROPS, 'Get', GLib.Variant('(ss)', (iface, prop)))[0]

    def objects(self):
        return self.call(ROOT, OBJMGR, 'GetManagedObjects')[0]

    def name_has_owner(self, name=BUS_NAME):
        return self.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameHasOwner',
                         GLib.Variant('(s)', (name,)), dest='org.freedesktop.DBus')[0]

    def introspect(self, path):
        """{interface: {'methods': {name: [(argname, type, direction)]}, 'properties': set}}"""
        xml = self.call(path, 'org.freedesktop.DBus.Introspectable', 'Introspect')[0]
        result = {}
        for iface in ET.fromstring(xml).findall('interface'):
            methods = {m.get('name'): [(a.get('name'), a.get('type'), a.get('direction', 'in'))
                                       for a in m.findall('arg')]
                       for m in iface.findall('method')}
            props = {p.get('name') for p in iface.findall('property')}
            result[iface.get('name')] = {'methods': methods, 'properties': props}
        return result


# --- the daemon -------------------------------------------------------------------

class Daemon:
    def __init__(self, build_root, log_path):
        self.binary = os.path.join(build_root, 'src/hostdevd/hostdevd')
        self.log_path = log_path
        self.proc = None

    def start(self, bus):
        log = open(self.log_path, 'a')
        log.write('--- hostdevd started at %.3f\n' % time.monotonic())
        log.flush()
        self.proc = subprocess.Popen([self.binary, '--log-level=debug'], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        t0 = time.monotonic()
        bus.wait(lambda: self.proc.poll() is not None or bus.name_has_owner(), 'hostdevd to own %s' % BUS_NAME)
        if self.proc.poll() is not None:
            raise AssertionError('hostdevd exited with %s at start (see hostdevd.log)' % self.proc.returncode)
        return time.monotonic() - t0

    def stop(self, bus=None):
        """SIGTERM; returns the exit status, which must be a clean 0."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError('hostdevd did not exit within %d s of SIGTERM' % TIMEOUT)
        code, self.proc = self.proc.returncode, None
        if bus:
            bus.wait(lambda: not bus.name_has_owner(), '%s to be released' % BUS_NAME)
        return code

    def running(self):
        return self.proc is not None and self.proc.poll() is None


# --- cases and TAP ------------------------------------------------------------------

CASES = []


def case(func):
    """Registers a case; its docstring's first line is its description."""
    CASES.append(func)
    return func


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def equal(actual, expected, what):
    if actual != expected:
        raise AssertionError('%s: got %r, expected %r' % (what, actual, expected))


class Tap:
    """TAP to the console and to the results share, line by line, so a
    guest that dies midway still leaves what it had."""

    def __init__(self, path):
        self.file = open(path, 'w')
        self.n = 0

    def line(self, text):
        for out in (self.file, sys.stdout):
            out.write(text + '\n')
            out.flush()

    def diag(self, text):
        for ln in str(text).splitlines() or ['']:
            self.line('# ' + ln)

    def run(self, ctx, func):
        self.n += 1
        ctx.notes = []
        name = func.__name__.replace('_', '-')
        t0 = time.monotonic()
        try:
            func(ctx)
        except Skip as e:
            self.line('ok %d - %s # SKIP %s' % (self.n, name, e))
            return 'skip'
        except Exception as e:
            self.line('not ok %d - %s' % (self.n, name))
            self.diag((func.__doc__ or '').strip().splitlines()[0] if func.__doc__ else name)
            if isinstance(e, (AssertionError, CallError)):
                frames = traceback.extract_tb(e.__traceback__)
                where = ([f for f in frames if f.name == func.__name__] or frames)[-1]
                self.diag('%s: %s' % (type(e).__name__, e))
                self.diag('at %s:%d' % (os.path.basename(where.filename), where.lineno))
            else:
                self.diag(traceback.format_exc())
            for note in getattr(ctx, 'notes', []):
                self.diag(note)
            return 'fail'
        self.line('ok %d - %s' % (self.n, name))
        self.diag('%s took %.1f s' % (name, time.monotonic() - t0))
        return 'pass'
