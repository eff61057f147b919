#!/usr/bin/python3
"""USB devices in resource groups and claims, and a claimed device that is
unplugged and plugged back in.

The simulated host (data/simhost/host.json) has an xHCI with a keyboard
(1-1), a hub (1-3) with a licence dongle without a serial behind it
(1-3.2), and a USB stick with a serial (2-1). These tests add a second
licence dongle, one with a serial, behind the hub at 1-3.1: the kind of
device a VM must keep when it comes back at another port. Every number a
test expects (ids, bus and device numbers) comes from these descriptions.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cli'))

from gi.repository import Gio, GLib  # noqa: E402

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from clitest import cli_env, run_cli  # noqa: E402
from harness.client import CallError  # noqa: E402
from harness.holdback import HoldBack  # noqa: E402
from harness.groups import (  # noqa: E402
    ERR_BUSY, ERR_INVALID, ERR_NOT_FOUND, MANAGER, RG_IFACE, ROOT, GroupsTestCase, create_args)

CLAIM = 'org.hostdev1.Claim'
DEVICE = 'org.hostdev1.Device'
DONGLE = '1-3.1'        # added below: a dongle with a serial
PLAIN_DONGLE = '1-3.2'  # host.json's dongle, without a serial
STICK = '2-1'
HUB = '1-3'

DOMAIN = """<domain type='kvm'>
  <name>hostdev-usb-claim</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
%s
  </devices>
