#!/usr/bin/python3
"""SR-IOV VF counts through SriovPhysicalFunction.SetNumVfs, with the real
hostdevd, a real polkitd and the kernel emulator, which creates and
removes VF functions on sriov_numvfs writes (each in an IOMMU group of
its own, with physfn/virtfnN links and uevents) and refuses a non-zero →
non-zero write as Linux does.

The simulated host (data/simhost/host.json) has an Intel X710 with two
PFs: 0000:03:00.0 with 2 VFs (iavf) and 0000:03:00.1 with none; both
support 64. Expectations come from host.json and from the testbed's
sysfs, the kernel write log from the emulator."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

import harness  # noqa: E402
from gi.repository import GLib  # noqa: E402
from harness import faults, hostspec  # noqa: E402
from harness.groups import option_dict  # noqa: E402
from preparecase import (  # noqa: E402
    ERR_ACCESS_DENIED, ERR_INVALID, NOBODY, VFIO, PrepareTestCase, error_text)

SRIOV = 'org.hostdev1.SriovPhysicalFunction'
ERR_BUSY = 'org.hostdev1.Error.Busy'


class SriovTestCase(PrepareTestCase):

    def setUp(self):
        super().setUp()
        pfs = [d for d in self.initial.pci if d.get('sriov')]
        self.assertTrue(pfs, 'host.json has no SR-IOV PF')
        # a PF with VFs already and one without
        self.pf_with = next(d for d in pfs if d['sriov']['numvfs'] > 0)
        self.pf_without = next(d for d in pfs if d['sriov']['numvfs'] == 0)

    # --- the kernel (testbed sysfs) -------------------------------------------
    def sysfs(self, address, attr):
        return self.sim.read(self.sim.devpaths[address] + '/' + attr).strip()

    def kernel_vfs(self, pf):
        """{index: VF address} from the PF's virtfnN links."""
        out = {}
        for i in range(int(self.sysfs(pf, 'sriov_totalvfs'))):
            link = self.sim.real(self.sim.devpaths[pf] + '/virtfn%d' % i)
            if not os.path.islink(link):
                break
            out[i] = os.path.basename(os.readlink(link))
        return out

    def vf_groups(self, pf):
        return {a: os.path.basename(os.readlink(self.sim.real(self.sim.devpaths[a] + '/iommu_group')))
                for a in self.kernel_vfs(pf).values()}

    # --- calls ----------------------------------------------------------------
    def set_num_vfs(self, pf, count, options=None, caller=0, timeout=60):
        return self.call(caller, self.dev_path(pf), SRIOV, 'SetNumVfs',
                         GLib.Variant('(ua{sv})', (count, option_dict(options or {}))), timeout=timeout)[0]

    def sriov_props(self, pf):
        return self.client.get_all(self.dev_path(pf), SRIOV)

    def assertVfs(self, pf, count, reply=None):
        """The kernel has count VFs, each in its own IOMMU group, and
        hostdevd publishes exactly them."""
        self.assertTrue(self.faults.settle())
        vfs = self.kernel_vfs(pf)
        self.assertEqual(len(vfs), count)
        self.assertEqual(self.sysfs(pf, 'sriov_numvfs'), str(count))
        groups = list(self.vf_groups(pf).values())
        self.assertEqual(len(set(groups)), len(groups), 'VFs share an IOMMU group')
        paths = [self.dev_path(vfs[i]) for i in sorted(vfs)]
        if reply is not None:
            self.assertEqual(list(reply), paths)
        props = self.sriov_props(pf)
        self.assertEqual(props['NumVfs'], count)
        self.assertEqual(list(props['VirtualFunctions']), paths)
        objs = self.client.managed_objects()
        for i, a in vfs.items():
            self.assertIn(self.dev_path(a), objs)
            self.assertEqual(objs[self.dev_path(a)]['org.hostdev1.PciDevice']['VirtualFunctionIndex'], i)


