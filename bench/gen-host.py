#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write a large simulated virtualization host as a sysfs tree.

At its default size (--pci 4096 --usb 256) the host has two sockets with
four PCIe stacks each (Ice Lake-SP root complexes, CBDMA engines, root
ports), a C620 chipset with a BMC (ASPEED VGA behind its PCI bridge),
16 E810 PFs with 240 VFs each (3,840 VFs), 4 more E810 PFs with SR-IOV
capacity but no VFs enabled (the hotplug benchmark adds VFs there), 4 GPUs
with their audio functions (two bound to vfio-pci), 12 NVMe drives (8 behind
a PCIe switch), three xHCI controllers, and uncore functions that bring the
total to exactly --pci functions. The USB side has --usb devices under
7-port hubs on three USB 2.0 buses, plus two drives per SuperSpeed bus.

IOMMU groups follow what an ACS-capable host shows: every root port, switch
port and endpoint device alone (all functions of a multi-function device
together), the chipset in a few groups, a PCIe-to-PCI bridge with what is
behind it. VFs are the exception: a real ACS host gives each VF its own
group (about 4,000 groups here); the benchmark puts the VFs of a PF
--vfs-per-group (20) to a group so the host has about 300 groups, the
size the benchmark is specified for. Groups are numbered in address order
for the boot-time devices, then in creation order for VFs, as the kernel
does when VFs are enabled after boot.

