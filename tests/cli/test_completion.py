#!/usr/bin/python3
"""Shell completion: the bash script as bash-completion would call it,
with live values from the running hostdevd (addresses from host.json),
resource group names, and nothing, quickly, when the daemon is down."""

import os
import subprocess
import time

import clitest
from clitest import CliTestCase, paths

COMPLETION = os.path.join(paths.SOURCE_ROOT, 'completion', 'hostdevctl.bash')
# hostdevctl(1): the daemon's values come within 0.3 s, or not at all
DOWN_BOUND = 1.0


class CompletionCase(CliTestCase):

    def complete(self, *words, env=None):
        """COMPREPLY of _hostdevctl for the words, the last one being completed."""
        words = ['hostdevctl'] + list(words)
        script = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _hostdevctl; printf "%%s\\n" "${COMPREPLY[@]}"'
                  % (COMPLETION, ' '.join("'%s'" % w for w in words), len(words) - 1))
        env = dict(env or self.env())
        env['PATH'] = os.path.dirname(paths.cli_binary()) + ':' + env.get('PATH', '/usr/bin:/bin')
        r = subprocess.run(['bash', '--norc', '--noprofile', '-c', script], env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual((r.returncode, r.stderr), (0, ''))
        return [line for line in r.stdout.splitlines() if line]


class CompletionTest(CompletionCase):

    def test_addresses(self):
        """"prepare 01:" offers the functions on bus 01, as typed: without the domain."""
        expected = sorted((d['address'][len('0000:'):] for d in self.host.pci
                           if d['address'].startswith('0000:01:')), key=lambda a: clitest.pci_sort_key('0000:' + a))
        self.assertTrue(expected)
        self.assertEqual(self.complete('prepare', '01:'), expected)
        self.assertEqual(self.complete('device', 'show', '01:'), expected)
        with_domain = [d['address'] for d in clitest.sorted_devices(self.host) if d['address'].startswith('0000:01:')]
        self.assertEqual(self.complete('show', '0000:01:'), with_domain)
        usb = [d['address'] for d in clitest.sorted_devices(self.host)
               if d['kind'] == 'usb' and d['address'].startswith('1-')]
        self.assertTrue(usb)
        self.assertEqual(self.complete('show', '1-'), usb)

    def test_release_offers_prepared_devices(self):
        prepared = [d['address'] for d in clitest.sorted_devices(self.host) if clitest.state(d) == 'prepared']
        self.assertTrue(prepared)
        # a word without a domain gets addresses without the domain 0000
        self.assertEqual(self.complete('release', ''), [a[len('0000:'):] if a.startswith('0000:') else a
                                                        for a in prepared])

    def test_iommu_groups(self):
        numbers = sorted(g['number'] for g in self.host.data['iommu_groups'])
        self.assertEqual(self.complete('iommu', 'show', ''), [str(n) for n in numbers])

    def test_group_names(self):
        self.assertEqual(self.complete('group', 'show', ''), [])
        for name in ('gpu-pool', 'nics', 'gadgets'):
            self.ctl('group', 'create', name, '--type=pci')
        self.assertEqual(self.complete('group', 'show', ''), ['gadgets', 'gpu-pool', 'nics'])
        self.assertEqual(self.complete('group', 'delete', 'g'), ['gadgets', 'gpu-pool'])
        self.assertEqual(self.complete('group', 'rule', 'add', 'n'), ['nics'])

    def test_commands_and_options(self):
        self.assertEqual(self.complete('gr'), ['group'])
        self.assertEqual(self.complete('iommu', ''), ['list', 'show'])
        self.assertEqual(self.complete('device', 'p'), ['prepare'])
        self.assertIn('--override-critical', self.complete('prepare', '--o'))
        self.assertEqual(self.complete('group', 'create', 'x', '--type=s'), ['--type=sriov-nic'])
        # the old spellings are not offered
        self.assertNotIn('groups', self.complete('g'))


class CompletionWithoutDaemonTest(CompletionCase):
    start_daemon = False

    def test_nothing_quickly(self):
        for words in (('prepare', '01:'), ('group', 'show', ''), ('iommu', 'show', '')):
            start = time.monotonic()
            self.assertEqual(self.complete(*words), [])
            self.assertLess(time.monotonic() - start, DOWN_BOUND, words)
        # the hidden command itself: no output, no message
        r = self.ctl('__complete', 'devices', expect=1)
        self.assertEqual((r.stdout, r.stderr), ('', ''))

    def test_no_bus_at_all(self):
        env = self.env(DBUS_SYSTEM_BUS_ADDRESS='unix:path=/nonexistent/bus')
        start = time.monotonic()
        self.assertEqual(self.complete('prepare', '01:', env=env), [])
        self.assertLess(time.monotonic() - start, DOWN_BOUND)


if __name__ == '__main__':
    clitest.main()
