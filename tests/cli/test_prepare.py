#!/usr/bin/python3
"""hostdevctl prepare, release, group prepare and group release: the plan
as printed, what the kernel emulator ends up with (sysfs driver links),
and that a dry run changes nothing. The plans expected come from host.json:
a device and every member of its IOMMU group go to vfio-pci, but bridges
and functions already there."""

import json

import clitest
from clitest import ResourceCliTestCase, hostspec, parse_table
from gi.repository import GLib
from harness import faults
from harness.client import run_as
from harness.groups import MANAGER, NOBODY

GPU1, AUDIO1 = '0000:01:00.0', '0000:01:00.1'
PREPARE = clitest.polkit_action('prepare-devices')
OVERRIDE = clitest.polkit_action('override-critical')
VFIO = 'vfio-pci'
PLAN_COLUMNS = ['DEVICE', 'FROM', 'TO', 'REASON']
DRY_RUN_LINE = 'Dry run: nothing was changed.'


class PrepareCliTest(ResourceCliTestCase):

    def prepare_plan(self, addresses):
        """[(address, from, to)] of a Prepare of `addresses`, sorted."""
        selected = [self.host.pci_device(a) for a in addresses]
        groups = {d['iommu_group'] for d in selected}
        return sorted((d['address'], d['driver'] or '-', VFIO) for d in self.host.pci
                      if d['iommu_group'] in groups and not hostspec.is_bridge(d)
                      and not hostspec.is_prepared_driver(d['driver']))

    def release_plan(self, addresses):
        """The reverse of prepare_plan: each back to the driver it had."""
        return sorted((a, to, frm) for a, frm, to in self.prepare_plan(addresses))

    def described_drivers(self, addresses):
        return {a: self.host.pci_device(a)['driver'] for a in addresses}

    def state(self):
        """What a dry run must not touch: the kernel's driver links and
        driver_override files, the store, and every object of hostdevd."""
        self.assertTrue(self.kernel.settle())
        self.settle_store()
        return {'drivers': faults.pci_drivers(self.sim), 'overrides': faults.driver_overrides(self.sim),
                'store': self.store_bytes(), 'objects': self.client.managed_objects()}

    def assertPlanTable(self, text, expected, dry_run=False, selected=()):
        lines = text.splitlines()
        if dry_run:
            self.assertEqual(lines[-1], DRY_RUN_LINE)
            lines = lines[:-1]
        else:
            self.assertNotIn(DRY_RUN_LINE, text)
        header, rows = parse_table('\n'.join(lines))
        self.assertEqual(header, PLAN_COLUMNS)
        self.assertEqual(sorted((d, f, t) for d, f, t, _ in rows), expected)
        for device, _f, _t, reason in rows:
            self.assertTrue(reason, device)
            if device not in selected:
                # a companion says which IOMMU group brings it along
                self.assertIn('group', reason)

    def assertKernelDrivers(self, expected):
        """The kernel (sysfs links) and hostdevd both have these drivers."""
        self.assertTrue(self.kernel.settle())
        drivers = faults.pci_drivers(self.sim)
        self.assertEqual({a: drivers[a] for a in expected}, expected)
        for a, drv in expected.items():
            props = self.client.get_all(hostspec.pci_path(a), 'org.hostdev1.Device')
            self.assertEqual((props['Driver'], props['State']),
                             (drv or '', 'prepared' if hostspec.is_prepared_driver(drv) else 'host'), a)

    def test_dry_run_changes_nothing(self):
        before = self.state()
        r = self.ctl('prepare', '--dry-run', '01:00.0')
        self.assertEqual(r.stderr, '')
        self.assertPlanTable(r.stdout, self.prepare_plan([GPU1]), dry_run=True, selected=[GPU1])
        got = json.loads(self.ctl('prepare', '--dry-run', '--json', GPU1).stdout)
        self.assertEqual(sorted((s['device'], s['from'], s['to']) for s in got), self.prepare_plan([GPU1]))
        for step in got:
            self.assertEqual(set(step), {'device', 'from', 'to', 'reason'})
        # a dry run needs no authorization
        r = run_as([clitest.paths.cli_binary(), 'prepare', '--dry-run', GPU1], uid=NOBODY, env=self.env())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertPlanTable(r.stdout, self.prepare_plan([GPU1]), dry_run=True, selected=[GPU1])
        self.assertEqual(self.state(), before)

    def test_prepare_and_release_gpu(self):
        members = [GPU1, AUDIO1]
        host_drivers = self.described_drivers(members)
        self.assertEqual(set(host_drivers.values()) & {VFIO, None}, set())

        r = self.ctl('prepare', GPU1)
        self.assertEqual(r.stderr, '')
        self.assertPlanTable(r.stdout, self.prepare_plan([GPU1]), selected=[GPU1])
        self.assertKernelDrivers({a: VFIO for a in members})
        group = self.client.get_all(hostspec.group_path(self.host.pci_device(GPU1)['iommu_group']),
                                    'org.hostdev1.IommuGroup')
        self.assertTrue(group['Viable'])
        rows = {row[0]: row for row in parse_table(self.ctl('list').stdout)[1]}
        for a in members:
            self.assertEqual((rows[a][4], rows[a][6]), (VFIO, 'prepared'))

        r = self.ctl('release', hostspec.pci_path(GPU1))
        self.assertEqual(r.stderr, '')
        self.assertPlanTable(r.stdout, self.release_plan([GPU1]), selected=[GPU1])
        self.assertKernelDrivers(host_drivers)

    def test_group_prepare_and_release(self):
        self.ctl('make-resource', 'card', GPU1, '--include-companions')
        members = [GPU1, AUDIO1]
        host_drivers = self.described_drivers(members)
        before = self.state()
        r = self.ctl('group', 'prepare', 'card', '--dry-run')
        self.assertPlanTable(r.stdout, self.prepare_plan(members), dry_run=True, selected=members)
        self.assertEqual(self.state(), before)

        r = self.ctl('group', 'prepare', 'card')
        self.assertPlanTable(r.stdout, self.prepare_plan(members), selected=members)
        self.assertKernelDrivers({a: VFIO for a in members})
        got = json.loads(self.ctl('group', 'release', 'card', '--json').stdout)
        self.assertEqual(sorted((s['device'], s['from'], s['to']) for s in got), self.release_plan(members))
        self.assertKernelDrivers(host_drivers)

    def test_nothing_to_do(self):
        # the second card is on vfio-pci already (host.json)
        card = ['0000:02:00.0', '0000:02:00.1']
        self.assertEqual(set(self.described_drivers(card).values()), {VFIO})
        self.assertEqual(self.prepare_plan(card[:1]), [])
        self.assertEqual(self.ctl('prepare', card[0]).stdout, 'Nothing to do.\n')
        self.assertEqual(json.loads(self.ctl('prepare', '--json', card[0]).stdout), [])

    def prepared_address(self):
        """A device host.json has on vfio-pci: releasing it is a change."""
        prepared = [d['address'] for d in self.host.pci if clitest.state(d) == 'prepared']
        self.assertTrue(prepared)
        return prepared[0]

    def test_unprivileged_prepare_refused(self):
        err = self.call_error(NOBODY, hostspec.ROOT_PATH, MANAGER, 'Prepare',
                              GLib.Variant('(aoa{sv})', ([hostspec.pci_path(GPU1)], {})))
        before = self.state()
        self.assertEqual(err.name, 'org.freedesktop.DBus.Error.AccessDenied')
        for args, key, command, actions in [
                (['prepare', GPU1], 'not-authorized', 'prepare', PREPARE),
                (['device', 'release', self.prepared_address()], 'not-authorized', 'device release', PREPARE),
                (['--no-ask-password', 'prepare', GPU1], 'auth-required', 'prepare', PREPARE),
                (['--no-ask-password', 'prepare', '--override-critical', GPU1], 'auth-required', 'prepare',
                 PREPARE + ' and ' + OVERRIDE)]:
            r = run_as([clitest.paths.cli_binary()] + args, uid=NOBODY, env=self.env())
            self.assertEqual((r.returncode, r.stdout), (1, ''), r.stderr)
            self.assertRegex(r.stderr, r'\Ahostdevctl: %s\n\Z' % clitest.man_message(
                key, COMMAND=command, ACTIONS=actions))
        self.assertEqual(self.state(), before)

    def test_unknown_device(self):
        r = self.ctl('prepare', GPU1, '0f:00.0', expect=None)
        self.assertFailure(r, clitest.man_message('no-device', ADDRESS='0f:00.0'))
        r = self.ctl('prepare', 'gpu', expect=None)
        self.assertFailure(r, clitest.man_message('not-an-address', ADDRESS='gpu'))
        r = self.ctl('prepare', '0f:00', expect=None)
        self.assertFailure(r, clitest.man_message('no-slot', ADDRESS='0f:00'))
        r = self.ctl('release', '/not a path', expect=None)
        self.assertFailure(r, "'/not a path' is not a D-Bus object path")

    def test_critical_device_refused(self):
        """The NVMe drive holding / (host.json's mounts) is refused, with
        the daemon's reasons as the one line of the error. (Bridges are
        refused as bridges before anything else: this one is critical for
        what the host runs on.)"""
        address, = [a for a, reasons in self.expected_critical().items()
                    if 'root-filesystem' in [code for code, _ in reasons]]
        err = self.client.call_error(hostspec.ROOT_PATH, MANAGER, 'Prepare',
                                     GLib.Variant('(aoa{sv})', ([self.dev_path(address)], {})))
        self.assertEqual(err.name, 'org.hostdev1.Error.CriticalDevice')
        # the critical devices of the address's IOMMU group (host.json), PCI-to-PCI
        # bridges left out as they stay with the host, each with its first reason
        # (which devices: host.json; the reason's wording: the daemon's, checked
        # against host.json's reasons, as hostdevctl passes it through)
        group = self.host.pci_device(address)['iommu_group']
        expected = self.expected_critical()
        items = []
        for dev in sorted(self.host.pci, key=lambda d: clitest.pci_sort_key(d['address'])):
            want = expected.get(dev['address'])
            if dev.get('iommu_group') != group or not want or dev['class'].lower()[:4] in ('0604', '0609'):
                continue
            reasons = self.client.get(self.dev_path(dev['address']), 'org.hostdev1.Device', 'CriticalReasons')
            self.assertReasons(dev['address'], [{'code': c, 'text': t} for c, t in reasons], want)
            items.append('%s (%s)' % (dev['address'], reasons[0][1]))
        for args, command in [(['prepare', address], 'prepare'), (['device', 'prepare', address], 'device prepare')]:
            r = self.ctl(*args, expect=None)
            self.assertFailure(r, clitest.man_message('critical', DEVICES=', '.join(items), COMMAND=command)
                               + r'\n\Z')



class PrepareWithoutIommuTest(ResourceCliTestCase):
    """A host booted without an IOMMU: prepare says so with the advice the daemon publishes."""
    iommu = 'empty'

    def test_iommu_off(self):
        advice = self.client.get(hostspec.ROOT_PATH, MANAGER, 'IommuMessage')
        self.assertTrue(advice)
        err = self.client.call_error(hostspec.ROOT_PATH, MANAGER, 'Prepare',
                                     GLib.Variant('(aoa{sv})', ([hostspec.pci_path(GPU1)], {})))
        self.assertEqual(err.name, 'org.hostdev1.Error.NotSupported')
        r = self.ctl('prepare', GPU1, expect=None)
        self.assertFailure(r, clitest.man_message('iommu-off', COMMAND='prepare', ADVICE=advice) + r'\n\Z')

if __name__ == '__main__':
    clitest.main()
