#!/usr/bin/python3
"""hostdevctl status: IOMMU, reboot-required with its reasons, convergence,
critical devices and counts, as text and JSON. Counts, the IOMMU and the
critical devices (by the rules of harness.critical) come from host.json;
a reboot is made necessary the way a real host gets
there, by a driver that never lets go of a device (harness.faults)."""

import json
import os
import re

import clitest
from clitest import CliTestCase, hostspec, parse_key_values
from harness import faults

GPU1, AUDIO1 = '0000:01:00.0', '0000:01:00.1'
STATUS_KEYS = {'version', 'iommu_enabled', 'iommu_message', 'reboot_required', 'reboot_reasons',
               'converged', 'converge_problems', 'critical_devices', 'devices', 'pci_devices',
               'usb_devices', 'iommu_groups', 'resource_groups'}


def project_version():
    with open(os.path.join(clitest.paths.SOURCE_ROOT, 'meson.build')) as f:
        return re.search(r"version:\s*'([^']+)'", f.read()).group(1)


class StatusCase(CliTestCase):

    def counts(self, iommu=True):
        pci, usb = len(self.host.pci), len(self.host.published_usb)
        groups = len(self.host.data['iommu_groups']) if iommu else 0
        return pci, usb, groups

    def critical_json(self, got):
        """Checks the critical_devices of `status --json` against host.json
        and returns them as {address: [(code, text)]}."""
        expected = self.expected_critical()
        self.assertEqual(sorted(d['address'] for d in got), sorted(expected))
        for d in got:
            self.assertEqual(d['object_path'], hostspec.pci_path(d['address']))
            self.assertReasons(d['address'], d['reasons'], expected[d['address']])
        return {d['address']: [(r['code'], r['text']) for r in d['reasons']] for d in got}

    def assertCriticalText(self, kv):
        """One line per critical device of host.json: the address, and the
        texts of its reasons (as the JSON form gives them)."""
        critical = self.critical_json(json.loads(self.ctl('status', '--json').stdout)['critical_devices'])
        lines = kv['Critical Devices']
        got = dict(line.split(': ', 1) for line in lines)
        self.assertEqual(len(got), len(lines), 'one line per device:\n' + '\n'.join(lines))
        self.assertEqual(got, {a: '; '.join(t for _c, t in r) for a, r in critical.items()})
class StatusTest(StatusCase):

    def test_text(self):
        r = self.ctl('status')
        self.assertEqual(r.stderr, '')
        kv = parse_key_values(r.stdout)
        pci, usb, groups = self.counts()
        self.assertTrue(self.host.iommu_enabled)
        self.assertEqual(kv['Version'], [project_version()])
        self.assertEqual(kv['IOMMU'], ['enabled'])
        self.assertEqual(kv['Reboot Required'], ['no'])
        self.assertEqual(kv['Converged'], ['yes'])
        self.assertEqual(kv['Devices'], ['%d (%d PCI, %d USB)' % (pci + usb, pci, usb)])
        self.assertEqual(kv['IOMMU Groups'], [str(groups)])
        self.assertEqual(kv['Resource Groups'], ['0'])
        self.assertCriticalText(kv)

        self.ctl('make-resource', 'gpu', GPU1)
        kv = parse_key_values(self.ctl('status').stdout)
        self.assertEqual(kv['Resource Groups'], ['1'])

    def test_json(self):
        got = json.loads(self.ctl('status', '--json').stdout)
        self.assertEqual(set(got), STATUS_KEYS)
        pci, usb, groups = self.counts()
        critical = got.pop('critical_devices')
        self.assertEqual(got, {
            'version': project_version(), 'iommu_enabled': True, 'iommu_message': None,
            'reboot_required': False, 'reboot_reasons': [], 'converged': True,
            'converge_problems': [], 'devices': pci + usb, 'pci_devices': pci, 'usb_devices': usb,
            'iommu_groups': groups, 'resource_groups': 0})
        self.critical_json(critical)


class StatusWithoutIommuTest(StatusCase):
    iommu = 'empty'

    def test_text_and_json(self):
        message = self.client.get(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'IommuMessage')
        self.assertTrue(message)
        kv = parse_key_values(self.ctl('status').stdout)
        self.assertEqual(kv['IOMMU'], ['disabled', message])
        self.assertEqual(kv['IOMMU Groups'], ['0'])
        got = json.loads(self.ctl('status', '--json').stdout)
        self.assertEqual((got['iommu_enabled'], got['iommu_message'], got['iommu_groups']),
                         (False, message, 0))
        # no groups, so no group mates: only what is critical itself
        self.critical_json(got['critical_devices'])


class RebootRequiredTest(StatusCase):
    """The audio function's driver never finishes its unbind: Prepare of
    the GPU fails, is rolled back, and the host needs a reboot."""

    start_daemon = False

    def setUp(self):
        super().setUp()
        faults.write_boot_id(self.sim.proc)
        self.faults = faults.DriverFaults(self.kernel)
        self.addCleanup(self.faults.close)
        self.daemon.extra_env['HOSTDEV_BIND_TIMEOUT_MSEC'] = '400'
        self.daemon.start()

    def test_reasons(self):
        audio = self.host.pci_device(AUDIO1)
        self.faults.hang_unbind(AUDIO1)
        r = self.ctl('prepare', GPU1, expect=None)
        self.assertFailure(r)
        self.assertIn(AUDIO1, r.stderr)
        self.assertTrue(self.kernel.settle())
        self.assertEqual(faults.pci_drivers(self.sim)[GPU1], self.host.pci_device(GPU1)['driver'])

        kv = parse_key_values(self.ctl('status').stdout)
        self.assertEqual(kv['Reboot Required'][0], 'yes')
        lines = kv['Reboot Required'][1:]
        mine = [line for line in lines if line.startswith(AUDIO1 + ': ')]
        self.assertEqual(len(mine), 1, lines)
        # the reason says what clears it: the ids for vfio-pci at boot, and a reboot
        self.assertIn('%s:%s' % (audio['vendor_id'], audio['device_id']), mine[0].lower())
        self.assertIn('reboot', mine[0].lower())

        got = json.loads(self.ctl('status', '--json').stdout)
        self.assertTrue(got['reboot_required'])
        self.assertIn({'object': hostspec.pci_path(AUDIO1), 'address': AUDIO1,
                       'reason': mine[0][len(AUDIO1) + 2:]}, got['reboot_reasons'])


if __name__ == '__main__':
    clitest.main()
