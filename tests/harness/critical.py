"""What the host runs on, for the host-critical tests.

* The mount table: /proc/self/mountinfo of the fake /proc, made from
  host.json's "proc" mounts with the device numbers of the block devices
  the simulated host has, and rewritten when a test mounts or unmounts.
* More storage in the simulated sysfs: a SCSI disk behind a controller,
  device-mapper devices on top of block devices.
* Virtual network devices in the simulated sysfs (a bond with lower_*
  links), and a framebuffer console on a GPU.
* A network namespace with real links and routes: hostdevd runs inside it
  and reads real rtnetlink; the link names are those of host.json's NICs,
  so the daemon finds them in the simulated sysfs by name.
* A mock NetworkManager (python3-dbusmock's networkmanager template) on the
  private system bus.
"""

import os
import shutil
import subprocess
import time
import unittest

from .bus import clean_env
from .client import Client

NM_BUS_NAME = 'org.freedesktop.NetworkManager'
NM_PATH = '/org/freedesktop/NetworkManager'
NM_SETTINGS_PATH = NM_PATH + '/Settings'
MOCK_IFACE = 'org.freedesktop.DBus.Mock'
NM_DEVICE_ACTIVATED = 100
NM_ACTIVE_CONNECTION_ACTIVATED = 2


# ----------------------------------------------------------------------
# expectations from host.json
def block_devices(host):
    """{devname: (pci address, "major:minor")} of the fixture's disks."""
    out = {}
    for dev in host.pci:
        for child in dev.get('children', []):
            if child['subsystem'] == 'block':
                out[child['devname']] = (dev['address'], child['dev'])
    return out


def net_devices(host):
    """{interface name: pci address} of the fixture's NICs."""
    return {c['name']: dev['address'] for dev in host.pci for c in dev.get('children', [])
            if c['subsystem'] == 'net'}


def host_mounts(host):
    """(source, mount point, fstype) of host.json's mounts, in order."""
    out = []
    for line in host.data['proc']['mounts']:
        source, mount_point, fstype = line.split()[:3]
        out.append((source, mount_point, fstype))
    return out


# the mount points that make their storage critical, with the reason code
MOUNT_CODES = {'/': 'root-filesystem', '/boot': 'boot-filesystem', '/boot/efi': 'boot-filesystem',
               '/usr': 'usr-filesystem', '/var': 'var-filesystem'}


def storage_reasons(host):
    """{pci address: [(code, about)]} for the drives holding host.json's
    own mounts (as MountTable writes them), `about` a string the reason's
    text must contain."""
    disks = block_devices(host)
    out = {}
    for source, mount_point, _ in host_mounts(host):
        name = source[len('/dev/'):] if source.startswith('/dev/') else None
        if name in disks and mount_point in MOUNT_CODES:
            out.setdefault(disks[name][0], []).append(
                (MOUNT_CODES[mount_point], 'holds %s (%s' % (mount_point, source)))
    return out


def is_p2p_bridge(dev):
    return dev['class'][:4] in ('0604', '0609')


def expected_reasons(host, direct):
    """{address: [(code, about)]} of every critical device: `direct`
    ({address: [(code, about)]}, e.g. storage_reasons() plus a default
    route) plus boot VGA and bridges from host.json, plus one iommu-peer
    per critical group mate (about: the mate's address). A PCI-to-PCI
    bridge that is critical only as a bridge makes no peers: VFIO leaves
    it with the host. The only USB keyboard, when there is one, is critical
    too."""
    out = {a: list(r) for a, r in direct.items()}
    for dev in host.pci:
        if dev.get('boot_vga'):
            out.setdefault(dev['address'], []).append(('boot-vga', ''))
        if dev['class'].startswith('06'):
            out.setdefault(dev['address'], []).append(('bridge', 'bridge'))
    peers = {}
    for number, members in host.groups().items():
        for c in members:
            reasons = out.get(c['address'], [])
            if not any(code != 'bridge' or not is_p2p_bridge(c) for code, _ in reasons):
                continue
            for m in members:
                if m is not c:
                    peers.setdefault(m['address'], []).append(
                        ('iommu-peer', 'IOMMU group %d with %s' % (number, c['address'])))
    for a, r in peers.items():
        out.setdefault(a, []).extend(r)
    keyboards = [d['address'] for d in host.usb if not d['root_hub'] and is_usb_keyboard(d)]
    if len(keyboards) == 1:
        out.setdefault(keyboards[0], []).append(('only-keyboard', 'only keyboard'))
    return out