class SetNumVfs(SriovTestCase):

    def test_0_4_2_through_0(self):
        """0 → 4 → 2 on the PF without VFs: the reply comes with the VF
        objects there; 4 → 2 writes 0 in between, as the kernel wants."""
        pf = self.pf_without['address']
        reply = self.set_num_vfs(pf, 4)
        self.assertVfs(pf, 4, reply)
        self.assertEqual(self.kernel.sriov_writes(pf), ['4'])
        reply = self.set_num_vfs(pf, 2)
        self.assertVfs(pf, 2, reply)
        self.assertEqual(self.kernel.sriov_writes(pf), ['4', '0', '2'])
        reply = self.set_num_vfs(pf, 0)
        self.assertVfs(pf, 0, reply)
        self.assertEqual(self.kernel.sriov_writes(pf), ['4', '0', '2', '0'])

    def test_same_count_writes_nothing(self):
        """Asking for the count the PF has changes nothing, and asks nobody."""
        pf = self.pf_with['address']
        n = self.pf_with['sriov']['numvfs']
        reply = self.set_num_vfs(pf, n, caller=NOBODY)
        self.assertVfs(pf, n, reply)
        self.assertEqual(self.kernel.sriov_writes(pf), [])

    def test_prepared_vf_blocks_shrink(self):
        """A prepared VF would go away with any change of the count: Busy,
        naming it, and nothing written."""
        pf = self.pf_with['address']
        vf = self.kernel_vfs(pf)[self.pf_with['sriov']['numvfs'] - 1]
        self.prepare([vf])
        self.assertOnDrivers({vf: VFIO})
        writes = len(self.kernel.log)
        err = self.call_error(0, self.dev_path(pf), SRIOV, 'SetNumVfs',
                              GLib.Variant('(ua{sv})', (1, option_dict({}))))
        self.assertCallError(err, ERR_BUSY, vf, 'prepared')
        self.assertTrue(self.faults.settle())
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertVfs(pf, self.pf_with['sriov']['numvfs'])
        self.release([vf])
        self.assertVfs(pf, 1, self.set_num_vfs(pf, 1))

    def test_autoprobe_off(self):
        """autoprobe=false writes sriov_drivers_autoprobe=0 first: the new
        VFs stay without a driver, free for vfio-pci."""
        pf = self.pf_without['address']
        self.assertTrue(self.sriov_props(pf)['DriversAutoprobe'])
        self.set_num_vfs(pf, 3, {'autoprobe': False})
        self.assertVfs(pf, 3)
        self.assertEqual(self.sysfs(pf, 'sriov_drivers_autoprobe'), '0')
        vfs = list(self.kernel_vfs(pf).values())
        self.assertOnDrivers({a: None for a in vfs})
        self.assertFalse(self.sriov_props(pf)['DriversAutoprobe'])
        # and back on: the VFs made then get their driver
        self.set_num_vfs(pf, 1, {'autoprobe': True})
        self.assertVfs(pf, 1)
        self.assertEqual(self.sysfs(pf, 'sriov_drivers_autoprobe'), '1')
        vf = self.kernel_vfs(pf)[0]
        self.assertOnDrivers({vf: self.pf_without['sriov']['vf_driver']})


