#!/usr/bin/python3
"""Per-VF settings through SriovPhysicalFunction.SetVfConfig and VfConfig,
with the real hostdevd, a real polkitd and the kernel emulator.

hostdevd builds its rtnetlink messages (RTM_SETLINK with IFLA_VFINFO_LIST
on the PF's netdev, RTM_GETLINK with RTEXT_FILTER_VF) with its own code;
in a simulated host it sends them over HOSTDEV_RTNL_SOCKET to the kernel
emulator (tests/harness/rtnl.py), which parses them on its own, keeps the
VFs' settings as a PF driver would and answers as the kernel does. Every
RTM_SETLINK it accepts lands in the emulator's write log next to the sysfs
writes. The PF 0000:03:00.0 of host.json has 2 VFs and the netdev
enp3s0f0; expectations come from host.json, sysfs and the emulator."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

from gi.repository import GLib  # noqa: E402

import harness  # noqa: E402
from harness import faults  # noqa: E402
from harness.bus import OPERATOR, OPERATOR_UID, Namespace  # noqa: E402
from harness.critical import MOCK_IFACE, NM_BUS_NAME, MockNetworkManager  # noqa: E402
from harness.client import CallError  # noqa: E402
from harness.rtnl import default_vf  # noqa: E402
from preparecase import ERR_ACCESS_DENIED, ERR_INVALID, NOBODY, VFIO  # noqa: E402
from test_sriov import SRIOV, SriovTestCase  # noqa: E402

ERR_NOT_SUPPORTED = 'org.hostdev1.Error.NotSupported'
ERR_INTERACTIVE = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'
RG = 'org.hostdev1.ResourceGroup'
CLAIM = 'org.hostdev1.Claim'

TYPES = {'mac': 's', 'link-state': 's', 'vlan': 'u', 'qos': 'u', 'max-tx-rate': 'u', 'min-tx-rate': 'u',
         'trust': 'b', 'spoofchk': 'b', 'persist': 'b'}


def vf_options(options):
    return {k: v if isinstance(v, GLib.Variant) else GLib.Variant(TYPES.get(k, 's'), v)
            for k, v in options.items()}


class VfConfigCase(SriovTestCase):

    def setUp(self):
        super().setUp()
        self.pf = self.pf_with['address']
        self.nvfs = self.pf_with['sriov']['numvfs']

    def set_vf(self, index, options, pf=None, caller=0):
        return self.call(caller, self.dev_path(pf or self.pf), SRIOV, 'SetVfConfig',
                         GLib.Variant('(ua{sv})', (index, vf_options(options))), timeout=30)

    def vf_config(self, pf=None):
        return [dict(v) for v in self.sriov_props(pf or self.pf)['VfConfig']]

    def rtnl_writes(self):
        return [e for e in self.kernel.log if e[0].endswith('#RTM_SETLINK')]

    def assertKernelVf(self, index, expected, pf=None):
        """The emulated PF driver holds these settings for the VF."""
        got = self.kernel.rtnl.settings(pf or self.pf, index)
        for k, v in expected.items():
            self.assertEqual(got[k], v, 'VF %d %s in the kernel' % (index, k))

    def assertPublished(self, pf=None):
        """VfConfig shows what the emulated kernel has, VF by VF."""
        pf = pf or self.pf
        n = int(self.sysfs(pf, 'sriov_numvfs'))
        config = self.vf_config(pf)
        self.assertEqual([v['index'] for v in config], list(range(n)))
        for v in config:
            want = self.kernel.rtnl.settings(pf, v['index'])
            self.assertEqual({k: v[k] for k in want}, want, 'VfConfig of VF %d' % v['index'])


class SetAndRead(VfConfigCase):

    def test_defaults_read_from_the_kernel(self):
        """Before anything is set, VfConfig is what the PF driver reports."""
        self.assertPublished()
        self.assertEqual(self.vf_config()[0]['mac'], default_vf()['mac'])
        self.assertEqual(self.rtnl_writes(), [])

    def test_set_and_read_back(self):
        index = self.nvfs - 1
        self.set_vf(index, {'mac': '52:54:00:AB:CD:EF', 'vlan': 100, 'qos': 3, 'trust': True,
                            'spoofchk': False, 'link-state': 'enable', 'max-tx-rate': 1000,
                            'min-tx-rate': 100})
        self.assertKernelVf(index, {'mac': '52:54:00:ab:cd:ef', 'vlan': 100, 'qos': 3, 'trust': True,
                                    'spoofchk': False, 'link-state': 'enable', 'max-tx-rate': 1000,
                                    'min-tx-rate': 100})
        # one request, for that VF only, on the PF's netdev
        self.assertEqual([(pf, i) for pf, i, _f in self.kernel.rtnl.requests], [(self.pf, index)])
        netdev = self.pf_with['children'][0]['name']
        self.assertIn('/net/%s#' % netdev, self.rtnl_writes()[0][0])
        self.assertPublished()
        # the other VF kept the driver's defaults
        self.assertKernelVf(0, default_vf())

    def test_only_given_fields_change(self):
        self.set_vf(0, {'mac': '52:54:00:00:00:01', 'vlan': 7})
        self.set_vf(0, {'trust': True})
        self.assertKernelVf(0, {'mac': '52:54:00:00:00:01', 'vlan': 7, 'trust': True})
        self.assertEqual([f for _pf, _i, f in self.kernel.rtnl.requests][-1], {'trust': True})

    def test_properties_changed(self):
        """VfConfig is announced with PropertiesChanged, carrying the new values."""
        rec = self.record_signals()
        self.set_vf(0, {'vlan': 77})
        path = self.dev_path(self.pf)

        def announced(events):
            return any(e['signal'] == 'PropertiesChanged' and e['path'] == path and e['interface'] == SRIOV
                       and 'VfConfig' in e['changed'] and e['changed']['VfConfig'][0].get('vlan') == 77
                       for e in events)
        rec.wait_for(announced, what='PropertiesChanged of VfConfig with VLAN 77')


class Announced(VfConfigCase):
    """VfConfig in the signals: a new VF count changes it, and a PF that
    appears is announced with it."""

    def test_count_change_announces_vf_config(self):
        pf = self.pf_without['address']
        path = self.dev_path(pf)
        rec = self.record_signals()
        self.set_num_vfs(pf, 2)

        def announced(events):
            return any(e['signal'] == 'PropertiesChanged' and e['path'] == path and e['interface'] == SRIOV
                       and [v['index'] for v in e['changed'].get('VfConfig', [])] == [0, 1] for e in events)
        rec.wait_for(announced, what='PropertiesChanged of VfConfig with 2 VFs')
        self.assertPublished(pf)

    def test_pf_hotplug(self):
        pf = self.pf_without['address']
        path = self.dev_path(pf)
        with self.sim.lock:
            spec = dict(self.sim.pci[pf])
        rec = self.record_signals()
        self.sim.remove_pci_devices([pf])
        rec.wait_for(lambda ev: any(e['signal'] == 'InterfacesRemoved' and e['path'] == path for e in ev),
                     what='InterfacesRemoved of the PF')
        self.sim.add_pci_devices([dict(spec, driver=spec.get('native_driver'))])
        events = rec.wait_for(lambda ev: any(e['signal'] == 'InterfacesAdded' and e['path'] == path
                                             for e in ev), what='InterfacesAdded of the PF')
        added = next(e for e in events if e['signal'] == 'InterfacesAdded' and e['path'] == path)
        self.assertEqual(list(added['interfaces'][SRIOV]['VfConfig']), [])
        self.assertTrue(self.daemon.alive())
        self.assertPublished(pf)


class BadValues(VfConfigCase):
    """Refused before anything reaches the kernel: InvalidArgument naming
    the problem, the emulator's write log unchanged, VfConfig unchanged."""

    def refused(self, what, index, options, *fragments, pf=None, name=ERR_INVALID):
        with self.subTest(refused=what):
            self.assertTrue(self.faults.settle())
            writes = len(self.kernel.log)
            before = self.vf_config(pf)
            err = self.call_error(0, self.dev_path(pf or self.pf), SRIOV, 'SetVfConfig',
                                  GLib.Variant('(ua{sv})', (index, vf_options(options))))
            self.assertCallError(err, name, *fragments)
            self.assertTrue(self.faults.settle())
            self.assertEqual(self.kernel.log[writes:], [], '%s wrote to the kernel' % what)
            self.assertEqual(self.vf_config(pf), before)

    def test_bad_values(self):
        self.refused('multicast MAC', 0, {'mac': '01:00:5e:00:00:01'}, 'multicast')
        self.refused('broadcast MAC', 0, {'mac': 'ff:ff:ff:ff:ff:ff'}, 'multicast')
        self.refused('not a MAC', 0, {'mac': '52:54:00:zz:00:01'}, 'not a MAC')
        self.refused('VLAN 5000', 0, {'vlan': 5000}, 'VLAN', '4094')
        self.refused('qos 8', 0, {'vlan': 5, 'qos': 8}, 'QoS')
        self.refused('qos without VLAN', 0, {'qos': 2}, 'VLAN')
        self.refused('min above max', 0, {'min-tx-rate': 500, 'max-tx-rate': 100}, 'min-tx-rate')
        self.refused('link state', 0, {'link-state': 'up'}, 'link-state')
        self.refused('unknown option', 0, {'color': 'red'}, 'color')
        self.refused('nothing to set', 0, {}, 'Nothing to set')
        self.refused('wrong type', 0, {'vlan': GLib.Variant('s', '5')}, 'vlan')
        # the good part of a call with a bad value is not applied either
        self.refused('MAC good, VLAN bad', 0, {'mac': '52:54:00:00:00:09', 'vlan': 4095}, 'VLAN')

    def test_index_out_of_range(self):
        self.refused('index = NumVfs', self.nvfs, {'vlan': 1}, str(self.nvfs), 'out of range')
        self.refused('PF without VFs', 0, {'vlan': 1}, 'out of range', pf=self.pf_without['address'])

    def test_not_a_pf(self):
        """A VF (or any function without SR-IOV) has no SriovPhysicalFunction."""
        vf = self.kernel_vfs(self.pf)[0]
        writes = len(self.kernel.log)
        err = self.call_error(0, self.dev_path(vf), SRIOV, 'SetVfConfig',
                              GLib.Variant('(ua{sv})', (0, vf_options({'vlan': 1}))))
        self.assertTrue(err.name.startswith('org.freedesktop.DBus.Error.Unknown'), err.name)
        self.assertEqual(self.kernel.log[writes:], [])

    def test_unprivileged_refused(self):
        """nobody may not change VF settings (org.hostdev1.configure-sriov, detail vf)."""
        writes = len(self.kernel.log)
        err = self.call_error(NOBODY, self.dev_path(self.pf), SRIOV, 'SetVfConfig',
                              GLib.Variant('(ua{sv})', (0, vf_options({'vlan': 9}))))
        self.assertIn(err.name, (ERR_ACCESS_DENIED, ERR_INTERACTIVE))
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertKernelVf(0, default_vf())

    def test_rule_on_vf_detail(self):
        """A polkit rule can allow one VF of one PF: the check carries
        `device` (the PF) and `vf` (the index)."""
        rules = """polkit.addRule(function(action, subject) {
    if (action.id == "org.hostdev1.configure-sriov" && subject.user == "%s" &&
        action.lookup("device") == "%s" && action.lookup("vf") == "1")
        return polkit.Result.YES;
});
""" % (OPERATOR, self.pf)
        name = '55-hostdev-vf-test.rules'
        Namespace.get().add_rules(name, rules)
        self.addCleanup(os.unlink, os.path.join(Namespace.get().rules, name))
        # polkitd reloads its rules on its own time
        deadline = time.monotonic() + 10
        while True:
            try:
                self.set_vf(1, {'vlan': 21}, caller=OPERATOR_UID)
                break
            except CallError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.assertKernelVf(1, {'vlan': 21})
        writes = len(self.kernel.log)
        err = self.call_error(OPERATOR_UID, self.dev_path(self.pf), SRIOV, 'SetVfConfig',
                              GLib.Variant('(ua{sv})', (0, vf_options({'vlan': 21}))))
        self.assertIn(err.name, (ERR_ACCESS_DENIED, ERR_INTERACTIVE))
        self.assertEqual(self.kernel.log[writes:], [])

    def test_no_netdev(self):
        """A PF whose driver went away has no netdev: NotSupported, naming
        it; nothing written."""
        with self.sim.lock:
            spec = self.sim.pci[self.pf]
            net = self.sim.real(self.sim.devpaths[self.pf] + '/net')
            hidden = net + '.hidden'
            os.rename(net, hidden)
        self.addCleanup(os.rename, hidden, net)
        self.assertIsNotNone(spec)
        self.refused('no netdev', 0, {'vlan': 3}, self.pf, 'network interface', name=ERR_NOT_SUPPORTED)