def is_usb_keyboard(dev):
    """A USB device with a boot keyboard interface (HID 03/01/01)."""
    return any((i['cls'], i['subclass'], i['protocol']) == ('03', '01', '01') for i in dev['interfaces'])


def reasons_match(got, want):
    """None when the reasons `got` ([(code, text)]) are those of `want`
    ([(code, about)]): the same codes, each text naming what it is about;
    otherwise what differs."""
    got = [tuple(r) for r in got]
    if sorted(c for c, _ in got) != sorted(c for c, _ in want):
        return 'reason codes %r, expected %r' % (got, want)
    unused = list(got)
    for code, about in want:
        match = [r for r in unused if r[0] == code and about in r[1]]
        if not match:
            return 'no %s reason about %r in %r' % (code, about, got)
        unused.remove(match[0])
    return None


# ----------------------------------------------------------------------
# /proc/self/mountinfo
class MountTable:
    """The fake /proc's mount table. Mounts are (source, mount point,
    fstype, "major:minor" or None for an anonymous device); writing replaces
    the file in one rename, as a program reading it would never see half of
    it."""

    def __init__(self, sim, extra_devices=None):
        self.sim = sim
        self.devices = {name: devno for name, (_, devno) in block_devices(sim.host).items()}
        self.devices.update(extra_devices or {})
        self.mounts = []
        self._anon = 20
        for source, mount_point, fstype in host_mounts(sim.host):
            self.mounts.append((source, mount_point, fstype, self._devno(source)))
        self.write()

    def _devno(self, source):
        name = source[len('/dev/'):] if source.startswith('/dev/') else None
        if name in self.devices:
            return self.devices[name]
        self._anon += 1
        return '0:%d' % self._anon

    def mount(self, source, mount_point, fstype='ext4', devno=None):
        self.mounts.append((source, mount_point, fstype, devno or self._devno(source)))
        self.write()

    def umount(self, mount_point):
        for i in range(len(self.mounts) - 1, -1, -1):
            if self.mounts[i][1] == mount_point:
                del self.mounts[i]
                break
        else:
            raise KeyError(mount_point)
        self.write()

    def text(self):
        lines = []
        for i, (source, mount_point, fstype, devno) in enumerate(self.mounts):
            esc = lambda s: s.replace('\\', '\\134').replace(' ', '\\040')  # noqa: E731
            parent = 1 if mount_point == '/' else 21
            lines.append('%d %d %s / %s rw,relatime shared:%d - %s %s rw' % (
                21 + i, parent, devno, esc(mount_point), i + 1, fstype, esc(source)))
        return '\n'.join(lines) + '\n'

    def write(self):
        d = os.path.join(self.sim.proc, 'self')
        os.makedirs(d, exist_ok=True)
        tmp = os.path.join(d, '.mountinfo.new')
        with open(tmp, 'w') as f:
            f.write(self.text())
        os.rename(tmp, os.path.join(d, 'mountinfo'))


