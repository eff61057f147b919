"""A kernel emulator: reacts to writes into the testbed's sysfs as Linux does.

Sysfs in a umockdev testbed is plain files: a write to driver_override
lands in the file and nothing happens. KernelEmulator watches the
attributes that keep a value (driver_override, sriov_numvfs, authorized,
remove) with inotify on their directories, so files replaced later are
still seen, and reads the write-only control files (bind, unbind,
drivers_probe, new_id, remove_id, rescan), which SimHost makes FIFOs so
that quick successive writes are neither lost nor merged. A few
milliseconds after a write it does what the kernel would:

  /sys/bus/pci/devices/D/driver_override   store (empty or "\\n" clears)
  /sys/bus/pci/drivers/X/unbind            release D from X (also through D/driver/unbind)
  /sys/bus/pci/drivers/X/bind              bind D to X if X matches D
  /sys/bus/pci/drivers/X/new_id, remove_id dynamic ids; new_id also probes
  /sys/bus/pci/drivers_probe               bind D to its override, else to its own driver
  /sys/bus/pci/devices/D/sriov_numvfs      create or destroy virtual functions, each in an IOMMU
                                           group of its own, with physfn/virtfnN links; a
                                           non-zero → non-zero write is refused (EBUSY: the
                                           value stays) and so is one above sriov_totalvfs
  /sys/bus/pci/devices/D/sriov_drivers_autoprobe  whether new VFs get their driver
  /sys/bus/pci/devices/D/remove            hot-remove D;  /sys/bus/pci/rescan re-adds it
  /sys/bus/usb/devices/U/authorized        (de)authorize a USB device
  /sys/bus/usb/drivers/X/bind, unbind      USB interfaces and devices; unbinding usb-storage
                                           takes the interface's SCSI disk and partitions away,
                                           binding it back brings them back
  /sys/bus/usb/drivers_probe               an interface without a driver gets its own driver

with the links, uevent files and uevents (bind, unbind, add, remove,
change) of the real thing, and /dev/vfio/N while a group is bound to
vfio-pci.

Faults for tests: `faults['unbind-hangs']` (addresses whose unbind never
completes), `faults['probe-fails']` (addresses no driver will bind).
Reactions are serialized on one thread, in the order of the writes.
"""

import itertools
import os
import random
import re
import select
import shutil
import threading
import time
import traceback

from . import pciconfig
from .inotify import IN_CLOSE_WRITE, IN_IGNORED, IN_ONLYDIR, IN_Q_OVERFLOW, Inotify
from .rtnl import RtnlEmulator

# Where hostdevd sends its rtnetlink VF requests in a simulated host
# (HOSTDEV_RTNL_SOCKET, see rtnl.py), relative to the testbed root.
RTNL_SOCKET = 'rtnetlink.sock'


