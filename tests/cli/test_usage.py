#!/usr/bin/python3
"""hostdevctl's command line: help, version, usage errors, and failing to
reach the daemon."""

import os
import re

import clitest
from clitest import CliTestCase, paths

COMMANDS = ('list', 'show', 'groups', 'monitor', 'status', 'prepare', 'release', 'make-resource',
            'group list', 'group show', 'group create', 'group update', 'group delete',
            'group prepare', 'group release', 'group rule add', 'group rule remove')
OPTIONS = ('--json', '--no-legend', '--version', '--no-ask-password', '--dry-run',
           '--override-critical', '--type=', '--rule=', '--description=', '--class=', '--name=',
           '--include-companions')


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
        self.assertUsageError(self.ctl('show', '01:00.0', '02:00.0', expect=None), 'show: too many')
        for command in ('list', 'groups', 'monitor', 'status'):
            self.assertUsageError(self.ctl(command, 'extra', expect=None), command + ': too many')

    def test_no_bus(self):
        for command in ('list', 'groups', 'monitor', 'status'):
            r = self.ctl(command, expect=None)
            self.assertFailure(r, 'Failed to connect to the system bus')


class NoDaemonTest(CliTestCase):
    start_daemon = False

    def test_daemon_not_running(self):
        for args in (['list'], ['list', '--json'], ['groups'], ['show', '01:00.0'], ['status'],
                     ['group', 'list'], ['prepare', '01:00.0']):
            r = self.ctl(*args, expect=None)
            self.assertFailure(r, '.*hostdevd is not running')
            self.assertIn('org.hostdev1', r.stderr)


if __name__ == '__main__':
    clitest.main()
