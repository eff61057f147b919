#!/usr/bin/python3
"""The cases that run inside the test guest (../vmtest.py boots it).

One boot runs them all, in order, against one hostdevd on the guest's
system bus; each case leaves the devices as it found them. A case for a
capability hostdevd does not offer yet skips and names what is missing.

To add a case: write a function decorated with @case; ctx gives the bus,
the daemon, the ID databases and the fixture's addresses (ctx.dev).
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import GLib  # noqa: E402

from vmlib import (  # noqa: E402
    CASES, DEVICE, GROUP, MANAGER, PCI, RESOURCE_GROUP, ROOT, SRIOV, SYS_PCI, SYS_USB, USB,
    Bus, CallError, Daemon, PciIds, Skip, Tap, UsbIds,
    block_pci_ancestor, case, check, equal, find_one_pci, find_pci, group_path, iommu_groups,
    link_name, pci_addresses, pci_info, pci_path, pci_slots, read, rebind, usb_info, usb_names,
    usb_path, vfio_group_viable, write)

# The emulated hardware (vmtest.py, qemu_command): name -> (PCI ids, driver).
FIXTURE = {
    'e1000e': ((0x8086, 0x10d3), 'e1000e'),       # alone behind a root port
    'e1000': ((0x8086, 0x100e), 'e1000'),         # behind the PCIe-to-PCI bridge
    'testdev': ((0x1b36, 0x0005), ''),            # beside it; no driver claims it
    'pci_bridge': ((0x1b36, 0x000e), None),
    'edu': ((0x1234, 0x11e8), ''),                # behind a root port without ACS
    'nvme': ((0x1b36, 0x0010), 'nvme'),           # SR-IOV PF, two VFs
    'xhci': ((0x1b36, 0x000d), 'xhci_hcd'),
    'root_disk': ((0x1af4, 0x1001), 'virtio-pci'),  # holds the guest's / (transitional virtio-blk)
}
ROOT_PORT = (0x1b36, 0x000c)
CLAIM = 'org.hostdev1.Claim'
MDEV = 'org.hostdev1.Mdev'
MDEV_PARENT = 'org.hostdev1.MdevParent'
NO_ASK = {'auth.no_user_interaction': GLib.Variant('b', True)}
NVME_TOTAL_VFS = 2
USB_KEYBOARD = (0x0627, 0x0001)
USB_STICK = (0x46f4, 0x0001)
USB_STICK_SERIAL = 'HOSTDEVSTICK01'


def is_vfio(driver):
    return driver == 'vfio-pci' or driver.endswith('-vfio-pci')


class Mismatches:
    """Collects every difference, so one failure shows them all."""

    def __init__(self):
        self.items = []

    def eq(self, actual, expected, what):
        if actual != expected:
            self.items.append('%s: hostdevd says %r, expected %r' % (what, actual, expected))

    def check(self):
        if self.items:
            raise AssertionError('%d mismatches:\n  ' % len(self.items) + '\n  '.join(self.items))


class Ctx:
    def __init__(self, args):
        self.args = args
        self.bus = Bus()
        self.daemon = Daemon(args.build_root, os.path.join(args.results, 'hostdevd.log'))
        self.pciids = PciIds()
        self.usbids = UsbIds()
        self.dev = {name: find_one_pci(ids, name) for name, (ids, _) in FIXTURE.items()}
        # the root port without ACS: the edu device's parent
        self.dev['edu_port'] = os.path.basename(os.path.dirname(os.path.realpath(
            os.path.join(SYS_PCI, self.dev['edu']))))
        self.unexpected_exits = []
        self.notes = []  # printed with a failing case
        # USB enumeration behind the xHCI may outlast udev's settle.
        self.bus.wait(lambda: {USB_KEYBOARD, USB_STICK} <= {(usb_info(n)['vendor'], usb_info(n)['product'])
                                                          for n in usb_names()},
                      'the USB keyboard and stick to enumerate')
        subprocess.run(['udevadm', 'settle', '--timeout=30'])

    @contextlib.contextmanager
    def on_failure(self, what, undo):
        """Runs undo when the block fails, so later cases find the devices as
        the fixture has them; an undo that fails too is noted, never raised
        over the case's own failure."""
        try:
            yield
        except BaseException:
            try:
                self.ensure_daemon()
                undo()
            except Exception as e:
                self.notes.append('%s failed too: %s' % (what, e))
            raise

    def ensure_daemon(self):
        """Before each case: a daemon that died is a failure of the run,
        reported at the end, and is restarted so later cases still tell."""
        if self.daemon.proc is not None and not self.daemon.running():
            self.unexpected_exits.append(self.daemon.proc.returncode)
            self.daemon.proc = None
        if not self.daemon.running():
            self.daemon.start(self.bus)

    def restart_daemon(self):
        code = self.daemon.stop(self.bus)
        equal(code, 0, 'hostdevd exit status on SIGTERM')
        return self.daemon.start(self.bus)

    # --- capabilities not every daemon has ------------------------------------
    def manager_method(self, name):
        api = self.bus.introspect(ROOT).get(MANAGER, {'methods': {}})
        if name not in api['methods']:
            raise Skip('Manager.%s not available: hostdevd does not offer it yet (issue 5)' % name)
        return api['methods'][name]

    def device_property(self, addr, iface, name, why=''):
        api = self.bus.introspect(pci_path(addr)).get(iface, {'properties': set()})
        if name not in api['properties']:
            raise Skip('%s.%s not available: hostdevd does not offer it yet (issue 5)%s'
                       % (iface.split('.')[-1], name, why))

    def call_devices(self, method, addrs, **options):
        """Manager.Prepare/Release(ao devices, a{sv} options) -> a(ssss) plan,
        as {address: (from driver, to driver, reason)}."""
        self.manager_method(method)
        opts = {'auth.no_user_interaction': GLib.Variant('b', True)}
        opts.update({k.replace('_', '-'): GLib.Variant('b', v) for k, v in options.items()})
        plan, = self.bus.call(ROOT, MANAGER, method,
                              GLib.Variant('(aoa{sv})', ([pci_path(a) for a in addrs], opts)), timeout=120)
        return {a: (f, t, r) for a, f, t, r in plan}

    # --- waiting for hostdevd ------------------------------------------------
    def wait_prop(self, path, iface, prop, value, timeout=30):
        return self.bus.wait(lambda: self._get_or_none(path, iface, prop) == value,
                             '%s %s.%s = %r' % (path, iface.split('.')[-1], prop, value), timeout)

    def _get_or_none(self, path, iface, prop):
        try:
            return self.bus.get(path, iface, prop)
        except CallError:
            return None

    def wait_signal(self, mark, member, path, what, test=None, timeout=30):
        def found():
            return [s for s in self.bus.since(mark, member)
                    if s[0] == path and (test is None or test(s[3]))]
        return self.bus.wait(found, what, timeout)

    def wait_changed(self, mark, path, iface, prop, value):
        """A PropertiesChanged for prop on path; hostdevd then says value."""
        def test(args):
            return args[0] == iface and (prop in args[1] or prop in args[2])
        self.wait_signal(mark, 'PropertiesChanged', path,
                         'PropertiesChanged(%s) on %s' % (prop, path), test)
        self.wait_prop(path, iface, prop, value)

    def group_of(self, addr):
        return link_name(os.path.join(SYS_PCI, addr, 'iommu_group'))


def expected_state(driver):
    return 'prepared' if is_vfio(driver) else 'host'


def blocks_viability(info):
    """The contract's rule (org.hostdev1.IommuGroup.Viable) on sysfs facts."""
    d = info['driver']
    if d == '' or is_vfio(d) or d == 'pci-stub':
        return False
    return not ((info['class'] >> 8) == 0x0604 and d == 'pcieport')


# --- inventory ------------------------------------------------------------------

@case
def iommu_on(ctx):
    """The guest has an IOMMU, and hostdevd says so."""
    check(os.listdir('/sys/kernel/iommu_groups'), 'the guest kernel has no IOMMU groups: is intel_iommu=on set?')
    props = ctx.bus.get_all(ROOT, MANAGER)
    equal(props['IommuEnabled'], True, 'Manager.IommuEnabled')
    equal(props['IommuMessage'], '', 'Manager.IommuMessage')


