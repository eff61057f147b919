#!/usr/bin/python3
"""Who may change resource groups: every mutating method asks polkitd
(the real one, reading the project's policy and rules plus the tests'
rules) for org.hostdev1.manage-resource-groups; reading stays open.

The callers (see harness/groups.py):
  nobody (65534)            no rights: refused, and nothing changes
  hostdev-operator (64000)  group "hostdev", allowed by the example rules
  hostdev-rgadmin (64010)   group "hostdev-rgadmins", allowed by a test rules file
  root                      allowed
  hostdev-scoped (64011)    allowed only where the details hostdevd passes
                            name the group "scoped-pool" or the device 0000:05:00.0
  hostdev-capture (64012)   may set the rules of the group "capture" only
                            to rules that take 0000:05:00.0 alone
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from harness import hostspec  # noqa: E402
from harness.groups import (  # noqa: E402
    CAPTURE_ADMIN, CAPTURE_GROUP, DEVICE_IFACE, ERR_ACCESS_DENIED, MANAGER, NOBODY, OPERATOR,
    RG_ADMIN, RG_IFACE, ROOT, SCOPED, SCOPED_DEVICE, SCOPED_GROUP, GroupsTestCase,
    options_variant)

from gi.repository import Gio, GLib  # noqa: E402

ERR_INTERACTIVE = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'

# Each allowed caller gets its own devices, so that the groups they make
# never compete for one (00:17.0 SATA, 07:00.0 NVMe, 05:00.0 capture card).
ALLOWED = [
    (OPERATOR, 'hostdev-operator (example rules)', 'ahci', '0000:00:17.0'),
    (RG_ADMIN, 'hostdev-rgadmin (test rules)', 'nvme', '0000:07:00.0'),
    (ROOT, 'root', 'bttv', '0000:05:00.0'),
]


class AuthorizationTest(GroupsTestCase):

    def test_create_resource_group(self):
        """nobody cannot create a group; the operator, a member of
        hostdev-rgadmins and root each create one, which holds the
        devices its rule names."""
        self.refused('CreateResourceGroup as nobody',
                     lambda: self.create('nobody-pool', rules=[{'driver': 'bttv'}], caller=NOBODY))
        for caller, who, driver, address in ALLOWED:
            with self.subTest(caller=who):
                path = self.create('pool-%d' % caller, rules=[{'driver': driver}],
                                   caller=caller, description='made by ' + who)
                props = self.props(path)
                self.assertEqual(props['Name'], 'pool-%d' % caller)
                self.assertEqual(props['Description'], 'made by ' + who)
                self.assertEqual(props['Rules'], [{'driver': driver}])
                self.assertEqual(props['Devices'], [self.dev_path(address)])

    def test_make_resource(self):
        """nobody cannot make a resource of the capture card; each allowed
        caller makes one of its own device."""
        self.refused('MakeResource as nobody',
                     lambda: self.make_resource(['0000:05:00.0'], 'nobody-capture', caller=NOBODY))
        for caller, who, _driver, address in ALLOWED:
            with self.subTest(caller=who):
                path, _companions = self.make_resource([address], 'made-%d' % caller,
                                                       caller=caller)
                self.assertEqual(self.props(path)['Devices'], [self.dev_path(address)])
                self.assertEqual(self.device_group(address), path)

    def test_update(self):
        """nobody cannot rename a group; each allowed caller changes one
        of name, description and class in turn."""
        path = self.create('capture', rules=[{'driver': 'bttv'}])
        self.refused('Update as nobody', lambda: self.update(path, caller=NOBODY, name='taken-over'))
        changes = [{'name': 'renamed-by-operator'}, {'description': 'described by rgadmin'},
                   {'class': 'video'}]
        expected = self.props(path)
        for (caller, who, _d, _a), change in zip(ALLOWED, changes):
            with self.subTest(caller=who):
                self.update(path, caller=caller, **change)
                expected.update({k.capitalize(): v for k, v in change.items()})
                self.assertEqual(self.props(path), expected)

    def test_set_rules(self):
        """nobody cannot point a group at other devices; each allowed
        caller sets the rules to its own device, which the group then holds."""
        path = self.create('moving', rules=[{'driver': 'i801_smbus'}])
        self.refused('SetRules as nobody',
                     lambda: self.set_rules(path, [{'driver': 'bttv'}], caller=NOBODY))
        for caller, who, driver, address in ALLOWED:
            with self.subTest(caller=who):
                self.set_rules(path, [{'driver': driver}], caller=caller)
                props = self.props(path)
                self.assertEqual(props['Rules'], [{'driver': driver}])
                self.assertEqual(props['Devices'], [self.dev_path(address)])
                self.assertEqual(self.device_group(address), path)

    def test_delete(self):
        """nobody cannot delete a group; each allowed caller deletes one,
        and its device belongs to no group afterwards."""
        paths = {}
        for caller, who, driver, _address in ALLOWED:
            paths[caller] = self.create('doomed-%d' % caller, rules=[{'driver': driver}])
        self.refused('Delete as nobody', lambda: self.delete(paths[ROOT], caller=NOBODY))
        for caller, who, _driver, address in ALLOWED:
            with self.subTest(caller=who):
                self.delete(paths[caller], caller=caller)
                self.assertNotIn(paths[caller], self.groups())
                self.assertEqual(self.device_group(address), hostspec.NO_OBJECT)

    def test_no_user_interaction(self):
        """With auth.no_user_interaction, nobody is told that interactive
        authorization would be needed (an administrator could authorize
        it), and nothing changes; the operator, whom the rules allow
        without asking, is not affected."""
        path = self.create('capture', rules=[{'driver': 'bttv'}])
        self.refused('Update as nobody without interaction',
                     lambda: self.update(path, caller=NOBODY, name='taken-over',
                                         **{'auth.no_user_interaction': True}),
                     'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired')
        self.update(path, caller=OPERATOR, name='renamed',
                    **{'auth.no_user_interaction': True})
        self.assertEqual(self.props(path)['Name'], 'renamed')

    def test_interaction_needs_the_header_flag(self):
        """A call without the D-Bus ALLOW_INTERACTIVE_AUTHORIZATION flag
        forbids interaction: nobody, whom only an administrator's password
        could authorize, is told InteractiveAuthorizationRequired; with the
        flag polkitd could ask (no agent here), so the answer is
        AccessDenied. Nothing changes either way."""
        path = self.create('capture', rules=[{'driver': 'bttv'}])
        self.refused('Update as nobody without the header flag',
                     lambda: self.call(NOBODY, path, RG_IFACE, 'Update', GLib.Variant.new_tuple(
                         options_variant({'name': 'taken-over'})), interactive=False),
                     ERR_INTERACTIVE)
        self.refused('Update as nobody with the header flag',
                     lambda: self.call(NOBODY, path, RG_IFACE, 'Update', GLib.Variant.new_tuple(
                         options_variant({'name': 'taken-over'})), interactive=True))
        # the operator, whom the rules allow without asking, needs neither
        self.call(OPERATOR, path, RG_IFACE, 'Update', GLib.Variant.new_tuple(
            options_variant({'name': 'renamed'})), interactive=False)
        self.assertEqual(self.props(path)['Name'], 'renamed')

    def test_deny_by_default(self):
        """What no table allows is refused before any handler runs, for
        root too: writing a property (every one is read-only), and a call
        without an interface name that could reach a guarded method."""
        path = self.create('capture', rules=[{'driver': 'bttv'}])
        before = self.snapshot()
        for caller in (ROOT, NOBODY):
            with self.subTest(caller=caller):
                err = self.call_error(caller, path, 'org.freedesktop.DBus.Properties', 'Set',
                                      GLib.Variant('(ssv)', (RG_IFACE, 'Name', GLib.Variant('s', 'x'))))
                self.assertEqual(err.name, ERR_ACCESS_DENIED, err.message)
        msg = Gio.DBusMessage.new_method_call(hostspec.BUS_NAME, path, None, 'Delete')
        msg.set_body(GLib.Variant.new_tuple(options_variant({})))
        reply, _serial = self.client.conn.send_message_with_reply_sync(
            msg, Gio.DBusSendMessageFlags.NONE, 10000, None)
        self.assertEqual(reply.get_message_type(), Gio.DBusMessageType.ERROR)
        self.assertEqual(reply.get_error_name(), ERR_ACCESS_DENIED)
        self.assertUnchanged(before, 'refused calls')
        self.assertIn(path, self.groups())

    def test_reading_is_open_to_nobody(self):
        """Everything a group publishes can be read by nobody: the object
        list, the group's properties, a device's group, device look-up,
        introspection."""
        path = self.create('readable', rules=[{'vendor-id': 0x10de, 'product-id': 0x2206}],
                           description='two GPUs', **{'class': 'gpu'})
        as_root = self.props(path)

        objs = self.call(NOBODY, hostspec.ROOT_PATH, 'org.freedesktop.DBus.ObjectManager',
                         'GetManagedObjects')[0]
        self.assertEqual(objs[path][RG_IFACE], as_root)
        props = self.call(NOBODY, path, 'org.freedesktop.DBus.Properties', 'GetAll',
                          GLib.Variant('(s)', (RG_IFACE,)))[0]
        self.assertEqual(props, as_root)
        rules = self.call(NOBODY, path, 'org.freedesktop.DBus.Properties', 'Get',
                          GLib.Variant('(ss)', (RG_IFACE, 'Rules')))[0]
        self.assertEqual(rules, [{'vendor-id': 0x10de, 'product-id': 0x2206}])
        gpu = self.dev_path('0000:01:00.0')
        owner = self.call(NOBODY, gpu, 'org.freedesktop.DBus.Properties', 'Get',
                          GLib.Variant('(ss)', (DEVICE_IFACE, 'ResourceGroup')))[0]
        self.assertEqual(owner, path)
        found = self.call(NOBODY, hostspec.ROOT_PATH, MANAGER, 'GetDevice',
                          GLib.Variant('(s)', ('01:00.0',)))[0]
        self.assertEqual(found, gpu)
        xml = self.call(NOBODY, path, 'org.freedesktop.DBus.Introspectable', 'Introspect')[0]
        self.assertIn('org.hostdev1.ResourceGroup', xml)


class ScopedAuthorizationTest(GroupsTestCase):
    """The test rules let hostdev-scoped act on the group named
    "scoped-pool" only, or make a resource of 0000:05:00.0 only: this
    works only if hostdevd passes the group and the devices as polkit
    details, as polkit/org.hostdev1.policy says it does."""

    def test_group_detail(self):
        """The group named in the details decides: hostdev-scoped creates,
        changes and deletes "scoped-pool" but no other group."""
        other = self.create('other-pool', rules=[{'driver': 'nvme'}])

        self.refused('CreateResourceGroup "not-mine" as hostdev-scoped',
                     lambda: self.create('not-mine', caller=SCOPED))

        mine = self.create(SCOPED_GROUP, rules=[{'driver': 'ahci'}], caller=SCOPED)
        self.update(mine, caller=SCOPED, description='mine')
        self.set_rules(mine, [{'driver': 'ahci'}, {'driver': 'mei_me'}], caller=SCOPED)
        props = self.props(mine)
        self.assertEqual(props['Description'], 'mine')
        self.assertEqual(props['Devices'], [self.dev_path('0000:00:16.0'),
                                            self.dev_path('0000:00:17.0')])

        self.refused('Update of other-pool as hostdev-scoped',
                     lambda: self.update(other, caller=SCOPED, description='taken'))
        self.refused('SetRules of other-pool as hostdev-scoped',
                     lambda: self.set_rules(other, [{'driver': 'igb'}], caller=SCOPED))
        self.refused('Delete of other-pool as hostdev-scoped',
                     lambda: self.delete(other, caller=SCOPED))

        self.delete(mine, caller=SCOPED)
        self.assertNotIn(mine, self.groups())

    def test_rename_cannot_walk_around_a_name_rule(self):
        """hostdev-scoped may manage "scoped-pool" only. Creating it, taking
        the GPUs and renaming it "gpu-pool" is refused, because a rename
        is asked about under the new name too (D3); renaming another group
        to "scoped-pool" is refused under its old name."""
        mine = self.create(SCOPED_GROUP, caller=SCOPED)
        self.set_rules(mine, [{'driver': 'nouveau'}], caller=SCOPED)
        self.refused('renaming scoped-pool to gpu-pool as hostdev-scoped',
                     lambda: self.update(mine, caller=SCOPED, name='gpu-pool'))
        self.assertEqual(self.props(mine)['Name'], SCOPED_GROUP)

        other = self.create('other-pool', rules=[{'driver': 'nvme'}])
        self.delete(mine, caller=SCOPED)
        self.refused('renaming other-pool to scoped-pool as hostdev-scoped',
                     lambda: self.update(other, caller=SCOPED, name=SCOPED_GROUP))
        self.assertEqual(self.props(other)['Name'], 'other-pool')
        # root may rename either way
        self.update(other, name='gpu-pool')
        self.assertEqual(self.props(other)['Name'], 'gpu-pool')

    def test_set_rules_details(self):
        """SetRules passes the group (id and name) and the devices the new
        rules take: hostdev-capture may point "capture" at the capture card
        alone, not at another device, and may not change another group."""
        not_mine = self.create('not-capture', rules=[{'driver': 'nvme'}])
        capture = self.create(CAPTURE_GROUP, rules=[{'driver': 'mei_me'}])
        self.refused('SetRules of not-capture as hostdev-capture',
                     lambda: self.set_rules(not_mine, [{'driver': 'bttv'}], caller=CAPTURE_ADMIN))
        self.refused('SetRules of capture to the SATA controller as hostdev-capture',
                     lambda: self.set_rules(capture, [{'driver': 'ahci'}], caller=CAPTURE_ADMIN))
        self.refused('SetRules of capture to both capture functions as hostdev-capture',
                     lambda: self.set_rules(capture, [{'address': '0000:05:00.*'}], caller=CAPTURE_ADMIN))
        self.set_rules(capture, [{'driver': 'bttv'}], caller=CAPTURE_ADMIN)
        self.assertEqual(self.props(capture)['Devices'], [self.dev_path(SCOPED_DEVICE)])

    def test_device_detail(self):
        """The devices named in the details decide: hostdev-scoped makes a
        resource of the capture card 0000:05:00.0, not of a GPU."""
        self.refused('MakeResource of a GPU as hostdev-scoped',
                     lambda: self.make_resource(['0000:01:00.0'], 'gpu', caller=SCOPED))

        path, _ = self.make_resource([SCOPED_DEVICE], 'capture', caller=SCOPED)
        self.assertEqual(self.props(path)['Devices'], [self.dev_path(SCOPED_DEVICE)])


if __name__ == '__main__':
    harness.main()
