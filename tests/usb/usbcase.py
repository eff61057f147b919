"""The base of the USB device-side tests: the simulated host's xHCI with
its keyboard (1-1, usbhid), its Genesys hub (1-3) with a HASP dongle behind
it (1-3.2, no driver) and a SanDisk stick (2-1, usb-storage, SCSI disk sdb
with one partition), plus the hotplug variant "usb-backup-stick": a second
stick at 2-2 whose partition sdc1 is mounted on /srv/backup.
Expectations come from data/simhost/host.json and the simulated sysfs."""

import os

from harness import hostspec
from harness.case import HostdevTestCase

DEVICE = 'org.hostdev1.Device'
USB_DEVICE = 'org.hostdev1.UsbDevice'
ERR_INVALID = 'org.hostdev1.Error.InvalidArgument'
ERR_NOT_FOUND = 'org.hostdev1.Error.NotFound'
ERR_CRITICAL = 'org.hostdev1.Error.CriticalDevice'
ERR_NOT_SUPPORTED = 'org.hostdev1.Error.NotSupported'

KEYBOARD, HUB, DONGLE, STICK = '1-1', '1-3', '1-3.2', '2-1'
BACKUP = 'usb-backup-stick'


def usb_spec(host, address):
    for d in host.data['usb']:
        if d['address'] == address:
            return d
    for variant in host.data['hotplug'].values():
        for d in variant.get('usb', []):
            if d['address'] == address:
                return d
    raise KeyError(address)


def block_names(itf):
    """The block devices usb-storage makes for an interface, from host.json."""
    return [c['name'] for c in itf.get('children', []) if c['subsystem'] == 'block']


class UsbTestCase(HostdevTestCase):
    def interface_driver(self, name):
        link = self.sim.real('/sys/bus/usb/devices/%s/driver' % name)
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None

    def block_present(self, name):
        return os.path.lexists(self.sim.real('/sys/class/block/' + name))

    def plug_backup_stick(self):
        """Plug in the variant's stick and wait until hostdevd has it."""
        spec = self.host.data['hotplug'][BACKUP]['usb'][0]
        self.sim.add_usb(spec)
        path = hostspec.usb_path(spec['address'])
        self.wait_until(lambda: path in self.client.managed_objects(), what='the backup stick')
        return spec
