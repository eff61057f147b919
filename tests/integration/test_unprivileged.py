#!/usr/bin/python3
"""Unprivileged: any local user can look, with the ordinary tools.

Everything hostdevd publishes is already world-readable in sysfs, so user
nobody (65534, no groups) may list the objects, read properties, look a
device up and introspect, here with busctl and gdbus run under setpriv, and
sees what root sees.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness.bus import NOBODY, clean_env  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.client import run_as  # noqa: E402
from harness.hostspec import BUS_NAME, ROOT_PATH, group_path, pci_path, usb_path  # noqa: E402


def plain(v):
    """busctl --json value -> plain Python (variants unwrapped)."""
    if isinstance(v, dict):
        if set(v) == {'type', 'data'}:
            return plain(v['data'])
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


class Unprivileged(HostdevTestCase):

    def as_nobody(self, *argv):
        env = clean_env({'DBUS_SYSTEM_BUS_ADDRESS': self.shared.address})
        r = run_as(argv, uid=NOBODY, env=env)
        self.assertEqual(r.returncode, 0, '%s failed as nobody:\n%s%s' % (argv[0], r.stdout, r.stderr))
        return r.stdout

    def busctl(self, *args):
        return self.as_nobody('busctl', '--system', *args)

    def test_runs_as_nobody(self):
        """The helper really drops to uid and gid 65534 without groups."""
        out = self.as_nobody('id')
        self.assertIn('uid=65534', out)
        self.assertIn('gid=65534', out)
        self.assertNotIn('groups=0', out)

    def test_get_managed_objects(self):
        """nobody's GetManagedObjects equals root's."""
        out = self.busctl('--json=short', 'call', BUS_NAME, ROOT_PATH,
                          'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects')
        theirs = plain(json.loads(out))[0]
        ours = self.client.managed_objects()
        self.assertEqual(sorted(theirs), sorted(ours))
        for path in (pci_path('0000:01:00.0'), pci_path('0000:03:00.0'), usb_path('1-3.2'),
                     group_path(12)):
            for iface, props in ours[path].items():
                self.assertEqual(theirs[path].get(iface, {}), json.loads(json.dumps(props)),
                                 '%s %s' % (path, iface))

    def test_get_and_get_all(self):
        """Single properties and whole interfaces, through busctl."""
        out = self.busctl('get-property', BUS_NAME, pci_path('0000:01:00.0'),
                          'org.hostdev1.Device', 'Driver')
        self.assertEqual(out.strip(), 's "nouveau"')
        out = self.busctl('get-property', BUS_NAME, group_path(13), 'org.hostdev1.IommuGroup',
                          'Viable')
        self.assertEqual(out.strip(), 'b true')
        out = self.busctl('--json=short', 'call', BUS_NAME, usb_path('2-1'),
                          'org.freedesktop.DBus.Properties', 'GetAll', 's', 'org.hostdev1.Device')
        props = plain(json.loads(out))[0]
        self.assertEqual(props['Serial'], self.host.usb_device('2-1')['serial'])
        self.assertEqual(props['ProductName'], 'Ultra')

    def test_get_device(self):
        """GetDevice works for nobody, and so do its errors."""
        out = self.busctl('call', BUS_NAME, ROOT_PATH, 'org.hostdev1.Manager', 'GetDevice', 's',
                          '01:00.0')
        self.assertEqual(out.strip(), 'o "%s"' % pci_path('0000:01:00.0'))
        env = clean_env({'DBUS_SYSTEM_BUS_ADDRESS': self.shared.address})
        r = run_as(['gdbus', 'call', '--system', '--dest', BUS_NAME, '--object-path', ROOT_PATH,
                    '--method', 'org.hostdev1.Manager.GetDevice', '42:00.0'], uid=NOBODY, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('org.hostdev1.Error.NotFound', r.stderr)

    def test_introspect(self):
        """busctl and gdbus can introspect the root, a device and a group."""
        out = self.busctl('introspect', '--xml-interface', BUS_NAME, ROOT_PATH)
        self.assertIn('<interface name="org.hostdev1.Manager">', out)
        out = self.busctl('introspect', '--xml-interface', BUS_NAME, pci_path('0000:01:00.0'))
        self.assertIn('<interface name="org.hostdev1.PciDevice">', out)
        out = self.as_nobody('gdbus', 'introspect', '--system', '--dest', BUS_NAME,
                             '--object-path', group_path(12), '--xml')
        self.assertIn('<interface name="org.hostdev1.IommuGroup">', out)

    def test_tree(self):
        """busctl tree shows the device and group objects."""
        out = self.busctl('tree', '--list', BUS_NAME)
        for p in (pci_path('0000:0a:00.0'), usb_path('1-1'), group_path(9)):
            self.assertIn(p, out.split())


if __name__ == '__main__':
    harness.main()
