#!/usr/bin/python3
"""hostdevctl group ... and make-resource: resource groups made, listed,
shown, changed and deleted through the CLI; what hostdevd holds afterwards
is read over D-Bus by the test itself, and the members a group must have
come from host.json through the rule model of harness.groups."""

import json
import re

import clitest
from clitest import CliTestCase, ResourceCliTestCase, hostspec, parse_key_values, parse_table
from harness import groups
from harness.client import run_as
from harness.groups import ERR_ACCESS_DENIED, MANAGER, NOBODY, create_args

GROUP_COLUMNS = ['NAME', 'TYPE', 'TOTAL', 'AVAILABLE', 'CLAIMED', 'TENANT', 'CLASS', 'RULES']
RULE_FIELDS = ['vendor-id', 'product-id', 'subsystem-vendor-id', 'subsystem-id', 'class',
               'class-mask', 'vendor-name', 'product-name', 'address', 'slot', 'serial', 'driver',
               'numa-node', 'physical-function', 'port-path', 'vf-index', 'pf-serial', 'pf-netdev',
               'link-type', 'mdev-type', 'mdev-type-name']
GPUS = ['0000:01:00.0', '0000:02:00.0']
MANAGE_GROUPS = clitest.polkit_action('manage-resource-groups')
GROUP_KEYS = {'name', 'id', 'object_path', 'type', 'description', 'class', 'total', 'available',
              'claimed', 'tenant', 'parent', 'rules', 'devices'}


