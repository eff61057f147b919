#!/usr/bin/python3
"""ResourceGroup.Prepare and Release: Manager.Prepare and Release for all
members of a resource group, here one made from both GPU functions (their
audio functions are companions, not members, and come along through the
IOMMU groups)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, AUDIO2, ERR_ACCESS_DENIED, ERR_INVALID, ERR_NOT_FOUND, GPU1, GPU2, NOBODY, VFIO,
    BothGpusOnHost, PrepareTestCase)

ALL = (GPU1, AUDIO1, GPU2, AUDIO2)


class BothOnHost(BothGpusOnHost, PrepareTestCase):

    def test_prepare_and_release_the_group(self):
        """Both cards start on nouveau and snd_hda_intel. The group's
        Prepare moves all four functions to vfio-pci and makes groups 12 and
        13 viable; its Release gives each its driver back."""
        group, companions = self.make_resource([GPU1, GPU2], 'gpus')
        self.assertEqual(sorted(companions), sorted([self.dev_path(AUDIO1), self.dev_path(AUDIO2)]))
        self.assertEqual(self.props(group)['Devices'], [self.dev_path(GPU1), self.dev_path(GPU2)])
        host = {a: self.spec(a)['driver'] for a in ALL}
        self.assertEqual(set(host.values()), {'nouveau', 'snd_hda_intel'})
        rec = self.record_signals()

        plan = self.group_call(group, 'Prepare')
        self.assertEqual(len(self.expected_prepare_plan([GPU1, GPU2])), 4)
        self.assertPlan(plan, self.expected_prepare_plan([GPU1, GPU2]), {GPU1, GPU2})
        self.assertOnDrivers({a: VFIO for a in ALL})
        for n in (12, 13):
            self.assertGroup(n, {a: VFIO for a in ALL})
            self.assertTrue(self.group(n)['Viable'])
        self.assertEqual(sorted(self.stored_prepared()), sorted(ALL))
        rec.wait_for(lambda _e: all(True in rec.changed('/org/hostdev1/iommu_group/%d' % n,
                                                        'org.hostdev1.IommuGroup', 'Viable')
                                    for n in (12, 13)), what='both groups viable')

        plan = self.group_call(group, 'Release')
        self.assertPlan(plan, [(a, VFIO, host[a]) for a in ALL], {GPU1, GPU2}, release=True)
        self.assertOnDrivers(host)
        self.assertNoOverride(ALL)
        for n in (12, 13):
            self.assertGroup(n)
            self.assertFalse(self.group(n)['Viable'])
        self.assertEqual(self.stored_prepared(), {})

    def test_refused_for_nobody(self):
        """nobody may look (dry run) but not prepare or release a group."""
        group, _c = self.make_resource([GPU1, GPU2], 'gpus')
        before = self.drivers()
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.group_call(group, 'Prepare', caller=NOBODY))
        self.assertEqual(self.drivers(), before)
        self.group_call(group, 'Prepare')
        prepared = self.drivers()
        self.expect_error(ERR_ACCESS_DENIED, lambda: self.group_call(group, 'Release', caller=NOBODY))
        self.assertEqual(self.drivers(), prepared)
        self.assertOnDrivers({a: VFIO for a in ALL})


class StockHost(PrepareTestCase):

    def test_a_prepared_member_needs_nothing(self):
        """On the stock host the second card is on vfio-pci from boot: the
        group's Prepare moves only the first card's functions."""
        group, _c = self.make_resource([GPU1, GPU2], 'gpus')
        plan = self.group_call(group, 'Prepare')
        self.assertPlan(plan, self.expected_prepare_plan([GPU1, GPU2]), {GPU1, GPU2})
        self.assertEqual(sorted(p[0] for p in plan), [GPU1, AUDIO1])
        self.assertOnDrivers({a: VFIO for a in ALL})
        plan = self.group_call(group, 'Release')
        self.assertIn((GPU1, VFIO, 'nouveau'), [p[:3] for p in plan])
        self.assertIn((AUDIO1, VFIO, 'snd_hda_intel'), [p[:3] for p in plan])
        self.assertOnDrivers({GPU1: 'nouveau', AUDIO1: 'snd_hda_intel'})

    def test_options(self):
        """Unknown options and override-critical on Release are refused by
        name; a group without members now has nothing to prepare."""
        group, _c = self.make_resource([GPU1], 'gpu')
        before = self.drivers()
        self.expect_error(ERR_INVALID, lambda: self.group_call(group, 'Prepare', {'force': True}), 'force')
        self.expect_error(ERR_INVALID, lambda: self.group_call(group, 'Release', {'override-critical': True}),
                          'override-critical')
        self.assertEqual(self.drivers(), before)
        empty = self.create('empty', rules=[{'vendor-id': 0x1234}])
        self.expect_error(ERR_NOT_FOUND, lambda: self.group_call(empty, 'Prepare'))


if __name__ == '__main__':
    harness.main()