class KernelEmulator:
    def __init__(self, simhost, delay=(0.001, 0.007)):
        self.host = simhost
        self.delay = delay
        self.faults = {'unbind-hangs': set(), 'probe-fails': set()}
        self.dynamic_ids = {}      # driver -> set of (vendor, device) ints
        self.errors = []           # tracebacks of failed reactions
        self.log = []              # (file, value) handled, for debugging
        self.removed = {}          # address -> spec removed through "remove"
        self._own = {}             # path -> text the emulator itself wrote back (SR-IOV attributes)
        self._ino = Inotify()
        self._watches = {}         # wd -> (kind, key, path)
        self._by_path = {}
        self._fifos = {}           # read fd -> (kind, key, path, keep-alive write fd)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = None
        self._idle = threading.Condition()
        self._busy = 0
        self._seq = itertools.count()
        self.handlers = {
            ('pci-dev', 'driver_override'): self._pci_driver_override,
            ('pci-dev', 'sriov_numvfs'): self._pci_sriov_numvfs,
            ('pci-dev', 'sriov_drivers_autoprobe'): self._pci_sriov_autoprobe,
            ('pci-dev', 'remove'): self._pci_remove,
            ('pci-drv', 'bind'): self._pci_bind,
            ('pci-drv', 'unbind'): self._pci_unbind,
            ('pci-drv', 'new_id'): self._pci_new_id,
            ('pci-drv', 'remove_id'): self._pci_remove_id,
            ('pci-bus', 'drivers_probe'): self._pci_drivers_probe,
            ('pci-bus', 'rescan'): self._pci_rescan,
            ('usb-dev', 'authorized'): self._usb_authorized,
            ('usb-drv', 'bind'): self._usb_bind,
            ('usb-drv', 'unbind'): self._usb_unbind,
            ('usb-bus', 'drivers_probe'): self._usb_drivers_probe,
        }
        simhost.listeners.append(self._on_dir)
        self._watch_existing()
        self.rtnl = RtnlEmulator(self, os.path.join(simhost.root, RTNL_SOCKET))

    # ------------------------------------------------------------------
    # watches
    def _watch_existing(self):
        h = self.host
        self._on_dir('added', h.real('/sys/bus/pci'), 'pci-bus', None)
        self._on_dir('added', h.real('/sys/bus/usb'), 'usb-bus', None)
        for drv in os.listdir(h.real('/sys/bus/pci/drivers')):
            self._on_dir('added', h.real('/sys/bus/pci/drivers/' + drv), 'pci-drv', drv)
        for drv in os.listdir(h.real('/sys/bus/usb/drivers')):
            self._on_dir('added', h.real('/sys/bus/usb/drivers/' + drv), 'usb-drv', drv)
        for addr in h.pci:
            self._on_dir('added', h.real(h.devpaths[addr]), 'pci-dev', addr)
        for addr in h.usb:
            self._on_dir('added', h.real(h.devpaths[addr]), 'usb-dev', addr)

    def _on_dir(self, event, path, kind, key):
        if event == 'added':
            if kind in ('pci-dev', 'usb-dev'):
                wd = self._ino.add_watch(path, IN_CLOSE_WRITE | IN_ONLYDIR)
                self._watches[wd] = (kind, key, path)
                self._by_path[path] = wd
            for name in os.listdir(path):
                p = os.path.join(path, name)
                if p in self.host.controls:
                    self._open_fifo(kind, key, p)
        elif event == 'removed':
            wd = self._by_path.pop(path, None)
            if wd is not None:
                self._watches.pop(wd, None)
                self._ino.rm_watch(wd)

    def _open_fifo(self, kind, key, path):
        if any(f[2] == path for f in self._fifos.values()):
            return
        rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        # our own writer keeps the FIFO from reporting hang-up between writers
        wfd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self._fifos[rfd] = (kind, key, path, wfd)
        if self._thread:
            os.write(self._stop_w, b'r')  # wake the thread to select on it too

    # ------------------------------------------------------------------
    # thread
    def start(self):
        self._thread = threading.Thread(target=self._run, name='kernel-emulator', daemon=True)
        self._thread.start()
        self.rtnl.start()
        return self

    def stop(self):
        self.rtnl.stop()
        if self._thread:
            os.write(self._stop_w, b'x')
            self._thread.join(10)
            self._thread = None
        if self._on_dir in self.host.listeners:
            self.host.listeners.remove(self._on_dir)
        for rfd, (_k, _key, _p, wfd) in self._fifos.items():
            os.close(rfd)
            os.close(wfd)
        self._fifos.clear()
        self._ino.close()
        os.close(self._stop_r)
        os.close(self._stop_w)

    def settle(self, timeout=5.0):
        """Wait until every write seen so far has been reacted to."""
        deadline = time.monotonic() + timeout
        time.sleep(0.02)  # let inotify deliver what was just written
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # Writes that reach the emulator together (one select() wake-up) are
    # applied in the order a program issues them when it follows the
    # usual sequences (override, unbind, probe): stored values first, then
    # releases, then new bindings.
    _RANK = {'driver_override': 0, 'sriov_drivers_autoprobe': 0, 'sriov_numvfs': 0, 'authorized': 0,
             'unbind': 1, 'remove_id': 2, 'new_id': 3, 'bind': 4,
             'drivers_probe': 5, 'remove': 6, 'rescan': 7}

    def _run(self):
        while True:
            r, _, _ = select.select([self._ino.fd, self._stop_r] + list(self._fifos), [], [])
            if self._stop_r in r:
                if b'x' in os.read(self._stop_r, 64):
                    return
            with self._idle:
                self._busy += 1
            try:
                batch = []
                for fd in r:
                    if fd in self._fifos:
                        batch += self._read_fifo(fd)
                if self._ino.fd in r:
                    batch += self._read_inotify()
                batch.sort(key=lambda item: (self._RANK.get(os.path.basename(item[3]), 9), item[0]))
                for _seq, handler, key, path, value in batch:
                    self._dispatch(handler, key, value, path)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    _PCI_ADDR = re.compile(r'[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]')
    _UUID = re.compile(r'[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}')

    def _read_fifo(self, fd):
        kind, key, path, _wfd = self._fifos[fd]
        try:
            data = os.read(fd, 65536).decode(errors='replace')
        except BlockingIOError:
            return []
        name = os.path.basename(path)
        handler = self.handlers.get((kind, name))
        if not data or handler is None:
            if data:
                self.log.append((path, data))
            return []
        # One read may hold several writes. PCI addresses have a fixed
        # shape, so they split even when writers add no newline.
        if kind == 'pci-bus' or (kind == 'pci-drv' and name in ('bind', 'unbind')):
            values = self._PCI_ADDR.findall(data) or [data]
        elif kind == 'mdev-type':
            # UUIDs have a fixed shape too: quick creates arrive as one read
            values = self._UUID.findall(data) or [data]
        else:
            values = [v for v in data.splitlines() if v.strip()] or [data]
        return [(next(self._seq), handler, key, path, v) for v in values]

    def _read_inotify(self):
        out = []
        for wd, mask, name in self._ino.read():
            if mask & IN_Q_OVERFLOW:
                self.errors.append('inotify queue overflow: writes were lost')
                continue
            if mask & IN_IGNORED:
                self._watches.pop(wd, None)
                continue
            w = self._watches.get(wd)
            if not w or not (mask & IN_CLOSE_WRITE):
                continue
            kind, key, dirpath = w
            handler = self.handlers.get((kind, name))
            if handler is None:
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path) as f:
                    value = f.read()
            except OSError:
                continue
            if self._own.get(path) == value:
                # our own normalization of a value just handled, not a write
                del self._own[path]
                continue
            if not value:
                # opened with O_TRUNC and not written yet (the kernel never
                # sees an empty write): the writer's close will come
                continue
            if name == 'remove':
                # a write-only trigger: consumed, so that the next write is new
                try:
                    os.truncate(path, 0)
                except OSError:
                    pass
            out.append((next(self._seq), handler, key, path, value))
        return out

    # attributes the kernel stores at once; the rest reacts a little later
    _IMMEDIATE = ('driver_override', 'authorized', 'sriov_numvfs', 'sriov_drivers_autoprobe')

    def pause(self):
        time.sleep(random.uniform(*self.delay))

    def _dispatch(self, handler, key, value, path):
        if os.path.basename(path) not in self._IMMEDIATE:
            self.pause()
        self.log.append((path, value))
        try:
            with self.host.lock:
                handler(key, value.strip(), path, value)
        except Exception:
            self.errors.append(traceback.format_exc())

    # ------------------------------------------------------------------
    # PCI
    def _spec(self, addr):
        return self.host.pci.get(addr)

    def _matches(self, spec, driver):
        """Would `driver` accept this device (driver_override, ids)?"""
        override = spec.get('driver_override')
        if override:
            return override == driver
        if driver == spec.get('native_driver'):
            return True
        ids = (int(spec['vendor_id'], 16), int(spec['device_id'], 16))
        return ids in self.dynamic_ids.get(driver, set())

    def probe(self, addr, announce=True):
        """What the driver core does for an unbound device."""
        spec = self._spec(addr)
        if spec is None or self.host.driver_of(addr) or addr in self.faults['probe-fails']:
            return False
        candidates = [spec.get('driver_override')] if spec.get('driver_override') else \
            [spec.get('native_driver')] + sorted(self.dynamic_ids)
        for drv in candidates:
            if drv and os.path.isdir(self.host.real('/sys/bus/pci/drivers/' + drv)) \
                    and self._matches(spec, drv):
                return self.host.bind(addr, drv, announce)
        return False

    def _pci_driver_override(self, addr, value, path, raw=None):
        spec = self._spec(addr)
        if spec is None:
            return
        new = value if value and value != '(null)' else None
        spec['driver_override'] = new
        self._normalize(path, raw, (new or '(null)') + '\n')

    def _pci_unbind(self, driver, value, path, raw=None):
        if value in self.faults['unbind-hangs']:
            return
        if self.host.driver_of(value) == driver:
            self.host.unbind(value)

    def _pci_bind(self, driver, value, path, raw=None):
        spec = self._spec(value)
        if spec is None or self.host.driver_of(value) or value in self.faults['probe-fails']:
            return
        if self._matches(spec, driver):
            self.host.bind(value, driver)

    def _pci_drivers_probe(self, _key, value, path, raw=None):
        self.probe(value)

    def _parse_id(self, value):
        parts = value.split()
        if len(parts) < 2:
            return None
        return int(parts[0], 16), int(parts[1], 16)

    def _pci_new_id(self, driver, value, path, raw=None):
        ids = self._parse_id(value)
        if ids is None:
            return
        self.dynamic_ids.setdefault(driver, set()).add(ids)
        for addr, spec in sorted(self.host.pci.items()):
            if not self.host.driver_of(addr) and self._matches(spec, driver) \
                    and addr not in self.faults['probe-fails']:
                self.host.bind(addr, driver)

    def _pci_remove_id(self, driver, value, path, raw=None):
        ids = self._parse_id(value)
        if ids:
            self.dynamic_ids.get(driver, set()).discard(ids)

    def _pci_remove(self, addr, value, path, raw=None):
        if value != '1' or addr not in self.host.pci:
            return
        specs = [s for s in self.host.pci.values() if s.get('physfn') == addr]
        self.removed[addr] = dict(self.host.pci[addr])
        self.host.remove_pci(addr)
        for vf in specs:
            self.removed.pop(vf['address'], None)

    def _pci_rescan(self, _key, value, path, raw=None):
        if value != '1':
            return
        specs = sorted(self.removed.values(), key=lambda s: s['address'])
        self.removed.clear()
        for s in specs:
            s = dict(s, driver=s.get('native_driver'))
            if s.get('driver_override'):
                s['driver'] = s['driver_override']
            self.host.add_pci_devices([s])

    # SR-IOV ------------------------------------------------------------
    def _pci_sriov_numvfs(self, addr, value, path, raw=None):
        spec = self._spec(addr)
        if spec is None or not spec.get('sriov'):
            return
        sriov = spec['sriov']
        current = sriov['numvfs']
        try:
            want = int(value)
        except ValueError:
            want = -1
        if want == current:
            return
        if want < 0 or want > sriov['totalvfs'] or (want and current):
            # the kernel refuses (EINVAL/EBUSY): the attribute keeps its value
            self._store(path, raw, '%d\n' % current)
            return
        # reads back as the kernel prints it before anything else happens,
        # so that a program waiting for the effect cannot write again first
        self._store(path, raw, '%d\n' % want)
        self.pause()
        if want == 0:
            # the PF driver drops the VFs' settings with them
            self.rtnl.vfs.pop(addr, None)
            # the PCI core removes VFs one by one, first to last
            vfs = sorted((s for s in self.host.pci.values() if s.get('physfn') == addr),
                         key=lambda s: s['vf_index'])
            for vf in vfs:
                self.host.remove_pci_devices([vf['address']])
        else:
            self._create_vfs(spec, want)
        sriov['numvfs'] = want
        self._write(self.host.real(self.host.devpaths[addr] + '/config'),
                    pciconfig.build_config(spec), binary=True)
        self.host.uevent(self.host.devpaths[addr], 'change')

    def _pci_sriov_autoprobe(self, addr, value, path, raw=None):
        spec = self._spec(addr)
        if spec is None or not spec.get('sriov') or value not in ('0', '1'):
            if spec is not None and spec.get('sriov'):
                self._store(path, raw, '1\n' if spec['sriov'].get('drivers_autoprobe', True) else '0\n')
            return
        spec['sriov']['drivers_autoprobe'] = value == '1'
        self._store(path, raw, value + '\n')

    def _store(self, path, raw, text):
        """_normalize, remembering the text so that its own inotify event
        is not taken for a write."""
        if raw != text:
            self._own[path] = text
        self._normalize(path, raw, text)

    def sriov_writes(self, addr):
        """The values written to a PF's sriov_numvfs, in order. A stored
        attribute is read when its inotify event is handled, so a quick
        later write can be read twice (for its event and the one before):
        repeats in a row count once."""
        suffix = '/' + addr + '/sriov_numvfs'
        out = []
        for p, v in list(self.log):
            if p.endswith(suffix) and (not out or out[-1] != v.strip()):
                out.append(v.strip())
        return out

    def vf_spec(self, pf, index, used=()):
        s = pf['sriov']
        bus = int(pf['address'][5:7], 16)
        devfn = int(pf['address'][8:10], 16) * 8 + int(pf['address'][11], 16)
        devfn += s['offset'] + index * s['stride']
        bus += devfn >> 8
        devfn &= 0xff
        addr = '%s:%02x:%02x.%d' % (pf['address'][:4], bus, devfn >> 3, devfn & 7)
        name = 'enp%ds%d%s' % (bus, devfn >> 3, 'f%d' % (devfn & 7) if devfn & 7 else '')
        return {
            'address': addr, 'kind': 'pci', 'parent': pf['parent'],
            'vendor_id': pf['vendor_id'], 'device_id': s['vf_device'],
            'subsystem_vendor_id': pf['vendor_id'], 'subsystem_id': s.get('vf_subsystem_id', '0000'),
            'class': pf['class'], 'revision': pf['revision'],
            'vendor_name': pf['vendor_name'], 'product_name': s.get('vf_product_name'),
            'class_name': pf['class_name'],
            'driver': s.get('vf_driver') if s.get('drivers_autoprobe', True) else None,
            'native_driver': s.get('vf_driver'), 'driver_override': None,
            'iommu_group': self.free_group(used), 'serial': None, 'serial_source': None,
            'numa_node': pf['numa_node'],
            'pcie': {'port_type': 'endpoint', 'link_speed': 'Unknown', 'link_width': 0,
                     'max_link_speed': 'Unknown', 'max_link_width': 0},
            'reset_methods': ['flr'], 'boot_vga': None, 'slot': None, 'multifunction': False,
            'sriov': None, 'physfn': pf['address'], 'vf_index': index,
            'children': [{'subsystem': 'net', 'name': name, 'dir': 'net/' + name,
                          'attributes': {'address': '52:54:00:%02x:%02x:%02x' % (bus, devfn, index),
                                         'ifindex': str(100 + devfn), 'operstate': 'up'},
                          'properties': {'INTERFACE': name, 'IFINDEX': str(100 + devfn)}}]
            if pf['class'].startswith('02') else [],
        }

    def free_group(self, also_used=()):
        """The kernel allocates IOMMU group numbers lowest-free first."""
        used = {s.get('iommu_group') for s in self.host.pci.values()} | set(also_used)
        n = 0
        while n in used:
            n += 1
        return n

    def _create_vfs(self, pf, count):
        used = set()
        specs = []
        for i in range(count):
            vf = self.vf_spec(pf, i, used)
            used.add(vf['iommu_group'])
            specs.append(vf)
        # each VF is added and probed before the next one
        for vf in specs:
            self.host.add_pci_devices([vf])

    @staticmethod
    def _normalize(path, raw, text):
        """Make a stored attribute read back as the kernel prints it
        ("vfio-pci\n", "(null)\n", "2\n"). The written text is already in
        the file (a testbed cannot hide it until the kernel accepts it), so
        this is done first thing when reacting, before any uevent lets the
        writer move on, on the open file, and only if nobody has written
        since (a newer write brings its own event)."""
        if raw == text:
            return
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return
        try:
            if os.pread(fd, 4096, 0).decode(errors='replace') == raw:
                data = text.encode()
                os.pwrite(fd, data, 0)
                os.ftruncate(fd, len(data))
        finally:
            os.close(fd)

    @staticmethod
    def _write(path, content, binary=False):
        with open(path, 'wb' if binary else 'w') as f:
            f.write(content)

    # ------------------------------------------------------------------
    # USB
    def _usb_authorized(self, addr, value, path, raw=None):
        if addr not in self.host.usb or value not in ('0', '1'):
            return
        self.host.set_usb_authorized(addr, value == '1')

    def _usb_bind(self, driver, value, path, raw=None):
        if value in self.host.devpaths and not self.host.usb_driver_of(value):
            self.host.usb_bind(value, driver)

    def _usb_unbind(self, driver, value, path, raw=None):
        if value in self.host.devpaths and self.host.usb_driver_of(value) == driver:
            self.host.usb_unbind(value)

    def _usb_drivers_probe(self, _key, value, path, raw=None):
        """An interface without a driver gets the one that matches it
        (usb-storage, usbhid); one no driver matches stays without."""
        if value not in self.host.devpaths or self.host.usb_driver_of(value):
            return
        if value in self.faults['probe-fails']:
            return
        driver = self.host.usb_native_driver(value)
        if driver:
            self.host.usb_bind(value, driver)


