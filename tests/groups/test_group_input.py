#!/usr/bin/python3
"""Bad input to every method that changes groups: each is refused with a
named error whose message says what is wrong (naming the field or option
where there is one), and nothing changes - not the groups, not the
memberships, not a byte of the store file.

Two groups exist throughout: "existing" (the capture card, driver bttv)
and "other" (the SATA controller, driver ahci).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.groups import (  # noqa: E402
    ERR_EXISTS, ERR_INVALID, ERR_NOT_FOUND, MANAGER, RG_IFACE, GroupsTestCase, make_args,
    options_variant, rule_variants)

from gi.repository import GLib  # noqa: E402

BAD_NAMES = [
    ('empty', ''),
    ('10 KiB', 'n' * 10240),
    ('129 bytes', 'n' * 129),
    ('a newline', 'two\nlines'),
    ('a tab', 'tab\there'),
    ('an escape', 'esc\x1b[31mred'),
    ('DEL', 'del\x7f'),
    ('a C1 control', 'c1\u0085next'),
]

# (story, group type, rule, word the message must name)
BAD_RULES = [
    ('an unknown field', 'pci', {'colour': 'red'}, 'colour'),
    ('vendor-id as a string', 'pci', {'vendor-id': GLib.Variant('s', '10de')}, 'vendor-id'),
    ('vendor-id as uint32', 'pci', {'vendor-id': GLib.Variant('u', 0x10de)}, 'vendor-id'),
    ('class as uint16', 'pci', {'class': GLib.Variant('q', 3)}, 'class'),
    ('numa-node as uint16', 'pci', {'numa-node': GLib.Variant('q', 1)}, 'numa-node'),
    ('address as a number', 'pci', {'address': GLib.Variant('i', 1)}, 'address'),
    ('a value that is an array', 'pci', {'vendor-id': GLib.Variant('aq', [1, 2])}, 'vendor-id'),
    ('an empty rule', 'pci', {}, 'rule'),
    ('port-path in a pci group', 'pci', {'port-path': '1-1'}, 'port-path'),
    ('physical-function in a pci group', 'pci', {'physical-function': '0000:03:00.0'},
     'physical-function'),
    ('a PCI class code in a usb group', 'usb', {'class': 0x030000}, 'class'),
    ('a USB class above 0xff', 'usb', {'class': 0x100}, 'class'),
    ('class-mask in a usb group', 'usb', {'class': 0x03, 'class-mask': 0xff}, 'class-mask'),
    ('address in a usb group', 'usb', {'address': '0000:01:00.0'}, 'address'),
    ('a malformed address', 'pci', {'address': 'zz:zz.z'}, 'address'),
    ('an address with a command in it', 'pci', {'address': '0000:01:00.0; rm -rf /'}, 'address'),
    ('a malformed port-path', 'usb', {'port-path': 'abc'}, 'port-path'),
    ('a physical-function that is no address', 'sriov-nic', {'physical-function': 'eth0'},
     'physical-function'),
    ('class beyond 24 bits', 'pci', {'class': 0x1000000}, 'class'),
    ('class-mask 0', 'pci', {'class': 0x030000, 'class-mask': 0}, 'class-mask'),
    ('class-mask without class', 'pci', {'class-mask': 0xff0000}, 'class-mask'),
    ('numa-node -2', 'pci', {'numa-node': -2}, 'numa-node'),
    ('numa-node 5000', 'pci', {'numa-node': 5000}, 'numa-node'),
    ('an empty serial', 'pci', {'serial': ''}, 'serial'),
    ('a 300-byte driver', 'pci', {'driver': 'd' * 300}, 'driver'),
    ('a vendor-name with a control character', 'pci', {'vendor-name': 'NV\x07IDIA'},
     'vendor-name'),
]


class BadInputTest(GroupsTestCase):

    def setUp(self):
        super().setUp()
        self.existing = self.create('existing', rules=[{'driver': 'bttv'}])
        self.other = self.create('other', rules=[{'driver': 'ahci'}])

    def bad(self, what, path, interface, method, params, error, *words):
        """One bad call: refused with `error` naming `words`, nothing changed."""
        err = self.refused(what, lambda: self.client.call(path, interface, method, params),
                           error)
        if err is not None:
            with self.subTest(what=what, check='message'):
                self.assertCallError(err, error, *words)

    def create_bad(self, what, name, group_type, options, error, *words):
        self.bad('CreateResourceGroup with ' + what, hostspec.ROOT_PATH, MANAGER,
                 'CreateResourceGroup',
                 GLib.Variant('(ssa{sv})', (name, group_type, options)), error, *words)

    # --- CreateResourceGroup -----------------------------------------------
    def test_create_bad_names(self):
        """Names that are empty, too long, or hold control characters."""
        for what, name in BAD_NAMES:
            self.create_bad('a name with ' + what, name, 'pci', {}, ERR_INVALID, 'name')

    def test_create_longest_name(self):
        """128 bytes is the longest name, in bytes, not characters."""
        path = self.create('n' * 128)
        self.assertEqual(self.props(path)['Name'], 'n' * 128)
        self.create_bad('a 130-byte name of 65 characters', 'ü' * 65, 'pci', {}, ERR_INVALID,
                        'name')

    def test_create_duplicate_name(self):
        """A name another group has: Exists, naming it."""
        self.create_bad('a taken name', 'existing', 'pci', {}, ERR_EXISTS, 'existing')

    def test_create_bad_types(self):
        """Types that are not pci, usb, sriov-nic or vgpu."""
        for t in ('gpu', '', 'PCI', 'pci ', 'usb\n'):
            self.create_bad('type %r' % t, 'new', t, {}, ERR_INVALID, 'type')

    def test_create_bad_options(self):
        """Unknown options, options of the wrong type, bad text."""
        cases = [
            ('an unknown option', {'colour': GLib.Variant('s', 'red')}, 'colour'),
            ('a misspelt option', {'descripton': GLib.Variant('s', 'x')}, 'descripton'),
            ('description as a number', {'description': GLib.Variant('i', 5)}, 'description'),
            ('class as a boolean', {'class': GLib.Variant('b', True)}, 'class'),
            ('rules as a string', {'rules': GLib.Variant('s', 'vendor-id=10de')}, 'rules'),
            ('auth.no_user_interaction as a string',
             {'auth.no_user_interaction': GLib.Variant('s', 'yes')}, 'auth.no_user_interaction'),
            ('a 1025-byte description', {'description': GLib.Variant('s', 'd' * 1025)},
             'description'),
            ('a description with a control character',
             {'description': GLib.Variant('s', 'bell\x07')}, 'description'),
            ('a class with a newline', {'class': GLib.Variant('s', 'g\npu')}, 'class'),
            ('MakeResource\'s include-companions',
             {'include-companions': GLib.Variant('b', True)}, 'include-companions'),
        ]
        for what, options, word in cases:
            self.create_bad(what, 'new', 'pci', options, ERR_INVALID, word)

    def test_create_bad_rules(self):
        """Every kind of bad rule, each alone and after a good one."""
        for what, group_type, rule, word in BAD_RULES:
            for rules in ([rule], [{'driver': 'nvme'}, rule]):
                options = {'rules': GLib.Variant('aa{sv}', [rule_variants(r) for r in rules])}
                self.create_bad('%s (%d rules)' % (what, len(rules)), 'new', group_type,
                                options, ERR_INVALID, word)

    def test_create_field_given_twice(self):
        """A rule with the same field twice (a{sv} allows it on the wire)."""
        rules = GLib.Variant.parse(GLib.VariantType('aa{sv}'),
                                   "[{'vendor-id': <uint16 4318>, 'vendor-id': <uint16 4098>}]",
                                   None, None)
        self.create_bad('vendor-id twice in a rule', 'new', 'pci', {'rules': rules},
                        ERR_INVALID, 'vendor-id')

    def test_create_wrong_arguments(self):
        """Arguments of the wrong types or number."""
        for what, params in [
                ('no options', GLib.Variant('(ss)', ('new', 'pci'))),
                ('a number for the type', GLib.Variant('(sia{sv})', ('new', 1, {}))),
                ('options as a{ss}', GLib.Variant('(ssa{ss})', ('new', 'pci', {'a': 'b'}))),
                ('nothing', None)]:
            self.bad('CreateResourceGroup with ' + what, hostspec.ROOT_PATH, MANAGER,
                     'CreateResourceGroup', params, ERR_INVALID)

    # --- MakeResource ------------------------------------------------------
    def make_bad(self, what, devices, name, options, error, *words):
        self.bad('MakeResource with ' + what, hostspec.ROOT_PATH, MANAGER, 'MakeResource',
                 make_args(devices, name, options), error, *words)

    def test_make_bad_devices(self):
        """No devices, devices that do not exist, objects that are not
        devices, one device twice, a bridge, USB with PCI."""
        gpu = self.dev_path('0000:01:00.0')
        missing = hostspec.pci_path('0000:0f:00.0')
        self.make_bad('no devices', [], 'new', {}, ERR_INVALID)
        self.make_bad('a device that is not there', [missing], 'new', {}, ERR_NOT_FOUND,
                      missing)
        self.make_bad('a present and a missing device', [gpu, missing], 'new', {},
                      ERR_NOT_FOUND, missing)
        self.make_bad('an IOMMU group', [hostspec.group_path(12)], 'new', {}, ERR_NOT_FOUND)
        self.make_bad('a resource group', [self.other], 'new', {}, ERR_NOT_FOUND)
        self.make_bad('the root object', [hostspec.ROOT_PATH], 'new', {}, ERR_NOT_FOUND)
        self.make_bad('the same device twice', [gpu, gpu], 'new', {}, ERR_INVALID,
                      '0000:01:00.0')
        self.make_bad('a PCI bridge', [self.dev_path('0000:00:01.0')], 'new', {}, ERR_INVALID,
                      '0000:00:01.0')
        self.make_bad('USB and PCI together', [gpu, self.dev_path('2-1')], 'new', {},
                      ERR_INVALID)

    def test_make_bad_names(self):
        """The same bad names as for CreateResourceGroup, and a taken one."""
        gpu = self.dev_path('0000:01:00.0')
        for what, name in BAD_NAMES:
            self.make_bad('a name with ' + what, [gpu], name, {}, ERR_INVALID, 'name')
        self.make_bad('a taken name', [gpu], 'existing', {}, ERR_EXISTS, 'existing')

    def test_make_bad_options(self):
        """Unknown options, options of the wrong type, bad text."""
        gpu = self.dev_path('0000:01:00.0')
        for what, options, word in [
                ('an unknown option', {'colour': GLib.Variant('s', 'red')}, 'colour'),
                ('rules, which it makes itself',
                 {'rules': GLib.Variant('aa{sv}', [{'driver': GLib.Variant('s', 'x')}])}, 'rules'),
                ('include-companions as a string',
                 {'include-companions': GLib.Variant('s', 'yes')}, 'include-companions'),
                ('a 1025-byte description', {'description': GLib.Variant('s', 'd' * 1025)},
                 'description')]:
            self.make_bad(what, [gpu], 'new', options, ERR_INVALID, word)

    def test_make_wrong_arguments(self):
        """Devices must be object paths."""
        self.bad('MakeResource with addresses as strings', hostspec.ROOT_PATH, MANAGER,
                 'MakeResource', GLib.Variant('(assa{sv})', (['0000:01:00.0'], 'new', {})),
                 ERR_INVALID)

    # --- Update --------------------------------------------------------------
    def update_bad(self, what, options, error, *words):
        self.bad('Update with ' + what, self.existing, RG_IFACE, 'Update',
                 GLib.Variant('(a{sv})', (options,)), error, *words)

    def test_update_bad_names(self):
        """Renaming to a bad name, or to the name of the other group."""
        for what, name in BAD_NAMES:
            self.update_bad('a name with ' + what, {'name': GLib.Variant('s', name)},
                            ERR_INVALID, 'name')
        self.update_bad('the name of the other group', {'name': GLib.Variant('s', 'other')},
                        ERR_EXISTS, 'other')

    def test_update_bad_options(self):
        """Unknown options, options Update does not take, bad text; one bad
        option spoils the whole call."""
        for what, options, word in [
                ('an unknown option', {'colour': GLib.Variant('s', 'red')}, 'colour'),
                ('the type, which cannot change', {'type': GLib.Variant('s', 'usb')}, 'type'),
                ('rules, which SetRules sets',
                 {'rules': GLib.Variant('aa{sv}', [{'driver': GLib.Variant('s', 'x')}])}, 'rules'),
                ('the name as a number', {'name': GLib.Variant('i', 1)}, 'name'),
                ('a 1025-byte description', {'description': GLib.Variant('s', 'd' * 1025)},
                 'description'),
                ('a class with a control character', {'class': GLib.Variant('s', 'gpu\x01')},
                 'class'),
                ('a good name and a bad description',
                 {'name': GLib.Variant('s', 'fine'), 'description': GLib.Variant('s', 'd\x1b')},
                 'description')]:
            self.update_bad(what, options, ERR_INVALID, word)

    def test_update_wrong_arguments(self):
        """Update takes a dictionary."""
        self.bad('Update with a string', self.existing, RG_IFACE, 'Update',
                 GLib.Variant('(s)', ('name',)), ERR_INVALID)

    # --- SetRules ------------------------------------------------------------
    def test_set_rules_bad_rules(self):
        """The same bad rules as for CreateResourceGroup, given to SetRules
        of a group of the type each is wrong for."""
        groups = {'pci': self.existing,
                  'usb': self.create('a-usb-group', 'usb', rules=[{'port-path': '1-3.2'}]),
                  'sriov-nic': self.create('a-vf-group', 'sriov-nic',
                                           rules=[{'address': '0000:03:02.0'}])}
        for what, group_type, rule, word in BAD_RULES:
            self.bad('SetRules with ' + what, groups[group_type], RG_IFACE, 'SetRules',
                     GLib.Variant('(aa{sv})', ([rule_variants(rule)],)), ERR_INVALID, word)

    def test_set_rules_wrong_arguments(self):
        """SetRules takes a list of rules, not one rule."""
        self.bad('SetRules with a single rule', self.existing, RG_IFACE, 'SetRules',
                 GLib.Variant('(a{sv})', ({'driver': GLib.Variant('s', 'x')},)), ERR_INVALID)

    def test_too_many_rules(self):
        """Thousands of rules are refused, not stored."""
        rules = [rule_variants({'serial': 'serial-%d' % i}) for i in range(5000)]
        self.bad('SetRules with 5000 rules', self.existing, RG_IFACE, 'SetRules',
                 GLib.Variant('(aa{sv})', (rules,)), ERR_INVALID, 'rules')

    # --- Delete --------------------------------------------------------------
    def test_delete_bad_options(self):
        """Unknown options and options of the wrong type."""
        for what, options, word in [
                ('an unknown option', {'force': GLib.Variant('b', True)}, 'force'),
                ('auth.no_user_interaction as a number',
                 {'auth.no_user_interaction': GLib.Variant('i', 1)}, 'auth.no_user_interaction')]:
            self.bad('Delete with ' + what, self.existing, RG_IFACE, 'Delete',
                     GLib.Variant('(a{sv})', (options,)), ERR_INVALID, word)

    def test_delete_twice(self):
        """The second Delete finds no group: a named error with a message,
        and the first deletion stands."""
        self.delete(self.existing)
        self.assertNotIn(self.existing, self.groups())
        self.bad('a second Delete', self.existing, RG_IFACE, 'Delete',
                 GLib.Variant('(a{sv})', ({},)), ERR_GONE)

    def test_methods_of_a_deleted_group(self):
        """Update and SetRules of a deleted group fail the same way, and
        reading its properties too."""
        self.delete(self.existing)
        self.bad('Update of a deleted group', self.existing, RG_IFACE, 'Update',
                 GLib.Variant.new_tuple(options_variant({'name': 'back'})), ERR_GONE)
        self.bad('SetRules of a deleted group', self.existing, RG_IFACE, 'SetRules',
                 GLib.Variant('(aa{sv})', ([rule_variants({'driver': 'bttv'})],)), ERR_GONE)
        self.bad('reading a deleted group', self.existing, 'org.freedesktop.DBus.Properties',
                 'GetAll', GLib.Variant('(s)', (RG_IFACE,)), ERR_GONE)

    def test_group_that_never_was(self):
        """Delete of a path under resource_group/ that was never a group."""
        path = harness.groups.RG_PREFIX + 'nosuchgroup'
        self.bad('Delete of a group that never existed', path, RG_IFACE, 'Delete',
                 GLib.Variant('(a{sv})', ({},)), ERR_GONE)


# A method call on an object that is not there: the standard error.
ERR_GONE = 'org.freedesktop.DBus.Error.UnknownObject'


if __name__ == '__main__':
    harness.main()