@case
def pci_inventory(ctx):
    """Every PCI function the kernel lists, with ids, class, driver, group and paths."""
    objs = ctx.bus.objects()
    published = {p[DEVICE]['Address']: path for path, p in objs.items()
                 if DEVICE in p and p[DEVICE]['Kind'] == 'pci'}
    equal(sorted(published), pci_addresses(), 'PCI functions (hostdevd vs /sys/bus/pci/devices)')
    slots = pci_slots()
    m = Mismatches()
    for addr in pci_addresses():
        info = pci_info(addr)
        path = published[addr]
        m.eq(path, pci_path(addr), addr + ' object path')
        d, p = objs[path][DEVICE], objs[path].get(PCI, {})
        m.eq(d['SysfsPath'], info['syspath'], addr + ' SysfsPath')
        m.eq(d['VendorId'], info['vendor'], addr + ' VendorId')
        m.eq(d['ProductId'], info['device'], addr + ' ProductId')
        m.eq(d['Driver'], info['driver'], addr + ' Driver')
        m.eq(d['NumaNode'], info['numa_node'], addr + ' NumaNode')
        m.eq(d['IommuGroup'], group_path(info['group']) if info['group'] else '/', addr + ' IommuGroup')
        m.eq(d['State'], expected_state(info['driver']), addr + ' State')
        if not info['has_vpd']:
            m.eq(d['Serial'], info['serial'], addr + ' Serial (DSN)')
        m.eq(p.get('Class'), info['class'], addr + ' Class')
        m.eq(p.get('SubsystemVendorId'), info['subsystem_vendor'], addr + ' SubsystemVendorId')
        m.eq(p.get('SubsystemId'), info['subsystem_device'], addr + ' SubsystemId')
        m.eq(p.get('ResetMethods'), info['reset_method'], addr + ' ResetMethods')
        m.eq(p.get('Slot'), slots.get(addr.rsplit('.', 1)[0], ''), addr + ' Slot')
        if info['link_speed'] and info['link_speed'] != 'Unknown':
            m.eq(p.get('LinkSpeed'), info['link_speed'], addr + ' LinkSpeed')
        if info['link_width'].isdigit():
            m.eq(p.get('LinkWidth'), int(info['link_width']), addr + ' LinkWidth')
        m.eq(p.get('PhysicalFunction'), pci_path(info['physfn']) if info['physfn'] else '/', addr + ' PhysicalFunction')
        m.eq(SRIOV in objs[path], info['totalvfs'] != '', addr + ' has SriovPhysicalFunction')
    m.check()


@case
def iommu_groups_match_kernel(ctx):
    """IOMMU groups, members and viability equal /sys/kernel/iommu_groups; the fixture's layout holds."""
    objs = ctx.bus.objects()
    kernel = iommu_groups()
    published = {str(p[GROUP]['Number']): (path, p[GROUP]) for path, p in objs.items() if GROUP in p}
    equal(sorted(published, key=int), sorted(kernel, key=int), 'IOMMU group numbers')
    m = Mismatches()
    for n, members in kernel.items():
        path, g = published[n]
        m.eq(path, group_path(n), 'group %s object path' % n)
        m.eq(list(g['Devices']), [pci_path(a) for a in members], 'group %s Devices' % n)
        blockers = {pci_path(a) for a in members if blocks_viability(pci_info(a))}
        m.eq(g['Viable'], not blockers, 'group %s Viable' % n)
        m.eq({o for o, _ in g['Blockers']}, blockers, 'group %s Blockers' % n)
        verdict = vfio_group_viable(n)
        if verdict is not None:
            m.eq(g['Viable'], verdict, 'group %s Viable (VFIO says %s)' % (n, verdict))
    m.check()
    # The layout the emulated hardware promises.
    dev = ctx.dev
    equal(kernel[ctx.group_of(dev['e1000e'])], [dev['e1000e']], 'the e1000e group (alone)')
    equal(kernel[ctx.group_of(dev['e1000'])], sorted([dev['pci_bridge'], dev['e1000'], dev['testdev']]),
          'the group behind the PCIe-to-PCI bridge')
    equal(kernel[ctx.group_of(dev['edu'])], sorted([dev['edu_port'], dev['edu']]),
          'the group of the root port without ACS')


@case
def names_from_ids(ctx):
    """Vendor, product and class names come from pci.ids and usb.ids."""
    objs = ctx.bus.objects()
    m = Mismatches()
    for addr in pci_addresses():
        info = pci_info(addr)
        o = objs[pci_path(addr)]
        m.eq(o[DEVICE]['VendorName'], ctx.pciids.vendors.get(info['vendor'], ''), addr + ' VendorName')
        m.eq(o[DEVICE]['ProductName'], ctx.pciids.devices.get((info['vendor'], info['device']), ''), addr + ' ProductName')
        m.eq(o[PCI]['ClassName'], ctx.pciids.class_name(info['class']), addr + ' ClassName')
    for name in usb_names():
        info = usb_info(name)
        d = objs[usb_path(name)][DEVICE]
        m.eq(d['VendorName'], ctx.usbids.vendors.get(info['vendor']) or info['manufacturer'], name + ' VendorName')
        m.eq(d['ProductName'], ctx.usbids.products.get((info['vendor'], info['product'])) or info['product_string'],
             name + ' ProductName')
    m.check()
    # Guard against an empty pci.ids making both sides agree on nothing.
    check(objs[pci_path(ctx.dev['e1000e'])][DEVICE]['ProductName'], 'the e1000e has no product name')


@case
def drivers(ctx):
    """Each emulated device has the driver its kind gets, in sysfs and on the bus."""
    m = Mismatches()
    for name, (ids, driver) in FIXTURE.items():
        if driver is None:
            continue
        addr = ctx.dev[name]
        equal(pci_info(addr)['driver'], driver, 'the guest kernel bound %s (%s) to' % (name, addr))
        m.eq(ctx.bus.get(pci_path(addr), DEVICE, 'Driver'), driver, '%s (%s) Driver' % (name, addr))
    for addr in find_pci(ROOT_PORT):
        m.eq(ctx.bus.get(pci_path(addr), DEVICE, 'Driver'), 'pcieport', 'root port %s Driver' % addr)
    m.check()


def usb_interface_table(name):
    """[(interface, "class/subclass/protocol", driver)] of a USB device, from sysfs."""
    rows = []
    for i in sorted(os.listdir(SYS_USB)):
        if i.startswith(name + ':'):
            d = os.path.join(SYS_USB, i)
            cls = '/'.join(read(os.path.join(d, f)) for f in ('bInterfaceClass', 'bInterfaceSubClass',
                                                              'bInterfaceProtocol'))
            rows.append((i, cls, link_name(d + '/driver')))
    return rows


@case
def usb_inventory(ctx):
    """USB devices (no root hubs, no interfaces) with ids, bus numbers, port paths and serials."""
    objs = ctx.bus.objects()
    published = sorted(p[DEVICE]['Address'] for p in objs.values() if DEVICE in p and p[DEVICE]['Kind'] == 'usb')
    equal(published, usb_names(), 'USB devices (hostdevd vs /sys/bus/usb/devices)')
    m = Mismatches()
    for name in usb_names():
        info = usb_info(name)
        o = objs[usb_path(name)]
        d, u = o[DEVICE], o.get(USB, {})
        m.eq(d['SysfsPath'], info['syspath'], name + ' SysfsPath')
        m.eq(d['VendorId'], info['vendor'], name + ' VendorId')
        m.eq(d['ProductId'], info['product'], name + ' ProductId')
        m.eq(d['Serial'], info['serial'], name + ' Serial')
        m.eq(d['Driver'], info['driver'], name + ' Driver')
        m.eq(d['NumaNode'], -1, name + ' NumaNode')
        m.eq(d['IommuGroup'], '/', name + ' IommuGroup')
        m.eq(u.get('BusNumber'), info['busnum'], name + ' BusNumber')
        m.eq(u.get('DeviceNumber'), info['devnum'], name + ' DeviceNumber')
        m.eq(u.get('PortPath'), name, name + ' PortPath')
        m.eq(sorted(tuple(i) for i in u.get('Interfaces', [])), usb_interface_table(name), name + ' Interfaces')
        m.eq(u.get('Speed'), info['speed'], name + ' Speed')
        m.eq(u.get('DevNode'), '/dev/' + info['devname'], name + ' DevNode')
        m.eq(u.get('Authorized'), info['authorized'], name + ' Authorized')
    m.check()
    ids = {(usb_info(n)['vendor'], usb_info(n)['product']): n for n in usb_names()}
    check(USB_KEYBOARD in ids, 'no USB keyboard in the guest')
    check(USB_STICK in ids, 'no USB stick in the guest')
    equal(objs[usb_path(ids[USB_STICK])][DEVICE]['Serial'], USB_STICK_SERIAL, 'the USB stick Serial')


