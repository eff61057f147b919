#!/usr/bin/python3
"""Every --json output of hostdevctl parses as one JSON document of the
shape hostdevctl(1) gives under JSON OUTPUT; the noun spellings print the
same documents as the short ones. The details of each shape are checked
against host.json by the test of each command."""

import json

import clitest
from clitest import PCI_KEYS, USB_KEYS, ResourceCliTestCase

GPU = '0000:01:00.0'
IOMMU_GROUP_KEYS = {'number', 'object_path', 'viable', 'devices', 'blockers'}
PLAN_KEYS = {'device', 'from', 'to', 'reason'}


class JsonTest(ResourceCliTestCase):

    def json(self, *args):
        r = self.ctl('--json', *args)
        return json.loads(r.stdout)

    def assertDevice(self, got, with_group=False):
        keys = (PCI_KEYS if got['kind'] == 'pci' else USB_KEYS) | ({'group'} if with_group else set())
        self.assertEqual(set(got), keys, got.get('address'))

    def test_every_command(self):
        listed = self.json('list')
        self.assertIsInstance(listed, list)
        self.assertEqual([d['address'] for d in listed],
                         [d['address'] for d in clitest.sorted_devices(self.host)])
        for d in listed:
            self.assertDevice(d)

        shown = self.json('show', GPU)
        self.assertIsInstance(shown, dict)
        self.assertDevice(shown, with_group=True)
        self.assertEqual(set(shown['group']), IOMMU_GROUP_KEYS)
        slot = self.json('show', GPU[:-2])
        self.assertIsInstance(slot, list)
        for d in slot:
            self.assertDevice(d, with_group=True)

        groups = self.json('iommu', 'list')
        self.assertEqual([g['number'] for g in groups],
                         sorted(g['number'] for g in self.host.data['iommu_groups']))
        for g in groups:
            self.assertEqual(set(g), IOMMU_GROUP_KEYS)
        self.assertEqual(set(self.json('iommu', 'show', '12')), IOMMU_GROUP_KEYS)

        status = self.json('status')
        self.assertIsInstance(status, dict)
        self.assertIsInstance(status['critical_devices'], (list, type(None)))

        plan = self.json('prepare', '--dry-run', GPU)
        self.assertTrue(plan)
        for step in plan:
            self.assertEqual(set(step), PLAN_KEYS)

        made = self.json('group', 'create', 'gpu', GPU)
        self.assertEqual(set(made), {'group', 'companions'})
        self.assertEqual(self.json('group', 'list'), [made['group']])
        self.assertEqual(self.json('group', 'show', 'gpu'), made['group'])
        for step in self.json('group', 'prepare', '--dry-run', 'gpu'):
            self.assertEqual(set(step), PLAN_KEYS)

    def test_noun_spellings_print_the_same(self):
        for short, full in [(['list'], ['device', 'list']),
                            (['show', GPU], ['device', 'show', GPU]),
                            (['prepare', '--dry-run', GPU], ['device', 'prepare', '--dry-run', GPU]),
                            (['iommu'], ['iommu', 'list'])]:
            self.assertEqual(self.ctl('--json', *short).stdout, self.ctl('--json', *full).stdout, full)

    def test_text_is_escaped_by_the_library(self):
        """A description with quotes, backslashes, slashes and UTF-8 comes
        back exactly, and object paths keep their slashes unescaped."""
        text = 'say "hi" \\ ünïcode / slash'
        self.ctl('group', 'create', 'odd', '--type=pci', '--description=' + text)
        r = self.ctl('--json', 'group', 'show', 'odd')
        self.assertEqual(json.loads(r.stdout)['description'], text)
        self.assertIn('"/org/hostdev1/resource_group/', r.stdout)


if __name__ == '__main__':
    clitest.main()
