"""The simulated host as data/simhost/host.json describes it.

This is the source of truth of the tests: every expectation about what
hostdevd publishes is computed here from the description, never from the
daemon's own output. The rules (object paths, State, viability) are those
of the D-Bus contract and docs.
"""

import copy
import json

from . import paths

BUS_NAME = 'org.hostdev1'
ROOT_PATH = '/org/hostdev1'
NO_OBJECT = '/'


def pci_path(address):
    return '%s/pci/%s' % (ROOT_PATH, address.replace(':', '_').replace('.', '_'))


def usb_path(address):
    return '%s/usb/%s' % (ROOT_PATH, address.replace('-', '_').replace('.', '_'))


def group_path(number):
    return '%s/iommu_group/%d' % (ROOT_PATH, number)


def device_path(dev):
    return pci_path(dev['address']) if dev['kind'] == 'pci' else usb_path(dev['address'])


def is_prepared_driver(driver):
    return bool(driver) and (driver == 'vfio-pci' or driver.endswith('-vfio-pci'))


def expected_state(dev):
    return 'prepared' if is_prepared_driver(dev.get('driver')) else 'host'


def is_bridge(dev):
    return dev['kind'] == 'pci' and dev['class'].startswith('0604')


def blocks_group(dev):
    """Why a member keeps its group from being viable, or None."""
    drv = dev.get('driver')
    if not drv or is_prepared_driver(drv) or drv == 'pci-stub':
        return None
    if is_bridge(dev) and drv == 'pcieport':
        return None
    return drv


class Host:
    """A loaded host description; mutable copies for tests that change it."""

    def __init__(self, data):
        self.data = data

    @classmethod
    def load(cls, path=None):
        with open(path or paths.HOST_JSON) as f:
            return cls(json.load(f))

    def copy(self):
        return Host(copy.deepcopy(self.data))

    # --- PCI -------------------------------------------------------------
    @property
    def pci(self):
        return self.data['pci']

    def pci_device(self, address):
        for d in self.pci:
            if d['address'] == address:
                return d
        raise KeyError(address)

    def pci_children(self, address):
        return [d for d in self.pci if d['parent'] == address]

    def virtual_functions(self, pf_address):
        vfs = [d for d in self.pci if d.get('physfn') == pf_address]
        return sorted(vfs, key=lambda d: d['vf_index'])

    # --- USB -------------------------------------------------------------
    @property
    def usb(self):
        return self.data['usb']

    def usb_device(self, address):
        for d in self.usb:
            if d['address'] == address:
                return d
        raise KeyError(address)

    @property
    def published_usb(self):
        """Root hubs are not published: they cannot be passed through."""
        return [d for d in self.usb if not d['root_hub']]

    # --- everything published --------------------------------------------
    @property
    def devices(self):
        return self.pci + self.published_usb

    def device_paths(self):
        return {device_path(d) for d in self.devices}

    # --- IOMMU groups ----------------------------------------------------
    @property
    def iommu_enabled(self):
        return self.data['iommu']['enabled']

    def groups(self):
        """{number: [members sorted by address]} computed from the devices."""
        out = {}
        for d in self.pci:
            if d.get('iommu_group') is not None:
                out.setdefault(d['iommu_group'], []).append(d)
        for members in out.values():
            members.sort(key=lambda d: d['address'])
        return dict(sorted(out.items()))

    def group_paths(self):
        return {group_path(n) for n in self.groups()}

    def expected_group(self, number):
        members = self.groups()[number]
        blockers = [(pci_path(d['address']), d['address'], blocks_group(d))
                    for d in members if blocks_group(d)]
        return {
            'Number': number,
            'Devices': [pci_path(d['address']) for d in members],
            'Viable': not blockers,
            'Blockers': blockers,
        }

    def sysfs_path(self, dev):
        """The device's directory as the kernel lays it out: under its
        parent bridge (PCI) or hub (USB), from /sys/devices/pci0000:00."""
        if dev['kind'] == 'pci':
            parent = dev.get('parent')
            base = self.sysfs_path(self.pci_device(parent)) if parent else '/sys/devices/pci0000:00'
        elif dev.get('parent'):
            base = self.sysfs_path(self.usb_device(dev['parent']))
        else:
            base = self.sysfs_path(self.pci_device(dev['parent_pci']))
        return base + '/' + dev['address']

    # --- expected D-Bus properties ----------------------------------------
    def expected_device_props(self, dev):
        """org.hostdev1.Device properties of one device."""
        group = dev.get('iommu_group') if dev['kind'] == 'pci' else None
        return {
            'Kind': dev['kind'],
            'Address': dev['address'],
            'SysfsPath': self.sysfs_path(dev),
            'VendorId': int(dev['vendor_id'], 16),
            'ProductId': int(dev['device_id' if dev['kind'] == 'pci' else 'product_id'], 16),
            'VendorName': dev['vendor_name'] or '',
            'ProductName': dev['product_name'] or '',
            'Serial': dev['serial'] or '',
            'Driver': dev['driver'] or '',
            'NumaNode': dev['numa_node'] if dev['kind'] == 'pci' else -1,
            'IommuGroup': group_path(group) if group is not None else NO_OBJECT,
            'State': expected_state(dev),
        }

    def expected_pci_props(self, dev):
        pcie = dev.get('pcie')
        return {
            'Class': int(dev['class'], 16),
            'ClassName': dev['class_name'],
            'SubsystemVendorId': int(dev['subsystem_vendor_id'], 16),
            'SubsystemId': int(dev['subsystem_id'], 16),
            'Slot': dev.get('slot') or '',
            'LinkSpeed': pcie['link_speed'] if pcie else '',
            'LinkWidth': pcie['link_width'] if pcie else 0,
            'ResetMethods': list(dev['reset_methods']),
            'BootVga': bool(dev.get('boot_vga')),
            'PhysicalFunction': pci_path(dev['physfn']) if dev.get('physfn') else NO_OBJECT,
            'VirtualFunctionIndex': dev['vf_index'] if dev.get('vf_index') is not None else -1,
        }

    def expected_sriov_props(self, dev):
        sriov = dev['sriov']
        return {
            'TotalVfs': sriov['totalvfs'],
            'NumVfs': sriov['numvfs'],
            'VirtualFunctions': [pci_path(vf['address'])
                                 for vf in self.virtual_functions(dev['address'])],
            'DriversAutoprobe': sriov.get('drivers_autoprobe', True),
        }

    def expected_usb_props(self, dev):
        return {
            'BusNumber': dev['busnum'],
            'DeviceNumber': dev['devnum'],
            'PortPath': dev['address'],
            'Speed': dev['speed'],
            'DevNode': dev['devnode'],
            'Authorized': dev['authorized'],
        }

    def expected_interfaces(self, dev):
        """{interface: {property: value}} of a device object."""
        out = {'org.hostdev1.Device': self.expected_device_props(dev)}
        if dev['kind'] == 'pci':
            out['org.hostdev1.PciDevice'] = self.expected_pci_props(dev)
            if dev.get('sriov'):
                out['org.hostdev1.SriovPhysicalFunction'] = self.expected_sriov_props(dev)
        else:
            out['org.hostdev1.UsbDevice'] = self.expected_usb_props(dev)
        return out