class Persistence(SriovTestCase):
    """Counts are stored by PF and reapplied at start-up, before the
    recorded bindings: after a reboot (the kernel starts with no VFs) the
    VFs are made again, then a prepared VF goes back to vfio-pci."""

    def reboot_without_vfs(self):
        """Stop hostdevd and reboot the simulated host; the VFs made at
        run time are gone, as after a real boot."""
        if self.daemon.alive():
            self.stop_daemon()
        self.assertTrue(self.kernel.settle())
        with self.sim.lock:
            for pf, spec in sorted(self.sim.pci.items()):
                s = spec.get('sriov')
                if not s:
                    continue
                boot = self.initial.pci_device(pf)['sriov']
                vfs = [a for a, v in self.sim.pci.items() if v.get('physfn') == pf]
                if len(vfs) != boot['numvfs']:
                    self.sim.remove_pci_devices(vfs, announce=False)
                    s['numvfs'] = 0
                    self.sim.write(self.sim.devpaths[pf] + '/sriov_numvfs', '0\n')
                    if boot['numvfs']:
                        self.kernel._create_vfs(spec, boot['numvfs'])
                        s['numvfs'] = boot['numvfs']
                        self.sim.write(self.sim.devpaths[pf] + '/sriov_numvfs', '%d\n' % boot['numvfs'])
                s['drivers_autoprobe'] = boot.get('drivers_autoprobe', True)
                self.sim.write(self.sim.devpaths[pf] + '/sriov_drivers_autoprobe',
                               '1\n' if s['drivers_autoprobe'] else '0\n')
        # the emulator sees these writes of ours too: let it log them now,
        # not among the daemon's
        self.assertTrue(self.kernel.settle())
        self.boot_id = faults.reboot(self.sim, self.kernel)

    def test_count_reapplied_after_reboot(self):
        pf = self.pf_without['address']
        self.set_num_vfs(pf, 3, {'autoprobe': False})
        vf = self.kernel_vfs(pf)[1]
        self.prepare([vf])
        self.reboot_without_vfs()
        self.assertEqual(self.kernel_vfs(pf), {}, 'the reboot left VFs')
        writes = len(self.kernel.sriov_writes(pf))
        self.daemon.start()
        # the count came back before the binding: the VF is on vfio-pci
        self.assertVfs(pf, 3)
        self.assertEqual(self.kernel.sriov_writes(pf)[writes:], ['3'])
        self.assertEqual(self.sysfs(pf, 'sriov_drivers_autoprobe'), '0')
        self.assertOnDrivers({vf: VFIO})
        m = self.manager()
        self.assertTrue(m['Converged'], m['ConvergeProblems'])

    def test_restart_writes_nothing(self):
        """A restart in the same boot finds the count there: no write."""
        pf = self.pf_without['address']
        self.set_num_vfs(pf, 2)
        writes = len(self.kernel.log)
        self.restart()
        self.assertVfs(pf, 2)
        self.assertEqual(self.kernel.log[writes:], [])
        self.assertTrue(self.manager()['Converged'])

    def test_zero_is_not_reapplied(self):
        """Back to 0: nothing is stored, a reboot brings the boot's count."""
        pf = self.pf_with['address']
        self.set_num_vfs(pf, 0)
        self.reboot_without_vfs()
        writes = len(self.kernel.sriov_writes(pf))
        self.daemon.start()
        self.assertVfs(pf, self.pf_with['sriov']['numvfs'])
        self.assertEqual(self.kernel.sriov_writes(pf)[writes:], [])

    def test_missing_pf_is_a_problem(self):
        """The PF is gone after the reboot: Converged false, naming it."""
        pf = self.pf_without['address']
        self.set_num_vfs(pf, 2)
        self.stop_daemon()
        self.assertTrue(self.kernel.settle())
        vfs = list(self.kernel_vfs(pf).values())
        self.sim.remove_pci_devices(vfs + [pf], announce=False)
        self.boot_id = faults.reboot(self.sim, self.kernel)
        self.daemon.start()
        m = self.manager()
        self.assertFalse(m['Converged'])
        self.assertIn(pf, [p[0] for p in m['ConvergeProblems']], m['ConvergeProblems'])


class BadInput(SriovTestCase):

    def refused_call(self, what, pf, count, options, name, *fragments, caller=0):
        with self.subTest(refused=what):
            self.assertTrue(self.faults.settle())
            writes = len(self.kernel.log)
            before = self.sriov_props(pf)
            err = self.call_error(caller, self.dev_path(pf), SRIOV, 'SetNumVfs',
                                  GLib.Variant('(ua{sv})', (count, option_dict(options))))
            if name:
                self.assertCallError(err, name, *fragments)
            self.assertTrue(self.faults.settle())
            self.assertEqual(self.kernel.log[writes:], [], '%s wrote to the kernel' % what)
            self.assertEqual(self.sriov_props(pf), before)
            return err

    def test_count_above_total(self):
        pf = self.pf_without
        total = pf['sriov']['totalvfs']
        self.refused_call('count > TotalVfs', pf['address'], total + 1, {}, ERR_INVALID, str(total))

    def test_unknown_option(self):
        self.refused_call('unknown option', self.pf_without['address'], 2, {'bogus': True}, ERR_INVALID,
                          'bogus')

    def test_not_a_pf(self):
        """A function without SR-IOV has no SriovPhysicalFunction interface."""
        vf = self.kernel_vfs(self.pf_with['address'])[0]
        writes = len(self.kernel.log)
        err = self.call_error(0, self.dev_path(vf), SRIOV, 'SetNumVfs',
                              GLib.Variant('(ua{sv})', (1, option_dict({}))))
        self.assertTrue(err.name.startswith('org.freedesktop.DBus.Error.Unknown'), err.name)
        self.assertEqual(self.kernel.log[writes:], [])

    def test_unprivileged_refused(self):
        """nobody may not change VF counts: org.hostdev1.configure-sriov."""
        err = self.refused_call('SetNumVfs as nobody', self.pf_without['address'], 2, {}, None,
                                caller=NOBODY)
        self.assertIn(err.name, (ERR_ACCESS_DENIED, 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'))
        self.assertTrue(error_text(err).strip())


if __name__ == '__main__':
    harness.main()
