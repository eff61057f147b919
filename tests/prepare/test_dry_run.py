#!/usr/bin/python3
"""A dry run returns the plan and changes nothing: not a driver link, not
a driver_override file, not a byte of the store, not a property, and no
write reaches the kernel. It needs no authorization: anyone may ask what
a Prepare or Release would do."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from preparecase import (  # noqa: E402
    AUDIO1, GPU1, GPU2, NOBODY, OPERATOR, ROOT, VFIO, PrepareTestCase)

DRY = {'dry-run': True}


class DryRun(PrepareTestCase):

    def everything(self):
        """All that a dry run must leave alone, read from the kernel's side
        (sysfs), the store file and the bus."""
        self.assertTrue(self.faults.settle())
        self.settle_store()
        return {
            'drivers': self.drivers(),
            'overrides': self.overrides(),
            'vfio': self.sim.vfio_groups(),
            'store': self.store_bytes(),
            'objects': self.client.managed_objects(),
            'manager': self.manager(),
        }

    def assertNothingChanged(self, before, writes, what):
        rec = self.record_signals()
        rec.quiet(0.5)
        after = self.everything()
        for key in before:
            self.assertTrue(after[key] == before[key], '%s changed %s' % (what, key))
        self.assertEqual(self.kernel.log[writes:], [], '%s wrote to the kernel' % what)
        self.assertEqual(rec.of('PropertiesChanged'), [], '%s changed properties' % what)

    def test_prepare_dry_run(self):
        """The plan of the first GPU (GPU and audio function from their host
        drivers to vfio-pci) is returned to root, the operator and nobody
        alike, and nothing changes."""
        # something in the store, so that its bytes mean something
        self.make_resource([GPU2], 'spare-gpu')
        expected = self.expected_prepare_plan([GPU1])
        self.assertEqual(expected, [(GPU1, self.spec(GPU1)['driver'], VFIO),
                                    (AUDIO1, self.spec(AUDIO1)['driver'], VFIO)])
        for caller in (ROOT, OPERATOR, NOBODY):
            with self.subTest(caller=caller):
                before, writes = self.everything(), len(self.kernel.log)
                plan = self.prepare([GPU1], DRY, caller=caller)
                self.assertPlan(plan, expected, {GPU1})
                self.assertNothingChanged(before, writes, 'a dry-run Prepare by uid %d' % caller)
        # false is no dry run
        self.assertPlan(self.prepare([GPU1], {'dry-run': False}), expected, {GPU1})
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})

    def test_release_dry_run(self):
        """With the first GPU prepared, a dry-run Release returns the way
        back to nouveau and snd_hda_intel, for anyone, and changes nothing;
        so does a dry-run Prepare of what is prepared already (empty)."""
        self.prepare([GPU1])
        expected = [(GPU1, VFIO, self.spec(GPU1)['driver']),
                    (AUDIO1, VFIO, self.spec(AUDIO1)['driver'])]
        for caller in (ROOT, OPERATOR, NOBODY):
            with self.subTest(caller=caller):
                before, writes = self.everything(), len(self.kernel.log)
                self.assertIsNotNone(before['store'])
                plan = self.release([GPU1], DRY, caller=caller)
                self.assertPlan(plan, expected, {GPU1}, release=True)
                self.assertEqual(self.prepare([GPU1], DRY, caller=caller), [])
                self.assertNothingChanged(before, writes, 'a dry-run Release by uid %d' % caller)
        self.assertOnDrivers({GPU1: VFIO, AUDIO1: VFIO})

    def test_resource_group_dry_run(self):
        """ResourceGroup.Prepare and Release take the dry run too."""
        group, _companions = self.make_resource([GPU1], 'gpu')
        before, writes = self.everything(), len(self.kernel.log)
        plan = self.group_call(group, 'Prepare', DRY, caller=NOBODY)
        self.assertPlan(plan, self.expected_prepare_plan([GPU1]), {GPU1})
        self.assertEqual(self.group_call(group, 'Release', DRY, caller=NOBODY), [])
        self.assertNothingChanged(before, writes, 'a dry-run ResourceGroup.Prepare')

    def test_failing_plans_change_nothing_either(self):
        """A dry run of something that cannot be done fails as the real
        call would, and changes nothing."""
        before, writes = self.everything(), len(self.kernel.log)
        self.expect_error('org.hostdev1.Error.InvalidArgument',
                          lambda: self.prepare(['0000:00:01.0'], DRY), '0000:00:01.0')
        # a USB hub stays with the host
        self.expect_error('org.hostdev1.Error.InvalidArgument',
                          lambda: self.prepare(['1-3'], DRY), '1-3')
        self.assertNothingChanged(before, writes, 'failed dry runs')
        self.assertTrue(hostspec.is_bridge(self.initial.pci_device('0000:00:01.0')))


if __name__ == '__main__':
    harness.main()
