"""Build a umockdev testbed that looks like the sysfs of the simulated host.

SimHost lays out /sys as Linux 6.1 does for the devices of host.json: the
device tree under /sys/devices/pci0000:00, the bus and driver directories
with their links and control files, IOMMU groups, slots, USB devices with
their interfaces, the class devices a driver creates (net, nvme, block),
and the /dev nodes. Files are written directly under the testbed root (the
Testbed API's set_attribute replaces files, which would drop inotify
watches of the kernel emulator); the Testbed object is used for the root
directory and to send uevents.

The same methods serve the kernel emulator (bind, unbind) and the tests
(hotplug, attribute changes), under one lock. Every change to sysfs
happens before the uevent announcing it, as in the kernel.
"""

import gc
import os
import shutil
import threading

import gi
gi.require_version('UMockdev', '1.0')
from gi.repository import GLib, UMockdev  # noqa: E402

from . import hostspec, pciconfig  # noqa: E402

USB_MAJOR = 189
VFIO_MAJOR = 243
PCI_ROOT = '/sys/devices/pci0000:00'
# class devices that exist only while the device's own driver is bound
DRIVER_OWNED = ('net', 'nvme', 'block')


def _hexid(s):
    return '0x' + s.lower()


class SimHost:
    """A simulated host on a umockdev testbed.

    iommu: 'enabled' (groups as in host.json), 'empty' (the directory
    /sys/kernel/iommu_groups exists but holds nothing, as on a kernel
    booted without an IOMMU) or 'absent' (no such directory at all).
    """

    def __init__(self, host=None, iommu='enabled', proc_dir=None):
        if 'umockdev' not in os.environ.get('LD_PRELOAD', ''):
            raise RuntimeError('SimHost needs the umockdev preload (see harness.sandbox)')
        self.host = (host or hostspec.Host.load()).copy()
        self.iommu = iommu if self.host.iommu_enabled else 'empty'
        self.lock = threading.RLock()
        self.tb = UMockdev.Testbed.new()
        self.root = self.tb.get_root_dir()
        self.sys = self.tb.get_sys_dir()
        self.dev = os.path.join(self.root, 'dev')
        self.proc = proc_dir or os.path.join(self.root, 'proc')
        self.devpaths = {}     # address -> "/sys/devices/..."
        self.pci = {}          # address -> runtime spec (mutable copy)
        self.usb = {}
        self.listeners = []    # callables(event, path, kind, key) for new/removed dirs
        self.controls = []     # FIFOs of write-only control files
        self.uevents = []      # (action, devpath) as sent, for debugging
        self._vfio_minor = 0
        self._vfio_groups = {}  # group -> minor
        self._build()

    # ------------------------------------------------------------------
    # low-level file helpers; paths starting with /sys or /dev are
    # testbed-relative
    def real(self, path):
        if path.startswith('/sys/') or path == '/sys':
            return self.root + path
        if path.startswith('/dev/') or path == '/dev':
            return self.root + path
        return path

    def write(self, path, content, mode=None):
        p = self.real(path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        data = content if isinstance(content, bytes) else content.encode()
        with open(p, 'wb') as f:
            f.write(data)
        if mode is not None:
            os.chmod(p, mode)

    def control(self, path):
        """A write-only control file (bind, unbind, drivers_probe, new_id):
        a FIFO, so that no write is lost however fast writes follow each
        other, and the kernel emulator sees each in order. Writers need a
        reader: the emulator holds every FIFO open while it runs."""
        p = self.real(path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if not os.path.exists(p):
            os.mkfifo(p, 0o200)
        self.controls.append(p)

    def read(self, path):
        with open(self.real(path), 'rb') as f:
            return f.read().decode(errors='replace')

    def symlink(self, target, link):
        """Create link -> target as a relative link, like sysfs does."""
        t, l = self.real(target), self.real(link)
        os.makedirs(os.path.dirname(l), exist_ok=True)
        if os.path.lexists(l):
            os.unlink(l)
        os.symlink(os.path.relpath(t, os.path.dirname(l)), l)

    def unlink(self, path):
        p = self.real(path)
        if os.path.lexists(p):
            os.unlink(p)

    def mkdir(self, path):
        os.makedirs(self.real(path), exist_ok=True)

    def _notify(self, event, path, kind, key):
        for cb in list(self.listeners):
            cb(event, path, kind, key)

    def uevent(self, devpath, action):
        with self.lock:
            self.uevents.append((action, devpath))
            self.tb.uevent(devpath, action)

    # ------------------------------------------------------------------
    def _build(self):
        with self.lock:
            self._skeleton()
            for spec in self.host.pci:
                self.add_pci(spec, announce=False)
            for spec in self.host.usb:
                self.add_usb(spec, announce=False)
            self._write_proc()

    def _skeleton(self):
        self.mkdir(PCI_ROOT)
        self.write(PCI_ROOT + '/uevent', '')
        self.mkdir(PCI_ROOT + '/power')
        self.write(PCI_ROOT + '/power/control', 'auto\n')
        for d in ('/sys/bus/pci/devices', '/sys/bus/pci/drivers', '/sys/bus/pci/slots',
                  '/sys/bus/usb/devices', '/sys/bus/usb/drivers', '/sys/class/net',
                  '/sys/class/block', '/sys/class/nvme', '/sys/class/vfio', '/sys/block',
                  '/sys/dev/char', '/sys/dev/block', '/sys/devices/virtual', '/sys/module'):
            self.mkdir(d)
        self.control('/sys/bus/pci/drivers_probe')
        self.write('/sys/bus/pci/drivers_autoprobe', '1\n', 0o644)
        self.control('/sys/bus/pci/rescan')
        self.write('/sys/bus/pci/resource_alignment', '\n', 0o644)
        self.write('/sys/bus/pci/uevent', '', 0o200)
        self.control('/sys/bus/usb/drivers_probe')
        self.write('/sys/bus/usb/drivers_autoprobe', '1\n', 0o644)
        self._notify('added', self.real('/sys/bus/pci'), 'pci-bus', None)
        for drv in self.host.data.get('loaded_pci_drivers', []):
            self.pci_driver_dir(drv)
        for drv in ('usb', 'hub', 'usbhid', 'usb-storage', 'usbfs'):
            self.usb_driver_dir(drv)
        if self.iommu == 'enabled':
            self.mkdir('/sys/kernel/iommu_groups')
            self.mkdir('/sys/devices/virtual/iommu/dmar0/power')
            self.write('/sys/devices/virtual/iommu/dmar0/uevent', '')
            self.symlink('/sys/class/iommu', '/sys/devices/virtual/iommu/dmar0/subsystem')
            self.symlink('/sys/devices/virtual/iommu/dmar0', '/sys/class/iommu/dmar0')
            self.mkdir('/dev/vfio')
            self._devnode('vfio/vfio', '10:196')
        elif self.iommu == 'empty':
            self.mkdir('/sys/kernel/iommu_groups')
        else:
            self.mkdir('/sys/kernel')

    def _write_proc(self):
        os.makedirs(self.proc, exist_ok=True)
        k = self.host.data['kernel']
        cmdline = k['cmdline'] if self.iommu == 'enabled' else k['cmdline_no_iommu']
        p = self.host.data['proc']
        files = {
            'cmdline': cmdline + '\n',
            'mounts': '\n'.join(p['mounts']) + '\n',
            'swaps': '\n'.join(p['swaps']) + '\n',
        }
        os.makedirs(os.path.join(self.proc, 'self'), exist_ok=True)
        files['self/mounts'] = files['mounts']
        os.makedirs(os.path.join(self.proc, 'sys', 'kernel'), exist_ok=True)
        files['sys/kernel/osrelease'] = k['release'] + '\n'
        for name, content in files.items():
            with open(os.path.join(self.proc, name), 'w') as f:
                f.write(content)

    # ------------------------------------------------------------------
    # drivers
    def pci_driver_dir(self, drv):
        d = '/sys/bus/pci/drivers/' + drv
        if not os.path.isdir(self.real(d)):
            self.mkdir(d)
            for f in ('bind', 'unbind', 'new_id', 'remove_id'):
                self.control(d + '/' + f)
            self.write(d + '/uevent', '', 0o200)
            self.mkdir('/sys/module/' + drv.replace('-', '_'))
            self.symlink('/sys/module/' + drv.replace('-', '_'), d + '/module')
            self._notify('added', self.real(d), 'pci-drv', drv)
        return d

    def usb_driver_dir(self, drv):
        d = '/sys/bus/usb/drivers/' + drv
        if not os.path.isdir(self.real(d)):
            self.mkdir(d)
            for f in ('bind', 'unbind'):
                self.control(d + '/' + f)
            self.write(d + '/uevent', '', 0o200)
            if drv not in ('usb', 'usbfs', 'hub'):
                self.control(d + '/new_id')
                self.control(d + '/remove_id')
            self._notify('added', self.real(d), 'usb-drv', drv)
        return d

    # ------------------------------------------------------------------
    # PCI
    def pci_devpath(self, spec):
        if spec.get('parent'):
            return self.devpaths[spec['parent']] + '/' + spec['address']
        return PCI_ROOT + '/' + spec['address']

    def pci_uevent_text(self, spec, driver):
        v, d = spec['vendor_id'].upper(), spec['device_id'].upper()
        sv, sd = spec['subsystem_vendor_id'].upper(), spec['subsystem_id'].upper()
        cls = spec['class'].upper()
        lines = []
        if driver:
            lines.append('DRIVER=' + driver)
        lines += ['PCI_CLASS=%X' % int(cls, 16),
                  'PCI_ID=%s:%s' % (v, d),
                  'PCI_SUBSYS_ID=%s:%s' % (sv, sd),
                  'PCI_SLOT_NAME=' + spec['address'],
                  'MODALIAS=' + self.pci_modalias(spec)]
        return '\n'.join(lines) + '\n'

    @staticmethod
    def pci_modalias(spec):
        cls = spec['class'].upper()
        return 'pci:v0000%sd0000%ssv0000%ssd0000%sbc%ssc%si%s' % (
            spec['vendor_id'].upper(), spec['device_id'].upper(),
            spec['subsystem_vendor_id'].upper(), spec['subsystem_id'].upper(),
            cls[0:2], cls[2:4], cls[4:6])

    def add_pci(self, spec, announce=True, bind=True):
        """Create a PCI function; with announce, send "add" and, when its
        driver binds, "bind" (as the PCI core does on hotplug)."""
        with self.lock:
            spec = dict(spec)
            addr = spec['address']
            if addr in self.pci:
                raise ValueError('%s already exists' % addr)
            path = self.pci_devpath(spec)
            self.devpaths[addr] = path
            self.pci[addr] = spec
            self._write_pci_attrs(spec, path)
            self.symlink('/sys/bus/pci', path + '/subsystem')
            self.symlink(path, '/sys/bus/pci/devices/' + addr)
            self._iommu_join(spec)
            self._slot(spec)
            if spec.get('physfn'):
                pf = self.devpaths[spec['physfn']]
                self.symlink(pf, path + '/physfn')
                self.symlink(path, pf + '/virtfn%d' % spec['vf_index'])
            driver = spec.get('driver') if bind else None
            spec['driver'] = None
            self.write(path + '/uevent', self.pci_uevent_text(spec, None))
            self._notify('added', self.real(path), 'pci-dev', addr)
            if announce:
                self.uevent(path, 'add')
            if driver:
                self.bind(addr, driver, announce=announce)
            return path

    def _write_pci_attrs(self, spec, path):
        w = self.write
        is_vf = bool(spec.get('physfn'))
        self.mkdir(path + '/power')
        w(path + '/power/control', 'on\n')
        w(path + '/power/runtime_status', 'active\n')
        w(path + '/vendor', _hexid(spec['vendor_id']) + '\n', 0o444)
        w(path + '/device', _hexid(spec['device_id']) + '\n', 0o444)
        w(path + '/subsystem_vendor', _hexid(spec['subsystem_vendor_id']) + '\n', 0o444)
        w(path + '/subsystem_device', _hexid(spec['subsystem_id']) + '\n', 0o444)
        w(path + '/class', '0x' + spec['class'] + '\n', 0o444)
        w(path + '/revision', '0x' + spec['revision'] + '\n', 0o444)
        w(path + '/numa_node', '%d\n' % spec['numa_node'], 0o644)
        w(path + '/local_cpus', 'ffff\n', 0o444)
        w(path + '/local_cpulist', '0-15\n', 0o444)
        w(path + '/irq', '0\n' if is_vf else '16\n', 0o444)
        w(path + '/enable', '1\n', 0o644)
        w(path + '/broken_parity_status', '0\n', 0o644)
        w(path + '/msi_bus', '1\n', 0o644)
        w(path + '/d3cold_allowed', '1\n', 0o644)
        w(path + '/power_state', 'D0\n', 0o444)
        w(path + '/ari_enabled', '0\n', 0o444)
        w(path + '/consistent_dma_mask_bits', '64\n', 0o444)
        w(path + '/dma_mask_bits', '64\n', 0o444)
        w(path + '/modalias', self.pci_modalias(spec) + '\n', 0o444)
        w(path + '/resource', '0x0000000000000000 0x0000000000000000 0x0000000000000000\n' * 13, 0o444)
        override = spec.get('driver_override')
        w(path + '/driver_override', (override or '(null)') + '\n', 0o644)
        w(path + '/config', pciconfig.build_config(spec, is_vf=is_vf), 0o644)
        w(path + '/remove', '', 0o200)
        w(path + '/rescan', '', 0o200)
        if spec.get('reset_methods'):
            w(path + '/reset', '', 0o200)
            w(path + '/reset_method', ' '.join(spec['reset_methods']) + '\n', 0o644)
        pcie = spec.get('pcie')
        if pcie:
            w(path + '/current_link_speed', pcie['link_speed'] + '\n', 0o444)
            w(path + '/current_link_width', '%d\n' % pcie['link_width'], 0o444)
            w(path + '/max_link_speed', pcie['max_link_speed'] + '\n', 0o444)
            w(path + '/max_link_width', '%d\n' % pcie['max_link_width'], 0o444)
        if spec['class'].startswith('0300'):
            w(path + '/boot_vga', '1\n' if spec.get('boot_vga') else '0\n', 0o444)
        if spec.get('bridge'):
            w(path + '/secondary_bus_number', '%d\n' % spec['bridge']['secondary'], 0o444)
            w(path + '/subordinate_bus_number', '%d\n' % spec['bridge']['subordinate'], 0o444)
        if spec.get('vpd'):
            w(path + '/vpd', pciconfig.build_vpd(spec['vpd']), 0o600)
        s = spec.get('sriov')
        if s:
            w(path + '/sriov_totalvfs', '%d\n' % s['totalvfs'], 0o444)
            w(path + '/sriov_numvfs', '%d\n' % s['numvfs'], 0o664)
            w(path + '/sriov_offset', '%d\n' % s['offset'], 0o444)
            w(path + '/sriov_stride', '%d\n' % s['stride'], 0o444)
            w(path + '/sriov_vf_device', s['vf_device'] + '\n', 0o444)
            w(path + '/sriov_drivers_autoprobe', '1\n' if s.get('drivers_autoprobe', True) else '0\n', 0o644)

    def _iommu_join(self, spec):
        group = spec.get('iommu_group')
        if self.iommu != 'enabled' or group is None:
            return
        gdir = '/sys/kernel/iommu_groups/%d' % group
        if not os.path.isdir(self.real(gdir)):
            self.mkdir(gdir + '/devices')
            self.write(gdir + '/type', self.host.data['iommu'].get('type', 'DMA') + '\n', 0o444)
            self.write(gdir + '/reserved_regions',
                       '0x00000000fee00000 0x00000000feefffff msi\n', 0o444)
        path = self.devpaths[spec['address']]
        self.symlink(path, gdir + '/devices/' + spec['address'])
        self.symlink(gdir, path + '/iommu_group')
        self.symlink('/sys/devices/virtual/iommu/dmar0', path + '/iommu')

    def _iommu_leave(self, spec):
        group = spec.get('iommu_group')
        if self.iommu != 'enabled' or group is None:
            return
        gdir = '/sys/kernel/iommu_groups/%d' % group
        self.unlink(gdir + '/devices/' + spec['address'])
        if not os.listdir(self.real(gdir + '/devices')):
            shutil.rmtree(self.real(gdir))

    def _slot(self, spec):
        if spec.get('hotplug_slot'):
            # pciehp registers the slot below a hotplug port, empty or not
            sdir = '/sys/bus/pci/slots/' + spec['hotplug_slot']
            self.mkdir(sdir)
            address = '%s:%02x:00' % (spec['address'][:4], spec['bridge']['secondary'])
            self.write(sdir + '/address', address + '\n', 0o444)
            self.write(sdir + '/power', '1\n', 0o644)
            self.write(sdir + '/attention', '0\n', 0o644)
        slot = spec.get('slot')
        if not slot:
            return
        sdir = '/sys/bus/pci/slots/' + slot
        if not os.path.isdir(self.real(sdir)):
            self.mkdir(sdir)
        self.write(sdir + '/address', spec['address'][:-2] + '\n', 0o444)
        self.write(sdir + '/cur_bus_speed', '8.0 GT/s PCIe\n', 0o444)
        self.write(sdir + '/max_bus_speed', '8.0 GT/s PCIe\n', 0o444)

    def driver_of(self, address):
        link = self.real(self.devpaths[address] + '/driver')
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None

    def bind(self, address, driver, announce=True):
        """Bind a PCI function to a driver: links, uevent file, "bind" uevent."""
        with self.lock:
            spec = self.pci[address]
            path = self.devpaths[address]
            if self.driver_of(address):
                return False
            if hostspec.is_prepared_driver(driver) and \
                    (self.iommu != 'enabled' or spec.get('iommu_group') is None):
                # vfio-pci's probe fails for a device without an IOMMU group
                return False
            d = self.pci_driver_dir(driver)
            self.symlink(d, path + '/driver')
            self.symlink(path, d + '/' + address)
            spec['driver'] = driver
            self.write(path + '/uevent', self.pci_uevent_text(spec, driver))
            if hostspec.is_prepared_driver(driver):
                self._vfio_update(spec.get('iommu_group'), announce)
            if driver == spec.get('native_driver'):
                self._add_children(spec, announce)
            if announce:
                self.uevent(path, 'bind')
            return True

    def unbind(self, address, announce=True):
        with self.lock:
            spec = self.pci[address]
            path = self.devpaths[address]
            driver = self.driver_of(address)
            if not driver:
                return False
            self._remove_children(spec, announce)
            self.unlink(path + '/driver')
            self.unlink('/sys/bus/pci/drivers/%s/%s' % (driver, address))
            spec['driver'] = None
            self.write(path + '/uevent', self.pci_uevent_text(spec, None))
            if hostspec.is_prepared_driver(driver):
                self._vfio_update(spec.get('iommu_group'), announce)
            if announce:
                self.uevent(path, 'unbind')
            return True

    def _vfio_update(self, group, announce):
        """/dev/vfio/N exists while any member of group N is bound to vfio."""
        if self.iommu != 'enabled' or group is None:
            return
        bound = any(s.get('iommu_group') == group and hostspec.is_prepared_driver(s.get('driver'))
                    for s in self.pci.values())
        vpath = '/sys/devices/virtual/vfio/%d' % group
        if bound and group not in self._vfio_groups:
            minor = self._vfio_minor
            self._vfio_minor += 1
            self._vfio_groups[group] = minor
            devno = '%d:%d' % (VFIO_MAJOR, minor)
            self.mkdir(vpath + '/power')
            self.write(vpath + '/dev', devno + '\n', 0o444)
            self.write(vpath + '/uevent',
                       'MAJOR=%d\nMINOR=%d\nDEVNAME=vfio/%d\n' % (VFIO_MAJOR, minor, group))
            self.symlink('/sys/class/vfio', vpath + '/subsystem')
            self.symlink(vpath, '/sys/class/vfio/%d' % group)
            self.symlink(vpath, '/sys/dev/char/' + devno)
            self._devnode('vfio/%d' % group, devno)
            if announce:
                self.uevent(vpath, 'add')
        elif not bound and group in self._vfio_groups:
            minor = self._vfio_groups.pop(group)
            if announce:
                self.uevent(vpath, 'remove')
            self._rm_devnode('vfio/%d' % group)
            self.unlink('/sys/class/vfio/%d' % group)
            self.unlink('/sys/dev/char/%d:%d' % (VFIO_MAJOR, minor))
            shutil.rmtree(self.real(vpath), ignore_errors=True)

    def vfio_groups(self):
        return sorted(self._vfio_groups)

    # class devices a driver creates ------------------------------------
    def _add_children(self, spec, announce):
        self._add_children_at(self.devpaths[spec['address']], spec.get('children', []), announce)

    def _add_children_at(self, path, children, announce):
        for child in children:
            cpath = path + '/' + child['dir']
            if os.path.isdir(self.real(cpath)):
                continue
            sub = child['subsystem']
            self.mkdir(cpath + '/power')
            props = []
            if child.get('dev'):
                major, minor = child['dev'].split(':')
                props += ['MAJOR=' + major, 'MINOR=' + minor, 'DEVNAME=' + child['devname']]
            props += ['%s=%s' % kv for kv in child.get('properties', {}).items()]
            self.write(cpath + '/uevent', '\n'.join(props) + '\n')
            for k, v in child.get('attributes', {}).items():
                self.write(cpath + '/' + k, v + '\n', 0o444)
            self.symlink('/sys/class/' + sub, cpath + '/subsystem')
            self.symlink(cpath, '/sys/class/%s/%s' % (sub, child['name']))
            if child.get('dev'):
                self.write(cpath + '/dev', child['dev'] + '\n', 0o444)
                kind = 'block' if sub == 'block' else 'char'
                self.symlink(cpath, '/sys/dev/%s/%s' % (kind, child['dev']))
                self._devnode(child['devname'], child['dev'])
                if sub == 'block' and child.get('properties', {}).get('DEVTYPE') == 'disk':
                    self.symlink(cpath, '/sys/block/' + child['name'])
            if announce:
                self.uevent(cpath, 'add')

    def _remove_children(self, spec, announce):
        self._remove_children_at(self.devpaths[spec['address']], spec.get('children', []), announce)

    def _remove_children_at(self, path, children, announce):
        for child in reversed(children):
            cpath = path + '/' + child['dir']
            if not os.path.isdir(self.real(cpath)):
                continue
            if announce:
                self.uevent(cpath, 'remove')
            sub = child['subsystem']
            self.unlink('/sys/class/%s/%s' % (sub, child['name']))
            if child.get('dev'):
                kind = 'block' if sub == 'block' else 'char'
                self.unlink('/sys/dev/%s/%s' % (kind, child['dev']))
                self.unlink('/sys/block/' + child['name'])
                self._rm_devnode(child['devname'])
            shutil.rmtree(self.real(cpath))
        for top in {c['dir'].split('/')[0] for c in children}:
            d = self.real(path + '/' + top)
            if os.path.isdir(d) and not os.listdir(d):
                os.rmdir(d)

    def _devnode(self, name, devno):
        """A /dev node: an empty file, plus the major:minor the preload
        reports for it from stat()."""
        self.write('/dev/' + name, '')
        node = os.path.join(self.dev, '.node')
        os.makedirs(node, exist_ok=True)
        link = os.path.join(node, name.replace('/', '_'))
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(devno, link)

    def _rm_devnode(self, name):
        self.unlink('/dev/' + name)
        link = os.path.join(self.dev, '.node', name.replace('/', '_'))
        if os.path.lexists(link):
            os.unlink(link)

    def remove_pci(self, address, announce=True):
        """Hot-remove one function: unbind, "remove", then delete it."""
        self.remove_pci_devices([address], announce)

    def remove_pci_devices(self, addresses, announce=True):
        """Remove functions as the PCI core does: stop (unbind) all of them
        in reverse order, then remove them in reverse order."""
        with self.lock:
            addresses = sorted(addresses, reverse=True)
            for a in addresses:
                self.unbind(a, announce)
            for a in addresses:
                self._remove_one(a, announce)

    def _remove_one(self, address, announce):
        spec = self.pci[address]
        path = self.devpaths[address]
        for vf in sorted((s['address'] for s in self.pci.values() if s.get('physfn') == address),
                         reverse=True):
            self.unbind(vf, announce)
            self._remove_one(vf, announce)
        if announce:
            self.uevent(path, 'remove')
        self._notify('removed', self.real(path), 'pci-dev', address)
        self.unlink('/sys/bus/pci/devices/' + address)
        self._iommu_leave(spec)
        if spec.get('physfn') and spec['physfn'] in self.devpaths:
            self.unlink(self.devpaths[spec['physfn']] + '/virtfn%d' % spec['vf_index'])
        shutil.rmtree(self.real(path))
        del self.pci[address]
        del self.devpaths[address]

    def add_pci_devices(self, specs, announce=True):
        """Hot-add functions as the PCI core does: all "add"s first, then
        the drivers probe ("bind")."""
        with self.lock:
            drivers = {}
            for s in specs:
                drivers[s['address']] = s.get('driver')
                self.add_pci(s, announce=announce, bind=False)
            for s in specs:
                if drivers[s['address']]:
                    self.bind(s['address'], drivers[s['address']], announce)

    # ------------------------------------------------------------------
    # USB
    def usb_devpath(self, spec):
        if spec.get('parent'):
            return self.devpaths[spec['parent']] + '/' + spec['address']
        return self.devpaths[spec['parent_pci']] + '/' + spec['address']

    @staticmethod
    def usb_minor(spec):
        return (spec['busnum'] - 1) * 128 + spec['devnum'] - 1

    def _usb_product(self, spec):
        return '%x/%x/%x' % (int(spec['vendor_id'], 16), int(spec['product_id'], 16),
                             int(spec['bcd_device'], 16))

    def add_usb(self, spec, announce=True):
        with self.lock:
            spec = dict(spec)
            spec['interfaces'] = [dict(i) for i in spec['interfaces']]
            addr = spec['address']
            path = self.usb_devpath(spec)
            self.devpaths[addr] = path
            self.usb[addr] = spec
            w = self.write
            minor = self.usb_minor(spec)
            devname = 'bus/usb/%03d/%03d' % (spec['busnum'], spec['devnum'])
            self.mkdir(path + '/power')
            w(path + '/power/control', 'on\n' if spec['root_hub'] else 'auto\n')
            w(path + '/power/autosuspend_delay_ms', '2000\n')
            attrs = {
                'busnum': '%d' % spec['busnum'], 'devnum': '%d' % spec['devnum'],
                'devpath': spec['devpath'], 'idVendor': spec['vendor_id'],
                'idProduct': spec['product_id'], 'bcdDevice': spec['bcd_device'],
                'bDeviceClass': spec['device_class'], 'bDeviceSubClass': '00',
                'bDeviceProtocol': '01' if spec['root_hub'] and spec['speed'] == '480' else '00',
                'bMaxPacketSize0': '%d' % spec['max_packet_size0'], 'bNumConfigurations': '1',
                'bConfigurationValue': '1', 'bNumInterfaces': '%2d' % len(spec['interfaces']),
                'bmAttributes': 'e0' if spec['root_hub'] else '80', 'bMaxPower': spec['max_power'],
                'speed': spec['speed'], 'version': spec['version'],
                'authorized': '1' if spec['authorized'] else '0', 'avoid_reset_quirk': '0',
                'configuration': '', 'maxchild': '%d' % spec['maxchild'], 'quirks': '0x0',
                'removable': spec['removable'], 'urbnum': '42', 'ltm_capable': 'no',
                'rx_lanes': '1', 'tx_lanes': '1', 'dev': '%d:%d' % (USB_MAJOR, minor),
            }
            for key in ('manufacturer', 'product', 'serial'):
                if spec.get(key) is not None:
                    attrs[key] = spec[key]
            if spec['root_hub']:
                attrs['authorized_default'] = '1'
                attrs['interface_authorized_default'] = '1'
            for k, v in attrs.items():
                w(path + '/' + k, v + '\n', 0o644 if k == 'authorized' else 0o444)
            w(path + '/descriptors', pciconfig.usb_descriptors(spec), 0o444)
            self.symlink('/sys/bus/usb', path + '/subsystem')
            self.symlink(path, '/sys/bus/usb/devices/' + addr)
            self.symlink(path, '/sys/dev/char/%d:%d' % (USB_MAJOR, minor))
            self._devnode(devname, '%d:%d' % (USB_MAJOR, minor))
            spec['_uevent'] = ['MAJOR=%d' % USB_MAJOR, 'MINOR=%d' % minor, 'DEVNAME=' + devname,
                               'DEVTYPE=usb_device', None,
                               'PRODUCT=' + self._usb_product(spec),
                               'TYPE=%d/0/%d' % (int(spec['device_class'], 16),
                                                 int(attrs['bDeviceProtocol'], 16)),
                               'BUSNUM=%03d' % spec['busnum'], 'DEVNUM=%03d' % spec['devnum']]
            self._usb_write_uevent(addr, None)
            self._notify('added', self.real(path), 'usb-dev', addr)
            if announce:
                self.uevent(path, 'add')
            if spec.get('driver'):
                self.usb_bind(addr, spec['driver'], announce)
            if spec['authorized']:
                self._usb_add_interfaces(addr, announce)
            return path

    def _usb_write_uevent(self, addr, driver):
        spec = self.usb[addr]
        lines = [l if l is not None else ('DRIVER=' + driver if driver else None) for l in spec['_uevent']]
        self.write(self.devpaths[addr] + '/uevent', '\n'.join(l for l in lines if l) + '\n')

    def usb_driver_of(self, name):
        link = self.real(self.devpaths[name] + '/driver')
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None

    def usb_bind(self, addr, driver, announce=True):
        with self.lock:
            path = self.devpaths[addr]
            d = self.usb_driver_dir(driver)
            self.symlink(d, path + '/driver')
            self.symlink(path, d + '/' + addr)
            if addr in self.usb:
                self.usb[addr]['driver'] = driver
                self._usb_write_uevent(addr, driver)
            else:
                self.write(path + '/uevent', self._itf_uevent(addr, driver))
            if announce:
                self.uevent(path, 'bind')
            itf = self._usb_interface(addr)
            if itf and driver == itf.get('native_driver'):
                # usb-storage's SCSI host and block devices come with it
                self._add_children_at(path, itf.get('children', []), announce)

    def usb_unbind(self, addr, announce=True):
        with self.lock:
            path = self.devpaths[addr]
            driver = self.usb_driver_of(addr)
            if not driver:
                return False
            itf = self._usb_interface(addr)
            if itf:
                # the driver's remove() takes its block devices with it
                self._remove_children_at(path, itf.get('children', []), announce)
            self.unlink(path + '/driver')
            self.unlink('/sys/bus/usb/drivers/%s/%s' % (driver, addr))
            if addr in self.usb:
                self.usb[addr]['driver'] = None
                self._usb_write_uevent(addr, None)
            else:
                self.write(path + '/uevent', self._itf_uevent(addr, None))
            if announce:
                self.uevent(path, 'unbind')
            return True

    def _usb_interface(self, name):
        """The spec of interface `name` ("2-1:1.0"), None for a device."""
        if ':' not in name:
            return None
        dev_name = name.split(':')[0]
        spec = self.usb.get(dev_name) or self.usb.get('usb' + dev_name.split('-')[0])
        return next((i for i in spec['interfaces'] if i['name'] == name), None) if spec else None

    def usb_native_driver(self, name):
        """The driver the kernel gives interface `name` when probed."""
        itf = self._usb_interface(name)
        return itf.get('native_driver') if itf else None

    def _itf_uevent(self, itf_name, driver):
        dev_name = itf_name.split(':')[0]
        spec = self.usb.get(dev_name) or self.usb['usb' + dev_name.split('-')[0]]
        itf = next(i for i in spec['interfaces'] if i['name'] == itf_name)
        lines = ['DEVTYPE=usb_interface']
        if driver:
            lines.append('DRIVER=' + driver)
        lines += ['PRODUCT=' + self._usb_product(spec),
                  'TYPE=%d/0/0' % int(spec['device_class'], 16),
                  'INTERFACE=%d/%d/%d' % (int(itf['cls'], 16), int(itf['subclass'], 16),
                                          int(itf['protocol'], 16)),
                  'MODALIAS=' + self._itf_modalias(spec, itf)]
        return '\n'.join(lines) + '\n'

    @staticmethod
    def _itf_modalias(spec, itf):
        return 'usb:v%sp%sd%sdc%sdsc00dp00ic%sisc%sip%sin%02X' % (
            spec['vendor_id'].upper(), spec['product_id'].upper(), spec['bcd_device'].upper(),
            spec['device_class'].upper(), itf['cls'].upper(), itf['subclass'].upper(),
            itf['protocol'].upper(), itf['number'])

    def _usb_add_interfaces(self, addr, announce):
        spec = self.usb[addr]
        path = self.devpaths[addr]
        for itf in spec['interfaces']:
            ipath = path + '/' + itf['name']
            self.devpaths[itf['name']] = ipath
            itf.setdefault('native_driver', itf.get('driver'))
            w = self.write
            self.mkdir(ipath + '/power')
            w(ipath + '/bInterfaceNumber', '%02x\n' % itf['number'], 0o444)
            w(ipath + '/bAlternateSetting', ' 0\n', 0o444)
            w(ipath + '/bNumEndpoints', '01\n', 0o444)
            w(ipath + '/bInterfaceClass', itf['cls'] + '\n', 0o444)
            w(ipath + '/bInterfaceSubClass', itf['subclass'] + '\n', 0o444)
            w(ipath + '/bInterfaceProtocol', itf['protocol'] + '\n', 0o444)
            w(ipath + '/authorized', '1\n', 0o644)
            w(ipath + '/supports_autosuspend', '1\n', 0o444)
            w(ipath + '/modalias', self._itf_modalias(spec, itf) + '\n', 0o444)
            w(ipath + '/uevent', self._itf_uevent(itf['name'], None))
            self.symlink('/sys/bus/usb', ipath + '/subsystem')
            self.symlink(ipath, '/sys/bus/usb/devices/' + itf['name'])
            if announce:
                self.uevent(ipath, 'add')
        for itf in spec['interfaces']:
            if itf.get('driver'):
                self.usb_bind(itf['name'], itf['driver'], announce)

    def _usb_remove_interfaces(self, addr, announce):
        spec = self.usb[addr]
        for itf in reversed(spec['interfaces']):
            ipath = self.devpaths.get(itf['name'])
            if not ipath:
                continue
            self.usb_unbind(itf['name'], announce)
            if announce:
                self.uevent(ipath, 'remove')
            self.unlink('/sys/bus/usb/devices/' + itf['name'])
            shutil.rmtree(self.real(ipath))
            del self.devpaths[itf['name']]

    def set_usb_authorized(self, addr, authorized, announce=True):
        """What writing the "authorized" attribute does in the kernel."""
        with self.lock:
            spec = self.usb[addr]
            if spec['authorized'] == authorized:
                return
            if not authorized:
                self._usb_remove_interfaces(addr, announce)
            spec['authorized'] = authorized
            path = self.devpaths[addr] + '/authorized'
            if self.read(path).strip() != ('1' if authorized else '0'):
                # called by a test, not in answer to a write of the attribute
                self.write(path, '1\n' if authorized else '0\n')
            if authorized:
                self._usb_add_interfaces(addr, announce)
            if announce:
                self.uevent(self.devpaths[addr], 'change')

    def remove_usb(self, addr, announce=True):
        """Unplug a USB device (and everything behind it, if a hub)."""
        with self.lock:
            for child in [a for a, s in self.usb.items() if s.get('parent') == addr]:
                self.remove_usb(child, announce)
            spec = self.usb[addr]
            path = self.devpaths[addr]
            self._usb_remove_interfaces(addr, announce)
            self.usb_unbind(addr, announce)
            if announce:
                self.uevent(path, 'remove')
            self._notify('removed', self.real(path), 'usb-dev', addr)
            minor = self.usb_minor(spec)
            self.unlink('/sys/bus/usb/devices/' + addr)
            self.unlink('/sys/dev/char/%d:%d' % (USB_MAJOR, minor))
            self._rm_devnode('bus/usb/%03d/%03d' % (spec['busnum'], spec['devnum']))
            shutil.rmtree(self.real(path))
            del self.usb[addr]
            del self.devpaths[addr]

    # ------------------------------------------------------------------
    # tests
    def set_attribute(self, address, name, value, announce=True):
        """Change an attribute in place and announce it with "change"."""
        with self.lock:
            path = self.devpaths[address]
            self.write(path + '/' + name, value)
            if announce:
                self.uevent(path, 'change')

    def attr_path(self, address, name):
        """Real path of a device attribute, for tests that write as a
        program would (open, write, close)."""
        return self.real(self.devpaths[address] + '/' + name)

    def _testbed_alive(self):
        return any(isinstance(o, UMockdev.Testbed) for o in gc.get_objects())

    def close(self):
        """Remove the testbed. The umockdev root goes with the Testbed."""
        with self.lock:
            self.listeners.clear()
            root = self.root
            self.tb = None
            # The Testbed removes its root when it is finalized, and aborts
            # if the root is gone by then: let it go first, and remove what
            # is left only when nothing holds it any more.
            gc.collect()
            if os.path.exists(root) and not self._testbed_alive():
                shutil.rmtree(root, ignore_errors=True)
            GLib.unsetenv('UMOCKDEV_DIR')