</domain>
"""


def moved(spec, address, parent, devnum):
    """spec plugged in elsewhere: the kernel names it by its new port and
    gives it the next device number of that bus."""
    s = dict(spec)
    bus = int(address.split('-')[0])
    s.update(address=address, parent=parent, busnum=bus, devnum=devnum,
             devpath=address.split('-', 1)[1],
             devnode='/dev/bus/usb/%03d/%03d' % (bus, devnum),
             interfaces=[dict(i, name=address + ':' + i['name'].split(':')[1])
                         for i in spec['interfaces']])
    return s


class ClaimSignals:
    """ClaimDegraded and DeviceMoved of org.hostdev1.Claim, as (member, args)."""

    def __init__(self, test):
        self.signals = []
        conn = test.client.conn
        self.sub = conn.signal_subscribe(hostspec.BUS_NAME, CLAIM, None, None, None,
                                         Gio.DBusSignalFlags.NONE, self._on)
        test.addCleanup(conn.signal_unsubscribe, self.sub)
        test.client.name_has_owner(hostspec.BUS_NAME)  # the match rule is in place

    def _on(self, _conn, _sender, path, _iface, member, params):
        self.signals.append((member, path, tuple(params.unpack())))

    def of(self, member):
        return [(path, args) for m, path, args in self.signals if m == member]


class UsbClaims(GroupsTestCase):

    def host_description(self):
        host = self.host.copy()
        plain = host.usb_device(PLAIN_DONGLE)
        devnum = 1 + max(d['devnum'] for d in host.usb if d['busnum'] == 1)
        dongle = moved(plain, DONGLE, HUB, devnum)
        dongle['serial'] = 'HASP-5A17C2'
        host.usb.append(dongle)
        return host

    def setUp(self):
        super().setUp()
        self.described = self.host_description()

    def spec(self, address):
        return self.described.usb_device(address)

    def dev_path(self, address):
        # devices the tests plug in are not in the description
        return hostspec.pci_path(address) if ':' in address else hostspec.usb_path(address)

    # --- calls ---------------------------------------------------------------
    def claim(self, group, devices, consumer='vm-1', prepare=False):
        options = {'prepare': GLib.Variant('b', prepare),
                   'devices': GLib.Variant('ao', [self.dev_path(a) for a in devices])}
        return self.call(ROOT, group, RG_IFACE, 'Claim',
                         GLib.Variant('(sua{sv})', (consumer, len(devices), options)), timeout=60)[0]

    def claim_error(self, group, devices, count=None):
        options = {'prepare': GLib.Variant('b', False),
                   'devices': GLib.Variant('ao', devices)}
        return self.call_error(ROOT, group, RG_IFACE, 'Claim',
                               GLib.Variant('(sua{sv})', ('vm-1', count or len(devices), options)))

    def claims(self):
        return self.client.get(hostspec.ROOT_PATH, MANAGER, 'Claims')

    def node(self, spec):
        return os.path.join(self.sim.dev, 'bus/usb/%03d/%03d' % (spec['busnum'], spec['devnum']))

    def assertHandle(self, handle, spec):
        """One USB handle, every value from the device's description."""
        vendor, product = int(spec['vendor_id'], 16), int(spec['product_id'], 16)
        self.assertEqual(handle['device'], self.dev_path(spec['address']))
        self.assertEqual(handle['address'], spec['address'])
        self.assertTrue(handle['sysfs'].endswith('/bus/usb/devices/' + spec['address']), handle)
        self.assertEqual(handle['vfio-group'], '')
        self.assertEqual(handle['qemu'], 'usb-host,hostbus=%d,hostaddr=%d,hostdevice=%s' % (
            spec['busnum'], spec['devnum'], self.node(spec)))
        self.assertTrue(os.path.exists(handle['qemu'].split('hostdevice=')[1]), handle)
        self.assertIn("<vendor id='0x%04x'/><product id='0x%04x'/>" % (vendor, product),
                      handle['libvirt'])
        self.assertIn("<address bus='%d' device='%d'/>" % (spec['busnum'], spec['devnum']),
                      handle['libvirt'])
        self.assertTrue(handle['libvirt'].startswith("<hostdev mode='subsystem' type='usb' managed='no'>"))

    def assertClaimHolds(self, claim, spec):
        """The claim holds the device as described: Devices, Handles,
        nothing missing, and the device says it is claimed by it."""
        props = self.client.get_all(claim, CLAIM)
        self.assertEqual(props['Devices'], [self.dev_path(spec['address'])])
        self.assertEqual(props['Missing'], [])
        self.assertEqual(len(props['Handles']), 1)
        self.assertHandle(props['Handles'][0], spec)
        dev = self.client.get_all(self.dev_path(spec['address']), DEVICE)
        self.assertEqual((dev['State'], dev['Claim']), ('claimed', claim))

    def unplug(self, address):
        self.sim.remove_usb(address)
        self.wait_until(lambda: self.dev_path(address) not in self.client.managed_objects(),
                        what='%s to go' % address)

    def plug(self, spec):
        self.sim.add_usb(spec)
        self.wait_until(lambda: self.dev_path(spec['address']) in self.client.managed_objects(),
                        what='%s to show up' % spec['address'])

    # --- resource groups -----------------------------------------------------
    def test_make_resource(self):
        """The dongle with a serial is found again by vendor, product and
        serial; the one without by its port path, spelt as the kernel names
        the device. A hub is never a member."""
        group, companions = self.make_resource([DONGLE], 'dongles')
        self.assertEqual(companions, [])
        d = self.spec(DONGLE)
        self.assertEqual(self.props(group)['Rules'], [{'vendor-id': int(d['vendor_id'], 16),
                                                      'product-id': int(d['product_id'], 16),
                                                      'serial': d['serial']}])
        self.assertEqual(self.props(group)['Type'], 'usb')
        self.assertEqual(self.props(group)['Devices'], [self.dev_path(DONGLE)])
        plain, _ = self.make_resource([PLAIN_DONGLE], 'plain')
        p = self.spec(PLAIN_DONGLE)
        self.assertEqual(self.props(plain)['Rules'], [{'vendor-id': int(p['vendor_id'], 16),
                                                      'product-id': int(p['product_id'], 16),
                                                      'port-path': PLAIN_DONGLE}])
        err = self.call_error(ROOT, hostspec.ROOT_PATH, MANAGER, 'MakeResource',
                              GLib.Variant('(aosa{sv})', ([self.dev_path(HUB)], 'hub', {})))
        self.assertEqual(err.name, ERR_INVALID)
        self.assertIn(HUB, err.message)
        self.assertIn('hub', err.message.lower())

    def test_bad_port_paths(self):
        """Port paths that are no port path are refused by name; nothing is made."""
        before = self.groups()
        for bad in ('usb1', '1-3:1.0', '1-3..2', '1/3/2', '3.2', '1-3.2.'):
            with self.subTest(bad):
                err = self.call_error(ROOT, hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                                      create_args('bad', 'usb', [{'port-path': bad}], {}))
                self.assertEqual(err.name, ERR_INVALID, err.message)
                self.assertIn('port-path', err.message)
        self.assertEqual(self.groups(), before)

    # --- claims --------------------------------------------------------------
    def test_claim_handles(self):
        """A claim of the dongle hands out usb-host and libvirt handles
        with its bus and device numbers; the libvirt element validates."""
        group, _ = self.make_resource([DONGLE, STICK], 'usb-pool')
        c = self.claim(group, [DONGLE])
        self.assertIn(c, self.claims())
        self.assertClaimHolds(c, self.spec(DONGLE))
        self.assertEqual((self.props(group)['Available'], self.props(group)['Claimed']), (1, 1))
        if shutil.which('virt-xml-validate'):
            handles = self.client.get(c, CLAIM, 'Handles')
            xml = DOMAIN % '\n'.join('    ' + h['libvirt'] for h in handles)
            with tempfile.NamedTemporaryFile('w', suffix='.xml') as f:
                f.write(xml)
                f.flush()
                p = subprocess.run(['virt-xml-validate', f.name, 'domain'], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, xml + p.stdout + p.stderr)
        self.call(ROOT, c, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)))
        self.assertEqual(self.claims(), [])

    def test_bad_claims(self):
        """A hub, a device that is not there, a device of another group:
        named errors, nothing claimed."""
        group, _ = self.make_resource([DONGLE], 'dongles')
        err = self.claim_error(group, [self.dev_path(HUB)])
        self.assertEqual(err.name, ERR_INVALID, err.message)
        self.assertIn(HUB, err.message)
        err = self.claim_error(group, [self.dev_path('1-3.4')])
        self.assertEqual(err.name, ERR_NOT_FOUND, err.message)
        err = self.claim_error(group, [self.dev_path(STICK)])
        self.assertEqual(err.name, ERR_INVALID, err.message)
        self.assertEqual(self.claims(), [])
        self.assertEqual(self.props(group)['Available'], 1)

    # --- unplug and replug ---------------------------------------------------
    def test_replug_elsewhere(self):
        """The claimed dongle is unplugged: the claim keeps it, lists it in
        Missing and says ClaimDegraded; it survives a restart. It comes back
        at another port while hostdevd is stopped: the claim finds it. Then
        it moves once more while hostdevd runs: DeviceMoved, new Devices and
        Handles, the same claim throughout."""
        group, _ = self.make_resource([DONGLE], 'dongles')
        c = self.claim(group, [DONGLE])
        first = self.spec(DONGLE)
        self.assertClaimHolds(c, first)
        signals = ClaimSignals(self)
        identity = '%s:%s:%s' % (first['vendor_id'], first['product_id'], first['serial'])

        self.unplug(DONGLE)
        self.wait_until(lambda: signals.of('ClaimDegraded'), what='ClaimDegraded')
        # (A slow hostdevd may see the device go, come and go while the
        # kernel takes it apart: each time it says the same.)
        self.assertEqual(set((p, a[0], tuple(a[1])) for p, a in signals.of('ClaimDegraded')),
                         {(c, c, (identity,))})
        props = self.client.get_all(c, CLAIM)
        self.assertEqual(props['Missing'], [self.dev_path(DONGLE)])
        self.assertEqual(props['Devices'], [self.dev_path(DONGLE)])
        self.assertEqual(props['Handles'], [])
        self.assertEqual(self.props(group)['Available'], 0)
        # Claiming the missing dongle: it is not there to claim.
        err = self.claim_error(group, [self.dev_path(DONGLE)])
        self.assertEqual(err.name, ERR_NOT_FOUND, err.message)
        self.assertEqual(self.claims(), [c])

        self.restart_daemon()
        self.assertEqual(self.claims(), [c])
        self.assertEqual(self.client.get(c, CLAIM, 'Missing'), [self.dev_path(DONGLE)])

        # Back at port 2 of the root hub, with the next device number of bus 1.
        self.stop_daemon()
        devnum = 1 + max(s['devnum'] for s in self.sim.usb.values() if s['busnum'] == 1)
        second = moved(first, '1-2', 'usb1', devnum)
        self.sim.add_usb(second)
        self.start_daemon()
        self.assertEqual(self.claims(), [c])
        self.assertClaimHolds(c, second)

        # And once more, hostdevd running: 1-2 → 1-3.3.
        signals.signals.clear()
        self.unplug('1-2')
        self.wait_until(lambda: signals.of('ClaimDegraded'), what='ClaimDegraded')
        devnum = 1 + max(s['devnum'] for s in self.sim.usb.values() if s['busnum'] == 1)
        third = moved(first, '1-3.3', HUB, max(devnum, second['devnum'] + 1))
        rec = self.record_signals()
        self.plug(third)
        # (The restart may have told of the move to 1-2 too, at start-up.)
        to_third = lambda: [m for m in signals.of('DeviceMoved') if m[1][2] == self.dev_path('1-3.3')]
        self.wait_until(to_third, what='DeviceMoved')
        self.assertEqual(to_third(), [(c, (c, self.dev_path('1-2'), self.dev_path('1-3.3')))])
        # Devices and Missing changed, Handles invalidated: one PropertiesChanged says so.
        rec.wait_for(lambda ev: any(e['changed'].get('Devices') == [self.dev_path('1-3.3')]
                                    and e['changed'].get('Missing') == [] and 'Handles' in e['invalidated']
                                    for e in rec.of('PropertiesChanged', c, CLAIM)),
                     what='PropertiesChanged of Devices, Missing and Handles')
        self.assertEqual(self.claims(), [c])
        self.assertClaimHolds(c, third)
        self.assertNotEqual(third['devnum'], first['devnum'])

        # The move is in the store: a restart finds the claim at 1-3.3.
        self.restart_daemon()
        self.assertClaimHolds(c, third)

    def test_cli_shows_missing(self):
        """hostdevctl names an unplugged device of a claim by its address
        and says it is missing: claims, claim show (text and JSON)."""
        group, _ = self.make_resource([DONGLE], 'dongles')
        c = self.claim(group, [DONGLE], consumer='vm-usb')
        cid = c.rsplit('/', 1)[1]
        env = cli_env(self.shared.address)
        r = run_cli(['claims', '--no-legend'], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(DONGLE, r.stdout)
        self.assertNotIn('missing', r.stdout)

        self.unplug(DONGLE)
        self.wait_until(lambda: self.client.get(c, CLAIM, 'Missing') == [self.dev_path(DONGLE)],
                        what='the dongle to be missing')
        r = run_cli(['claims', '--no-legend'], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('%s (missing)' % DONGLE, r.stdout)
        self.assertNotIn(self.dev_path(DONGLE), r.stdout)
        r = run_cli(['claim', 'show', cid], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('%s  (missing: unplugged' % DONGLE, r.stdout)
        got = json.loads(run_cli(['claim', 'show', cid, '--json'], env).stdout)
        self.assertEqual((got['id'], got['missing']), (cid, [DONGLE]))

        self.plug(self.spec(DONGLE))
        self.wait_until(lambda: self.client.get(c, CLAIM, 'Missing') == [], what='the dongle back')
        got = json.loads(run_cli(['claim', 'show', cid, '--json'], env).stdout)
        self.assertEqual(got['missing'], [])
        self.assertEqual([d['address'] for d in got['devices']], [DONGLE])

    def test_prepared_claim_replug(self):
        """prepare=true: the stick's usb-storage interface lets go when it
        is claimed, and again when the stick comes back at another port
        (the kernel binds usb-storage to the new interface first); Release
        gives the interface back to usb-storage."""
        group, _ = self.make_resource([STICK], 'sticks')
        first = self.spec(STICK)
        itf = first['interfaces'][0]
        self.assertEqual(self.sim.usb_driver_of(itf['name']), itf['driver'])
        c = self.claim(group, [STICK], prepare=True)
        self.wait_until(lambda: self.sim.usb_driver_of(itf['name']) is None, what='the interface to let go')
        self.assertClaimHolds(c, first)
        signals = ClaimSignals(self)

        self.unplug(STICK)
        self.wait_until(lambda: signals.of('ClaimDegraded'), what='ClaimDegraded')
        bus = first['busnum']
        devnum = 1 + max(s['devnum'] for s in self.sim.usb.values() if s['busnum'] == bus)
        second = moved(first, '%d-3' % bus, 'usb%d' % bus, devnum)
        self.plug(second)
        self.wait_until(lambda: signals.of('DeviceMoved'), what='DeviceMoved')
        new_itf = second['interfaces'][0]['name']
        self.wait_until(lambda: self.sim.usb_driver_of(new_itf) is None, what='the new interface to let go')
        self.assertClaimHolds(c, second)

        self.call(ROOT, c, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)), timeout=60)
        self.wait_until(lambda: self.sim.usb_driver_of(new_itf) == itf['driver'],
                        what='%s back on %s' % (new_itf, itf['driver']))
        dev = self.client.get_all(self.dev_path(second['address']), DEVICE)
        self.assertEqual((dev['State'], dev['Claim']), ('host', '/'))

    def test_release_during_redetach(self):
        """The host's driver takes a claimed stick's interface back (as when
        QEMU lets go of it) and hostdevd detaches it again; a Release that
        comes while that unbind is under way is Busy, not lost: afterwards
        Release gives the interface back to usb-storage."""
        group, _ = self.make_resource([STICK], 'sticks')
        itf = self.spec(STICK)['interfaces'][0]
        c = self.claim(group, [STICK], prepare=True)
        self.wait_until(lambda: self.sim.usb_driver_of(itf['name']) is None, what='the interface to let go')
        hold = HoldBack(self.kernel, ('usb-drv', 'unbind'), lambda _key, value: value.strip() == itf['name'])
        self.addCleanup(hold.close)
        self.sim.usb_bind(itf['name'], itf['driver'])
        self.assertTrue(hold.arrived.wait(30), 'hostdevd did not detach the interface again')

        err = self.call_error(ROOT, c, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)))
        self.assertEqual(err.name, ERR_BUSY, err.message)
        self.assertEqual(self.claims(), [c])
        self.assertTrue(hold.release())
        self.wait_until(lambda: self.sim.usb_driver_of(itf['name']) is None, what='the interface to let go again')

        self.wait_until(lambda: self.call_or_busy(c), what='Release once the detach is done')
        self.wait_until(lambda: self.sim.usb_driver_of(itf['name']) == itf['driver'],
                        what='%s back on %s' % (itf['name'], itf['driver']))
        self.assertEqual(self.claims(), [])

    def call_or_busy(self, claim):
        """Release; False while the change that ends the detach is still
        being wound up (Busy), True once released."""
        try:
            self.call(ROOT, claim, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)), timeout=60)
        except CallError as e:
            self.assertEqual(e.name, ERR_BUSY, e.message)
            return False
        return True

    def test_release_while_unplugged(self):
        """A prepared claim released while its stick is unplugged: when the
        stick comes back, usb-storage keeps it."""
        group, _ = self.make_resource([STICK], 'sticks')
        first = self.spec(STICK)
        itf = first['interfaces'][0]
        c = self.claim(group, [STICK], prepare=True)
        self.wait_until(lambda: self.sim.usb_driver_of(itf['name']) is None, what='the interface to let go')
        self.unplug(STICK)
        self.call(ROOT, c, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)), timeout=60)
        self.assertEqual(self.claims(), [])
        back = moved(first, STICK, first['parent'], first['devnum'] + 1)
        rec = self.record_signals()
        self.plug(back)
        rec.quiet(period=1.0)   # whatever hostdevd would do to it, it has done
        dev = self.client.get_all(self.dev_path(STICK), DEVICE)
        self.assertEqual((dev['State'], dev['Claim']), ('host', '/'))
        self.assertEqual(self.sim.usb_driver_of(itf['name']), itf['driver'])

    def test_pci_function_removed(self):
        """A claimed GPU and its audio function are hot-removed: the claim
        keeps them, lists them in Missing and says ClaimDegraded; they come
        back at their addresses and have handles again."""
        gpu, audio = '0000:01:00.0', '0000:01:00.1'
        specs = [dict(self.described.pci_device(a)) for a in (gpu, audio)]
        group, _ = self.make_resource([gpu], 'gpus')
        options = {'prepare': GLib.Variant('b', False)}
        c = self.call(ROOT, group, RG_IFACE, 'Claim', GLib.Variant('(sua{sv})', ('vm-1', 1, options)))[0]
        paths = [hostspec.pci_path(a) for a in (gpu, audio)]
        self.assertEqual(self.client.get(c, CLAIM, 'Devices'), paths)
        signals = ClaimSignals(self)

        self.sim.remove_pci_devices([gpu, audio])
        self.wait_until(lambda: self.client.get(c, CLAIM, 'Missing') == paths, what='both functions missing')
        self.wait_until(lambda: signals.of('ClaimDegraded'), what='ClaimDegraded')
        self.assertIn((c, (c, [gpu, audio])), signals.of('ClaimDegraded'))
        self.assertEqual(self.client.get(c, CLAIM, 'Handles'), [])
        self.assertEqual(self.client.get(c, CLAIM, 'Devices'), paths)

        self.sim.add_pci_devices(specs)
        self.wait_until(lambda: self.client.get(c, CLAIM, 'Missing') == [], what='Missing to empty')
        self.assertEqual([h['address'] for h in self.client.get(c, CLAIM, 'Handles')], [gpu, audio])

    def test_replug_same_port(self):
        """The dongle without a serial comes back at its port with a new
        device number: new Handles, nothing moved. Another device at that
        port is not it."""
        group, _ = self.make_resource([PLAIN_DONGLE], 'plain')
        c = self.claim(group, [PLAIN_DONGLE])
        first = self.spec(PLAIN_DONGLE)
        self.assertClaimHolds(c, first)
        signals = ClaimSignals(self)

        self.unplug(PLAIN_DONGLE)
        self.wait_until(lambda: signals.of('ClaimDegraded'), what='ClaimDegraded')
        self.assertEqual(set((p, a[0], tuple(a[1])) for p, a in signals.of('ClaimDegraded')),
                         {(c, c, (PLAIN_DONGLE,))})

        # A keyboard in its port: still missing, no handle for the keyboard.
        keyboard = self.described.usb_device('1-1')
        devnum = 1 + max(s['devnum'] for s in self.sim.usb.values() if s['busnum'] == 1)
        other = moved(keyboard, PLAIN_DONGLE, HUB, devnum)
        self.plug(other)
        self.assertEqual(self.client.get(c, CLAIM, 'Missing'), [self.dev_path(PLAIN_DONGLE)])
        self.assertEqual(self.client.get(c, CLAIM, 'Handles'), [])
        kb = self.client.get_all(self.dev_path(PLAIN_DONGLE), DEVICE)
        self.assertEqual((kb['State'], kb['Claim']), ('host', '/'))
        self.unplug(PLAIN_DONGLE)

        back = moved(first, PLAIN_DONGLE, HUB, devnum + 1)
        self.plug(back)
        self.wait_until(lambda: self.client.get(c, CLAIM, 'Missing') == [], what='Missing to empty')
        self.assertClaimHolds(c, back)
        self.assertEqual(signals.of('DeviceMoved'), [])


if __name__ == '__main__':
    harness.main()