@case
def cli_list(ctx):
    """hostdevctl --json list shows the devices the kernel has."""
    cli = os.path.join(ctx.args.build_root, 'src/cli/hostdevctl')
    out = subprocess.run([cli, '--json', 'list'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, timeout=60)
    equal(out.returncode, 0, 'hostdevctl --json list exit status (stderr: %s)' % out.stderr.strip())
    seen = []

    def walk(v):
        if isinstance(v, dict):
            if 'address' in v and 'kind' in v:
                seen.append((v['kind'], v['address'], v.get('driver') or ''))
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(json.loads(out.stdout))
    expected = [('pci', a, pci_info(a)['driver']) for a in pci_addresses()]
    expected += [('usb', n, usb_info(n)['driver']) for n in usb_names()]
    equal(sorted(seen), sorted(expected), 'hostdevctl devices (kind, address, driver)')


# --- the kernel changes things ----------------------------------------------------

def kernel_vfs(pf):
    """The PF's VFs as the kernel links them: virtfn0, virtfn1, ..."""
    d = os.path.join(SYS_PCI, pf)
    n = int(read(d + '/sriov_numvfs'))
    return [link_name(os.path.join(d, 'virtfn%d' % i)) for i in range(n)]


def check_vfs_published(ctx, pf, mark):
    """hostdevd publishes each VF the kernel made (InterfacesAdded since
    mark), linked to its PF by index, in its own IOMMU group; and the PF's
    NumVfs and VirtualFunctions say what sysfs says."""
    pf_path, d = pci_path(pf), os.path.join(SYS_PCI, pf)
    vfs = kernel_vfs(pf)
    vf_device = int(read(d + '/sriov_vf_device'), 16)
    for i, vf in enumerate(vfs):
        info = pci_info(vf)
        equal(info['physfn'], pf, vf + ' physfn link')
        equal(info['device'], vf_device, vf + ' device id (the PF\'s sriov_vf_device)')
        ctx.wait_signal(mark, 'InterfacesAdded', ROOT, 'InterfacesAdded for VF %s' % vf,
                        lambda a, p=pci_path(vf): a[0] == p)
        ctx.wait_prop(pci_path(vf), PCI, 'PhysicalFunction', pf_path)
        ctx.wait_prop(pci_path(vf), PCI, 'VirtualFunctionIndex', i)
        g = ctx.group_of(vf)
        equal(ctx.bus.get(pci_path(vf), DEVICE, 'IommuGroup'), group_path(g), vf + ' IommuGroup')
        equal(ctx.bus.get(pci_path(vf), DEVICE, 'Driver'), info['driver'], vf + ' Driver')
        equal(list(ctx.bus.get(group_path(g), GROUP, 'Devices')),
              [pci_path(a) for a in iommu_groups()[g]], 'group %s Devices' % g)
    ctx.wait_prop(pci_path(pf), SRIOV, 'NumVfs', len(vfs))
    ctx.wait_prop(pci_path(pf), SRIOV, 'VirtualFunctions', [pci_path(v) for v in vfs])
    return vfs


def check_vfs_gone(ctx, pf, vfs, mark):
    for vf in vfs:
        check(not os.path.exists(os.path.join(SYS_PCI, vf)), vf + ' is still in sysfs')
        ctx.wait_signal(mark, 'InterfacesRemoved', ROOT, 'InterfacesRemoved for VF %s' % vf,
                        lambda a, p=pci_path(vf): a[0] == p)
    ctx.wait_prop(pci_path(pf), SRIOV, 'NumVfs', 0)
    ctx.wait_prop(pci_path(pf), SRIOV, 'VirtualFunctions', [])
    objs = ctx.bus.objects()
    check(not [v for v in vfs if pci_path(v) in objs], 'VFs still published: %r' % vfs)


@case
def sriov_vfs(ctx):
    """Enabling the NVMe's VFs publishes them linked to their PF; disabling removes them."""
    pf = ctx.dev['nvme']
    pf_path, d = pci_path(pf), os.path.join(SYS_PCI, pf)
    sr = ctx.bus.get_all(pf_path, SRIOV)
    equal(sr['TotalVfs'], int(read(d + '/sriov_totalvfs')), 'TotalVfs (sysfs)')
    equal(sr['TotalVfs'], NVME_TOTAL_VFS, 'TotalVfs (fixture)')
    equal((sr['NumVfs'], list(sr['VirtualFunctions'])), (0, []), 'NumVfs, VirtualFunctions before')
    # The nvme driver cannot drive a VF before it is given resources.
    write(d + '/sriov_drivers_autoprobe', '0')
    mark = ctx.bus.mark()
    try:
        write(d + '/sriov_numvfs', str(NVME_TOTAL_VFS))
        vfs = check_vfs_published(ctx, pf, mark)
        equal(len(vfs), NVME_TOTAL_VFS, 'VFs in sysfs')
        mark = ctx.bus.mark()
        write(d + '/sriov_numvfs', '0')
        check_vfs_gone(ctx, pf, vfs, mark)
    finally:
        write(d + '/sriov_numvfs', '0')
        write(d + '/sriov_drivers_autoprobe', '1')


@case
def sriov_set_num_vfs(ctx):
    """SetNumVfs makes the kernel create the NVMe's VFs (2, then 1 through 0) and 0 removes them."""
    pf = ctx.dev['nvme']
    pf_path, d = pci_path(pf), os.path.join(SYS_PCI, pf)
    if 'SetNumVfs' not in ctx.bus.introspect(pf_path).get(SRIOV, {'methods': {}})['methods']:
        raise Skip('SriovPhysicalFunction.SetNumVfs not available (issue 11)')
    equal(read(d + '/sriov_numvfs'), '0', 'sriov_numvfs before')

    def set_num_vfs(count, **options):
        opts = {'auth.no_user_interaction': GLib.Variant('b', True)}
        opts.update({k: GLib.Variant('b', v) for k, v in options.items()})
        vfs, = ctx.bus.call(pf_path, SRIOV, 'SetNumVfs', GLib.Variant('(ua{sv})', (count, opts)), timeout=120)
        return list(vfs)

    def undo():
        write(d + '/sriov_numvfs', '0')
        write(d + '/sriov_drivers_autoprobe', '1')
    with ctx.on_failure('disabling the VFs by hand', undo):
        # autoprobe off: the nvme driver cannot drive a VF before it has resources.
        mark = ctx.bus.mark()
        reply = set_num_vfs(NVME_TOTAL_VFS, autoprobe=False)
        equal(read(d + '/sriov_drivers_autoprobe'), '0', 'sriov_drivers_autoprobe after SetNumVfs(autoprobe=false)')
        equal(read(d + '/sriov_numvfs'), str(NVME_TOTAL_VFS), 'sriov_numvfs after SetNumVfs(%d)' % NVME_TOTAL_VFS)
        vfs = kernel_vfs(pf)
        equal(reply, [pci_path(v) for v in vfs], 'SetNumVfs reply (the VFs the kernel made, by index)')
        for vf in vfs:
            equal(pci_info(vf)['driver'], '', vf + ' driver with autoprobe off')
        check_vfs_published(ctx, pf, mark)
        ctx.wait_prop(pf_path, SRIOV, 'DriversAutoprobe', False)

        # The kernel refuses 2 -> 1: hostdevd goes through 0.
        mark = ctx.bus.mark()
        reply = set_num_vfs(1)
        equal(read(d + '/sriov_numvfs'), '1', 'sriov_numvfs after SetNumVfs(1)')
        left = kernel_vfs(pf)
        equal(reply, [pci_path(v) for v in left], 'SetNumVfs(1) reply')
        check_vfs_published(ctx, pf, mark)
        check(not os.path.exists(os.path.join(SYS_PCI, vfs[1])), vfs[1] + ' still in sysfs after SetNumVfs(1)')
        check(pci_path(vfs[1]) not in ctx.bus.objects(), vfs[1] + ' still published after SetNumVfs(1)')
        # VF 1 went away, and VF 0 went away and came back.
        removed = {s[3][0] for s in ctx.bus.since(mark, 'InterfacesRemoved')}
        check({pci_path(v) for v in vfs} <= removed,
              'not every VF went away on 2 -> 1 (InterfacesRemoved for %r)' % sorted(removed))

        mark = ctx.bus.mark()
        equal(set_num_vfs(0, autoprobe=True), [], 'SetNumVfs(0) reply')
        equal(read(d + '/sriov_numvfs'), '0', 'sriov_numvfs after SetNumVfs(0)')
        equal(read(d + '/sriov_drivers_autoprobe'), '1', 'sriov_drivers_autoprobe after SetNumVfs(autoprobe=true)')
        check_vfs_gone(ctx, pf, left, mark)

    # Bad input changes nothing.
    try:
        set_num_vfs(NVME_TOTAL_VFS + 1)
        raise AssertionError('SetNumVfs(%d) above TotalVfs was accepted' % (NVME_TOTAL_VFS + 1))
    except CallError as e:
        equal(e.name, 'org.hostdev1.Error.InvalidArgument', 'error of SetNumVfs above TotalVfs')
    equal(read(d + '/sriov_numvfs'), '0', 'sriov_numvfs after the refused SetNumVfs')


@case
def hotplug_remove_rescan(ctx):
    """Removing the e1000e and rescanning the bus: InterfacesRemoved, then InterfacesAdded, for device and group."""
    addr = ctx.dev['e1000e']
    path, group = pci_path(addr), ctx.group_of(addr)
    mark = ctx.bus.mark()
    write(os.path.join(SYS_PCI, addr, 'remove'), '1')
    check(not os.path.exists(os.path.join(SYS_PCI, addr)), addr + ' is still in sysfs after remove')
    ctx.wait_signal(mark, 'InterfacesRemoved', ROOT, 'InterfacesRemoved for ' + path,
                    lambda a: a[0] == path and DEVICE in a[1])
    if group not in iommu_groups():
        ctx.wait_signal(mark, 'InterfacesRemoved', ROOT, 'InterfacesRemoved for its emptied group',
                        lambda a: a[0] == group_path(group) and GROUP in a[1])
    check(path not in ctx.bus.objects(), path + ' is still published after remove')

    mark = ctx.bus.mark()
    write('/sys/bus/pci/rescan', '1')
    check(os.path.exists(os.path.join(SYS_PCI, addr)), addr + ' did not come back on rescan')
    new_group = ctx.group_of(addr)
    ctx.wait_signal(mark, 'InterfacesAdded', ROOT, 'InterfacesAdded for ' + path,
                    lambda a: a[0] == path and DEVICE in a[1])
    ctx.wait_signal(mark, 'InterfacesAdded', ROOT, 'InterfacesAdded for group %s' % new_group,
                    lambda a: a[0] == group_path(new_group) and GROUP in a[1])
    ctx.wait_prop(path, DEVICE, 'Driver', 'e1000e')
    equal(ctx.bus.get(path, DEVICE, 'IommuGroup'), group_path(new_group), addr + ' IommuGroup after rescan')
    equal(list(ctx.bus.get(group_path(new_group), GROUP, 'Devices')), [path], 'group Devices after rescan')


@case
def bridge_group_viability(ctx):
    """The bridge's group is not viable while the e1000 has its driver; with both endpoints on vfio-pci it is."""
    dev = ctx.dev
    e1000, testdev = dev['e1000'], dev['testdev']
    n = ctx.group_of(e1000)
    gpath = group_path(n)
    g = ctx.bus.get_all(gpath, GROUP)
    equal(g['Viable'], False, 'group %s Viable with e1000 bound to e1000' % n)
    reasons = {o: r for o, r in g['Blockers']}
    check(pci_path(e1000) in reasons, 'the e1000 is not among the blockers: %r' % g['Blockers'])
    check(e1000 in reasons[pci_path(e1000)] and 'e1000' in reasons[pci_path(e1000)].replace(e1000, ''),
          'the blocker reason names neither the address nor the driver: %r' % reasons[pci_path(e1000)])
    mark = ctx.bus.mark()
    try:
        for a in (e1000, testdev):
            rebind(a, 'vfio-pci')
            equal(pci_info(a)['driver'], 'vfio-pci', a + ' driver after binding by hand')
        check(os.path.exists('/dev/vfio/' + n), '/dev/vfio/%s missing' % n)
        equal(vfio_group_viable(n), True, 'VFIO viability of group %s' % n)
        ctx.wait_changed(mark, gpath, GROUP, 'Viable', True)
        equal(ctx.bus.get(gpath, GROUP, 'Blockers'), [], 'group Blockers once viable')
        for a in (e1000, testdev):
            ctx.wait_changed(mark, pci_path(a), DEVICE, 'Driver', 'vfio-pci')
            ctx.wait_prop(pci_path(a), DEVICE, 'State', 'prepared')
    finally:
        for a in (e1000, testdev):
            rebind(a, '')
    equal(pci_info(e1000)['driver'], 'e1000', 'e1000 driver after giving it back')
    ctx.wait_prop(gpath, GROUP, 'Viable', False)
    ctx.wait_prop(pci_path(e1000), DEVICE, 'State', 'host')


@case
def resource_group_survives_restart(ctx):
    """A resource group created in the guest is there again after hostdevd restarts."""
    e1000e = pci_path(ctx.dev['e1000e'])
    rules = [{'vendor-id': GLib.Variant('q', 0x8086), 'product-id': GLib.Variant('q', 0x10d3)}]
    options = {'description': GLib.Variant('s', 'NICs for VMs'),
               'rules': GLib.Variant('aa{sv}', rules),
               'auth.no_user_interaction': GLib.Variant('b', True)}
    path, = ctx.bus.call(ROOT, MANAGER, 'CreateResourceGroup',
                         GLib.Variant('(ssa{sv})', ('vm-nics', 'pci', options)))
    delete = (lambda: ctx.bus.call(path, RESOURCE_GROUP, 'Delete', GLib.Variant('(a{sv})', ({},))))
    with ctx.on_failure('deleting the group', delete):
        before = ctx.bus.get_all(path, RESOURCE_GROUP)
        equal(list(before['Devices']), [e1000e], 'group Devices')
        equal(ctx.bus.get(e1000e, DEVICE, 'ResourceGroup'), path, 'e1000e ResourceGroup')
        ctx.restart_daemon()
        objs = ctx.bus.objects()
        check(path in objs and RESOURCE_GROUP in objs[path], '%s is gone after the restart' % path)
        after = objs[path][RESOURCE_GROUP]
        for prop, value in (('Name', 'vm-nics'), ('Type', 'pci'), ('Description', 'NICs for VMs'),
                            ('Devices', [e1000e])):
            equal(after[prop], value, prop + ' after the restart')
        rule = after['Rules'][0] if after['Rules'] else {}
        equal((rule.get('vendor-id'), rule.get('product-id')), (0x8086, 0x10d3), 'rule after the restart')
        equal(objs[e1000e][DEVICE]['ResourceGroup'], path, 'e1000e ResourceGroup after the restart')
        delete()
    ctx.wait_prop(e1000e, DEVICE, 'ResourceGroup', '/')


# --- passthrough (issue 5) --------------------------------------------------------

@case
def prepare_dry_run(ctx):
    """A dry run of Prepare returns the plan and changes nothing."""
    addr = ctx.dev['e1000e']
    plan = ctx.call_devices('Prepare', [addr], dry_run=True)
    check(addr in plan, 'the plan does not list %s: %r' % (addr, plan))
    equal(plan[addr][:2], ('e1000e', 'vfio-pci'), addr + ' move in the plan')
    equal(pci_info(addr)['driver'], 'e1000e', addr + ' driver after the dry run')
    equal(read(os.path.join(SYS_PCI, addr, 'driver_override')), '(null)', addr + ' driver_override after the dry run')
    equal(ctx.bus.get(pci_path(addr), DEVICE, 'State'), 'host', addr + ' State after the dry run')


@case
def prepare_release_e1000e(ctx):
    """Prepare moves the lone e1000e to vfio-pci (group viable, /dev/vfio/N); Release gives it back."""
    ctx.manager_method('Release')
    addr = ctx.dev['e1000e']
    path, n = pci_path(addr), ctx.group_of(addr)
    mark = ctx.bus.mark()
    plan = ctx.call_devices('Prepare', [addr])
    with ctx.on_failure('Release', lambda: ctx.call_devices('Release', [addr])):
        equal(sorted(plan), [addr], 'devices in the Prepare plan')
        equal(pci_info(addr)['driver'], 'vfio-pci', addr + ' driver after Prepare')
        check(os.path.exists('/dev/vfio/' + n), '/dev/vfio/%s missing after Prepare' % n)
        equal(vfio_group_viable(n), True, 'VFIO viability of group %s' % n)
        ctx.wait_changed(mark, path, DEVICE, 'State', 'prepared')
        ctx.wait_changed(mark, path, DEVICE, 'Driver', 'vfio-pci')
        ctx.wait_changed(mark, group_path(n), GROUP, 'Viable', True)
        mark = ctx.bus.mark()
        plan = ctx.call_devices('Release', [addr])
    equal(plan.get(addr, ())[:2], ('vfio-pci', 'e1000e'), addr + ' move in the Release plan')
    equal(pci_info(addr)['driver'], 'e1000e', addr + ' driver after Release')
    check(not os.path.exists('/dev/vfio/' + n), '/dev/vfio/%s still there after Release' % n)
    ctx.wait_changed(mark, path, DEVICE, 'State', 'host')
    ctx.wait_changed(mark, group_path(n), GROUP, 'Viable', False)


@case
def prepare_shared_group(ctx):
    """Prepare of the pci-testdev takes the e1000 in its group along (the bridge stays); Release gives both back."""
    ctx.manager_method('Release')
    dev = ctx.dev
    testdev, e1000, bridge = dev['testdev'], dev['e1000'], dev['pci_bridge']
    bridge_driver = pci_info(bridge)['driver']
    try:
        plan = ctx.call_devices('Prepare', [testdev])
    except CallError as e:
        # Refusing is allowed too, if it says why and changes nothing.
        equal(pci_info(e1000)['driver'], 'e1000', 'e1000 driver after the refused Prepare')
        check(e1000 in e.message, 'the refusal does not name the e1000 (%s): %s' % (e1000, e))
        return
    n = ctx.group_of(testdev)
    with ctx.on_failure('Release', lambda: ctx.call_devices('Release', [testdev, e1000])):
        equal(sorted(plan), sorted([testdev, e1000]), 'devices in the Prepare plan')
        for a in (testdev, e1000):
            equal(pci_info(a)['driver'], 'vfio-pci', a + ' driver after Prepare of the testdev')
        equal(pci_info(bridge)['driver'], bridge_driver, 'the bridge driver after Prepare')
        equal(vfio_group_viable(n), True, 'VFIO viability of group %s' % n)
        ctx.wait_prop(group_path(n), GROUP, 'Viable', True)
        ctx.call_devices('Release', [testdev])
    equal(pci_info(e1000)['driver'], 'e1000', 'e1000 driver after Release of the testdev (its companion)')
    equal(pci_info(testdev)['driver'], '', 'testdev driver after Release')
    ctx.wait_prop(group_path(n), GROUP, 'Viable', False)


@case
def prepare_survives_restart(ctx):
    """A prepared device that lost its binding while hostdevd was down is prepared again at start."""
    ctx.manager_method('Release')
    addr = ctx.dev['e1000e']
    ctx.call_devices('Prepare', [addr])
    with ctx.on_failure('Release', lambda: ctx.call_devices('Release', [addr])):
        equal(pci_info(addr)['driver'], 'vfio-pci', addr + ' driver after Prepare')
        equal(ctx.daemon.stop(ctx.bus), 0, 'hostdevd exit status on SIGTERM')
        rebind(addr, '')
        equal(pci_info(addr)['driver'], 'e1000e', addr + ' driver, given back by hand')
        ctx.daemon.start(ctx.bus)
        ctx.bus.wait(lambda: pci_info(addr)['driver'] == 'vfio-pci', addr + ' to be bound to vfio-pci again')
        ctx.wait_prop(pci_path(addr), DEVICE, 'State', 'prepared')
        if 'Converged' in ctx.bus.introspect(ROOT)[MANAGER]['properties']:
            ctx.wait_prop(ROOT, MANAGER, 'Converged', True)
            equal(ctx.bus.get(ROOT, MANAGER, 'ConvergeProblems'), [], 'Manager.ConvergeProblems')
        ctx.call_devices('Release', [addr])
    equal(pci_info(addr)['driver'], 'e1000e', addr + ' driver after Release')


# --- claims (issue 10) ------------------------------------------------------------

def create_group(ctx, name, ids, kind='pci', **extra):
    """A resource group matching vendor/product ids; returns (path, delete)."""
    rule = {'vendor-id': GLib.Variant('q', ids[0]), 'product-id': GLib.Variant('q', ids[1])}
    rule.update({k.replace('_', '-'): GLib.Variant('s', v) for k, v in extra.items()})
    options = {'rules': GLib.Variant('aa{sv}', [rule]), 'auth.no_user_interaction': GLib.Variant('b', True)}
    path, = ctx.bus.call(ROOT, MANAGER, 'CreateResourceGroup', GLib.Variant('(ssa{sv})', (name, kind, options)))
    return path, lambda: ctx.bus.call(path, RESOURCE_GROUP, 'Delete', GLib.Variant('(a{sv})', (NO_ASK,)))


class Qmp:
    """A QEMU with its QMP monitor on stdio."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd + ['-qmp', 'stdio'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        greeting = self._read()
        check('QMP' in greeting, 'no QMP greeting from the nested QEMU: %r' % greeting)
        self.command('qmp_capabilities')

    def _read(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(30)
                raise AssertionError('the nested QEMU exited with %s: %s'
                                     % (self.proc.returncode, self.proc.stderr.read().strip()[-2000:]))
            msg = json.loads(line)
            if 'event' not in msg:
                return msg

    def command(self, name, **arguments):
        self.proc.stdin.write(json.dumps({'execute': name, 'arguments': arguments}) + '\n')
        self.proc.stdin.flush()
        reply = self._read()
        if 'error' in reply:
            raise AssertionError('QMP %s: %s' % (name, reply['error']))
        return reply['return']

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.command('quit')
            except (AssertionError, BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def open_fds(pid):
    fds = os.path.join('/proc', str(pid), 'fd')
    return {os.readlink(os.path.join(fds, f)) for f in os.listdir(fds) if os.path.islink(os.path.join(fds, f))}


@case
def claim_nested_qemu(ctx):
    """A claim of the e1000e hands out a qemu handle that a nested QEMU opens through VFIO; Release gives it back."""
    qemu = shutil.which('qemu-system-x86_64')
    if not qemu:
        raise Skip('no qemu-system-x86_64 in the guest image (vmtest.py ROOTFS_PACKAGES)')
    addr = ctx.dev['e1000e']
    ids, driver = FIXTURE['e1000e']
    group, delete = create_group(ctx, 'vm-claim', ids)
    with ctx.on_failure('deleting the group', delete):
        if 'Claim' not in ctx.bus.introspect(group).get(RESOURCE_GROUP, {'methods': {}})['methods']:
            raise Skip('ResourceGroup.Claim not available (issue 10)')
        equal(list(ctx.bus.get(group, RESOURCE_GROUP, 'Devices')), [pci_path(addr)], 'group Devices')
        claim, = ctx.bus.call(group, RESOURCE_GROUP, 'Claim',
                              GLib.Variant('(sua{sv})', ('vm-nested', 1, NO_ASK)), timeout=120)

        def release():
            ctx.bus.call(claim, CLAIM, 'Release', GLib.Variant('(a{sv})', (NO_ASK,)), timeout=120)
        with ctx.on_failure('releasing the claim', release):
            n = ctx.group_of(addr)
            equal(pci_info(addr)['driver'], 'vfio-pci', addr + ' driver once claimed')
            check(os.path.exists('/dev/vfio/' + n), '/dev/vfio/%s missing once claimed' % n)
            equal(vfio_group_viable(n), True, 'VFIO viability of group %s' % n)
            props = ctx.bus.get_all(claim, CLAIM)
            equal(props['Consumer'], 'vm-nested', 'Claim.Consumer')
            equal(list(props['Devices']), [pci_path(addr)], 'Claim.Devices')
            handles = props['Handles']
            equal(len(handles), 1, 'number of handles')
            h = handles[0]
            equal(h['address'], addr, 'handle address')
            equal(os.path.realpath(h['sysfs']), pci_info(addr)['syspath'], 'handle sysfs')
            equal(h['vfio-group'], '/dev/vfio/' + n, 'handle vfio-group')
            ctx.wait_prop(group, RESOURCE_GROUP, 'Available', 0)
            # A real QEMU takes the handle as it is. -nodefaults: q35's own
            # default NIC would be an e1000e too.
            cmd = [qemu, '-machine', 'q35', '-accel', 'tcg', '-nodefaults', '-display', 'none',
                   '-S', '-m', '64', '-device', h['qemu']]
            ctx.notes.append('nested QEMU: ' + ' '.join(cmd))
            vm = Qmp(cmd)
            try:
                # the kernel's word that this QEMU holds the group open
                check('/dev/vfio/' + n in open_fds(vm.proc.pid),
                      'the nested QEMU has /dev/vfio/%s not open: %r' % (n, sorted(open_fds(vm.proc.pid))))
                found = [d for bus in vm.command('query-pci') for d in bus['devices']
                         if (d['id']['vendor'], d['id']['device']) == ids]
                check(found, "the nested QEMU's PCI bus has no %04x:%04x" % ids)
                equal(found[0]['class_info']['class'], pci_info(addr)['class'] >> 8, 'class in the nested QEMU')
            finally:
                code = vm.quit()
            equal(code, 0, 'nested QEMU exit status')
            mark = ctx.bus.mark()
            release()
        equal(pci_info(addr)['driver'], driver, addr + ' driver after Release')
        check(not os.path.exists('/dev/vfio/' + n), '/dev/vfio/%s still there after Release' % n)
        ctx.wait_signal(mark, 'InterfacesRemoved', ROOT, 'InterfacesRemoved for ' + claim,
                        lambda a: a[0] == claim)
        ctx.wait_prop(group, RESOURCE_GROUP, 'Available', 1)
        ctx.wait_prop(pci_path(addr), DEVICE, 'State', 'host')
        delete()


# --- mediated devices (issue 12) -----------------------------------------------------

MTTY_PARENT = '/sys/devices/virtual/mtty/mtty'
MTTY_TYPE = 'mtty-2'
SYS_MDEV = '/sys/bus/mdev/devices'


def mdev_path(uuid):
    return '%s/mdev/%s' % (ROOT, uuid.replace('-', '_'))


def load_mtty():
    """The mtty sample parent (vmtest.py builds it); skips when it is not there."""
    if not os.path.isdir(MTTY_PARENT):
        if subprocess.run(['modinfo', 'mtty'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
            raise Skip('no mtty module for the guest kernel (vmtest.py builds it from linux-source; see its log)')
        out = subprocess.run(['modprobe', 'mtty'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        equal(out.returncode, 0, 'modprobe mtty status (%s)' % out.stdout.strip())
        subprocess.run(['udevadm', 'settle', '--timeout=30'])
    types = os.path.join(MTTY_PARENT, 'mdev_supported_types')
    check(os.path.isdir(os.path.join(types, MTTY_TYPE)), 'mtty offers no %s: %r' % (MTTY_TYPE, os.listdir(types)))
    return os.path.join(types, MTTY_TYPE)


def kernel_mdev(uuid):
    """The instance as sysfs has it, or None."""
    d = os.path.join(SYS_MDEV, uuid)
    if not os.path.exists(d):
        return None
    group = link_name(d + '/iommu_group')
    return {'type': link_name(d + '/mdev_type'), 'parent': os.path.dirname(os.path.realpath(d)),
            'group': int(group) if group else -1}


def check_mdev_object(ctx, uuid, mark=None):
    """The Mdev object says what sysfs says; with mark, it was added since."""
    info = kernel_mdev(uuid)
    check(info, '%s is not in %s' % (uuid, SYS_MDEV))
    equal(info['parent'], MTTY_PARENT, uuid + ' parent (sysfs)')
    path = mdev_path(uuid)
    if mark is not None:
        ctx.wait_signal(mark, 'InterfacesAdded', ROOT, 'InterfacesAdded for ' + path,
                        lambda a: a[0] == path and MDEV in a[1])
    ctx.wait_prop(path, MDEV, 'Active', True)
    props = ctx.bus.get_all(path, MDEV)
    equal(props['Uuid'], uuid, path + ' Uuid')
    equal(props['Type'], info['type'], path + ' Type')
    equal(props['IommuGroup'], info['group'], path + ' IommuGroup')


def check_mdev_gone(ctx, uuid, mark):
    check(kernel_mdev(uuid) is None, '%s still in %s' % (uuid, SYS_MDEV))
    path = mdev_path(uuid)
    ctx.wait_signal(mark, 'InterfacesRemoved', ROOT, 'InterfacesRemoved for ' + path, lambda a: a[0] == path)
    check(path not in ctx.bus.objects(), path + ' is still published')


def remove_mdev_by_hand(uuid):
    if os.path.exists(os.path.join(SYS_MDEV, uuid)):
        write(os.path.join(SYS_MDEV, uuid, 'remove'), '1')


@case
def mdev_follows_kernel(ctx):
    """An mtty instance made through sysfs gets its Mdev object; removing it takes the object away."""
    type_dir = load_mtty()
    u = str(uuidlib.uuid4())
    mark = ctx.bus.mark()
    write(type_dir + '/create', u)
    with ctx.on_failure('removing the instance', lambda: remove_mdev_by_hand(u)):
        check_mdev_object(ctx, u, mark)
        equal(ctx.bus.get(mdev_path(u), MDEV, 'Source'), 'hostdev', 'Source of an instance made by hand')
        mark = ctx.bus.mark()
        write(os.path.join(SYS_MDEV, u, 'remove'), '1')
        check_mdev_gone(ctx, u, mark)


def mtty_parent_object(ctx):
    """hostdevd's MdevParent for the mtty parent: the object whose types are mtty's."""
    for path, ifaces in ctx.bus.objects().items():
        if MDEV_PARENT in ifaces and any(t[0] == MTTY_TYPE for t in ifaces[MDEV_PARENT]['SupportedTypes']):
            return path
    raise Skip('hostdevd publishes no MdevParent for the mtty parent (%s, not a PCI device): '
               'CreateMdev cannot reach it (issue 12)' % MTTY_PARENT)


def available(ctx, parent):
    """(hostdevd's, sysfs') available instances of MTTY_TYPE."""
    types = {t[0]: t[3] for t in ctx.bus.get(parent, MDEV_PARENT, 'SupportedTypes')}
    return types.get(MTTY_TYPE), int(read(os.path.join(MTTY_PARENT, 'mdev_supported_types', MTTY_TYPE,
                                                       'available_instances')))


@case
def mdev_create_remove(ctx):
    """CreateMdev on the mtty parent makes the instance; a restart recreates it; Remove takes it away."""
    load_mtty()
    parent = mtty_parent_object(ctx)
    u = str(uuidlib.uuid4())
    before = available(ctx, parent)[1]
    mark = ctx.bus.mark()
    opts = dict(NO_ASK, uuid=GLib.Variant('s', u))
    obj, = ctx.bus.call(parent, MDEV_PARENT, 'CreateMdev', GLib.Variant('(sa{sv})', (MTTY_TYPE, opts)), timeout=60)
    with ctx.on_failure('removing the instance', lambda: remove_mdev_by_hand(u)):
        equal(obj, mdev_path(u), 'CreateMdev reply')
        check_mdev_object(ctx, u, mark)
        equal(kernel_mdev(u)['type'], MTTY_TYPE, u + ' type (sysfs)')
        after = available(ctx, parent)[1]
        equal(after, before - 1, 'available_instances of %s after CreateMdev (sysfs)' % MTTY_TYPE)
        ctx.bus.wait(lambda: available(ctx, parent)[0] == after, 'SupportedTypes to say %d left' % after)

        # Gone while hostdevd was down: made again at start.
        equal(ctx.daemon.stop(ctx.bus), 0, 'hostdevd exit status on SIGTERM')
        remove_mdev_by_hand(u)
        check(kernel_mdev(u) is None, u + ' still there after removing it by hand')
        ctx.daemon.start(ctx.bus)
        ctx.bus.wait(lambda: kernel_mdev(u), u + ' to be created again after the restart')
        equal(kernel_mdev(u)['type'], MTTY_TYPE, u + ' type after the restart (sysfs)')
        # published at start (inactive) or once made: no InterfacesAdded to wait for
        check_mdev_object(ctx, u)

        mark = ctx.bus.mark()
        ctx.bus.call(obj, MDEV, 'Remove', GLib.Variant('(a{sv})', (NO_ASK,)), timeout=60)
        check_mdev_gone(ctx, u, mark)
    equal(available(ctx, parent)[1], before, 'available_instances after Remove (sysfs)')
    # Removed for good: a restart does not bring it back.
    ctx.restart_daemon()
    check(kernel_mdev(u) is None, u + ' came back after a restart')


# --- USB passthrough (issue 13) ------------------------------------------------------

def usb_stick():
    return [n for n in usb_names() if (usb_info(n)['vendor'], usb_info(n)['product']) == USB_STICK][0]


def usb_interfaces(name):
    """{interface: driver} of the device's interfaces, from sysfs."""
    prefix = name + ':'
    return {i: link_name(os.path.join(SYS_USB, i, 'driver')) for i in os.listdir(SYS_USB) if i.startswith(prefix)}


def usb_block_devices(name):
    """The block devices (sda, ...) under the USB device."""
    top = usb_info(name)['syspath'] + '/'
    return sorted(b for b in os.listdir('/sys/block')
                  if os.path.realpath(os.path.join('/sys/block', b)).startswith(top))


@case
def usb_prepare_stick(ctx):
    """Prepare of the USB stick unbinds usb-storage (its disk goes away); Release brings both back."""
    name = usb_stick()
    before = usb_interfaces(name)
    equal(sorted(set(before.values())), ['usb-storage'], name + ' interface drivers before')
    disks = ctx.bus.wait(lambda: usb_block_devices(name), 'the stick\'s disk to appear', 60)
    path = usb_path(name)
    opts = dict(NO_ASK)

    def call(method):
        plan, = ctx.bus.call(ROOT, MANAGER, method, GLib.Variant('(aoa{sv})', ([path], opts)), timeout=120)
        return plan
    try:
        call('Prepare')
    except CallError as e:
        if e.name == 'org.hostdev1.Error.NotSupported':
            equal(usb_interfaces(name), before, name + ' interface drivers after the refused Prepare')
            raise Skip('Prepare of a USB device answers NotSupported: %s (issue 13)' % e.message)
        raise

    def undo():
        call('Release')
    with ctx.on_failure('Release', undo):
        equal(sorted(usb_interfaces(name)), sorted(before), name + ' interfaces after Prepare')
        equal(set(usb_interfaces(name).values()), {''}, name + ' interface drivers after Prepare')
        ctx.bus.wait(lambda: not any(os.path.exists('/sys/block/' + b) for b in disks),
                     'the stick\'s disk %s to go away' % disks)
        call('Release')
    ctx.bus.wait(lambda: usb_interfaces(name) == before, name + ' interfaces back on usb-storage', 60)
    ctx.bus.wait(lambda: usb_block_devices(name), 'the stick\'s disk to come back', 60)


def handle_options(handle):
    """'usb-host,hostbus=1,hostaddr=2' -> ('usb-host', {'hostbus': '1', ...})"""
    driver, _, rest = handle.partition(',')
    return driver, dict(kv.split('=', 1) for kv in rest.split(',') if '=' in kv)


@case
def usb_claim_nested_qemu(ctx):
    """A claim of the USB stick detaches usb-storage and hands out a usb-host handle (sysfs bus and device numbers) that a nested QEMU opens."""
    qemu = shutil.which('qemu-system-x86_64')
    if not qemu:
        raise Skip('no qemu-system-x86_64 in the guest image (vmtest.py ROOTFS_PACKAGES)')
    name = usb_stick()
    info = usb_info(name)
    before = usb_interfaces(name)
    disks = ctx.bus.wait(lambda: usb_block_devices(name), 'the stick\'s disk to appear', 60)
    try:
        group, delete = create_group(ctx, 'vm-usb', USB_STICK, 'usb', serial=USB_STICK_SERIAL)
    except CallError as e:
        raise Skip('no usb resource groups: %s (issue 13)' % e.message)
    with ctx.on_failure('deleting the group', delete):
        equal(list(ctx.bus.get(group, RESOURCE_GROUP, 'Devices')), [usb_path(name)], 'usb group Devices')
        try:
            claim, = ctx.bus.call(group, RESOURCE_GROUP, 'Claim',
                                  GLib.Variant('(sua{sv})', ('vm-usb', 1, NO_ASK)), timeout=120)
        except CallError as e:
            if e.name != 'org.hostdev1.Error.NotSupported':
                raise
            raise Skip('claims of USB devices not supported: %s (issue 13)' % e.message)

        def release():
            ctx.bus.call(claim, CLAIM, 'Release', GLib.Variant('(a{sv})', (NO_ASK,)), timeout=120)
        with ctx.on_failure('releasing the claim', release):
            equal(set(usb_interfaces(name).values()), {''}, name + ' interface drivers once claimed')
            ctx.bus.wait(lambda: not any(os.path.exists('/sys/block/' + b) for b in disks),
                         'the stick\'s disk %s to go away' % disks)
            handles = ctx.bus.get(claim, CLAIM, 'Handles')
            equal(len(handles), 1, 'number of handles')
            driver, opts = handle_options(handles[0]['qemu'])
            equal(driver, 'usb-host', 'qemu handle device')
            equal((int(opts.get('hostbus', -1)), int(opts.get('hostaddr', -1))), (info['busnum'], info['devnum']),
                  'qemu handle hostbus, hostaddr (sysfs busnum, devnum)')
            node = '/dev/bus/usb/%03d/%03d' % (info['busnum'], info['devnum'])
            if 'hostdevice' in opts:
                equal(opts['hostdevice'], node, 'qemu handle hostdevice')
            cmd = [qemu, '-machine', 'q35', '-accel', 'tcg', '-nodefaults', '-display', 'none', '-S', '-m', '64',
                   '-device', 'qemu-xhci,id=xhci', '-device', handles[0]['qemu']]
            ctx.notes.append('nested QEMU: ' + ' '.join(cmd))
            vm = Qmp(cmd)
            try:
                ctx.bus.wait(lambda: node in open_fds(vm.proc.pid), 'the nested QEMU to open ' + node)
                # the nested QEMU has no USB device of its own (-nodefaults):
                # one with the stick's product string is the host's
                usb = vm.command('human-monitor-command', **{'command-line': 'info usb'})
                check(info['product_string'] and 'Product %s' % info['product_string'] in usb,
                      "the nested QEMU's info usb lacks the stick (%s): %r" % (info['product_string'], usb))
            finally:
                code = vm.quit()
            equal(code, 0, 'nested QEMU exit status')
            # QEMU hands the device back to the kernel as it exits, and
            # usb-storage may bind again; hostdevd keeps the interfaces of a
            # claimed device detached. Release once it has.
            ctx.bus.wait(lambda: set(usb_interfaces(name).values()) == {''},
                         name + ' interfaces detached while claimed, after the nested QEMU exits')
            ctx.wait_prop(usb_path(name), USB, 'Interfaces', usb_interface_table(name))
            release()
        ctx.bus.wait(lambda: usb_interfaces(name) == before, name + ' interfaces back on usb-storage', 60)
        ctx.bus.wait(lambda: usb_block_devices(name), 'the stick\'s disk to come back', 60)
        delete()


# --- host safety (issue 5): last, as a wrong answer takes the guest's / away ---------

@case
def root_disk_critical(ctx):
    """The disk controller holding / is host-critical, with a reason naming it."""
    addr, block = block_pci_ancestor('/')
    equal(addr, ctx.dev['root_disk'], 'the PCI function under / (fixture: virtio-blk)')
    ctx.device_property(addr, DEVICE, 'Critical')
    props = ctx.bus.get_all(pci_path(addr), DEVICE)
    equal(props['Critical'], True, addr + ' Critical')
    reasons = props.get('CriticalReasons')
    check(reasons, addr + ' is critical without reasons')
    text = repr(reasons)
    check(block in text or "'/'" in text or 'root' in text,
          'the reasons name neither %s nor /: %s' % (block, text))


@case
def prepare_refused_on_root_disk(ctx):
    """Prepare of the root disk's controller is refused, dry run or not; its driver stays."""
    addr = ctx.dev['root_disk']
    ctx.manager_method('Prepare')
    ctx.device_property(addr, DEVICE, 'Critical', "; without it Prepare would unbind the guest's /")
    for dry_run in (True, False):
        try:
            plan = ctx.call_devices('Prepare', [addr], dry_run=dry_run)
        except CallError as e:
            equal(e.name, 'org.hostdev1.Error.CriticalDevice', 'error of Prepare(root disk, dry-run=%s)' % dry_run)
            check(addr in e.message, 'the refusal does not name %s: %s' % (addr, e.message))
            continue
        raise AssertionError('Prepare(root disk, dry-run=%s) was not refused; plan %r' % (dry_run, plan))
    equal(pci_info(addr)['driver'], 'virtio-pci', 'root disk driver after the refused Prepare')


NSIM_ID = 11
NSIM_BUS = '/sys/bus/netdevsim'
NSIM_DEV = NSIM_BUS + '/devices/netdevsim%d' % NSIM_ID
NSIM_VFS = 2
VF_KEYS = ('mac', 'vlan', 'qos', 'trust', 'spoofchk', 'link-state', 'max-tx-rate', 'min-tx-rate')


def ip_vfs(ifname):
    """The VFs as iproute2 parses the kernel's RTM_NEWLINK, in the tool's terms."""
    out = subprocess.run(['ip', '-d', '-j', 'link', 'show', 'dev', ifname], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    equal(out.returncode, 0, 'ip -d -j link show dev %s status (%s)' % (ifname, out.stdout.strip()))
    vfs = {}
    for vf in json.loads(out.stdout)[0].get('vfinfo_list', []):
        # ip leaves out a VLAN and QoS of 0, and lists them under vlan_list when the kernel sends one
        vlan = (vf.get('vlan_list') or [vf])[0]
        rate = vf.get('rate', {})
        vfs[vf['vf']] = {
            'mac': vf.get('address'), 'vlan': vlan.get('vlan', 0), 'qos': vlan.get('qos', 0),
            'trust': vf.get('trust'), 'spoofchk': vf.get('spoofchk'), 'link-state': vf.get('link_state'),
            'max-tx-rate': rate.get('max_tx'), 'min-tx-rate': rate.get('min_tx')}
    return vfs


def vf_tool(ctx, *args):
    """hostdev's rtnetlink VF code (tests/vm/vf-netlink-tool.c) on the guest's kernel."""
    tool = os.path.join(ctx.args.build_root, 'tests/vm/vf-netlink-tool')
    return subprocess.run([tool] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def tool_vfs(ctx, ifname):
    """The VFs as hostdev's parser (rtnl_vf_parse) reads them."""
    out = vf_tool(ctx, 'get', ifname)
    equal(out.returncode, 0, 'vf-netlink-tool get %s status (%s)' % (ifname, out.stderr.strip()))
    vfs = {}
    for line in out.stdout.splitlines():
        fields = dict(w.split('=', 1) for w in line.split())
        index = int(fields.pop('index'))
        vfs[index] = {
            k: (v == 'on' if k in ('trust', 'spoofchk') else
                v if k in ('mac', 'link-state') else int(v)) for k, v in fields.items()}
    return vfs


def vf_set(ctx, ifname, index, **settings):
    args = ['%s=%s' % (k.replace('_', '-'), v) for k, v in settings.items()]
    return vf_tool(ctx, 'set', ifname, index, *args)


@case
def vf_settings_netdevsim(ctx):
    """hostdev's rtnetlink VF messages against the kernel's parser: netdevsim VFs, read back by iproute2.

    hostdevd's SetVfConfig works only on PCI PFs, which netdevsim is not
    (and QEMU 7.2 has no SR-IOV NIC with VF netlink support), so this case
    runs the same code SetVfConfig uses (src/kernel/sriov-netlink.c:
    rtnl_vf_apply, rtnl_vf_read, with vf_settings_validate first) through
    tests/vm/vf-netlink-tool on a netdevsim PF. The kernel's own rtnetlink
    parser takes the messages and `ip -d -j link show` reads the result:
    the expectations come from the values asked for, and what hostdev's
    parser reads must be what iproute2 reads."""
    if subprocess.run(['modinfo', 'netdevsim'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
        raise Skip('no netdevsim module for the guest kernel (vmtest.py builds it from linux-source; see its log)')
    if not shutil.which('ip'):
        raise Skip('no ip in the guest image (vmtest.py ROOTFS_PACKAGES: iproute2)')
    if not os.access(os.path.join(ctx.args.build_root, 'tests/vm/vf-netlink-tool'), os.X_OK):
        raise Skip('tests/vm/vf-netlink-tool is not built')
    out = subprocess.run(['modprobe', 'netdevsim'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    equal(out.returncode, 0, 'modprobe netdevsim status (%s)' % out.stdout.strip())
    check(not os.path.exists(NSIM_DEV), NSIM_DEV + ' exists before the case')
    write(NSIM_BUS + '/new_device', '%d 1' % NSIM_ID)
    try:
        subprocess.run(['udevadm', 'settle', '--timeout=30'])
        names = os.listdir(NSIM_DEV + '/net')
        equal(len(names), 1, 'netdevsim%d netdevs %r' % (NSIM_ID, names))
        ifname = names[0]
        write(NSIM_DEV + '/sriov_numvfs', str(NSIM_VFS))
        equal(sorted(ip_vfs(ifname)), list(range(NSIM_VFS)), ifname + ' VFs (ip)')

        asked = {
            0: dict(mac='52:54:00:5e:00:01', vlan=100, qos=3, trust='on', spoofchk='off',
                    link_state='disable', max_tx_rate=1000, min_tx_rate=100),
            # only a maximum: sent as IFLA_VF_TX_RATE, the kernel keeps the minimum
            1: dict(mac='52:54:00:5e:00:02', vlan=4094, trust='off', spoofchk='on',
                    link_state='enable', max_tx_rate=500),
        }
        for index, settings in asked.items():
            out = vf_set(ctx, ifname, index, **settings)
            equal(out.returncode, 0, 'set VF %d %r status (%s)' % (index, settings, out.stderr.strip()))
        want = {
            0: {'mac': '52:54:00:5e:00:01', 'vlan': 100, 'qos': 3, 'trust': True, 'spoofchk': False,
                'link-state': 'disable', 'max-tx-rate': 1000, 'min-tx-rate': 100},
            1: {'mac': '52:54:00:5e:00:02', 'vlan': 4094, 'qos': 0, 'trust': False, 'spoofchk': True,
                'link-state': 'enable', 'max-tx-rate': 500, 'min-tx-rate': 0},
        }
        kernel = ip_vfs(ifname)
        equal(kernel, want, ifname + ' VFs after setting them (ip -d -j link show)')
        # hostdev's parser reads what iproute2 reads, every field
        parsed = tool_vfs(ctx, ifname)
        for index in kernel:
            equal(sorted(parsed.get(index, {})), sorted(VF_KEYS), 'VF %d fields read by rtnl_vf_parse' % index)
        equal(parsed, kernel, ifname + ' VFs read by rtnl_vf_parse')

        # refused before anything is sent: the kernel's view stays the same
        for index, settings, what in (
                (0, dict(vlan=5000), 'VLAN 5000'),
                (0, dict(vlan=10, qos=8), 'QoS 8'),
                (0, dict(mac='01:00:5e:00:00:01'), 'a multicast MAC'),
                (NSIM_VFS, dict(trust='on'), 'VF index %d of %d' % (NSIM_VFS, NSIM_VFS)),
                (1, dict(max_tx_rate=10, min_tx_rate=20), 'min-tx-rate above max-tx-rate')):
            out = vf_set(ctx, ifname, index, **settings)
            equal(out.returncode, 2, '%s: exit status (2: refused before sending; %s)' % (what, out.stderr.strip()))
            check(out.stderr.startswith('refused: '), '%s: no reason given: %r' % (what, out.stderr))
            equal(ip_vfs(ifname), want, ifname + ' VFs after refusing ' + what)

        # all-zero MAC and VLAN 0 clear the VF, as on a claim's release
        out = vf_set(ctx, ifname, 0, mac='00:00:00:00:00:00', vlan=0, qos=0, trust='off')
        equal(out.returncode, 0, 'clearing VF 0 status (%s)' % out.stderr.strip())
        want[0].update({'mac': '00:00:00:00:00:00', 'vlan': 0, 'qos': 0, 'trust': False})
        equal(ip_vfs(ifname), want, ifname + ' VFs after clearing VF 0')
        equal(tool_vfs(ctx, ifname), want, ifname + ' VFs after clearing VF 0, read by rtnl_vf_parse')
    finally:
        if os.path.exists(NSIM_DEV + '/sriov_numvfs'):
            write(NSIM_DEV + '/sriov_numvfs', '0')
        write(NSIM_BUS + '/del_device', str(NSIM_ID))
        subprocess.run(['udevadm', 'settle', '--timeout=30'])


@case
def daemon_exits_cleanly(ctx):
    """hostdevd ran through every case without dying and exits 0 on SIGTERM."""
    equal(ctx.unexpected_exits, [], 'hostdevd exits during the run (restarted each time)')
    equal(ctx.daemon.stop(ctx.bus), 0, 'hostdevd exit status on SIGTERM')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--source-root', required=True)
    ap.add_argument('--build-root', required=True)
    ap.add_argument('--results', required=True)
    ap.add_argument('--only', default='')
    args = ap.parse_args()
    only = [n.replace('-', '_') for n in args.only.split(',') if n]
    cases = [c for c in CASES if not only or c.__name__ in only]
    unknown = set(only) - {c.__name__ for c in CASES}
    try:
        with open(os.path.join(args.results, 'env.json')) as f:
            os.environ.update(json.load(f))
    except OSError:
        pass
    tap = Tap(os.path.join(args.results, 'tap.txt'))
    if unknown:
        tap.line('Bail out! no such case: %s' % ', '.join(sorted(n.replace('_', '-') for n in unknown)))
        return 2
    tap.line('1..%d' % len(cases))
    try:
        ctx = Ctx(args)
        t = ctx.daemon.start(ctx.bus)
        tap.diag('hostdevd on the bus after %.1f s' % t)
    except Exception as e:
        tap.line('Bail out! cannot set up the guest: %s' % e)
        return 2
    for c in cases:
        try:
            ctx.ensure_daemon()
        except Exception as e:
            tap.diag('hostdevd does not start: %s' % e)
        tap.run(ctx, c)
    ctx.daemon.stop()
    # Failures are in the TAP; any other status means the run broke off.
    return 0


if __name__ == '__main__':
    sys.exit(main())