class Persistence(VfConfigCase):
    """Stored by PF identity with the count, reapplied at start-up after the
    count and before the bindings; what the kernel has already is not
    written again."""

    def reboot_kernel(self):
        """Stop hostdevd; reboot: VFs made at run time and every VF setting are gone."""
        self.stop_daemon()
        self.assertTrue(self.kernel.settle())
        for pf in list(self.kernel.rtnl.vfs):
            self.kernel.rtnl.forget(pf)
        self.boot_id = faults.reboot(self.sim, self.kernel)

    def test_restart_writes_nothing(self):
        self.set_vf(1, {'mac': '52:54:00:12:34:56', 'vlan': 42})
        writes = len(self.kernel.log)
        self.restart()
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertPublished()
        self.assertTrue(self.manager()['Converged'])

    def test_vlan_alone_resets_qos(self):
        """A VLAN given without a QoS has QoS 0 in the kernel and in the
        store alike: the restart finds nothing to write."""
        self.set_vf(0, {'vlan': 100, 'qos': 3})
        self.set_vf(0, {'vlan': 5})
        self.assertKernelVf(0, {'vlan': 5, 'qos': 0})
        writes = len(self.kernel.log)
        self.restart()
        self.assertEqual(self.kernel.log[writes:], [])

    def test_fewer_vfs_drop_their_settings(self):
        """Settings of a VF that SetNumVfs took away are not kept: the next
        start loads the store and converges."""
        self.set_vf(self.nvfs - 1, {'vlan': 8})
        self.set_num_vfs(self.pf, self.nvfs - 1)
        self.assertVfs(self.pf, self.nvfs - 1)
        self.restart()
        m = self.manager()
        self.assertTrue(m['Converged'], m['ConvergeProblems'])
        self.assertPublished()

    def test_persist_false_is_not_reapplied(self):
        self.set_vf(0, {'vlan': 11, 'persist': False})
        self.assertKernelVf(0, {'vlan': 11})
        self.reboot_kernel()
        writes = len(self.rtnl_writes())
        self.daemon.start()
        self.assertEqual(self.rtnl_writes()[writes:], [])
        self.assertKernelVf(0, {'vlan': 0})

    def test_reapplied_after_reboot_in_order(self):
        """On the PF without VFs: 3 VFs (autoprobe off), VF 1 configured and
        prepared. After a reboot: the count first, then the VF's settings,
        then its binding to vfio-pci."""
        pf = self.pf_without['address']
        self.set_num_vfs(pf, 3, {'autoprobe': False})
        vf = self.kernel_vfs(pf)[1]
        self.set_vf(1, {'mac': '52:54:00:65:43:21', 'vlan': 300, 'trust': True}, pf=pf)
        self.prepare([vf])
        with self.sim.lock:
            # the reboot's kernel starts without them
            self.kernel.rtnl.forget(pf)
            spec = self.sim.pci[pf]
            vfs = [a for a, v in self.sim.pci.items() if v.get('physfn') == pf]
            self.sim.remove_pci_devices(vfs, announce=False)
            spec['sriov']['numvfs'] = 0
            spec['sriov']['drivers_autoprobe'] = True
            self.sim.write(self.sim.devpaths[pf] + '/sriov_numvfs', '0\n')
            self.sim.write(self.sim.devpaths[pf] + '/sriov_drivers_autoprobe', '1\n')
        self.stop_daemon()
        self.assertTrue(self.kernel.settle())
        self.boot_id = faults.reboot(self.sim, self.kernel)
        start = len(self.kernel.log)
        self.daemon.start()
        self.assertVfs(pf, 3)
        self.assertOnDrivers({vf: VFIO})
        self.assertKernelVf(1, {'mac': '52:54:00:65:43:21', 'vlan': 300, 'trust': True}, pf=pf)
        log = [p for p, _v in self.kernel.log[start:]]
        numvfs = max(i for i, p in enumerate(log) if p.endswith('/sriov_numvfs'))
        setlink = [i for i, p in enumerate(log) if p.endswith('#RTM_SETLINK')]
        override = min(i for i, p in enumerate(log) if p.endswith('/%s/driver_override' % vf))
        self.assertEqual(len(setlink), 1, log)
        self.assertLess(numvfs, setlink[0], 'VF settings before the count: %s' % log)
        self.assertLess(setlink[0], override, 'binding before the VF settings: %s' % log)
        m = self.manager()
        self.assertTrue(m['Converged'], m['ConvergeProblems'])
        self.assertPublished(pf)

    def test_failure_is_a_converge_problem(self):
        """The driver refuses a stored setting at start-up: Converged false,
        the PF named with the VF."""
        self.set_vf(0, {'vlan': 12})
        self.reboot_kernel()
        # the netdev is there, but the driver refuses VLANs now
        real = self.kernel.rtnl._vf_attr
        self.kernel.rtnl._vf_attr = lambda f, p: (0, None) if f == 2 else real(f, p)
        self.addCleanup(setattr, self.kernel.rtnl, '_vf_attr', real)
        self.daemon.start()
        m = self.manager()
        self.assertFalse(m['Converged'])
        problems = dict((a, t) for a, t in m['ConvergeProblems'])
        self.assertIn(self.pf, problems)
        self.assertIn('VF 0', problems[self.pf])