The tree is written directly (no .umockdev files): realistic paths under
sys/devices/pci0000:00/..., sys/bus/{pci,usb}/devices and drivers/<d>/
links, sys/bus/pci/slots, sys/kernel/iommu_groups/N/devices, 4096-byte
config space for PCIe functions with Device Serial Number and SR-IOV
capabilities, VPD, uevent files, and dev/bus/usb nodes. Point
UMOCKDEV_DIR at --root (or write into a UMockdev.Testbed's root) and run
under libumockdev-preload.

Used as a module by run-bench, which also calls Host.add_vf() for hotplug.
"""

import argparse
import json
import math
import os
import struct
import sys
import time

# ---------------------------------------------------------------- ids

# PCI segments (domains) a host larger than one segment's buses spreads over
MAX_DOMAINS = 4

INTEL, NVIDIA, SAMSUNG, BROADCOM, RENESAS, ASPEED = 0x8086, 0x10de, 0x144d, 0x1000, 0x1912, 0x1a03

# (device id, class, functions per device) of uncore functions on the
# dedicated uncore buses; several are not in pci.ids, as on real hosts.
UNCORE = [(0x3450, 0x088000, 4), (0x3451, 0x088000, 2), (0x3452, 0x088000, 1),
          (0x3440, 0x088000, 1), (0x3441, 0x088000, 3), (0x3456, 0x088000, 1),
          (0x09a6, 0x088000, 1), (0x09a7, 0x110100, 1), (0x344f, 0x088000, 8),
          (0x3459, 0x088000, 8), (0x345c, 0x088000, 4)]

# Chipset on bus 00: (dev, fn, id, class, driver, group tag)
PCH = [(0x11, 0, 0xa1ec, 0xff0000, None, 'a'),
       (0x11, 5, 0xa1d2, 0x010601, 'ahci', 'a'),
       (0x14, 0, 0xa1af, 0x0c0330, 'xhci_hcd', 'b'),
       (0x14, 2, 0xa1b1, 0x118000, 'intel_pch_thermal', 'b'),
       (0x16, 0, 0xa1ba, 0x078000, 'mei_me', 'c'),
       (0x17, 0, 0xa182, 0x010601, 'ahci', 'd'),
       (0x1f, 0, 0xa1c3, 0x060100, None, 'f'),
       (0x1f, 2, 0xa1a1, 0x058000, None, 'f'),
       (0x1f, 4, 0xa1a3, 0x0c0500, 'i801_smbus', 'f'),
       (0x1f, 5, 0xa1a4, 0x0c8000, 'intel-spi', 'f')]

# USB leaf devices: vid, pid, manufacturer, product, serial format or None,
# speed, interface class, interface driver. 16d0:117e is not in usb.ids:
# its names come from the device's strings.
USB_LEAVES = [
    (0x0403, 0x6001, 'FTDI', 'FT232R USB UART', 'A{:07X}', '12', 0xff, 'ftdi_sio'),
    (0x10c4, 0xea60, 'Silicon Labs', 'CP2102 USB to UART Bridge Controller', '{:04x}', '12', 0xff, 'cp210x'),
    (0x046d, 0xc52b, 'Logitech', 'USB Receiver', None, '12', 0x03, 'usbhid'),
    (0x413c, 0x2113, 'Dell', 'Dell KB216 Wired Keyboard', None, '1.5', 0x03, 'usbhid'),
    (0x0781, 0x5583, 'SanDisk', ' Ultra Fit', '4C53{:016d}', '480', 0x08, 'usb-storage'),
    (0x1050, 0x0407, 'Yubico', 'YubiKey OTP+FIDO+CCID', None, '12', 0x03, 'usbhid'),
    (0x067b, 0x2303, 'Prolific Technology Inc.', 'USB-Serial Controller', None, '12', 0xff, 'pl2303'),
    (0x0bda, 0x8153, 'Realtek', 'USB 10/100/1000 LAN', '0000{:08X}', '480', 0xff, 'r8152'),
    (0x1366, 0x1015, 'SEGGER', 'J-Link', '{:012d}', '12', 0xff, None),
    (0x16d0, 0x117e, 'Lab Instruments', 'Power Meter PM-4', 'PM4-{:05d}', '12', 0x02, 'cdc_acm'),
    (0x04e6, 0x5116, 'SCM Microsystems Inc.', 'SCR33x USB Smart Card Reader', '{:08X}', '12', 0x0b, None),
]
USB_HUB = (0x1a40, 0x0201, None, 'USB 2.0 Hub [MTT]', None, '480', 0x09, 'hub')
USB_SS_DISK = (0x0781, 0x5583, 'SanDisk', ' Ultra Fit', '4C53{:016d}', '5000', 0x08, 'usb-storage')

PCIE_ENDPOINT, PCIE_ROOT_PORT, PCIE_UPSTREAM, PCIE_DOWNSTREAM, PCIE_TO_PCI, PCIE_RCIEP = 0, 4, 5, 6, 7, 9
GEN = {1: '2.5 GT/s PCIe', 2: '5.0 GT/s PCIe', 3: '8.0 GT/s PCIe', 4: '16.0 GT/s PCIe'}


class Fn:
    """One PCI function."""
    __slots__ = ('addr', 'path', 'vendor', 'device', 'cls', 'svid', 'sdid', 'rev',
                 'numa', 'driver', 'gkey', 'group', 'ptype', 'link', 'reset',
                 'sriov', 'pf', 'vfindex', 'vfs', 'dsn', 'vpd_sn', 'multi',
                 'secondary', 'subordinate', 'slot')

    def __init__(self, dom, bus, dev, fn, parent, vendor, device, cls, *, svid=0, sdid=0,
                 rev=0, numa=0, driver=None, ptype=PCIE_ENDPOINT, link=None, reset=None,
                 dsn=None, vpd_sn=None):
        self.addr = '%04x:%02x:%02x.%d' % (dom, bus, dev, fn)
        self.path = parent + '/' + self.addr
        self.vendor, self.device, self.cls = vendor, device, cls
        self.svid, self.sdid, self.rev = svid, sdid, rev
        self.numa, self.driver, self.ptype = numa, driver, ptype
        self.link, self.reset, self.dsn, self.vpd_sn = link, reset, dsn, vpd_sn
        self.gkey = self.group = None
        self.sriov = self.pf = None
        self.vfindex = -1
        self.vfs = []
        self.multi = False
        self.secondary = self.subordinate = None
        self.slot = None

    @property
    def dom(self):
        return int(self.addr[:4], 16)

    @property
    def bus(self):
        return int(self.addr[5:7], 16)

    def dsn_string(self):
        """The serial as lspci prints it: most significant byte first."""
        if self.dsn is None:
            return ''
        return '-'.join('%02x' % b for b in self.dsn.to_bytes(8, 'big'))


class UsbDev:
    __slots__ = ('name', 'path', 'busnum', 'devnum', 'ports', 'desc', 'serial', 'speed',
                 'nports', 'is_root', 'ctrl')

    def __init__(self, name, path, busnum, devnum, ports, desc, serial, speed):
        self.name, self.path, self.busnum, self.devnum = name, path, busnum, devnum
        self.ports, self.desc, self.serial, self.speed = ports, desc, serial, speed
        self.nports = 0
        self.is_root = False
        self.ctrl = None


class Host:
    """The model of the host; write() puts it on disk, add_vf() grows it."""

    def __init__(self, pci=4096, usb=256, vfs_per_group=20):
        if pci < 64:
            raise ValueError('--pci must be at least 64')
        if not 0 <= usb <= 1000:
            raise ValueError('--usb must be between 0 and 1000')
        self.want_pci, self.want_usb, self.vfs_per_group = pci, usb, vfs_per_group
        self.fns = []
        self.by_addr = {}
        self.roots = []        # (name, numa) of pciDDDD:BB root buses
        self.slots = []        # (slot name, "0000:BB:DD")
        self.usb = []
        self.nic_pfs, self.hotplug_pfs = [], []
        self.next_group = 0
        self.group_members = {}
        self._serial = 0
        self._plan(pci, usb)

    # ------------------------------------------------------------ model

    def _new(self, *args, **kw):
        f = Fn(*args, **kw)
        self.fns.append(f)
        self.by_addr[f.addr] = f
        return f

    def _nextserial(self):
        self._serial += 1
        return self._serial

    def _plan(self, n_pci, n_usb):
        s = n_pci / 4096
        n_nic = max(1, round(16 * s))
        n_gpu = max(1, round(4 * s))
        n_nvme = max(1, round(4 * s))
        n_switch = 1 if s >= 0.5 else 0
        n_hp = max(1, round(4 * s))
        n_xhci = max(1, math.ceil(n_usb / 100))
        kinds = (['gpu'] * n_gpu + ['usb'] * (n_xhci - 1) + ['nvme'] * n_nvme +
                 ['nic'] * n_nic + ['switch'] * n_switch + ['hp'] * n_hp)
        sockets = 2 if len(kinds) > 6 else 1
        # half of each kind on each socket, so both NUMA nodes carry everything
        per_socket = [[], []]
        for kind in dict.fromkeys(kinds):
            items = [k for k in kinds if k == kind]
            half = (len(items) + 1) // 2 if sockets == 2 else len(items)
            per_socket[0] += items[:half]
            per_socket[1] += items[half:]
        self._vfs_per_pf = 0
        # first pass with no VFs to learn how many functions the platform has
        self._kinds, self._sockets, self._n_xhci, self._n_nic = per_socket, sockets, n_xhci, n_nic
        self._build(vfs_per_pf=0, filler=0, dry=True)
        platform = len(self.fns)
        vfs_per_pf = min(240, (n_pci - platform) // n_nic)
        if vfs_per_pf < 0:
            raise ValueError('--pci %d is smaller than the platform (%d functions)' % (n_pci, platform))
        filler = n_pci - platform - vfs_per_pf * n_nic
        if filler > sockets * 2 * 32 * 8:
            raise ValueError('--pci %d needs more uncore functions than there are slots' % n_pci)
        self.fns, self.by_addr, self.roots, self.slots = [], {}, [], []
        self.nic_pfs, self.hotplug_pfs, self._serial = [], [], 0
        self._build(vfs_per_pf, filler, dry=False)
        assert len(self.fns) == n_pci, (len(self.fns), n_pci)
        self._number_groups()
        self._plan_usb(n_usb)

    def _build(self, vfs_per_pf, filler, dry):
        # up to seven stacks of 18 buses per socket, below its two uncore
        # buses; a host too large for one PCI segment (domain) continues in
        # the next, with the same bus layout and no uncore buses
        stack_bases = [[0x00 + 0x12 * i for i in range(7)], [0x80 + 0x12 * i for i in range(7)]]
        uncore_buses = [[0x7e, 0x7f], [0xfe, 0xff]]
        slotno = 0
        for sock in range(self._sockets):
            kinds = self._kinds[sock]
            nstacks = max(1, math.ceil(len(kinds) / 4))
            if nstacks > len(stack_bases[sock]) * MAX_DOMAINS:
                raise ValueError('--pci %d needs more root ports than the host has' % self.want_pci)
            for st in range(nstacks):
                dom, st_in_dom = divmod(st, len(stack_bases[sock]))
                base = stack_bases[sock][st_in_dom]
                rootname = 'pci%04x:%02x' % (dom, base)
                self.roots.append((rootname, sock))
                top = 'devices/' + rootname
                # root complex functions: VT-d, mesh, RAS, IEH; CBDMA engines
                first = None
                for fn, did in ((0, 0x09a2), (1, 0x09a4), (2, 0x09a3), (4, 0x0998)):
                    f = self._new(dom, base, 0, fn, top, INTEL, did, 0x088000, rev=4, numa=sock,
                                  ptype=PCIE_RCIEP, link=(0, 0, 0, 0))
                    f.gkey = ('rc', dom, base)
                    first = first or f
                first.multi = True
                for fn in range(8):
                    f = self._new(dom, base, 1, fn, top, INTEL, 0x0b00, 0x088000, rev=4, numa=sock,
                                  driver='ioatdma', ptype=PCIE_RCIEP, link=(0, 0, 0, 0))
                    f.gkey = ('cbdma', dom, base)
                    f.multi = fn == 0
                nextbus = base + 1
                if sock == 0 and st == 0:
                    nextbus = self._pch(top, nextbus)
                for i, kind in enumerate(kinds[st * 4:st * 4 + 4]):
                    rp = self._new(dom, base, 2 + i, 0, top, INTEL, 0x347a + i, 0x060400, rev=4,
                                   numa=sock, driver='pcieport', ptype=PCIE_ROOT_PORT,
                                   link=(4, 16, 4, 16))
                    rp.gkey = rp.addr
                    slotno += 1
                    nextbus = self._behind(rp, kind, nextbus, sock, slotno, vfs_per_pf)
                    rp.subordinate = nextbus - 1
                if st_in_dom + 1 < len(stack_bases[sock]):
                    limit = stack_bases[sock][st_in_dom + 1]
                else:
                    limit = uncore_buses[sock][0]
                assert nextbus <= limit, 'stack %04x:%02x overflows its bus range' % (dom, base)
        if not dry:
            self._uncore(filler, uncore_buses)

    def _pch(self, top, nextbus):
        for dev, fn, did, cls, drv, tag in PCH:
            f = self._new(0, 0, dev, fn, top, INTEL, did, cls, svid=0x15d9, sdid=0x1c48, rev=9,
                          driver=drv, ptype=None)
            f.gkey = ('pch', tag)
            f.multi = fn == 0 and dev in (0x11, 0x14, 0x1f)
        rp = self._new(0, 0, 0x1c, 0, top, INTEL, 0xa190, 0x060400, rev=0xf9, driver='pcieport',
                       ptype=PCIE_ROOT_PORT, link=(1, 1, 3, 1))
        rp.gkey = rp.addr
        # BMC: ASPEED PCIe-to-PCI bridge and the VGA behind it, one group
        br = self._new(0, nextbus, 0, 0, rp.path, ASPEED, 0x1150, 0x060400, svid=0x15d9,
                       sdid=0x1c48, rev=4, ptype=PCIE_TO_PCI, link=(1, 1, 1, 1))
        rp.secondary, br.secondary = nextbus, nextbus + 1
        vga = self._new(0, nextbus + 1, 0, 0, br.path, ASPEED, 0x2000, 0x030000, svid=0x15d9,
                        sdid=0x1c48, rev=0x41, driver='ast', ptype=None)
        br.gkey = vga.gkey = ('bmc',)
        br.subordinate = rp.subordinate = nextbus + 1
        self._boot_vga = vga.addr
        return nextbus + 2

    def _behind(self, rp, kind, bus, sock, slotno, vfs_per_pf):
        """Put a slot device of this kind behind root port rp; return the next free bus."""
        rp.secondary = bus
        top = rp.path
        dom = rp.dom
        self.slots.append((str(slotno), '%04x:%02x:00' % (dom, bus)))
        if kind == 'gpu':
            prepared = len([f for f in self.fns if f.device == 0x2230]) >= 2
            g = self._new(dom, bus, 0, 0, top, NVIDIA, 0x2230, 0x030000, svid=NVIDIA, sdid=0x1459,
                          rev=0xa1, numa=sock, driver='vfio-pci' if prepared else 'nouveau',
                          link=(4, 16, 4, 16), reset='pm')
            a = self._new(dom, bus, 0, 1, top, NVIDIA, 0x1aef, 0x040300, svid=NVIDIA, sdid=0x1459,
                          rev=0xa1, numa=sock, driver='vfio-pci' if prepared else 'snd_hda_intel',
                          link=(4, 16, 4, 16), reset='pm')
            g.multi = True
            g.gkey = a.gkey = g.addr
            return bus + 1
        if kind == 'usb':
            f = self._new(dom, bus, 0, 0, top, RENESAS, 0x0014, 0x0c0330, svid=RENESAS, sdid=0x0014,
                          rev=3, numa=sock, driver='xhci_hcd', link=(2, 1, 2, 1), reset='bus')
            f.gkey = f.addr
            return bus + 1
        if kind == 'nvme':
            # direct-attached drives have VPD but no DSN capability
            f = self._new(dom, bus, 0, 0, top, INTEL, 0x0b60, 0x010802, svid=INTEL, sdid=0x8008,
                          numa=sock, driver='nvme', link=(4, 4, 4, 4), reset='flr bus',
                          vpd_sn='PHAB%06d7P6DGN' % self._nextserial())
            f.gkey = f.addr
            return bus + 1
        if kind == 'nic':
            return self._pf(rp, bus, sock, 0x1593, 0x0005, vfs_per_pf, 16, hotplug=False)
        if kind == 'hp':
            return self._pf(rp, bus, sock, 0x159b, 0x0003, 0, 8, hotplug=True)
        if kind == 'switch':
            up = self._new(dom, bus, 0, 0, top, BROADCOM, 0xc010, 0x060400, svid=BROADCOM, sdid=0xa064,
                           rev=0xb0, numa=sock, driver='pcieport', ptype=PCIE_UPSTREAM,
                           link=(4, 16, 4, 16))
            up.gkey = up.addr
            up.secondary = bus + 1
            nxt = bus + 2
            self.slots.pop()   # the bays below carry the slot numbers
            nswitch = sum(1 for f in self.fns if f.device == 0xc010 and f.ptype == PCIE_UPSTREAM) - 1
            # bay numbers above the root ports' slot numbers
            bays = 100 if sum(len(k) for k in self._kinds) < 100 else 1000
            for d in range(8):
                dp = self._new(dom, bus + 1, d, 0, up.path, BROADCOM, 0xc010, 0x060400, svid=BROADCOM,
                               sdid=0xa064, rev=0xb0, numa=sock, driver='pcieport',
                               ptype=PCIE_DOWNSTREAM, link=(4, 4, 4, 4))
                dp.gkey = dp.addr
                dp.secondary = dp.subordinate = nxt
                self.slots.append(('%d' % (bays + 16 * nswitch + 8 * sock + d), '%04x:%02x:00' % (dom, nxt)))
                drive = self._new(dom, nxt, 0, 0, dp.path, SAMSUNG, 0xa824, 0x010802, svid=SAMSUNG,
                                  sdid=0xa812, numa=sock, driver='vfio-pci' if d >= 6 else 'nvme',
                                  link=(4, 4, 4, 4), reset='flr bus',
                                  dsn=0x38_25_00_ff_ff_00_00_00 | self._nextserial())
                drive.gkey = drive.addr
                nxt += 1
            up.subordinate = nxt - 1
            return nxt
        raise ValueError(kind)

    def _pf(self, rp, bus, sock, did, sdid, nvfs, offset, hotplug):
        n = self._nextserial()
        pf = self._new(rp.dom, bus, 0, 0, rp.path, INTEL, did, 0x020000, svid=INTEL, sdid=sdid, rev=2,
                       numa=sock, driver='ice', link=(4, 16, 4, 16), reset='flr',
                       dsn=(0xb4_96_91_ff_ff_00_00_00 | (n << 8)) if not hotplug else None,
                       vpd_sn='%s%06d' % ('HP' if hotplug else 'K', n))
        pf.gkey = pf.addr
        pf.sriov = {'total': 256, 'num': 0, 'offset': offset, 'stride': 1,
                    'vf_device': 0x1889, 'parent': rp.path}
        (self.hotplug_pfs if hotplug else self.nic_pfs).append(pf)
        # VFs of the first half of the PFs use the host driver, the rest are
        # ready for VMs
        prepared = len(self.nic_pfs) > self._n_nic // 2
        for i in range(nvfs):
            self._vf(pf, i, None if hotplug else ('vfio-pci' if prepared else 'iavf'))
        # VF routing ids may run past the PF's bus: reserve what 256 VFs need
        last = ((bus << 8) + offset + 255) >> 8
        return last + 1

    def _vf(self, pf, i, driver):
        sr = pf.sriov
        rid = (pf.bus << 8) + sr['offset'] + i * sr['stride']
        vf = self._new(pf.dom, rid >> 8, (rid >> 3) & 0x1f, rid & 7, sr['parent'], INTEL,
                       sr['vf_device'], 0x020000, svid=INTEL, sdid=0, rev=2, numa=pf.numa,
                       driver=driver, link=(0, 0, 0, 0), reset='flr')
        vf.pf, vf.vfindex = pf, i
        vf.gkey = ('vf', pf.addr, i // self.vfs_per_group)
        pf.vfs.append(vf)
        sr['num'] = len(pf.vfs)
        return vf

    def _uncore(self, filler, uncore_buses):
        # every segment in use has its sockets' uncore buses
        ndom = max(int(r[0][3:7], 16) for r in self.roots) + 1
        buses = [(dom, b) for dom in range(ndom) for sock in range(self._sockets) for b in uncore_buses[sock]]
        i = 0
        while filler > 0:
            dom, b = buses[i % len(buses)]
            dev = i // len(buses)
            if dev > 0x1f:
                raise ValueError('--pci %d needs more uncore functions than there are slots' % self.want_pci)
            did, cls, nfn = UNCORE[i % len(UNCORE)]
            nfn = min(nfn, filler)
            sock = 0 if b < 0x80 else 1
            rootname = 'pci%04x:%02x' % (dom, b)
            if dev == 0:
                self.roots.append((rootname, sock))
            for fn in range(nfn):
                f = self._new(dom, b, dev, fn, 'devices/' + rootname, INTEL, did, cls, rev=4,
                              numa=sock, ptype=PCIE_RCIEP, link=(0, 0, 0, 0))
                f.gkey = ('uncore', dom, b, dev)
                f.multi = nfn > 1 and fn == 0
            filler -= nfn
            i += 1

    def _number_groups(self):
        numbers = {}
        boot = sorted((f for f in self.fns if f.pf is None), key=lambda f: f.addr)
        vfs = [vf for pf in self.nic_pfs + self.hotplug_pfs for vf in pf.vfs]
        for f in boot + vfs:
            if f.gkey not in numbers:
                numbers[f.gkey] = len(numbers)
            f.group = numbers[f.gkey]
            self.group_members.setdefault(f.group, []).append(f)
        self._group_numbers = numbers
        self.next_group = len(numbers)

    def _plan_usb(self, n_usb):
        """xHCI controller c has USB 2.0 bus 2c+1 and SuperSpeed bus 2c+2."""
        ctrls = [self.by_addr['0000:00:14.0']] + [f for f in self.fns if f.device == 0x0014
                                                  and f.vendor == RENESAS]
        ctrls = ctrls[:self._n_xhci]
        ss_each = 2 if n_usb >= 32 else 0
        left = n_usb - ss_each * len(ctrls)
        for c, ctrl in enumerate(ctrls):
            nports = 14 if c == 0 else 4
            hs = min(100, left) if c < len(ctrls) - 1 else left
            if hs > 120:
                raise ValueError('too many USB devices for the buses')
            left -= hs
            for busnum, count, speed in ((2 * c + 1, hs, '480'), (2 * c + 2, ss_each, '5000')):
                root = UsbDev('usb%d' % busnum, ctrl.path + '/usb%d' % busnum, busnum, 1, (),
                              None, ctrl.addr, speed)
                root.is_root, root.nports, root.ctrl = True, nports, ctrl
                self.usb.append(root)
                if speed == '5000':
                    for p in range(1, count + 1):
                        self._usb_dev(root, (p,), USB_SS_DISK)
                else:
                    self._usb_tree(root, count)

    def _usb_tree(self, root, count):
        """Breadth first: a free port becomes a hub while the free ports
        cannot hold what is left, then leaves fill the ports."""
        free = [(p,) for p in range(1, root.nports + 1)]
        left, leaf = count, 0
        while left > 0:
            if not free:
                raise ValueError('USB bus %d is full' % root.busnum)
            ports = free.pop(0)
            if len(free) + 1 < left and len(ports) < 5:
                self._usb_dev(root, ports, USB_HUB)
                free += [ports + (p,) for p in range(1, 8)]
            else:
                self._usb_dev(root, ports, USB_LEAVES[(root.busnum * 7 + leaf) % len(USB_LEAVES)])
                leaf += 1
            left -= 1

    def _usb_dev(self, root, ports, desc):
        busnum = root.busnum
        devnum = 1 + len([d for d in self.usb if d.busnum == busnum])
        if devnum > 127:
            raise ValueError('USB bus %d has more than 127 devices' % busnum)
        name = '%d-%s' % (busnum, '.'.join(map(str, ports)))
        parent = root.path if len(ports) == 1 else \
            root.path + '/' + '/'.join('%d-%s' % (busnum, '.'.join(map(str, ports[:k])))
                                       for k in range(1, len(ports)))
        serial = desc[4].format(self._nextserial()) if desc[4] else None
        d = UsbDev(name, parent + '/' + name, busnum, devnum, ports, desc, serial, desc[5])
        d.nports = 7 if desc is USB_HUB else 0
        d.ctrl = root.ctrl
        self.usb.append(d)
        return d

    # ------------------------------------------------------------ summary

    def summary(self):
        usb = [d for d in self.usb if not d.is_root]
        return {
            'pci': len(self.fns),
            'pfs': len(self.nic_pfs),
            'vfs': sum(len(pf.vfs) for pf in self.nic_pfs),
            'vfs_per_pf': len(self.nic_pfs[0].vfs) if self.nic_pfs else 0,
            'hotplug_pfs': len(self.hotplug_pfs),
            'hotplug_capacity': sum(pf.sriov['total'] - len(pf.vfs) for pf in self.hotplug_pfs),
            'usb': len(usb),
            'usb_buses': sorted({d.busnum for d in self.usb}),
            'iommu_groups': len(self.group_members),
            'serials': sum(1 for f in self.fns if f.dsn is not None or f.vpd_sn),
            'vfs_per_group': self.vfs_per_group,
        }

    # ------------------------------------------------------------ writing

    def write(self, root):
        """Write sys/ and dev/ under root (which may already hold an empty sys/)."""
        w = Writer(root)
        w.skeleton(self)
        for name, numa in self.roots:
            w.root_bus(name)
        for f in sorted(self.fns, key=lambda f: f.path.count('/')):
            w.pci(f, self)
        for g in self.group_members:
            w.group(g)
        for f in self.fns:
            w.group_member(f)
        for name, addr in self.slots:
            w.slot(name, addr)
        for d in self.usb:
            w.usb(d)
        return w.files

    def add_vf(self, root, pf):
        """Enable one more VF on pf: write it and its links; return it.

        Follows what the kernel does before the "add" uevent: the device
        directory with its attributes and links, the IOMMU group (a new one
        every vfs_per_group VFs), the PF's virtfnN link and sriov_numvfs."""
        i = len(pf.vfs)
        if i >= pf.sriov['total']:
            raise ValueError('%s has no VF left' % pf.addr)
        vf = self._vf(pf, i, None)
        w = Writer(root)
        if vf.gkey not in self._group_numbers:
            self._group_numbers[vf.gkey] = self.next_group
            self.next_group += 1
            vf.group = self._group_numbers[vf.gkey]
            self.group_members[vf.group] = [vf]
            w.group(vf.group)
        else:
            vf.group = self._group_numbers[vf.gkey]
            self.group_members[vf.group].append(vf)
        w.pci(vf, self)
        w.group_member(vf)
        w.put(pf.path + '/sriov_numvfs', '%d\n' % len(pf.vfs))
        return vf


def _rel(from_dir, to):
    """Relative symlink target from directory from_dir to path to (both under sys/)."""
    return '../' * (from_dir.count('/') + 1) + to


class Writer:
    def __init__(self, root):
        self.sys = os.path.join(root, 'sys') + '/'
        self.dev = os.path.join(root, 'dev') + '/'
        self.files = 0

    def put(self, rel, data):
        if isinstance(data, str):
            data = data.encode()
        fd = os.open(self.sys + rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        self.files += 1

    def link(self, rel, target):
        os.symlink(target, self.sys + rel)
        self.files += 1

    def mkdir(self, rel):
        os.makedirs(self.sys + rel, exist_ok=True)

    def power(self, rel):
        self.mkdir(rel + '/power')
        for name, val in (('control', 'on'), ('runtime_status', 'active'),
                          ('runtime_active_time', '0'), ('runtime_suspended_time', '0'),
                          ('async', 'enabled'), ('runtime_usage', '1')):
            self.put(rel + '/power/' + name, val + '\n')

    def skeleton(self, host):
        for d in ('bus/pci/devices', 'bus/pci/drivers', 'bus/pci/slots', 'bus/usb/devices',
                  'bus/usb/drivers', 'kernel/iommu_groups', 'devices', 'class'):
            self.mkdir(d)
        for name, val in (('drivers_autoprobe', '1'), ('uevent', ''), ('rescan', ''),
                          ('resource_alignment', '')):
            self.put('bus/pci/' + name, val + ('\n' if val else ''))
        self.put('bus/usb/drivers_autoprobe', '1\n')
        self.put('bus/usb/uevent', '')
        drivers = {f.driver for f in host.fns if f.driver} | {'vfio-pci', 'iavf', 'pci-stub'}
        for d in sorted(drivers):
            self._driver('pci', d)
        for d in ('usb', 'hub', 'usbhid', 'usb-storage', 'ftdi_sio', 'cp210x', 'pl2303',
                  'r8152', 'cdc_acm', 'usbfs'):
            self._driver('usb', d)

    def _driver(self, bus, name):
        rel = 'bus/%s/drivers/%s' % (bus, name)
        self.mkdir(rel)
        for attr in ('bind', 'unbind', 'uevent') + (('new_id', 'remove_id') if bus == 'pci' else ()):
            self.put(rel + '/' + attr, '')

    def root_bus(self, name):
        rel = 'devices/' + name
        self.mkdir(rel)
        self.put(rel + '/uevent', '')
        self.power(rel)

    def pci(self, f, host):
        p = f.path
        os.mkdir(self.sys + p)
        pcie = f.ptype is not None
        cls = f.cls
        modalias = 'pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X' % (
            f.vendor, f.device, f.svid, f.sdid, cls >> 16, (cls >> 8) & 0xff, cls & 0xff)
        ue = ''
        if f.driver:
            ue += 'DRIVER=%s\n' % f.driver
        ue += ('PCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\nPCI_SLOT_NAME=%s\n'
               'MODALIAS=%s\n' % (cls, f.vendor, f.device, f.svid, f.sdid, f.addr, modalias))
        cpus = '0-31,64-95' if f.numa == 0 else '32-63,96-127'
        attrs = [
            ('uevent', ue),
            ('vendor', '0x%04x\n' % f.vendor),
            ('device', '0x%04x\n' % f.device),
            ('subsystem_vendor', '0x%04x\n' % f.svid),
            ('subsystem_device', '0x%04x\n' % f.sdid),
            ('class', '0x%06x\n' % cls),
            ('revision', '0x%02x\n' % f.rev),
            ('numa_node', '%d\n' % f.numa),
            ('local_cpulist', cpus + '\n'),
            ('local_cpus', ('ffffffff,00000000,ffffffff\n' if f.numa == 0 else
                            'ffffffff,00000000,ffffffff,00000000\n')),
            ('irq', '%d\n' % (16 + len(f.addr) % 16)),
            ('enable', '1\n' if f.driver else '0\n'),
            ('msi_bus', '1\n'),
            ('broken_parity_status', '0\n'),
            ('d3cold_allowed', '1\n'),
            ('power_state', 'D0\n'),
            ('dma_mask_bits', '64\n'),
            ('consistent_dma_mask_bits', '64\n'),
            ('driver_override', '(null)\n'),
            ('modalias', modalias + '\n'),
            ('resource', '0x00000000f8000000 0x00000000f8ffffff 0x0000000000040200\n' +
             '0x0000000000000000 0x0000000000000000 0x0000000000000000\n' * 12),
            ('ari_enabled', '0\n'),
            ('remove', ''), ('rescan', ''), ('reset', '') if f.reset else ('', None),
            ('config', config_space(f, host)),
        ]
        if pcie:
            speed, width, mspeed, mwidth = f.link
            attrs += [('current_link_speed', (GEN[speed] if speed else 'Unknown') + '\n'),
                      ('current_link_width', '%d\n' % width),
                      ('max_link_speed', (GEN[mspeed] if mspeed else 'Unknown') + '\n'),
                      ('max_link_width', '%d\n' % mwidth),
                      ('aer_dev_correctable', 'RxErr 0\nBadTLP 0\nTOTAL_ERR_COR 0\n'),
                      ('aer_dev_fatal', 'Undefined 0\nTOTAL_ERR_FATAL 0\n'),
                      ('aer_dev_nonfatal', 'Undefined 0\nTOTAL_ERR_NONFATAL 0\n')]
        if f.reset:
            attrs.append(('reset_method', f.reset + '\n'))
        if cls >> 8 == 0x0300:
            attrs.append(('boot_vga', '1\n' if f.addr == host._boot_vga else '0\n'))
        if f.secondary is not None:
            attrs += [('secondary_bus_number', '%d\n' % f.secondary),
                      ('subordinate_bus_number', '%d\n' % f.subordinate)]
        if f.vpd_sn:
            attrs.append(('vpd', vpd(f)))
        if f.sriov:
            sr = f.sriov
            attrs += [('sriov_totalvfs', '%d\n' % sr['total']),
                      ('sriov_numvfs', '%d\n' % sr['num']),
                      ('sriov_offset', '%d\n' % sr['offset']),
                      ('sriov_stride', '%d\n' % sr['stride']),
                      ('sriov_vf_device', '%x\n' % sr['vf_device']),
                      ('sriov_drivers_autoprobe', '1\n'),
                      ('sriov_vf_total_msix', '0\n')]
        for name, val in attrs:
            if name:
                self.put(p + '/' + name, val)
        self.power(p)
        self.link(p + '/subsystem', _rel(p, 'bus/pci'))
        if f.driver:
            self.link(p + '/driver', _rel(p, 'bus/pci/drivers/' + f.driver))
            self.link('bus/pci/drivers/%s/%s' % (f.driver, f.addr), '../../../../' + p)
        self.link(p + '/iommu_group', _rel(p, 'kernel/iommu_groups/%d' % f.group))
        self.link('bus/pci/devices/' + f.addr, '../../../' + p)
        if f.pf is not None:
            self.link(p + '/physfn', '../' + f.pf.addr)
            self.link(f.pf.path + '/virtfn%d' % f.vfindex, '../' + f.addr)

    def group(self, n):
        rel = 'kernel/iommu_groups/%d' % n
        self.mkdir(rel + '/devices')
        self.put(rel + '/type', 'DMA\n')
        self.put(rel + '/reserved_regions',
                 '0x00000000fee00000 0x00000000feefffff msi\n')

    def group_member(self, f):
        self.link('kernel/iommu_groups/%d/devices/%s' % (f.group, f.addr), '../../../../' + f.path)

    def slot(self, name, addr):
        rel = 'bus/pci/slots/' + name
        self.mkdir(rel)
        self.put(rel + '/address', addr + '\n')
        self.put(rel + '/cur_bus_speed', '16.0 GT/s PCIe\n')
        self.put(rel + '/max_bus_speed', '16.0 GT/s PCIe\n')

    def usb(self, d):
        p = d.path
        os.mkdir(self.sys + p)
        if d.is_root:
            vid, pid = 0x1d6b, (0x0003 if d.speed == '5000' else 0x0002)
            manufacturer, product, serial = 'Linux 6.1.0-18-amd64 xhci-hcd', 'xHCI Host Controller', d.serial
            dclass, ifclass, ifdriver, devpath = 9, 9, 'hub', '0'
        else:
            vid, pid, manufacturer, product, _, _, ifclass, ifdriver = d.desc
            serial = d.serial
            dclass = 9 if ifclass == 9 else 0
            devpath = '.'.join(map(str, d.ports))
        minor = (d.busnum - 1) * 128 + d.devnum - 1
        devname = 'bus/usb/%03d/%03d' % (d.busnum, d.devnum)
        bcd = '0310' if d.speed == '5000' else '0200'
        ue = ('MAJOR=189\nMINOR=%d\nDEVNAME=%s\nDEVTYPE=usb_device\nDRIVER=usb\n'
              'PRODUCT=%x/%x/%x\nTYPE=%d/0/%d\nBUSNUM=%03d\nDEVNUM=%03d\n' % (
                  minor, devname, vid, pid, 0x100, dclass, 1 if dclass == 9 else 0,
                  d.busnum, d.devnum))
        attrs = [('uevent', ue), ('dev', '189:%d\n' % minor),
                 ('busnum', '%d\n' % d.busnum), ('devnum', '%d\n' % d.devnum),
                 ('devpath', devpath + '\n'), ('idVendor', '%04x\n' % vid),
                 ('idProduct', '%04x\n' % pid), ('bcdDevice', '0100\n'),
                 ('bDeviceClass', '%02x\n' % dclass), ('bDeviceSubClass', '00\n'),
                 ('bDeviceProtocol', '%02x\n' % (1 if dclass == 9 else 0)),
                 ('bNumConfigurations', '1\n'), ('bNumInterfaces', ' 1\n'),
                 ('bConfigurationValue', '1\n'), ('bMaxPacketSize0', '64\n'),
                 ('bMaxPower', '100mA\n'), ('bmAttributes', 'a0\n'),
                 ('speed', d.speed + '\n'), ('version', ' %s.%s\n' % (bcd[:2].lstrip('0'), bcd[2:])),
                 ('maxchild', '%d\n' % d.nports), ('authorized', '1\n'),
                 ('authorized_default', '1\n') if d.is_root else ('', ''),
                 ('avoid_reset_quirk', '0\n'), ('quirks', '0x0\n'), ('urbnum', '42\n'),
                 ('removable', 'unknown\n' if d.is_root else 'removable\n'),
                 ('ltm_capable', 'no\n'), ('configuration', ''), ('remove', ''),
                 ('rx_lanes', '1\n'), ('tx_lanes', '1\n'),
                 ('descriptors', usb_descriptors(vid, pid, dclass, ifclass, bcd))]
        if manufacturer:
            attrs.append(('manufacturer', manufacturer + '\n'))
        if product:
            attrs.append(('product', product + '\n'))
        if serial:
            attrs.append(('serial', serial + '\n'))
        for name, val in attrs:
            if name:
                self.put(p + '/' + name, val)
        self.power(p)
        self.link(p + '/subsystem', _rel(p, 'bus/usb'))
        self.link(p + '/driver', _rel(p, 'bus/usb/drivers/usb'))
        self.link('bus/usb/devices/' + d.name, '../../../' + p)
        self.link('bus/usb/drivers/usb/' + d.name, '../../../../' + p)
        # one interface per device, bound to its class driver
        ifname = ('%d-0' % d.busnum if d.is_root else d.name) + ':1.0'
        ip = p + '/' + ifname
        os.mkdir(self.sys + ip)
        self.put(ip + '/uevent', 'DEVTYPE=usb_interface\n%sPRODUCT=%x/%x/100\nTYPE=%d/0/0\n'
                 'INTERFACE=%d/0/0\nMODALIAS=usb:v%04Xp%04Xd0100dc%02Xdsc00dp00ic%02Xisc00ip00in00\n' % (
                     'DRIVER=%s\n' % ifdriver if ifdriver else '', vid, pid, dclass, ifclass,
                     vid, pid, dclass, ifclass))
        for name, val in (('bInterfaceClass', '%02x\n' % ifclass), ('bInterfaceNumber', '00\n'),
                          ('bInterfaceSubClass', '00\n'), ('bInterfaceProtocol', '00\n'),
                          ('bAlternateSetting', ' 0\n'), ('bNumEndpoints', '01\n'),
                          ('authorized', '1\n'), ('supports_autosuspend', '1\n')):
            self.put(ip + '/' + name, val)
        self.link(ip + '/subsystem', _rel(ip, 'bus/usb'))
        self.link('bus/usb/devices/' + ifname, '../../../' + ip)
        if ifdriver:
            self.link(ip + '/driver', _rel(ip, 'bus/usb/drivers/' + ifdriver))
            self.link('bus/usb/drivers/%s/%s' % (ifdriver, ifname), '../../../../' + ip)
        node = self.dev + devname
        os.makedirs(os.path.dirname(node), exist_ok=True)
        open(node, 'wb').close()


def config_space(f, host):
    """Config space as the kernel shows it: 4096 bytes for PCIe, 256 for PCI."""
    size = 4096 if f.ptype is not None else 256
    c = bytearray(size)
    bridge = f.cls >> 8 == 0x0604
    struct.pack_into('<HHHHB', c, 0, f.vendor, f.device, 0x0406 if f.driver else 0, 0x0010, f.rev)
    c[9], c[10], c[11] = f.cls & 0xff, (f.cls >> 8) & 0xff, f.cls >> 16
    c[0x0e] = (1 if bridge else 0) | (0x80 if f.multi else 0)
    if bridge:
        c[0x18] = f.bus
        c[0x19] = f.secondary or 0
        c[0x1a] = f.subordinate or 0
    else:
        struct.pack_into('<HH', c, 0x2c, f.svid, f.sdid)
    c[0x34] = 0x40
    if f.ptype is None:
        c[0x40:0x44] = bytes((0x01, 0x00, 0x03, 0x00))   # power management, last
        return bytes(c)
    # PCI Express capability
    speed, width, mspeed, mwidth = f.link
    devcap = 0x10008fc2 if f.reset and 'flr' in f.reset else 0x00008fc2
    struct.pack_into('<BBHIHH', c, 0x40, 0x10, 0x00, 0x0002 | (f.ptype << 4), devcap, 0x2937, 0)
    struct.pack_into('<IHH', c, 0x4c, (mspeed | (mwidth << 4)) if mspeed else 0, 0,
                     (speed | (width << 4)) if speed else 0)
    # extended capabilities: AER, then DSN, SR-IOV, ACS as they apply
    chain = [(0x0001, 1, 0x48)]
    if f.dsn is not None:
        chain.append((0x0003, 1, 0x0c))
    if f.sriov:
        chain.append((0x0010, 1, 0x40))
    if f.ptype in (PCIE_ROOT_PORT, PCIE_DOWNSTREAM):
        chain.append((0x000d, 1, 0x08))
    if f.pf is not None:
        chain = [(0x000e, 1, 0x08)]   # VFs: ARI only
    off = 0x100
    for i, (cid, ver, length) in enumerate(chain):
        nxt = off + ((length + 0xf) & ~0xf) if i + 1 < len(chain) else 0
        struct.pack_into('<I', c, off, cid | (ver << 16) | (nxt << 20))
        if cid == 0x0003:
            struct.pack_into('<II', c, off + 4, f.dsn & 0xffffffff, f.dsn >> 32)
        elif cid == 0x0010:
            sr = f.sriov
            struct.pack_into('<IHHHHHHHHHH', c, off + 4, 0x2, 0x9 if sr['num'] else 0, 0,
                             sr['total'], sr['total'], sr['num'], 0, sr['offset'], sr['stride'],
                             0, sr['vf_device'])
        off = nxt
    return bytes(c)


def vpd(f):
    """VPD: identifier string, then a read-only section with PN, SN and the checksum."""
    ident = b'Intel(R) Ethernet Network Adapter' if f.vendor == INTEL and f.cls >> 8 == 0x0200 \
        else b'NVMe Solid State Drive'
    out = bytearray(b'\x82' + struct.pack('<H', len(ident)) + ident)
    kw = b''
    for key, val in ((b'PN', b'K91258-006'), (b'EC', b'A1'), (b'SN', f.vpd_sn.encode()),
                     (b'V0', b'FW 4.20')):
        kw += key + bytes((len(val),)) + val
    ro_len = len(kw) + 4
    out += b'\x90' + struct.pack('<H', ro_len) + kw + b'RV\x01'
    out += bytes(((-sum(out)) & 0xff,))
    out += b'\x78'
    return bytes(out)


def usb_descriptors(vid, pid, dclass, ifclass, bcd):
    dev = struct.pack('<BBHBBBBHHHBBBB', 18, 1, int(bcd, 16), dclass, 0, 1 if dclass == 9 else 0,
                      64, vid, pid, 0x0100, 1, 2, 3, 1)
    cfg = struct.pack('<BBHBBBBB', 9, 2, 25, 1, 1, 0, 0xa0, 50)
    intf = struct.pack('<BBBBBBBBB', 9, 4, 0, 0, 1, ifclass, 0, 0, 0)
    ep = struct.pack('<BBBBHB', 7, 5, 0x81, 3, 8, 12)
    return dev + cfg + intf + ep


# ------------------------------------------------------------ host-critical
#
# What makes devices critical on a real host: a deep storage stack under
# /, /boot, /var and swap, a bond carrying the management network and the
# framebuffer console. Written as the kernel shows them in sysfs and proc.

DM_LAYERS = ('vg0-pv_cache', 'vg0-pool_tmeta', 'vg0-pool_tdata', 'vg0-pool-tpool', 'vg0-pool',
             'vg0-thin_root', 'vg0-root_snap', 'luks-root')   # dm-0 … dm-7, bottom up


def write_critical(host, root, namespaces=16, bond=('ens1f0', 'ens2f0')):
    """Block devices, mounts, swap, network interfaces and fb0 for host.

    namespaces NVMe namespaces spread over the nvme-bound drives, each with
    p1 (members of md0, RAID1, /boot) and p2 (members of md1, RAID6, the
    LVM PV); eight dm layers stacked on md1 with LUKS on top (/), vg0-var
    on layer 3 (/var), vg0-swap on layer 2 (swap). Returns a summary."""
    w = Writer(root)
    proc = os.path.join(root, 'proc')
    os.makedirs(os.path.join(proc, 'self'), exist_ok=True)
    drives = [f for f in host.fns if f.driver == 'nvme']
    if not drives:
        raise ValueError('no nvme-bound drive on this host')
    w.mkdir('class/block')
    w.mkdir('dev/block')
    w.mkdir('devices/virtual/block')
    minor = [0]

    def blockdev(path, name, major, mn, partition=None):
        w.mkdir(path)
        w.put(path + '/dev', '%d:%d\n' % (major, mn))
        w.put(path + '/uevent', 'MAJOR=%d\nMINOR=%d\nDEVNAME=%s\nDEVTYPE=%s\n' % (
            major, mn, name, 'partition' if partition else 'disk'))
        w.put(path + '/size', '7501476528\n')
        if partition:
            w.put(path + '/partition', '%d\n' % partition)
        else:
            w.mkdir(path + '/slaves')
        w.mkdir(path + '/holders')
        w.link(path + '/subsystem', _rel(path, 'class/block'))
        w.link('class/block/' + name, '../../' + path)
        w.link('dev/block/%d:%d' % (major, mn), '../../' + path)
        open(w.dev + name, 'wb').close()

    def stack(upper, upper_name, lower, lower_name):
        w.link(upper + '/slaves/' + lower_name, _rel(upper + '/slaves', lower))
        w.link(lower + '/holders/' + upper_name, _rel(lower + '/holders', upper))

    p1s, p2s = [], []
    for i in range(namespaces):
        f = drives[i % len(drives)]
        ctrl = drives.index(f)
        ns = i // len(drives) + 1
        if ns == 1:
            w.mkdir(f.path + '/nvme/nvme%d' % ctrl)
            w.put(f.path + '/nvme/nvme%d/dev' % ctrl, '240:%d\n' % ctrl)
        disk = 'nvme%dn%d' % (ctrl, ns)
        dpath = f.path + '/nvme/nvme%d/%s' % (ctrl, disk)
        blockdev(dpath, disk, 259, minor[0])
        minor[0] += 1
        for part, out in ((1, p1s), (2, p2s)):
            name = '%sp%d' % (disk, part)
            blockdev(dpath + '/' + name, name, 259, minor[0], part)
            minor[0] += 1
            out.append((dpath + '/' + name, name))

    def virtual(name, major, mn, lowers, dm_name=None, uuid=None):
        path = 'devices/virtual/block/' + name
        blockdev(path, name, major, mn)
        if dm_name:
            w.mkdir(path + '/dm')
            w.put(path + '/dm/name', dm_name + '\n')
            w.put(path + '/dm/uuid', uuid + '\n')
            w.put(path + '/dm/suspended', '0\n')
            os.makedirs(w.dev + 'mapper', exist_ok=True)
            os.symlink('../' + name, w.dev + 'mapper/' + dm_name)
        else:
            w.mkdir(path + '/md')
            w.put(path + '/md/level', ('raid1' if mn == 0 else 'raid6') + '\n')
            w.put(path + '/md/raid_disks', '%d\n' % len(lowers))
        for lp, ln in lowers:
            stack(path, name, lp, ln)
        return (path, name)

    virtual('md0', 9, 0, p1s)
    md1 = virtual('md1', 9, 1, p2s)
    layers = []
    below = md1
    for i, dm_name in enumerate(DM_LAYERS):
        uuid = ('CRYPT-LUKS2-5f0c3b1a9e6d4c27b8e1a0f2d3c4b5a6-' + dm_name if dm_name.startswith('luks')
                else 'LVM-Qm3xT7vLr2pN8kZs0aYw4bHc6dEf1gJi%04d' % i)
        below = virtual('dm-%d' % i, 253, i, [below], dm_name, uuid)
        layers.append(below)
    virtual('dm-8', 253, 8, [layers[3]], 'vg0-var', 'LVM-Qm3xT7vLr2pN8kZs0aYw4bHc6dEf1gJivar0')
    virtual('dm-9', 253, 9, [layers[2]], 'vg0-swap', 'LVM-Qm3xT7vLr2pN8kZs0aYw4bHc6dEf1gJiswp0')

    mounts = [
        (1, 0, '0:21', '/', '/proc', 'proc', 'proc', 'rw'),
        (2, 0, '0:20', '/', '/sys', 'sysfs', 'sysfs', 'rw'),
        (3, 0, '0:5', '/', '/dev', 'devtmpfs', 'udev', 'rw,size=263812248k,mode=755'),
        (4, 3, '0:22', '/', '/dev/pts', 'devpts', 'devpts', 'rw,gid=5,mode=620'),
        (5, 0, '0:23', '/', '/run', 'tmpfs', 'tmpfs', 'rw,size=52766312k,mode=755'),
        (6, 0, '253:7', '/', '/', 'ext4', '/dev/mapper/luks-root', 'rw,errors=remount-ro'),
        (7, 2, '0:6', '/', '/sys/kernel/security', 'securityfs', 'securityfs', 'rw'),
        (8, 3, '0:24', '/', '/dev/shm', 'tmpfs', 'tmpfs', 'rw'),
        (9, 2, '0:26', '/', '/sys/fs/cgroup', 'cgroup2', 'cgroup2', 'rw,nsdelegate'),
        (10, 2, '0:27', '/', '/sys/fs/pstore', 'pstore', 'pstore', 'rw'),
        (11, 2, '0:28', '/', '/sys/firmware/efi/efivars', 'efivarfs', 'efivarfs', 'rw'),
        (12, 2, '0:29', '/', '/sys/fs/bpf', 'bpf', 'bpf', 'rw,mode=700'),
        (13, 1, '0:30', '/', '/proc/sys/fs/binfmt_misc', 'autofs', 'systemd-1', 'rw,fd=30'),
        (14, 3, '0:19', '/', '/dev/mqueue', 'mqueue', 'mqueue', 'rw'),
        (15, 3, '0:31', '/', '/dev/hugepages', 'hugetlbfs', 'hugetlbfs', 'rw,pagesize=2M'),
        (16, 2, '0:7', '/', '/sys/kernel/debug', 'debugfs', 'debugfs', 'rw'),
        (17, 2, '0:12', '/', '/sys/kernel/tracing', 'tracefs', 'tracefs', 'rw'),
        (18, 2, '0:32', '/', '/sys/fs/fuse/connections', 'fusectl', 'fusectl', 'rw'),
        (19, 2, '0:33', '/', '/sys/kernel/config', 'configfs', 'configfs', 'rw'),
        (20, 6, '9:0', '/', '/boot', 'ext4', '/dev/md0', 'rw'),
        (21, 6, '253:8', '/', '/var', 'xfs', '/dev/mapper/vg0-var', 'rw,attr2,inode64'),
        (22, 21, '0:34', '/', '/var/lib/libvirt/qemu/ram', 'hugetlbfs', 'hugetlbfs', 'rw,pagesize=1G'),
        (23, 5, '0:35', '/', '/run/user/0', 'tmpfs', 'tmpfs', 'rw,size=52766308k,mode=700'),
        (24, 1, '0:36', '/', '/proc/sys/fs/binfmt_misc', 'binfmt_misc', 'binfmt_misc', 'rw'),
    ]
    with open(os.path.join(proc, 'self', 'mountinfo'), 'w') as f:
        for mid, parent, dev, r, mp, fstype, source, opts in mounts:
            f.write('%d %d %s %s %s rw,relatime shared:%d - %s %s %s\n' % (
                mid + 20, parent + 20 if parent else 1, dev, r, mp, mid, fstype, source, opts))
    with open(os.path.join(proc, 'swaps'), 'w') as f:
        f.write('Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'
                '/dev/dm-9                               partition\t67108860\t0\t\t-2\n')

    # the management network: bond0 (active-backup) over the first port of
    # two E810-C PFs
    w.mkdir('class/net')
    ports = []
    for name, pf in zip(bond, host.nic_pfs):
        path = pf.path + '/net/' + name
        w.mkdir(path)
        w.put(path + '/ifindex', '%d\n' % (len(ports) + 2))
        w.put(path + '/type', '1\n')
        w.put(path + '/address', 'b4:96:91:00:%02x:00\n' % len(ports))
        w.put(path + '/operstate', 'up\n')
        w.link(path + '/device', '../../../' + pf.addr)
        w.link(path + '/master', _rel(path, 'devices/virtual/net/bond0'))
        w.link('class/net/' + name, '../../' + path)
        ports.append((path, name))
    bpath = 'devices/virtual/net/bond0'
    w.mkdir(bpath + '/bonding')
    w.put(bpath + '/ifindex', '%d\n' % (len(ports) + 2))
    w.put(bpath + '/type', '1\n')
    w.put(bpath + '/operstate', 'up\n')
    w.put(bpath + '/bonding/mode', 'active-backup 1\n')
    w.put(bpath + '/bonding/slaves', ' '.join(n for _, n in ports) + '\n')
    for path, name in ports:
        w.link(bpath + '/lower_' + name, _rel(bpath, path))
    w.link('class/net/bond0', '../../' + bpath)

    # fbcon on the BMC's VGA
    vga = [f for f in host.fns if f.addr == host._boot_vga]
    if vga:
        path = vga[0].path + '/graphics/fb0'
        w.mkdir(path)
        w.put(path + '/name', 'astdrmfb\n')
        w.mkdir('class/graphics')
        w.link('class/graphics/fb0', '../../' + path)
        w.mkdir('devices/virtual/vtconsole/vtcon1')
        w.put('devices/virtual/vtconsole/vtcon1/name', '(M) frame buffer device\n')
        w.put('devices/virtual/vtconsole/vtcon1/bind', '1\n')
        w.mkdir('class/vtconsole')
        w.link('class/vtconsole/vtcon1', '../../devices/virtual/vtconsole/vtcon1')
    return {'namespaces': namespaces, 'drives': sorted({d.addr for d in drives[:namespaces]}),
            'dm_layers': len(DM_LAYERS), 'bond': list(bond)[:len(ports)],
            'bond_pfs': [pf.addr for pf in host.nic_pfs[:len(ports)]],
            'console': host._boot_vga if vga else None, 'files': w.files}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--root', required=True, help='directory to write sys/ and dev/ into')
    ap.add_argument('--pci', type=int, default=4096, help='PCI functions (default 4096)')
    ap.add_argument('--usb', type=int, default=256, help='USB devices (default 256)')
    ap.add_argument('--vfs-per-group', type=int, default=20, help='VFs per IOMMU group (default 20)')
    ap.add_argument('--critical', action='store_true',
                    help='also write block devices (16 NVMe namespaces, md, 8 dm layers with LUKS), '
                    'DIR/proc/self/mountinfo and DIR/proc/swaps, a bond over two NICs, fb0')
    ap.add_argument('--json', action='store_true', help='print the summary as JSON')
    args = ap.parse_args()
    try:
        host = Host(args.pci, args.usb, args.vfs_per_group)
    except ValueError as e:
        sys.exit('gen-host: %s' % e)
    t = time.monotonic()
    files = host.write(args.root)
    s = host.summary()
    if args.critical:
        try:
            c = write_critical(host, args.root)
        except ValueError as e:
            sys.exit('gen-host: %s' % e)
        files += c.pop('files')
        s['critical'] = c
    s['files'] = files
    s['seconds'] = round(time.monotonic() - t, 3)
    if args.json:
        print(json.dumps(s))
    else:
        print('%(pci)d PCI functions (%(vfs)d VFs under %(pfs)d PFs, %(hotplug_pfs)d PFs with '
              '%(hotplug_capacity)d VFs free), %(usb)d USB devices, %(iommu_groups)d IOMMU groups; '
              '%(files)d files in %(seconds).1f s' % s)


if __name__ == '__main__':
    main()