class GroupCommandsTest(ResourceCliTestCase):

    def test_create_list_show(self):
        rules = [{'vendor-id': 0x109e, 'product-id': 0x036e}, {'class': 0x040000, 'class-mask': 0xff0000}]
        members = self.members('pci', rules)
        self.assertIn('0000:05:00.0', members)
        self.assertIn('0000:01:00.1', members)

        r = self.ctl('group', 'create', 'media', '--type=pci', '--class=media',
                     '--description=Capture and sound',
                     '--rule', 'vendor-id=0x109E,product-id=036e', '--rule=class=040000, class-mask=ff0000')
        self.assertEqual(r.stderr, '')
        path, props = self.group_by_name('media')
        self.assertEqual(props['Type'], 'pci')
        self.assertEqual(props['Class'], 'media')
        self.assertEqual(props['Description'], 'Capture and sound')
        self.assertEqual(props['Devices'], [hostspec.pci_path(a) for a in members])
        # each value went with the type of its field
        self.assertEqual(self.typed_rules(path), [
            {'vendor-id': ('q', 0x109e), 'product-id': ('q', 0x036e)},
            {'class': ('u', 0x040000), 'class-mask': ('u', 0xff0000)}])

        # create prints the group as show does
        self.assertEqual(r.stdout, self.ctl('group', 'show', 'media').stdout)

        kv = parse_key_values(r.stdout)
        self.assertEqual(kv['Name'], ['media'])
        self.assertEqual(kv['Id'], [props['Id']])
        self.assertEqual(kv['Object'], [path])
        self.assertEqual(kv['Type'], ['pci'])
        self.assertEqual(kv['Class'], ['media'])
        self.assertEqual(kv['Description'], ['Capture and sound'])
        available = groups.expected_available(self.host, members)
        self.assertEqual(kv['Devices'], ['%d total, %d available' % (len(members), available)])
        self.assertEqual(kv['Rules'], ['1. vendor-id=109e, product-id=036e',
                                       '2. class=040000, class-mask=ff0000'])
        self.assertEqual([line.split('  ')[0] for line in kv['Members']], members)
        for line, address in zip(kv['Members'], members):
            self.member_line_ok(line, address)

        header, rows = parse_table(self.ctl('group', 'list').stdout)
        self.assertEqual(header, GROUP_COLUMNS)
        self.assertEqual(rows, [['media', 'pci', str(len(members)), str(available), '0', '-', 'media', '2']])
        # "group" alone lists
        self.assertEqual(self.ctl('group').stdout, self.ctl('group', 'list').stdout)

    def test_json(self):
        self.ctl('group', 'create', 'capture', '--type=pci', '--rule', 'driver=bttv',
                 '--rule', 'vendor-name="Brook*",numa-node=%d' % self.host.pci_device('0000:05:00.1')['numa_node'])
        path, props = self.group_by_name('capture')
        dev = self.host.pci_device('0000:05:00.1')
        members = self.members('pci', [{'driver': 'bttv'},
                                       {'vendor-name': 'Brook*', 'numa-node': dev['numa_node']}])
        self.assertEqual(members, ['0000:05:00.0', '0000:05:00.1'])

        listed = json.loads(self.ctl('group', 'list', '--json').stdout)
        shown = json.loads(self.ctl('group', 'show', '--json', 'capture').stdout)
        self.assertEqual(listed, [shown])
        self.assertEqual(set(shown), GROUP_KEYS)
        devices = shown.pop('devices')
        self.assertEqual(shown, {
            'name': 'capture', 'id': props['Id'], 'object_path': path, 'type': 'pci',
            'description': None, 'class': None, 'total': 2,
            'available': groups.expected_available(self.host, members),
            'claimed': 0, 'tenant': None, 'parent': None,
            'rules': [{'driver': 'bttv'}, {'vendor-name': 'Brook*', 'numa-node': dev['numa_node']}],
        })
        for got, address in zip(devices, members):
            d = self.host.pci_device(address)
            self.assertEqual(got, {'address': address, 'object_path': hostspec.pci_path(address),
                                   'vendor_name': d['vendor_name'], 'product_name': d['product_name'],
                                   'driver': d['driver'], 'state': hostspec.expected_state(d)})
        self.assertEqual(len(devices), len(members))

        # the devices name their group in list and show
        by_address = {d['address']: d for d in json.loads(self.ctl('list', '--json').stdout)}
        for address, d in by_address.items():
            self.assertEqual(d['resource_group'], 'capture' if address in members else None, address)
        kv = parse_key_values(self.ctl('show', '05:00.0').stdout)
        self.assertEqual(kv['Resource Group'], ['capture'])
        kv = parse_key_values(self.ctl('show', '01:00.0').stdout)
        self.assertEqual(kv['Resource Group'], ['none'])
        self.assertEqual(json.loads(self.ctl('show', '--json', '05:00.1').stdout)['resource_group'],
                         'capture')

    def test_empty_list(self):
        self.assertEqual(self.ctl('group', 'list').stdout, 'No resource groups.\n')
        self.assertEqual(self.ctl('group', 'list', '--no-legend').stdout, '')
        self.assertEqual(json.loads(self.ctl('group', 'list', '--json').stdout), [])

    def test_rule_add_and_remove(self):
        self.ctl('group', 'create', 'nics', '--type=pci', '--rule', 'driver=igb')
        path, props = self.group_by_name('nics')
        self.assertEqual(props['Devices'], [hostspec.pci_path(a) for a in self.members('pci', [{'driver': 'igb'}])])

        r = self.ctl('group', 'rule', 'add', 'nics', 'vendor-id=8086, product-id=0x1572')
        self.assertEqual((r.stdout, r.stderr), ('', ''))
        rules = [{'driver': 'igb'}, {'vendor-id': 0x8086, 'product-id': 0x1572}]
        self.assertEqual(self.typed_rules(path), [{'driver': ('s', 'igb')},
                                                  {'vendor-id': ('q', 0x8086), 'product-id': ('q', 0x1572)}])
        members = self.members('pci', rules)
        self.assertEqual(len(members), 3)
        self.assertEqual(self.props(path)['Devices'], [hostspec.pci_path(a) for a in members])
        self.assertEqual(parse_key_values(self.ctl('group', 'show', 'nics').stdout)['Rules'],
                         ['1. driver=igb', '2. vendor-id=8086, product-id=1572'])

        # a value with a comma and quotes, in quotes; printed so that it can be typed back
        self.ctl('group', 'rule', 'add', 'nics', r'product-name="a,b \"c\"",slot=9')
        self.assertEqual(self.typed_rules(path)[2], {'product-name': ('s', 'a,b "c"'), 'slot': ('s', '9')})
        shown = parse_key_values(self.ctl('group', 'show', 'nics').stdout)['Rules'][2]
        self.assertEqual(shown, r'3. product-name="a,b \"c\"", slot=9')

        # numbered from 1, as show prints them
        self.ctl('group', 'rule', 'remove', 'nics', '1')
        self.assertEqual(self.typed_rules(path), [{'vendor-id': ('q', 0x8086), 'product-id': ('q', 0x1572)},
                                                  {'product-name': ('s', 'a,b "c"'), 'slot': ('s', '9')}])
        self.assertEqual(self.props(path)['Devices'],
                         [hostspec.pci_path(a) for a in self.members('pci', [rules[1]])])

        before = self.snapshot()
        r = self.ctl('group', 'rule', 'remove', 'nics', '3', expect=None)
        self.assertFailure(r, "Resource group 'nics' has 2 rules; there is no rule 3")
        self.assertUnchanged(before, 'removing a rule that is not there')

    def test_update(self):
        self.ctl('group', 'create', 'old', '--type=usb', '--class=usb', '--description=first')
        path, props = self.group_by_name('old')
        self.ctl('group', 'update', 'old', '--name=new', '--description=', '--class=stick')
        props = self.props(path)
        self.assertEqual((props['Name'], props['Description'], props['Class']), ('new', '', 'stick'))
        self.assertFailure(self.ctl('group', 'show', 'old', expect=None), clitest.man_message('no-group', NAME='old'))
        kv = parse_key_values(self.ctl('group', 'show', 'new').stdout)
        self.assertNotIn('Description', kv)
        self.assertEqual(kv['Rules'], ['none'])
        self.assertEqual(kv['Members'], ['none'])

    def test_lookup_by_id_and_delete(self):
        self.ctl('group', 'create', 'doomed', '--type=pci', '--rule', 'driver=bttv')
        path, props = self.group_by_name('doomed')
        self.assertEqual(self.ctl('group', 'show', props['Id']).stdout,
                         self.ctl('group', 'show', 'doomed').stdout)
        self.assertEqual(self.device_group('0000:05:00.0'), path)

        r = self.ctl('group', 'delete', props['Id'])
        self.assertEqual((r.stdout, r.stderr), ('', ''))
        self.assertEqual(self.groups(), {})
        self.assertEqual(self.device_group('0000:05:00.0'), '/')
        self.assertFailure(self.ctl('group', 'delete', 'doomed', expect=None), clitest.man_message('no-group', NAME='doomed'))

    def test_daemon_errors(self):
        self.ctl('group', 'create', 'taken', '--type=pci')
        err = self.call_error(0, hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                              create_args('taken', 'pci'))
        before = self.snapshot()
        self.assertEqual(err.name, 'org.hostdev1.Error.Exists')
        r = self.ctl('group', 'create', 'taken', '--type=pci', expect=None)
        self.assertFailure(r, clitest.man_message('exists', NAME='taken') + r'\n\Z')
        # the same name by update, and for a group made of devices
        self.ctl('group', 'create', 'other', '--type=pci')
        r = self.ctl('group', 'update', 'other', '--name=taken', expect=None)
        self.assertFailure(r, clitest.man_message('exists', NAME='taken') + r'\n\Z')
        r = self.ctl('group', 'create', 'taken', '01:00.0', expect=None)
        self.assertFailure(r, clitest.man_message('exists', NAME='taken') + r'\n\Z')
        before = self.snapshot()
        # a rule the daemon refuses for this type: its detail, after the command
        r = self.ctl('group', 'create', 'sticks', '--type=usb', '--rule', 'class=030000', expect=None)
        self.assertFailure(r, clitest.man_message('invalid', COMMAND='group create') + r'\n\Z')
        self.assertIn('class', r.stderr)
        # a device can be in one group only: the detail names it and the group
        self.ctl('group', 'create', 'cards', '--type=pci', '--rule=vendor-id=10de')
        before = self.snapshot()
        r = self.ctl('group', 'create', 'more-cards', '--type=pci', '--rule=vendor-id=10de', expect=None)
        self.assertFailure(r, clitest.man_message('invalid', COMMAND='group create') + r'\n\Z')
        self.assertIn("'cards'", r.stderr)
        self.assertUnchanged(before, 'refused creations')

    def test_unprivileged_create_refused(self):
        args = ['group', 'create', 'mine', '--type=pci', '--rule', 'driver=bttv']
        err = self.call_error(NOBODY, hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                              create_args('mine', 'pci', [{'driver': 'bttv'}]))
        self.assertEqual(err.name, ERR_ACCESS_DENIED)
        before = self.snapshot()
        r = run_as([clitest.paths.cli_binary()] + args, uid=NOBODY, env=self.env())
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, '')
        self.assertRegex(r.stderr, r'\Ahostdevctl: %s\n\Z' % clitest.man_message(
            'not-authorized', COMMAND='group create', ACTIONS=MANAGE_GROUPS))
        self.assertUnchanged(before, 'create as nobody')
        # reading stays open
        r = run_as([clitest.paths.cli_binary(), 'group', 'list', '--json'], uid=NOBODY, env=self.env())
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, []))

    def test_no_ask_password(self):
        """--no-ask-password sends auth.no_user_interaction: polkit answers
        differently for a caller it would have to ask."""
        rules = [{'driver': 'bttv'}]
        asked = self.call_error(NOBODY, hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                                create_args('mine', 'pci', rules))
        not_asked = self.call_error(NOBODY, hostspec.ROOT_PATH, MANAGER, 'CreateResourceGroup',
                                    create_args('mine', 'pci', rules, {'auth.no_user_interaction': True}))
        self.assertNotEqual(clitest.daemon_message(asked), clitest.daemon_message(not_asked))
        before = self.snapshot()
        r = run_as([clitest.paths.cli_binary(), '--no-ask-password', 'group', 'create', 'mine',
                    '--type=pci', '--rule=driver=bttv'], uid=NOBODY, env=self.env())
        self.assertEqual((r.returncode, r.stdout), (1, ''), r.stderr)
        self.assertEqual(not_asked.name, 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired')
        self.assertRegex(r.stderr, r'\Ahostdevctl: %s\n\Z' % clitest.man_message(
            'auth-required', COMMAND='group create', ACTIONS=MANAGE_GROUPS))
        self.assertUnchanged(before, 'create as nobody without asking')
        # root is allowed without being asked
        self.ctl('group', 'create', 'mine', '--type=pci', '--rule=driver=bttv', '--no-ask-password')
        self.group_by_name('mine')


class MakeResourceTest(ResourceCliTestCase):

    def audio_of(self, gpu):
        return gpu[:-1] + '1'

    def companion_line(self, gpu):
        audio = self.audio_of(gpu)
        group = self.host.pci_device(audio)['iommu_group']
        self.assertEqual(group, self.host.pci_device(gpu)['iommu_group'])
        return '%s shares IOMMU group %d with %s; add --include-companions to include it' % (audio, group, gpu)

    def test_two_gpus(self):
        r = self.ctl('group', 'create', 'gpus', '01:00.0', hostspec.pci_path(GPUS[1]), '--class=gpu')
        self.assertEqual(r.stderr, '')
        path, props = self.group_by_name('gpus')
        self.assertEqual(props['Devices'], [hostspec.pci_path(a) for a in GPUS])
        self.assertEqual(props['Class'], 'gpu')

        group_text, companions = r.stdout.split('\n\n')
        self.assertEqual(group_text + '\n', self.ctl('group', 'show', 'gpus').stdout)
        self.assertEqual(companions.splitlines(), [self.companion_line(g) for g in GPUS])

        kv = parse_key_values(group_text)
        self.assertEqual(kv['Devices'], ['2 total, 2 available'])
        self.assertEqual([line.split('  ')[0] for line in kv['Members']], GPUS)
        # a rule per card, by its serial
        self.assertEqual(len(kv['Rules']), 2)
        for gpu in GPUS:
            dev = self.host.pci_device(gpu)
            self.assertTrue(dev['serial'])
            line = [x for x in kv['Rules'] if 'serial=%s' % dev['serial'] in x]
            self.assertEqual(len(line), 1, kv['Rules'])
            self.assertIn('vendor-id=%s' % dev['vendor_id'].lower(), line[0])
            self.assertIn('product-id=%s' % dev['device_id'].lower(), line[0])

    def test_include_companions(self):
        r = self.ctl('group', 'create', 'gpus', *GPUS, '--include-companions', '--description=Two cards')
        self.assertNotIn('--include-companions', r.stdout)
        everything = sorted(GPUS + [self.audio_of(g) for g in GPUS])
        path, props = self.group_by_name('gpus')
        self.assertEqual(props['Devices'], [hostspec.pci_path(a) for a in everything])
        kv = parse_key_values(r.stdout)
        self.assertEqual(kv['Devices'], ['4 total, %d available' % groups.expected_available(self.host, everything)])
        self.assertEqual(kv['Description'], ['Two cards'])
        self.assertEqual([line.split('  ')[0] for line in kv['Members']], everything)

    def test_json(self):
        got = json.loads(self.ctl('group', 'create', '--json', 'gpus', *GPUS).stdout)
        self.assertEqual(set(got), {'group', 'companions'})
        self.assertEqual(got['group'], json.loads(self.ctl('group', 'show', '--json', 'gpus').stdout))
        self.assertEqual([d['address'] for d in got['group']['devices']], GPUS)
        self.assertEqual(got['companions'], [
            {'address': self.audio_of(g), 'object_path': hostspec.pci_path(self.audio_of(g)),
             'iommu_group': self.host.pci_device(g)['iommu_group'], 'shares_with': [g]} for g in GPUS])

    def test_unknown_device(self):
        r = self.ctl('group', 'create', 'gpus', '01:00.0', '0f:00.0', expect=None)
        self.assertFailure(r, clitest.man_message('no-device', ADDRESS='0f:00.0'))
        self.assertEqual(self.groups(), {})


class MakeResourceOldSpellingTest(ResourceCliTestCase):

    def test_same_group_and_a_note(self):
        """make-resource NAME DEVICE... still makes the group, after the note of hostdevctl(1)."""
        r = self.ctl('make-resource', 'gpus', GPUS[0])
        self.assertRegex(r.stderr, r'\A%s\n\Z' % clitest.man_message(
            'deprecated', OLD='make-resource', NEW='group create NAME DEVICE...'))
        self.assertEqual(r.stdout.split('\n\n')[0] + '\n', self.ctl('group', 'show', 'gpus').stdout)


class GroupUsageTest(CliTestCase):
    """Usage errors: exit status 2, one line, and no bus is ever touched."""
    start_daemon = False

    def env(self, **extra):
        return super().env(DBUS_SYSTEM_BUS_ADDRESS='unix:path=/nonexistent/bus', **extra)

    def usage(self, pattern, *args):
        r = self.ctl(*args, expect=None)
        self.assertUsageError(r, pattern)
        return r

    def test_unknown_rule_field(self):
        for args in (['group', 'create', 'x', '--type=pci', '--rule', 'vendor=10de'],
                     ['group', 'rule', 'add', 'x', 'vendor-id=10de,vendor=10de']):
            r = self.usage("Unknown rule field 'vendor'", *args)
            listed = re.search(r'Rule fields are: (.*)\.$', r.stderr.strip()).group(1)
            self.assertEqual(listed.split(', '), RULE_FIELDS)

    def test_bad_values(self):
        for rule, pattern in [('vendor-id=10000', 'Rule field vendor-id: .10000. is not a hexadecimal'),
                              ('product-id=0xg1', 'Rule field product-id'),
                              ('subsystem-id=', 'Rule field subsystem-id'),
                              ('class=100000000', 'Rule field class: '),
                              ('numa-node=one', 'Rule field numa-node'),
                              ('numa-node=99999999999', 'Rule field numa-node'),
                              ('driver=x,driver=y', '.*driver twice'),
                              ('driver', '.*expected FIELD=VALUE'),
                              ('=x', '.*expected FIELD=VALUE'),
                              ('serial="abc', '.*quote is not closed'),
                              ('', 'A rule needs at least one FIELD=VALUE')]:
            with self.subTest(rule=rule):
                self.usage(pattern, 'group', 'create', 'x', '--type=pci', '--rule', rule)
                self.usage(pattern, 'group', 'rule', 'add', 'x', rule)

    def test_create(self):
        self.usage('group create: missing option --type', 'group', 'create', 'x')
        self.usage("Unknown resource group type 'floppy'", 'group', 'create', 'x', '--type=floppy')
        self.usage("Option '--type' given twice", 'group', 'create', 'x', '--type=pci', '--type=usb')
        self.usage('group create: missing argument NAME', 'group', 'create', '--type=pci')
        self.usage("group create: option '--type' does not apply to a group made of devices",
                   'group', 'create', 'x', 'y', '--type=pci')
        self.usage("group create: option '--rule' does not apply to a group made of devices",
                   'group', 'create', 'x', 'y', '--rule=driver=x')
        self.usage("group create: option '--include-companions' needs devices",
                   'group', 'create', 'x', '--type=pci', '--include-companions')

    def test_other_commands(self):
        self.usage('group update: nothing to change', 'group', 'update', 'x')
        for index in ('0', 'one', '1x', '', '+1'):
            self.usage("group rule remove: '%s' is not a rule number" % re.escape(index),
                       'group', 'rule', 'remove', 'x', index)
        self.usage("group rule remove: '-1' is not a rule number", 'group', 'rule', 'remove', '--', 'x', '-1')
        self.usage("Unknown command 'group frob'", 'group', 'frob')
        self.usage("Unknown command 'group rule frob'", 'group', 'rule', 'frob', 'x')
        self.usage('group rule: missing argument', 'group', 'rule')
        self.usage('group show: missing argument NAME', 'group', 'show')
        self.usage('make-resource: missing argument NAME DEVICE', 'make-resource', 'gpus')
        self.usage('group create: missing argument', 'group', 'create')
        self.usage('prepare: missing argument DEVICE', 'prepare')
        self.usage("Option '--rule' needs an argument", 'group', 'create', 'x', '--type=pci', '--rule')

    def test_options_that_do_not_apply(self):
        for command, args, option in [
                ('list', ['list', '--type=pci'], '--type'),
                ('group list', ['group', 'list', '--rule=driver=x'], '--rule'),
                ('group delete', ['group', 'delete', 'x', '--dry-run'], '--dry-run'),
                ('group create', ['group', 'create', 'x', '--type=pci', '--name=y'], '--name'),
                ('release', ['release', '01:00.0', '--override-critical'], '--override-critical'),
                ('prepare', ['prepare', '01:00.0', '--include-companions'], '--include-companions'),
                ('make-resource', ['make-resource', 'g', '01:00.0', '--dry-run'], '--dry-run'),
                ('group create', ['group', 'create', 'g', '01:00.0', '--dry-run'], '--dry-run')]:
            self.usage("%s: option '%s' does not apply" % (command, option), *args)

if __name__ == '__main__':
    clitest.main()
