#!/usr/bin/python3
"""hostdevctl's command line: help, version, usage errors, and failing to
reach the daemon."""

import os
import re

import clitest
from clitest import CliTestCase, paths

COMMANDS = ('device list', 'device show', 'device prepare', 'device release', 'iommu list', 'iommu show',
            'monitor', 'status', 'group list', 'group show', 'group create', 'group update', 'group delete',
            'group prepare', 'group release', 'group rule add', 'group rule remove')
OPTIONS = ('--json', '--no-legend', '--version', '--no-ask-password', '--dry-run',
           '--override-critical', '--type=', '--rule=', '--description=', '--class=', '--name=',
           '--include-companions', '--all')
# the spellings of the last release: they work, with a note, and are not in the help
OLD_SPELLINGS = {'groups': 'iommu list', 'make-resource': 'group create NAME DEVICE...'}


def project_version():
    with open(os.path.join(paths.SOURCE_ROOT, 'meson.build')) as f:
        return re.search(r"version:\s*'([^']+)'", f.read()).group(1)


class UsageTest(CliTestCase):
    # none of these may need the daemon: they must not even reach the bus
    start_daemon = False

    def env(self, **extra):
        return super().env(DBUS_SYSTEM_BUS_ADDRESS='unix:path=/nonexistent/bus', **extra)

    def test_help(self):
        for args in (['--help'], ['-h'], ['help'], ['list', '--help']):
            r = self.ctl(*args)
            self.assertEqual(r.stderr, '')
            for word in COMMANDS + OPTIONS:
                self.assertIn(word, r.stdout, args)
            for old in OLD_SPELLINGS:
                self.assertNotRegex(r.stdout, r'(?m)^  %s ' % old, args)

    def test_version(self):
        r = self.ctl('--version')
        self.assertEqual(r.stdout, 'hostdevctl %s\n' % project_version())

    def test_unknown_command(self):
        self.assertUsageError(self.ctl('frobnicate', expect=None), "Unknown command 'frobnicate'")

    def test_unknown_option(self):
        self.assertUsageError(self.ctl('--frobnicate', expect=None), "Unknown option '--frobnicate'")
        self.assertUsageError(self.ctl('list', '-z', expect=None), "Unknown option '-z'")
        self.assertUsageError(self.ctl('--json=yes', 'list', expect=None), "Option '--json=yes'")

    def test_missing_and_extra_arguments(self):
        self.assertUsageError(self.ctl('show', expect=None), 'show: missing argument')
        self.assertUsageError(self.ctl('show', '', expect=None), 'show: ')
        for command in ('list', 'monitor', 'status', 'iommu list', 'device list'):
            self.assertUsageError(self.ctl(*command.split(), 'extra', expect=None), command + ': too many')
        self.assertUsageError(self.ctl('iommu', 'show', expect=None), 'iommu show: missing argument')
        self.assertUsageError(self.ctl('iommu', 'show', '1', '2', expect=None), 'iommu show: too many')
        self.assertUsageError(self.ctl('iommu', 'frob', expect=None), "Unknown command 'iommu frob'")
        self.assertUsageError(self.ctl('device', 'frob', expect=None), "Unknown command 'device frob'")

    def test_no_bus(self):
        for command in ('list', 'iommu list', 'monitor', 'status', 'device show 01:00.0'):
            r = self.ctl(*command.split(), expect=None)
            self.assertFailure(r, 'Failed to connect to the system bus')

    def test_old_spellings_note(self):
        """An old spelling still runs the command, after the deprecation note of hostdevctl(1)."""
        for old, new in OLD_SPELLINGS.items():
            args = [old] + (['g', '01:00.0'] if old == 'make-resource' else [])
            r = self.ctl(*args, expect=None)
            lines = r.stderr.splitlines()
            self.assertRegex(lines[0], r'\A%s\Z' % clitest.man_message('deprecated', OLD=old, NEW=new))
            self.assertEqual(len(lines), 2, r.stderr)
            self.assertTrue(lines[1].startswith('hostdevctl: Failed to connect to the system bus'), r.stderr)


class NoDaemonTest(CliTestCase):
    start_daemon = False

    def test_daemon_not_running(self):
        for args in (['list'], ['list', '--json'], ['iommu', 'list'], ['show', '01:00.0'], ['status'],
                     ['group', 'list'], ['prepare', '01:00.0'], ['device', 'prepare', '01:00'],
                     ['iommu', 'show', '1'], ['group', 'create', 'x', '--type=pci']):
            r = self.ctl(*args, expect=None)
            self.assertFailure(r, clitest.man_message('not-running') + r'\n\Z')


if __name__ == '__main__':
    clitest.main()