class RestoreOnRelease(VfConfigCase):
    """A claim's release gives the VF back its stored settings: the next
    consumer does not inherit the last one's MAC."""

    def claim_vf(self, vf):
        pool, _ = self.make_resource([vf], 'vfs')
        claim = self.call(0, pool, RG, 'Claim', GLib.Variant('(sua{sv})', ('vm1', 1, {})), timeout=60)[0]
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.drivers([vf]), {vf: VFIO})
        return claim

    def release(self, claim):
        self.call(0, claim, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)), timeout=60)
        self.assertTrue(self.faults.settle())

    def consumer_sets(self, index, **fields):
        """What libvirt does for <interface type='hostdev'>: its own rtnetlink write."""
        with self.sim.lock:
            self.kernel.rtnl.vfs.setdefault(self.pf, {}).setdefault(index, default_vf()).update(fields)

    def test_mac_cleared_without_stored_settings(self):
        vf = self.kernel_vfs(self.pf)[1]
        claim = self.claim_vf(vf)
        self.consumer_sets(1, mac='52:54:00:99:88:77', vlan=20, trust=True)
        self.release(claim)
        self.assertKernelVf(1, {'mac': '00:00:00:00:00:00', 'vlan': 0, 'trust': False})
        self.assertPublished()

    def test_stored_settings_put_back(self):
        vf = self.kernel_vfs(self.pf)[0]
        self.set_vf(0, {'mac': '52:54:00:00:aa:01', 'vlan': 5, 'spoofchk': False})
        claim = self.claim_vf(vf)
        self.consumer_sets(0, mac='52:54:00:99:88:77', vlan=20, spoofchk=True, trust=True)
        self.release(claim)
        self.assertKernelVf(0, {'mac': '52:54:00:00:aa:01', 'vlan': 5, 'spoofchk': False, 'trust': False})

    def test_untouched_vf_not_written(self):
        vf = self.kernel_vfs(self.pf)[0]
        claim = self.claim_vf(vf)
        writes = len(self.rtnl_writes())
        self.release(claim)
        self.assertEqual(self.rtnl_writes()[writes:], [])