# ----------------------------------------------------------------------
# Mediated devices (tests/mdev). Kept apart from the class above: a test
# that wants mdev parents calls MdevEmulator(sim, kernel).add_parent(...)
# before hostdevd starts.
class MdevEmulator:
    """Writes to <parent>/mdev_supported_types/<type>/create make
    /sys/devices/.../<parent>/<uuid> (mdev_type and iommu_group links, the
    mdev subsystem, /sys/bus/mdev/devices/<uuid>) with an "add" uevent and
    take one from available_instances; writes to <uuid>/remove undo that
    with a "remove" uevent. A UUID that exists, a type without room or a
    malformed UUID change nothing, as the kernel refuses those."""

    _UUID = re.compile(r'^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$')

    def __init__(self, sim, kernel, first_group=200):
        self.sim = sim
        self.kernel = kernel
        self.types = {}        # (parent, type id) -> dict(name, description, available, device_api)
        self.instances = {}    # uuid -> (parent, type id, iommu group)
        self._next_group = first_group
        kernel.handlers[('mdev-type', 'create')] = self._create
        kernel.handlers[('mdev-dev', 'remove')] = self._remove
        sim.mkdir('/sys/bus/mdev/devices')

    def type_dir(self, parent, type_id):
        return self.sim.devpaths[parent] + '/mdev_supported_types/' + type_id

    def add_parent(self, parent, types):
        """types: [{'id', 'name', 'description', 'available', 'device_api'}]"""
        with self.sim.lock:
            for t in types:
                d = self.type_dir(parent, t['id'])
                self.sim.mkdir(d + '/devices')
                self.sim.write(d + '/name', t.get('name', '') + '\n', 0o444)
                self.sim.write(d + '/description', t.get('description', '') + '\n', 0o444)
                self.sim.write(d + '/device_api', t.get('device_api', 'vfio-pci') + '\n', 0o444)
                self.sim.write(d + '/available_instances', '%d\n' % t['available'], 0o444)
                self.sim.control(d + '/create')
                self.kernel._open_fifo('mdev-type', (parent, t['id']), self.sim.real(d + '/create'))
                self.types[(parent, t['id'])] = dict(t)

    def add_virtual_parent(self, name, types):
        """A parent on no bus, as the mtty sample registers it:
        /sys/devices/virtual/<name>/<name>, linked from /sys/class/mdev_bus
        as the kernel does for every parent; then as add_parent."""
        devpath = '/sys/devices/virtual/%s/%s' % (name, name)
        with self.sim.lock:
            self.sim.mkdir(devpath)
            self.sim.mkdir('/sys/class/mdev_bus')
            self.sim.symlink(devpath, '/sys/class/mdev_bus/' + name)
            self.sim.devpaths[name] = devpath
        self.add_parent(name, types)

    def available(self, parent, type_id):
        return int(self.sim.read(self.type_dir(parent, type_id) + '/available_instances'))

    def mdev_path(self, uuid):
        parent, _t, _g = self.instances[uuid]
        return self.sim.devpaths[parent] + '/' + uuid

    def _create(self, key, value, path, raw=None):
        parent, type_id = key
        uuid = value.lower()
        t = self.types[(parent, type_id)]
        if not self._UUID.match(uuid) or uuid in self.instances or t['available'] <= 0:
            return
        group = self._next_group
        self._next_group += 1
        devpath = self.sim.devpaths[parent] + '/' + uuid
        self.sim.mkdir(devpath)
        self.sim.symlink(self.type_dir(parent, type_id), devpath + '/mdev_type')
        self.sim.symlink('/sys/bus/mdev', devpath + '/subsystem')
        gdir = '/sys/kernel/iommu_groups/%d' % group
        self.sim.mkdir(gdir + '/devices')
        self.sim.symlink(devpath, gdir + '/devices/' + uuid)
        self.sim.symlink(gdir, devpath + '/iommu_group')
        self.sim.write(devpath + '/uevent', 'MDEV_TYPE=%s\n' % type_id)
        self.sim.control(devpath + '/remove')
        self.kernel._open_fifo('mdev-dev', uuid, self.sim.real(devpath + '/remove'))
        self.sim.symlink(devpath, '/sys/bus/mdev/devices/' + uuid)
        self.sim.symlink(devpath, self.type_dir(parent, type_id) + '/devices/' + uuid)
        t['available'] -= 1
        self.sim.write(self.type_dir(parent, type_id) + '/available_instances', '%d\n' % t['available'])
        self.instances[uuid] = (parent, type_id, group)
        self.sim.uevent(devpath, 'add')

    def _remove(self, uuid, value, path, raw=None):
        if value != '1' or uuid not in self.instances:
            return
        parent, type_id, group = self.instances.pop(uuid)
        devpath = self.sim.devpaths[parent] + '/' + uuid
        # the room is back by the time the event is read
        t = self.types[(parent, type_id)]
        t['available'] += 1
        self.sim.write(self.type_dir(parent, type_id) + '/available_instances', '%d\n' % t['available'])
        self.sim.unlink('/sys/bus/mdev/devices/' + uuid)
        self.sim.unlink(self.type_dir(parent, type_id) + '/devices/' + uuid)
        self.sim.uevent(devpath, 'remove')
        for rfd, (_k, key, p, wfd) in list(self.kernel._fifos.items()):
            if key == uuid:
                os.close(rfd)
                os.close(wfd)
                del self.kernel._fifos[rfd]
        shutil.rmtree(self.sim.real(devpath), ignore_errors=True)
        shutil.rmtree(self.sim.real('/sys/kernel/iommu_groups/%d' % group), ignore_errors=True)


