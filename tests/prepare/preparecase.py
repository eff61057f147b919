"""The base of the Prepare/Release tests: the real hostdevd on the
simulated host with a boot_id, driver faults at hand, and expectations of
plans, drivers and the store computed from the host description.

The simulated host (data/simhost/host.json) has two GeForce RTX 3080
cards, each a GPU function (.0) and an HD audio function (.1) alone in an
IOMMU group: 0000:01:00.x (group 12, nouveau and snd_hda_intel) and
0000:02:00.x (group 13, bound to vfio-pci at boot). BothGpusOnHost gives
a host where the second card is on its host drivers too.
"""

import os

from gi.repository import Gio, GLib

from harness import faults, groups, hostspec
from harness.client import CallError
from harness.groups import MANAGER, RG_IFACE, ROOT, GroupsTestCase, option_dict, store_dump

# the callers (see harness/groups.py): root, nobody (no rights) and
# hostdev-operator (group "hostdev", which the example rules let prepare)
NOBODY = groups.NOBODY
OPERATOR = groups.OPERATOR

DEVICE = 'org.hostdev1.Device'
GROUP = 'org.hostdev1.IommuGroup'
VFIO = 'vfio-pci'

ERR_FAILED = 'org.hostdev1.Error.Failed'
ERR_INVALID = 'org.hostdev1.Error.InvalidArgument'
ERR_NOT_FOUND = 'org.hostdev1.Error.NotFound'
ERR_NOT_SUPPORTED = 'org.hostdev1.Error.NotSupported'
ERR_CRITICAL = 'org.hostdev1.Error.CriticalDevice'
ERR_ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'

GPU1, AUDIO1 = '0000:01:00.0', '0000:01:00.1'
GPU2, AUDIO2 = '0000:02:00.0', '0000:02:00.1'
HOTPLUG_BRIDGE = '0000:00:1b.4'     # the port of empty hotplug slot 3 (bus 06)


def error_text(err):
    prefix = 'GDBus.Error:%s: ' % err.name
    return err.message[len(prefix):] if err.message.startswith(prefix) else err.message


class ManagerSignals:
    """Manager.RebootRequiredChanged signals of whoever owns org.hostdev1,
    as (required, reasons)."""

    def __init__(self, test):
        self.signals = []
        conn = test.client.conn
        self.sub = conn.signal_subscribe(hostspec.BUS_NAME, MANAGER, 'RebootRequiredChanged',
                                         hostspec.ROOT_PATH, None, Gio.DBusSignalFlags.NONE, self._on)
        test.addCleanup(conn.signal_unsubscribe, self.sub)
        test.client.name_has_owner(hostspec.BUS_NAME)  # the match rule is in place

    def _on(self, _conn, _sender, _path, _iface, _member, params):
        self.signals.append(tuple(params.unpack()))


