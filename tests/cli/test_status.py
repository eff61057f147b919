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
# the order of reason codes hostdevctl(1) gives under "status"
REASON_ORDER = ['root-filesystem', 'boot-filesystem', 'usr-filesystem', 'var-filesystem', 'swap',
                'default-route', 'nm-connection', 'console', 'boot-vga', 'bridge', 'iommu-peer']
STATUS_KEYS = {'version', 'iommu_enabled', 'iommu_message', 'reboot_required', 'reboot_reasons',
               'converged', 'converge_problems', 'critical_devices', 'devices', 'pci_devices',
               'usb_devices', 'iommu_groups', 'resource_groups'}


def project_version():
    with open(os.path.join(clitest.paths.SOURCE_ROOT, 'meson.build')) as f:
        return re.search(r"version:\s*'([^']+)'", f.read()).group(1)


def address_key(address):
    """PCI functions first, then USB devices (the only keyboard), as hostdevctl orders addresses."""
    return (0, clitest.pci_sort_key(address)) if ':' in address else (1, clitest.usb_sort_key(address))


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
            self.assertEqual(d['object_path'], hostspec.pci_path(d['address']) if ':' in d['address']
                             else hostspec.usb_path(d['address']))
            self.assertReasons(d['address'], d['reasons'], expected[d['address']])
        return {d['address']: [(r['code'], r['text']) for r in d['reasons']] for d in got}

    def assertCriticalText(self, kv, show_all=False):
        """Critical devices grouped by reason code, in hostdevctl(1)'s
        order of codes, by address within a code; devices whose only
        reason is "bridge" counted but listed only with --all. The devices
        and reasons are host.json's (checked through the JSON form); returns
        the plain bridges."""
        critical = self.critical_json(json.loads(self.ctl('status', '--json').stdout)['critical_devices'])
        expected = sorted(critical.items(), key=lambda e: address_key(e[0]))
        if not expected:
            self.assertEqual(kv['Critical Devices'], ['none'])
            return []
        plain = [a for a, r in expected if r and all(c == 'bridge' for c, _t in r)]
        shown = expected if show_all else [e for e in expected if e[0] not in plain]
        hidden = len(expected) - len(shown)
        head = str(len(shown))
        if hidden:
            head += ' (%d bridge%s not shown; --all shows %s)' % (
                hidden, '' if hidden == 1 else 's', 'it' if hidden == 1 else 'them')
        seen = []
        for _a, reasons in shown:
            seen += [c for c, _t in reasons if c not in seen]
        codes = [c for c in REASON_ORDER if c in seen] + [c for c in seen if c not in REASON_ORDER]
        width = max(len(c) for c in codes)
        lines = [head]
        for code in codes:
            first = True
            for address, reasons in shown:
                for c, text in reasons:
                    if c != code:
                        continue
                    label = (code + ':').ljust(width + 1) if first else ' ' * (width + 1)
                    lines.append('%s %s  %s' % (label, address, text))
                    first = False
        self.assertEqual(kv['Critical Devices'], lines)
        return plain


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
        plain = self.assertCriticalText(kv)
        # the simulated host has root ports: hidden by default, listed with --all
        self.assertTrue(plain)
        self.assertCriticalText(parse_key_values(self.ctl('status', '--all').stdout), show_all=True)

        self.ctl('group', 'create', 'gpu', GPU1)
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
        # every critical device of host.json, bridges too, in address order
        self.critical_json(critical)
        addresses = [d['address'] for d in critical]
        self.assertEqual(addresses, sorted(addresses, key=address_key))


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
