#!/usr/bin/python3
"""The Cockpit page "Host devices" in a real Chromium, served by a real
cockpit-ws whose bridge talks to the real hostdevd on the simulated host
(private system bus, real polkitd, umockdev testbed, kernel emulator).

Expectations come from data/simhost/host.json, never from the daemon.
The browser side is tests/browser/browser.mjs; every check there waits
with waitForSelector or waitForFunction. Screenshots of the main views go
to $HOSTDEV_SCREENSHOT_DIR (default: the build tree's
tests/browser/screenshots).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import harness  # noqa: E402
from gi.repository import GLib  # noqa: E402
from harness import paths  # noqa: E402
from harness.bus import OPERATOR_UID, OPERATOR_GID, Namespace  # noqa: E402
from harness.case import HostdevTestCase  # noqa: E402
from harness.critical import MountTable, block_devices, host_mounts  # noqa: E402
from harness.groups import expected_available  # noqa: E402
from harness.hostspec import pci_path  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cockpit import Browser, CockpitWs, loopback_up, missing_tools  # noqa: E402

MANAGER = 'org.hostdev1.Manager'
RESOURCE_GROUP = 'org.hostdev1.ResourceGroup'
DEVICE = 'org.hostdev1.Device'
CLAIM = 'org.hostdev1.Claim'
MANAGE_ACTION = 'org.hostdev1.manage-resource-groups'
PAGE = '/cockpit/@localhost/hostdev/index.html'

# A user in group "hostdev" (which the example rules authorize) whom a
# rule of this suite denies managing resource groups.
REFUSED = 'hostdev-refused'
REFUSED_UID = 64010
DENY_RULES = '''// tests/browser: %(user)s may not manage resource groups, whatever
// the later rules say.
polkit.addRule(function(action, subject) {
    if (action.id == "%(action)s" && subject.user == "%(user)s")
        return polkit.Result.NO;
});
''' % {'user': REFUSED, 'action': MANAGE_ACTION}


def build_root():
    return os.environ.get('HOSTDEV_BUILD_ROOT') or paths.BUILD_ROOT


def package_dir():
    return os.environ.get('HOSTDEV_COCKPIT_PACKAGE') or \
        os.path.join(build_root(), 'cockpit', 'hostdev')


def node_modules():
    return os.environ.get('HOSTDEV_NODE_MODULES') or \
        os.path.join(paths.SOURCE_ROOT, 'cockpit', 'node_modules')


def screenshot_dir():
    d = os.environ.get('HOSTDEV_SCREENSHOT_DIR') or \
        os.path.join(build_root(), 'tests', 'browser', 'screenshots')
    os.makedirs(d, exist_ok=True)
    return d


def add_refused_user():
    """Before polkitd starts, so that its first reading of the rules has
    the deny rule."""
    ns = Namespace.get()
    with open(os.path.join(ns.dir, 'passwd'), 'a') as f:
        f.write('%s:x:%d:%d:refused operator:/nonexistent:/usr/sbin/nologin\n'
                % (REFUSED, REFUSED_UID, REFUSED_UID))
    with open(os.path.join(ns.dir, 'group'), 'r') as f:
        groups = f.read()
    groups = groups.replace('hostdev:x:%d:hostdev-operator' % OPERATOR_GID,
                            'hostdev:x:%d:hostdev-operator,%s' % (OPERATOR_GID, REFUSED))
    with open(os.path.join(ns.dir, 'group'), 'w') as f:
        f.write(groups + '%s:x:%d:\n' % (REFUSED, REFUSED_UID))
    ns.add_rules('10-hostdev-browser-deny.rules', DENY_RULES)


class CockpitPage(HostdevTestCase):
    start_daemon = False

    @classmethod
    def setUpClass(cls):
        missing = missing_tools()
        if missing:
            # tools/install-deps installs them; CI runs it, so this fails
            # there rather than skipping
            raise AssertionError('missing: %s (run tools/install-deps)' % ', '.join(missing))
        for p in (package_dir(), os.path.join(node_modules(), 'puppeteer-core')):
            if not os.path.exists(p):
                raise AssertionError('%s is missing: build with -Dcockpit=enabled' % p)
        loopback_up()
        add_refused_user()
        super().setUpClass()

    def setUp(self):
        super().setUp()
        # the host's own mounts (host.json "proc" mounts), so that hostdevd
        # sees which disk the host runs from
        self.mounts = MountTable(self.sim)
        self.daemon.extra_env['HOSTDEV_BIND_TIMEOUT_MSEC'] = '1000'
        self.daemon.start()

    def open_page(self, uid, gid):
        ws = CockpitWs(self.workdir, package_dir(), self.shared.address, uid, gid).start()
        self.addCleanup(ws.stop)
        # Cockpit's menu shows the package as "Host devices"
        self.assertEqual([m['label'] for m in ws.manifest['menu'].values()], ['Host devices'])
        self.ws = ws
        browser = Browser(ws.base + PAGE, screenshot_dir(), node_modules(), self.workdir)
        self.addCleanup(browser.close)
        self.addCleanup(self.print_logs_on_failure, ws, browser)
        self.addCleanup(lambda: sys.stderr.write('steps: %s\n' % ', '.join(
            '%s %.2fs' % t for t in browser.timings)))
        browser.step('open')
        return browser

    def print_logs_on_failure(self, ws, browser):
        if getattr(self, '_outcome', None) and not self._outcome.success:
            sys.stderr.write('----- cockpit-ws -----\n%s\n' % ws.log_text()[-4000:])
            with open(browser.stderr_path, errors='replace') as f:
                sys.stderr.write('----- browser -----\n%s\n' % f.read()[-4000:])

    # --- expectations from host.json ------------------------------------
    def all_addresses(self):
        return [d['address'] for d in self.host.pci] + \
            [d['address'] for d in self.host.published_usb]

    def gpus(self):
        """The passthrough GPUs: VGA functions the firmware did not boot
        from, each with the other functions of its IOMMU group."""
        out = []
        for d in self.host.pci:
            if d['class'].startswith('0300') and not d['boot_vga']:
                out.append([x['address'] for x in self.host.pci
                            if x['iommu_group'] == d['iommu_group']])
        return out

    def boot_disk_controller(self):
        root = [src for src, mp, _fs in host_mounts(self.host) if mp == '/'][0]
        name = root[len('/dev/'):]
        for devname, (address, _devno) in block_devices(self.host).items():
            if name.startswith(devname):
                return address
        self.fail('host.json has no block device for %s' % root)

    def groups_over_dbus(self):
        objects = self.client.managed_objects()
        return {props[RESOURCE_GROUP]['Name']: (path, props[RESOURCE_GROUP])
                for path, props in objects.items() if RESOURCE_GROUP in props}

    def product(self, address):
        return self.host.pci_device(address)['product_name']

    # --- the stories ----------------------------------------------------
    def test_devices_make_resource_and_live_updates(self):
        """The operator sees every device, sorts by IOMMU group, finds the
        boot disk marked critical, makes a resource of the two GPUs, and
        watches hotplug, a driver change and a reboot reason arrive."""
        b = self.open_page(OPERATOR_UID, OPERATOR_GID)
        addresses = self.all_addresses()
        self.assertEqual(b.step('rows', addresses=addresses),
                         len(self.host.pci) + len(self.host.published_usb))
        b.step('screenshot', name='devices')

        gpus = self.gpus()
        self.assertEqual(len(gpus), 2, gpus)
        b.step('sort', column='IOMMU group')
        b.step('ascending', column='IOMMU group')
        b.step('together', sets=gpus)

        disk = self.boot_disk_controller()
        b.step('critical', address=disk, reason='root-filesystem')
        for gpu in gpus:
            b.step('notCritical', address=gpu[0])

        # details: properties, the IOMMU group's members and viability
        first = gpus[0]
        b.step('expand', address=first[0], members=first)
        b.step('screenshot', name='device-details', selector='tbody:has(.device-details)')
        b.step('collapse', address=first[0])

        # the filter narrows the table to what matches
        vendor = self.host.pci_device(first[0])['vendor_name']
        b.step('filter', text=vendor.split()[0],
               addresses=[d['address'] for d in self.host.pci
                          if vendor.split()[0].lower() in ' '.join(
                              str(d.get(k) or '') for k in ('vendor_name', 'product_name', 'class_name')).lower()])
        b.step('filter', text='', addresses=addresses)

        # Make Resource on the two GPUs (their video functions)
        videos = [g[0] for g in gpus]
        audio = [a for g in gpus for a in g[1:]]
        before = self.groups_over_dbus()
        b.step('makeResource', addresses=videos, name='gpus', description='The two RTX 3080',
               klass='gpu')
        b.step('screenshot', name='make-resource')
        rules = b.step('submitMakeResource')
        self.assertTrue(rules)
        b.step('screenshot', name='make-resource-done')
        b.step('closeDialog')
        groups = self.groups_over_dbus()
        self.assertEqual(set(groups) - set(before), {'gpus'})
        path, props = groups['gpus']
        self.assertEqual(props['Type'], 'pci')
        self.assertEqual(props['Class'], 'gpu')
        self.assertEqual(props['Description'], 'The two RTX 3080')
        # with the companions offered (checked by default): both functions of both GPUs
        self.assertEqual(sorted(props['Devices']), sorted(pci_path(a) for a in videos + audio))
        self.assertEqual(len(props['Rules']), len(videos + audio))
        for a in videos + audio:
            b.step('cell', address=a, column='Resource group', text='gpus')

        # Resource groups view; Prepare shows the dry-run plan first
        b.step('tab', name='groups')
        b.step('group', name='gpus', members=videos + audio)
        members = videos + audio
        total = len(members)
        free = expected_available(self.host, members)
        b.step('claims', name='gpus', total=total, available=free, claimed=0, consumers=[])

        # a claim made over D-Bus (no driver moves) appears with its
        # consumer, and the counts follow; released, it goes away
        claim = self.client.call(path, RESOURCE_GROUP, 'Claim', GLib.Variant(
            '(sua{sv})', ('vm-test-1', 1, {'prepare': GLib.Variant('b', False)})))[0]
        claimed = self.client.get(claim, CLAIM, 'Devices')
        # one member: one GPU's IOMMU group, both of its functions
        self.assertIn(sorted(claimed), [sorted(pci_path(a) for a in g) for g in gpus])
        b.step('claims', name='gpus', total=total, available=free - 1, claimed=1,
               consumers=['vm-test-1'], devices=[a for g in gpus for a in g if pci_path(a) in claimed])
        b.step('screenshot', name='resource-groups')
        self.client.call(claim, CLAIM, 'Release', GLib.Variant('(a{sv})', ({},)))
        b.step('claims', name='gpus', total=total, available=free, claimed=0, consumers=[])

        # rules: removing the one that finds the second GPU's audio
        # function lets it go; a rule by address brings it back
        second_audio = gpus[1][1]
        spec = self.host.pci_device(second_audio)
        b.step('removeRule', name='gpus', words=[spec['device_id'], spec['serial']],
               count=len(videos + audio) - 1)
        self.wait_until(lambda: pci_path(second_audio) not in
                        self.client.get(path, RESOURCE_GROUP, 'Devices'),
                        what='%s to leave the group' % second_audio)
        b.step('members', name='gpus', addresses=[a for a in videos + audio if a != second_audio])
        b.step('addRule', name='gpus', field='address', value=second_audio,
               count=len(videos + audio))
        self.wait_until(lambda: pci_path(second_audio) in
                        self.client.get(path, RESOURCE_GROUP, 'Devices'),
                        what='%s to join the group again' % second_audio)
        b.step('members', name='gpus', addresses=videos + audio)
        host_bound = [a for a in videos + audio
                      if not (self.host.pci_device(a)['driver'] or '').startswith('vfio')]
        b.step('preparePlan', name='gpus', addresses=host_bound)
        b.step('screenshot', name='prepare-plan')
        for a in host_bound:   # the dry run changed nothing
            self.assertEqual(self.sim.driver_of(a), self.host.pci_device(a)['driver'])
        b.step('confirmPlan')
        b.step('closeDialog')
        for a in videos + audio:
            self.assertEqual(self.sim.driver_of(a), 'vfio-pci')
        b.step('tab', name='devices')
        for a in host_bound:
            b.step('cell', address=a, column='Driver', text='vfio-pci')
            b.step('cell', address=a, column='State', text='prepared')

        # hot-adding a device adds its row within 2 s
        gpu3 = self.host.data['hotplug']['gpu3']['pci']
        self.sim.add_pci_devices(gpu3)
        for d in gpu3:
            b.step('appears', address=d['address'], within=2000)
        stick = dict(self.host.usb_device('2-1'))
        stick.update(address='1-3.1', parent='1-3', busnum=1, devnum=5, devpath='3.1',
                     serial='4C530001231122334455', devnode='/dev/bus/usb/001/005',
                     interfaces=[dict(stick['interfaces'][0], name='1-3.1:1.0')])
        self.sim.add_usb(stick)
        b.step('appears', address='1-3.1', within=2000)

        # Make Resource into the existing group: the new GPU, its audio
        # function offered as a companion
        b.step('makeResourceExisting', addresses=[gpu3[0]['address']], path=path)
        self.assertTrue(b.step('submitMakeResource'))
        b.step('closeDialog')
        self.assertEqual(sorted(self.client.get(path, RESOURCE_GROUP, 'Devices')),
                         sorted(pci_path(a) for a in videos + audio + [d['address'] for d in gpu3]))
        for d in gpu3:
            b.step('cell', address=d['address'], column='Resource group', text='gpus')
        self.sim.remove_usb('1-3.1')
        b.step('gone', address='1-3.1')

        # unbinding a driver updates its cell
        nic = [d for d in self.host.pci if d['class'].startswith('02') and d['driver']
               and not d.get('physfn') and d['address'] != disk][0]
        b.step('cell', address=nic['address'], column='Driver', text=nic['driver'])
        self.write_sysfs('/sys/bus/pci/drivers/%s/unbind' % nic['driver'], nic['address'])
        b.step('cell', address=nic['address'], column='Driver', text='')

        # a reboot reason makes the banner appear: the new GPU's driver
        # does not let go within the bind timeout
        b.step('noBanner')
        stuck = gpu3[0]['address']
        self.kernel.faults['unbind-hangs'].add(stuck)
        err = self.client.call_error('/org/hostdev1', MANAGER, 'Prepare',
                                     self.prepare_args([pci_path(stuck)]))
        self.assertEqual(err.name, 'org.hostdev1.Error.Failed')
        b.step('banner', words=[stuck])
        b.step('screenshot', name='reboot-banner')
        b.step('tab', name='status')
        b.step('status', words=['IOMMU', 'on', 'required', disk])
        b.step('screenshot', name='host-status')

        # deleting the group (after a confirmation) frees its devices
        b.step('tab', name='groups')
        b.step('deleteGroup', name='gpus')
        self.assertNotIn('gpus', self.groups_over_dbus())
        b.step('tab', name='devices')
        for a in videos + audio:
            b.step('cell', address=a, column='Resource group', text='')
        self.assertEqual(b.step('problems'), [])
        self.kernel.faults['unbind-hangs'].discard(stuck)

    def prepare_args(self, devices):
        return GLib.Variant('(aoa{sv})', (devices, {}))

    def test_refused_make_resource(self):
        """A user whom polkit refuses: Make Resource says which permission
        is missing, and no group is made."""
        b = self.open_page(REFUSED_UID, REFUSED_UID)
        gpus = self.gpus()
        before = self.groups_over_dbus()
        b.step('makeResource', addresses=[gpus[0][0]], name='not-allowed')
        text = b.step('makeResourceRefused', words=['Not permitted', MANAGE_ACTION])
        self.assertIn('manage resource groups', text)
        b.step('screenshot', name='refused')
        self.assertEqual(self.groups_over_dbus(), before)
        dev = self.client.get_all(pci_path(gpus[0][0]), DEVICE)
        self.assertEqual(dev['ResourceGroup'], '/')
        self.assertEqual(b.step('problems'), [])

        # the same page in Cockpit's shell, under "Host devices" in its menu
        b.step('shell', shellUrl=self.ws.base + '/hostdev')
        b.step('screenshot', name='cockpit-shell')


if __name__ == '__main__':
    harness.main()