class PrepareTestCase(GroupsTestCase):
    """A fresh simulated host with a boot_id, driver faults installed on the
    kernel emulator, and hostdevd started with `bind_timeout_msec` (when
    set) as HOSTDEV_BIND_TIMEOUT_MSEC."""

    # Started in setUp, once the boot_id exists. (This also hides
    # GroupsTestCase.start_daemon(); the tests call self.daemon.start().)
    start_daemon = False
    bind_timeout_msec = None

    def setUp(self):
        super().setUp()
        self.initial = self.host_description()
        self.boot_id = faults.write_boot_id(self.sim.proc)
        self.faults = faults.DriverFaults(self.kernel)
        self.addCleanup(self.faults.close)
        if self.bind_timeout_msec:
            self.daemon.extra_env['HOSTDEV_BIND_TIMEOUT_MSEC'] = str(self.bind_timeout_msec)
        self.daemon.start()

    # --- addresses and objects ---------------------------------------------
    def dev_path(self, address):
        # devices the tests add (a moved card) are not in the description
        if ':' in address:
            return hostspec.pci_path(address)
        return hostspec.usb_path(address)

    def spec(self, address):
        return dict(self.initial.pci_device(address))

    # --- calls -----------------------------------------------------------------
    def args(self, addresses, options):
        return GLib.Variant('(aoa{sv})', ([self.dev_path(a) for a in addresses],
                                          option_dict(options or {})))

    def prepare(self, addresses, options=None, caller=ROOT, timeout=60):
        return self.call(caller, hostspec.ROOT_PATH, MANAGER, 'Prepare',
                         self.args(addresses, options), timeout=timeout)[0]

    def release(self, addresses, options=None, caller=ROOT, timeout=60):
        return self.call(caller, hostspec.ROOT_PATH, MANAGER, 'Release',
                         self.args(addresses, options), timeout=timeout)[0]

    def group_call(self, group, method, options=None, caller=ROOT, timeout=60):
        return self.call(caller, group, RG_IFACE, method,
                         GLib.Variant('(a{sv})', (option_dict(options or {}),)),
                         timeout=timeout)[0]

    def expect_error(self, name, func, *fragments):
        """func() must fail with the named error, whose message names every
        fragment (case-insensitive); returns the error."""
        try:
            reply = func()
        except CallError as e:
            self.assertEqual(e.name, name, 'expected %s, got %s: %s' % (name, e.name, e.message))
            text = error_text(e)
            self.assertTrue(text.strip(), '%s without a message' % name)
            for frag in fragments:
                self.assertIn(frag.lower(), text.lower(),
                              '%s does not name %r: %s' % (name, frag, text))
            return e
        self.fail('expected %s, the call succeeded: %r' % (name, reply))

    def manager(self):
        return self.client.get_all(hostspec.ROOT_PATH, MANAGER)

    def device(self, address):
        return self.client.get_all(self.dev_path(address), DEVICE)

    def group(self, number):
        return self.client.get_all(hostspec.group_path(number), GROUP)

    # --- expectations from the host description --------------------------------
    def expected_prepare_plan(self, addresses, host=None):
        """[(address, from, to)] Prepare must carry out for `addresses`: the
        devices and every member of their IOMMU groups, but bridges (they
        keep pcieport) and functions already on vfio-pci; sorted."""
        host = host or self.initial
        selected = [host.pci_device(a) for a in addresses]
        groups = {d['iommu_group'] for d in selected}
        members = {d['address']: d for d in host.pci if d['iommu_group'] in groups}
        members.update({d['address']: d for d in selected})
        return sorted((a, d['driver'] or '', VFIO) for a, d in members.items()
                      if not hostspec.is_bridge(d) and not hostspec.is_prepared_driver(d['driver']))

    def assertPlan(self, plan, expected, selected, release=False):
        """The plan carries out exactly `expected` (address, from, to) steps,
        each once; every step has a reason; a companion (not selected) says
        that its IOMMU group brings it along, and in a Prepare plan which
        group that is."""
        steps = sorted((a, f, t) for a, f, t, _r in plan)
        self.assertEqual(steps, sorted(expected), 'plan %r' % (plan,))
        self.assertEqual(len(set(steps)), len(steps), 'a device twice in the plan %r' % (plan,))
        for a, _f, _t, reason in plan:
            self.assertTrue(reason.strip(), 'step of %s without a reason' % a)
            if a in selected:
                continue
            want = 'group' if release else 'group %d' % self.initial_group_of(a)
            self.assertIn(want, reason.lower(),
                          'companion %s: the reason should name its IOMMU group: %r' % (a, reason))

    def expected_group(self, number, drivers=None, host=None):
        """IommuGroup properties of group `number` when its members are on
        `drivers` ({address: driver}; others as in the description); a
        Blocker is (device, text naming the device and its driver)."""
        host = host or self.initial
        members = sorted((d for d in host.pci if d['iommu_group'] == number),
                         key=lambda d: d['address'])
        blockers = []
        for d in members:
            d = dict(d, driver=(drivers or {}).get(d['address'], d['driver']))
            if hostspec.blocks_group(d):
                blockers.append((hostspec.pci_path(d['address']), d['address'], d['driver']))
        return {'Number': number, 'Devices': [hostspec.pci_path(d['address']) for d in members],
                'Viable': not blockers, 'Blockers': blockers}

    def assertGroup(self, number, drivers=None, props=None):
        """Group `number` as hostdevd shows it (or `props`, e.g. from a
        signal) is as expected_group() says."""
        want = self.expected_group(number, drivers)
        got = props if props is not None else self.group(number)
        self.assertEqual(got['Number'], number)
        self.assertEqual(got['Devices'], want['Devices'], 'group %d Devices' % number)
        self.assertEqual(got['Viable'], want['Viable'], 'group %d Viable' % number)
        self.assertBlockers(got['Blockers'], want['Blockers'], number)

    def assertBlockers(self, got, want, number):
        self.assertEqual([b[0] for b in got], [b[0] for b in want], 'group %d Blockers' % number)
        for (_p, text), (_q, address, driver) in zip(got, want):
            self.assertIn(address, text)
            self.assertIn(driver, text)

    def initial_group_of(self, address):
        for d in self.initial.pci:
            if d['address'] == address:
                return d['iommu_group']
        return self.sim.pci[address]['iommu_group']

    # --- what the kernel says ------------------------------------------------------
    def drivers(self, addresses=None):
        d = faults.pci_drivers(self.sim)
        return d if addresses is None else {a: d[a] for a in addresses}

    def overrides(self, addresses=None):
        o = faults.driver_overrides(self.sim)
        return o if addresses is None else {a: o[a] for a in addresses}

    def assertOnDrivers(self, expected, what=''):
        """The kernel (sysfs links) has each function on the driver given
        (None: no driver), and hostdevd says the same: Driver and State."""
        self.assertTrue(self.faults.settle(), 'the kernel emulator did not settle')
        self.assertEqual(self.drivers(list(expected)), expected, 'kernel drivers %s' % what)
        for a, drv in expected.items():
            props = self.device(a)
            self.assertEqual(props['Driver'], drv or '', '%s Driver %s' % (a, what))
            self.assertEqual(props['State'], 'prepared' if faults.is_vfio(drv) else 'host',
                             '%s State %s' % (a, what))

    def assertNoOverride(self, addresses, what=''):
        for a, text in self.overrides(addresses).items():
            self.assertEqual(text, '(null)\n', '%s: driver_override left set %s' % (a, what))

    def wait_drivers(self, expected, timeout=15):
        """Wait until hostdevd shows each function on the driver given."""
        self.wait_until(lambda: all(self.device(a)['Driver'] == (d or '') for a, d in expected.items()),
                        timeout=timeout, what='hostdevd to show drivers %r' % expected)

    # --- the store -------------------------------------------------------------------
    def stored_prepared(self):
        """{address: {field: value}} of the prepared records in the store."""
        if not os.path.exists(self.store_path):
            return {}
        out = {}
        for k, v in store_dump(self.store_path).items():
            if k.startswith('prepared/'):
                out[k[len('prepared/'):]] = dict(line.split('=', 1) for line in v.splitlines() if line)
        return out

    def stored_reboot(self):
        if not os.path.exists(self.store_path):
            return None
        return store_dump(self.store_path).get('reboot')

    # --- daemon life -------------------------------------------------------------------
    def restart(self):
        """SIGTERM and start again, same boot."""
        self.stop_daemon()
        self.daemon.start()

    def reboot(self, remove=(), add=()):
        """Stop hostdevd, reboot the simulated host (see faults.reboot),
        start hostdevd again in the new boot."""
        if self.daemon.alive():
            self.stop_daemon()
        self.boot_id = faults.reboot(self.sim, self.kernel, remove=remove, add=add)
        self.daemon.start()


class BothGpusOnHost:
    """Mixin: a host where the second card is on its host drivers too, as
    the first: nouveau and snd_hda_intel."""

    def host_description(self):
        if not hasattr(self, '_both_on_host'):
            h = self.host.copy()
            for d in h.pci:
                if d['address'] in (GPU2, AUDIO2):
                    d['driver'] = d['native_driver']
                    d['driver_override'] = None
            self._both_on_host = h
        return self._both_on_host