def write_swaps(sim, entries):
    """entries: (filename, "partition" | "file")."""
    lines = ['Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority']
    for name, kind in entries:
        lines.append('%-40s%s\t%d\t\t0\t\t-2' % (name, kind, 8388604))
    tmp = os.path.join(sim.proc, '.swaps.new')
    with open(tmp, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.rename(tmp, os.path.join(sim.proc, 'swaps'))


# ----------------------------------------------------------------------
# more sysfs
def _block_device(sim, path, name, devno, partition=None):
    sim.mkdir(path + '/power')
    major, minor = devno.split(':')
    props = ['MAJOR=' + major, 'MINOR=' + minor, 'DEVNAME=' + name,
             'DEVTYPE=' + ('partition' if partition else 'disk')]
    sim.write(path + '/uevent', '\n'.join(props) + '\n')
    sim.write(path + '/dev', devno + '\n')
    if partition:
        sim.write(path + '/partition', '%d\n' % partition)
    sim.symlink('/sys/class/block', path + '/subsystem')
    sim.symlink(path, '/sys/class/block/' + name)
    sim.symlink(path, '/sys/dev/block/' + devno)
    sim.write('/dev/' + name, '')
    if not partition:
        sim.symlink(path, '/sys/block/' + name)


def add_scsi_disk(sim, address, name, major, partitions=1, host=0):
    """A SATA/SAS disk behind the controller at `address`, as libata lays it
    out, with partitions name1..nameN. Returns {name: "major:minor"}."""
    base = '%s/ata%d/host%d/target%d:0:0/%d:0:0:0' % (sim.devpaths[address], host + 1, host, host, host)
    disk = base + '/block/' + name
    out = {name: '%d:%d' % (major, 0)}
    _block_device(sim, disk, name, out[name])
    for p in range(1, partitions + 1):
        pname = '%s%d' % (name, p)
        out[pname] = '%d:%d' % (major, p)
        _block_device(sim, disk + '/' + pname, pname, out[pname], partition=p)
    return out


def add_dm(sim, kernel_name, dm_name, devno, slaves):
    """A device-mapper device (LVM, LUKS) over the named block devices."""
    path = '/sys/devices/virtual/block/' + kernel_name
    _block_device(sim, path, kernel_name, devno)
    sim.write(path + '/dm/name', dm_name + '\n')
    for s in slaves:
        target = os.path.realpath(sim.real('/sys/class/block/' + s))[len(sim.root):]
        sim.symlink(target, path + '/slaves/' + s)
        sim.symlink(path, target + '/holders/' + kernel_name)
    return {kernel_name: devno}


def add_virtual_netdev(sim, name, lowers=(), kind=None):
    """A bond, bridge or VLAN in the simulated sysfs, with lower_* links
    to the interfaces it sends through."""
    path = '/sys/devices/virtual/net/' + name
    sim.mkdir(path + '/power')
    sim.write(path + '/uevent', 'DEVTYPE=%s\nINTERFACE=%s\n' % (kind or 'bond', name))
    sim.symlink('/sys/class/net', path + '/subsystem')
    sim.symlink(path, '/sys/class/net/' + name)
    for low in lowers:
        target = os.path.realpath(sim.real('/sys/class/net/' + low))
        sim.symlink(target[len(sim.root):], path + '/lower_' + low)
        sim.symlink(path, target[len(sim.root):] + '/upper_' + name)
    if kind in (None, 'bond'):
        sim.write(path + '/bonding/slaves', ' '.join(lowers) + '\n')
    return path


def add_framebuffer(sim, address, name='astdrmfb'):
    """fb0 of the GPU's DRM driver, with fbcon on it."""
    path = sim.devpaths[address] + '/graphics/fb0'
    sim.mkdir(path + '/power')
    sim.write(path + '/uevent', 'MAJOR=29\nMINOR=0\nDEVNAME=fb0\n')
    sim.write(path + '/name', name + '\n')
    sim.write(path + '/dev', '29:0\n')
    sim.symlink('/sys/class/graphics', path + '/subsystem')
    sim.symlink(path, '/sys/class/graphics/fb0')
    for i, (vt_name, bound) in enumerate((('(S) dummy device', '0'), ('(M) frame buffer device', '1'))):
        v = '/sys/devices/virtual/vtconsole/vtcon%d' % i
        sim.write(v + '/name', vt_name + '\n')
        sim.write(v + '/bind', bound + '\n')
        sim.symlink(v, '/sys/class/vtconsole/vtcon%d' % i)
    return path


# ----------------------------------------------------------------------
# network namespace
class NetNamespace:
    """A network namespace with only a loopback device, kept by a bind
    mount on a file (no process holds it). Commands run in it through
    nsenter; wrap() gives a program that runs the daemon in it."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.path = os.path.join(workdir, 'netns')
        for tool in ('ip', 'nsenter', 'unshare'):
            if not shutil.which(tool):
                raise unittest.SkipTest('%s is not installed' % tool)
        open(self.path, 'w').close()
        r = subprocess.run(['unshare', '--net=' + self.path, 'true'], env=clean_env(),
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.unlink(self.path)
            raise unittest.SkipTest('cannot create a network namespace: ' + r.stderr.strip())
        self.ip('link', 'set', 'lo', 'up')

    def run(self, argv, check=True):
        return subprocess.run(['nsenter', '--net=' + self.path, '--'] + list(argv), check=check,
                              env=clean_env(), capture_output=True, text=True)

    def ip(self, *args):
        r = self.run(['ip'] + list(args), check=False)
        if r.returncode != 0:
            raise RuntimeError('ip %s: %s' % (' '.join(args), r.stderr.strip()))
        return r.stdout

    def add_link(self, name, master=None):
        """A link named like a NIC of the simulated host. This kernel may
        have no dummy driver: a veth pair works everywhere; its peer has a
        name no simulated device has."""
        peer = 'pr' + name[-13:]
        self.ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer)
        self.ip('link', 'set', peer, 'up')
        if master:
            self.ip('link', 'set', name, 'master', master)
        self.ip('link', 'set', name, 'up')

    def add_bridge(self, name):
        self.ip('link', 'add', name, 'type', 'bridge')
        self.ip('link', 'set', name, 'up')

    def set_default_route(self, dev, subnet, family=4):
        """Address the link and make it carry the default route (replacing
        any default route of that family)."""
        if family == 4:
            self.ip('addr', 'add', subnet + '.10/24', 'dev', dev)
            self.ip('route', 'replace', 'default', 'via', subnet + '.1', 'dev', dev)
        else:
            self.ip('-6', 'addr', 'add', subnet + '::10/64', 'dev', dev, 'nodad')
            self.ip('-6', 'route', 'replace', 'default', 'via', subnet + '::1', 'dev', dev)

    def del_default_route(self, family=4):
        self.ip('-%d' % family, 'route', 'del', 'default')

    def wrap(self, binary):
        """An executable that runs `binary` with its arguments inside the
        namespace: nsenter execs, so the pid stays that of the program."""
        script = os.path.join(self.workdir, 'in-netns-' + os.path.basename(binary))
        with open(script, 'w') as f:
            f.write('#!/bin/sh\nexec nsenter --net=%s -- %s "$@"\n' % (self.path, binary))
        os.chmod(script, 0o755)
        return script

    def close(self):
        subprocess.run(['umount', self.path], env=clean_env(), capture_output=True)
        if os.path.exists(self.path):
            os.unlink(self.path)


# ----------------------------------------------------------------------
# NetworkManager
_NM_POLICY = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root"><allow own="org.freedesktop.NetworkManager"/></policy>
  <policy context="default"><allow send_destination="org.freedesktop.NetworkManager"/></policy>
</busconfig>
'''


class MockNetworkManager:
    """python3-dbusmock's networkmanager template on the private system
    bus, with what NetworkManager's own bus policy allows."""

    def __init__(self, shared_bus, logdir):
        self.address = shared_bus.address
        policy = os.path.join(shared_bus.bus.dir, 'system.d', 'org.freedesktop.NetworkManager.conf')
        if not os.path.exists(policy):
            with open(policy, 'w') as f:
                f.write(_NM_POLICY)
        self.client = Client(self.address)
        self.client.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'ReloadConfig',
                         dest='org.freedesktop.DBus')
        self.log = open(os.path.join(logdir, 'networkmanager-mock.log'), 'w')
        self.proc = None
        self.devices = {}

    def start(self, timeout=20):
        self.proc = subprocess.Popen(
            ['/usr/bin/python3', '-m', 'dbusmock', '--system', '--template', 'networkmanager'],
            env=clean_env({'DBUS_SYSTEM_BUS_ADDRESS': self.address}),
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.client.name_has_owner(NM_BUS_NAME):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('the NetworkManager mock did not start (see %s)' % self.log.name)
            time.sleep(0.05)
        return self

    def _mock(self, method, signature, args):
        from gi.repository import GLib
        return self.client.call(NM_PATH, MOCK_IFACE, method, GLib.Variant(signature, args),
                                dest=NM_BUS_NAME)

    def activate(self, iface, conn_id):
        """An ethernet device `iface` with an active connection `conn_id`;
        returns the active connection's path."""
        from gi.repository import GLib
        if iface not in self.devices:
            self.devices[iface] = self._mock('AddEthernetDevice', '(ssi)',
                                             (iface.replace('.', '_'), iface, NM_DEVICE_ACTIVATED))[0]
        settings = {'connection': {'id': GLib.Variant('s', conn_id),
                                   'type': GLib.Variant('s', '802-3-ethernet'),
                                   'uuid': GLib.Variant('s', '5f0c6a2e-%04x-4d1e-9a7b-1c2d3e4f5a6b'
                                                        % (len(self.devices) * 17 + len(conn_id)))}}
        conn = self.client.call(NM_SETTINGS_PATH, 'org.freedesktop.NetworkManager.Settings',
                                'AddConnection', GLib.Variant('(a{sa{sv}})', (settings,)),
                                dest=NM_BUS_NAME)[0]
        name = '%s_%d' % (iface.replace('.', '_'), int(time.monotonic() * 1000) % 100000)
        return self._mock('AddActiveConnection', '(assssu)',
                          ([self.devices[iface]], conn, '/', name, NM_ACTIVE_CONNECTION_ACTIVATED))[0]

    def deactivate(self, iface, active_path):
        self._mock('RemoveActiveConnection', '(ss)', (self.devices[iface], active_path))

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        self.client.close()
        self.log.close()

