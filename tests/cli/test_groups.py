#!/usr/bin/python3
"""hostdevctl groups: IOMMU groups, members, viability and blockers."""

import json
import re

import clitest
from clitest import CliTestCase, hostspec

PCI_ADDRESS = re.compile(r'[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]')


def parse_groups(text):
    """{number: (viable, [(address, member line)], [blocker line])}"""
    out = {}
    for block in text.strip('\n').split('\n\n'):
        lines = block.splitlines()
        m = re.fullmatch(r'IOMMU group (\d+): (viable|not viable)', lines[0])
        assert m, lines[0]
        members, blockers = [], []
        for line in lines[1:]:
            if line.startswith('  Blocker: '):
                blockers.append(line[len('  Blocker: '):])
            else:
                assert line.startswith('  ') and not line.startswith('   '), line
                members.append((line[2:].split('  ')[0], line[2:]))
        out[int(m.group(1))] = (m.group(2) == 'viable', members, blockers)
    return out


class GroupsTest(CliTestCase):

    def assertGroups(self, text, described):
        groups = parse_groups(text)
        self.assertEqual(list(groups), sorted(described))
        for number, (members, viable, blockers) in described.items():
            got_viable, got_members, got_blockers = groups[number]
            self.assertEqual(got_viable, viable, 'group %d' % number)
            self.assertEqual([a for a, _ in got_members], members, 'group %d' % number)
            for address, line in got_members:
                dev = self.host.pci_device(address)
                driver = self.driver(address)
                self.assertTrue(line.endswith('(%s)' % driver if driver else '(no driver)'), line)
                self.assertIn('%s %s' % (dev['vendor_name'], dev['product_name']), line)
            # one line per blocker, naming the device and its driver
            self.assertEqual(len(got_blockers), len(blockers), 'group %d' % number)
            for line in got_blockers:
                address = PCI_ADDRESS.search(line).group(0)
                self.assertIn(address, blockers)
                self.assertIn(blockers[address], line)

    def driver(self, address):
        return self.host.pci_device(address)['driver']

    def test_text(self):
        r = self.ctl('iommu', 'list')
        self.assertEqual(r.stderr, '')
        described = clitest.described_groups(self.host)
        self.assertTrue(any(v for _, v, _ in described.values()))
        self.assertTrue(any(not v for _, v, _ in described.values()))
        self.assertGroups(r.stdout, described)

    def test_json(self):
        got = json.loads(self.ctl('iommu', 'list', '--json').stdout)
        described = clitest.described_groups(self.host)
        self.assertEqual([g['number'] for g in got], sorted(described))
        for g in got:
            members, viable, blockers = described[g['number']]
            self.assertEqual(set(g), {'number', 'object_path', 'viable', 'devices', 'blockers'})
            self.assertEqual(g['object_path'], hostspec.group_path(g['number']))
            self.assertEqual(g['viable'], viable)
            self.assertEqual([d['address'] for d in g['devices']], members)
            for d in g['devices']:
                dev = self.host.pci_device(d['address'])
                self.assertEqual(d, {
                    'address': dev['address'],
                    'object_path': hostspec.pci_path(dev['address']),
                    'vendor_name': dev['vendor_name'],
                    'product_name': dev['product_name'],
                    'driver': dev['driver'],
                    'state': hostspec.expected_state(dev),
                })
            self.assertEqual({b['address'] for b in g['blockers']}, set(blockers))
            for b in g['blockers']:
                self.assertEqual(b['object_path'], hostspec.pci_path(b['address']))
                self.assertIn(blockers[b['address']], b['reason'])

    def test_old_spelling(self):
        """"groups" still lists the IOMMU groups, with the deprecation note."""
        r = self.ctl('groups')
        self.assertEqual(r.stdout, self.ctl('iommu', 'list').stdout)
        self.assertRegex(r.stderr, r'\A%s\n\Z' % clitest.man_message('deprecated', OLD='groups', NEW='iommu list'))

    def test_show(self):
        """iommu show NUMBER, or DEVICE: the block and object of that group alone."""
        described = clitest.described_groups(self.host)
        listed = parse_groups(self.ctl('iommu', 'list').stdout)
        every = json.loads(self.ctl('iommu', 'list', '--json').stdout)
        for number in (min(described), 12, max(described)):
            self.assertEqual(parse_groups(self.ctl('iommu', 'show', str(number)).stdout), {number: listed[number]})
            got = json.loads(self.ctl('iommu', 'show', '--json', str(number)).stdout)
            self.assertEqual(got, [g for g in every if g['number'] == number][0])
        first = described[12][0][0]
        self.assertEqual(self.ctl('iommu', 'show', first).stdout, self.ctl('iommu', 'show', '12').stdout)
        missing = max(described) + 1
        r = self.ctl('iommu', 'show', str(missing), expect=None)
        self.assertFailure(r, clitest.man_message('no-iommu-group', NUMBER=str(missing)))

    def test_viability_follows_drivers(self):
        # group 12 is a GPU and its audio function, both with host drivers
        members, viable, blockers = clitest.described_groups(self.host)[12]
        self.assertFalse(viable)
        signals = self.record_signals()
        for address in members:
            self.write_sysfs('/sys/bus/pci/drivers/%s/unbind' % self.driver(address), address)
        path = hostspec.group_path(12)
        signals.wait_for(lambda ev: True in signals.changed(path, 'org.hostdev1.IommuGroup', 'Viable'),
                         what='group 12 to become viable')
        viable_now, got_members, got_blockers = parse_groups(self.ctl('iommu', 'list').stdout)[12]
        self.assertTrue(viable_now)
        self.assertEqual(got_blockers, [])
        for address, line in got_members:
            self.assertTrue(line.endswith('(no driver)'), line)


class GroupsWithoutIommuTest(CliTestCase):
    iommu = 'empty'

    def test_note_and_nothing_listed(self):
        message = self.client.get(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'IommuMessage')
        self.assertTrue(message)
        r = self.ctl('iommu', 'list')
        self.assertEqual(r.stdout, '')
        self.assertEqual(r.stderr, 'Note: %s\n' % message)
        r = self.ctl('iommu', 'list', '--json')
        self.assertEqual(json.loads(r.stdout), [])
        self.assertEqual(r.stderr, 'Note: %s\n' % message)


if __name__ == '__main__':
    clitest.main()