class ThroughNetworkManager(VfConfigCase):
    """NetworkManager (python-dbusmock's template on the test bus) has an
    active connection on the PF's netdev: the VF settings go into that
    connection's sriov setting (libnm: Settings.Connection.Update2, then
    Device.Reapply), not over rtnetlink, so that NetworkManager does not
    undo them at its next activation."""

    def setUp(self):
        super().setUp()
        self.netdev = self.pf_with['children'][0]['name']
        self.nm = MockNetworkManager(self.shared, self.workdir)
        self.addCleanup(self.nm.stop)
        self.nm.start()
        active = self.nm.activate(self.netdev, 'uplink')
        self.device_path = self.nm.devices[self.netdev]
        self.conn_path = self.nm_get(active)
        # the template lacks the two methods libnm calls: recorded, Update2 as its Update
        self.nm_mock(self.conn_path, 'AddMethod', 'org.freedesktop.NetworkManager.Settings.Connection', 'Update2',
                     'a{sa{sv}}ua{sv}', 'a{sv}',
                     'self.ConnectionUpdate(self, args[0])\nret = dbus.Dictionary({}, signature="sv")')
        self.nm_mock(self.device_path, 'AddMethod', 'org.freedesktop.NetworkManager.Device', 'Reapply',
                     'a{sa{sv}}tu', '', '')
        # hostdevd asks NetworkManager what it manages at start-up
        self.restart()

    def nm_get(self, active):
        return self.nm.client.call(active, 'org.freedesktop.DBus.Properties', 'Get',
                                   GLib.Variant('(ss)', ('org.freedesktop.NetworkManager.Connection.Active',
                                                         'Connection')), dest=NM_BUS_NAME)[0]

    def nm_mock(self, path, method, *args):
        sig = {'AddMethod': '(sssss)', 'GetCalls': '()'}[method]
        return self.nm.client.call(path, MOCK_IFACE, method, GLib.Variant(sig, args), dest=NM_BUS_NAME)

    def nm_settings(self):
        return self.nm.client.call(self.conn_path, 'org.freedesktop.NetworkManager.Settings.Connection',
                                   'GetSettings', None, dest=NM_BUS_NAME)[0]

    def nm_calls(self, path, name):
        return [c for c in self.nm_mock(path, 'GetCalls')[0] if c[1] == name]

    def test_settings_go_to_the_connection(self):
        writes = len(self.kernel.log)
        self.set_vf(1, {'mac': '52:54:00:ab:00:01', 'vlan': 100, 'qos': 2, 'trust': True, 'spoofchk': False,
                        'max-tx-rate': 500})
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.kernel.log[writes:], [], 'rtnetlink used although NetworkManager manages the PF')
        sriov = self.nm_settings()['sriov']
        self.assertEqual(sriov['total-vfs'], self.nvfs)
        vfs = {v['index']: v for v in sriov['vfs']}
        self.assertEqual(list(vfs), [1])
        vf = vfs[1]
        self.assertEqual(vf['mac'].lower(), '52:54:00:ab:00:01')
        self.assertEqual((vf['trust'], vf['spoof-check'], vf['max-tx-rate']), (True, False, 500))
        self.assertEqual([(v['id'], v['qos']) for v in vf['vlans']], [(100, 2)])
        # and applied to the device now, with that profile
        calls = self.nm_calls(self.device_path, 'Reapply')
        self.assertEqual(len(calls), 1)
        self.assertEqual([v['index'] for v in calls[0][2][0]['sriov']['vfs']], [1])
        # a second VF joins the first in the same setting
        self.set_vf(0, {'trust': False})
        self.assertEqual(sorted(v['index'] for v in self.nm_settings()['sriov']['vfs']), [0, 1])
        self.assertEqual(self.kernel.log[writes:], [])

    def test_link_state_not_supported(self):
        """NetworkManager's VFs have no link state: NotSupported, nothing
        changed in NetworkManager or the kernel."""
        writes = len(self.kernel.log)
        err = self.call_error(0, self.dev_path(self.pf), SRIOV, 'SetVfConfig',
                              GLib.Variant('(ua{sv})', (0, vf_options({'link-state': 'disable'}))))
        self.assertCallError(err, ERR_NOT_SUPPORTED, 'NetworkManager', 'link state')
        self.assertNotIn('sriov', self.nm_settings())
        self.assertEqual(self.nm_calls(self.conn_path, 'Update2'), [])
        self.assertEqual(self.kernel.log[writes:], [])


if __name__ == '__main__':
    harness.main()