# ----------------------------------------------------------------------
# NVIDIA vGPU on SR-IOV VFs (tests/mdev). The vGPU host driver (550+, the
# vendor-specific VFIO framework of Ada and later) gives each VF of a GPU
# nvidia/creatable_vgpu_types ("ID : vGPU Name" lines: what this VF can
# become now) and nvidia/current_vgpu_type (the type id, 0 for none).
# Writing a listed id makes the VF a vGPU of that type, writing 0 ends it.
# As NVIDIA documents for that driver, the creatable lists depend on what
# runs on the GPU: by default every vGPU on one GPU has the same framebuffer
# size, and once the vGPUs use up the framebuffer no free VF lists anything;
# a VF that is a vGPU lists nothing. A write the driver refuses (an id not
# creatable on that VF, or not a number) leaves the VF as it was.
class NvidiaVgpuEmulator:
    """PFs whose spec has "nvidia_vgpu" (framebuffer_gb, types with id, name
    and framebuffer_gb), as in host.json hotplug.vgpu, get the nvidia files
    on each VF the kernel emulator creates. Each change of a VF's type
    rewrites the lists of all VFs of its GPU, then sends a "change" uevent
    for the VF written to (also when refused)."""

    HEADER = 'ID    : vGPU Name\n'

    def __init__(self, sim, kernel):
        self.sim = sim
        self.kernel = kernel
        self.current = {}      # VF address -> type id (0: none)
        kernel.handlers[('nvidia-vf', 'current_vgpu_type')] = self._write_type
        sim.listeners.append(self._on_dir)

    def pf_spec(self, pf):
        return self.sim.pci.get(pf)

    def vfs(self, pf):
        return sorted(a for a, s in self.sim.pci.items() if s.get('physfn') == pf and a in self.current)

    def type_of(self, pf, type_id):
        for t in self.pf_spec(pf)['nvidia_vgpu']['types']:
            if t['id'] == type_id:
                return t
        return None

    def creatable(self, pf, vf):
        """What the driver lists on vf now."""
        if self.current.get(vf):
            return []
        spec = self.pf_spec(pf)['nvidia_vgpu']
        used = [self.type_of(pf, self.current[v]) for v in self.vfs(pf) if self.current[v]]
        if not used:
            return list(spec['types'])
        fb = used[0]['framebuffer_gb']
        if sum(t['framebuffer_gb'] for t in used) + fb > spec['framebuffer_gb']:
            return []
        return [t for t in spec['types'] if t['framebuffer_gb'] == fb]

    def nvidia_dir(self, vf):
        return self.sim.devpaths[vf] + '/nvidia'

    def read_creatable(self, vf):
        """The ids sysfs lists on vf."""
        text = self.sim.read(self.nvidia_dir(vf) + '/creatable_vgpu_types')
        return [int(line.split(':')[0]) for line in text.splitlines()[1:] if line.strip()]

    def read_current(self, vf):
        return int(self.sim.read(self.nvidia_dir(vf) + '/current_vgpu_type'))

    def _rewrite(self, pf):
        # only the lists: a write to current_vgpu_type would read as one
        for v in self.vfs(pf):
            text = self.HEADER + ''.join('%d : %s\n' % (t['id'], t['name']) for t in self.creatable(pf, v))
            self.sim.write(self.nvidia_dir(v) + '/creatable_vgpu_types', text, 0o444)

    def _on_dir(self, event, path, kind, key):
        if kind != 'pci-dev':
            return
        if event == 'removed':
            self.current.pop(key, None)
            return
        spec = self.sim.pci.get(key)
        pf = spec.get('physfn') if spec else None
        if not pf or not (self.pf_spec(pf) or {}).get('nvidia_vgpu'):
            return
        self.current[key] = 0
        d = self.sim.real(self.nvidia_dir(key))
        os.makedirs(d, exist_ok=True)
        self.sim.write(self.nvidia_dir(key) + '/current_vgpu_type', '0\n', 0o644)
        self._rewrite(pf)
        wd = self.kernel._ino.add_watch(d, IN_CLOSE_WRITE | IN_ONLYDIR)
        self.kernel._watches[wd] = ('nvidia-vf', key, d)
        self.kernel._by_path[d] = wd

    def _write_type(self, vf, value, path, raw=None):
        if vf not in self.current:
            return
        pf = self.sim.pci[vf]['physfn']
        try:
            want = int(value)
        except ValueError:
            want = -1
        if want == 0:
            self.current[vf] = 0
        elif want > 0 and any(t['id'] == want for t in self.creatable(pf, vf)):
            self.current[vf] = want
        # what the file reads back: the new type, or the old one when refused
        self.kernel._store(path, raw, '%d\n' % self.current[vf])
        self._rewrite(pf)
        self.sim.uevent(self.sim.devpaths[vf], 'change')
