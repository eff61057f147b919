"""D-Bus client side of the tests: calls, properties, errors, signals."""

import subprocess
import time

from gi.repository import Gio, GLib

from . import hostspec

PROPS = 'org.freedesktop.DBus.Properties'
OBJMGR = 'org.freedesktop.DBus.ObjectManager'
INTROSPECTABLE = 'org.freedesktop.DBus.Introspectable'


class CallError(Exception):
    def __init__(self, name, message):
        super().__init__('%s: %s' % (name, message))
        self.name = name
        self.message = message


class Client:
    """A connection to the private system bus, as some local program."""

    def __init__(self, address):
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)

    def close(self):
        if self.conn and not self.conn.is_closed():
            self.conn.close_sync(None)

    def call(self, path, interface, method, params=None, dest=hostspec.BUS_NAME,
             reply_type=None, timeout=20):
        """Call a method; returns the unpacked reply tuple. Raises CallError."""
        try:
            reply = self.conn.call_sync(dest, path, interface, method, params,
                                        GLib.VariantType(reply_type) if reply_type else None,
                                        Gio.DBusCallFlags.NO_AUTO_START, int(timeout * 1000), None)
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e) or 'GLib.Error:%s:%d' % (e.domain, e.code)
            Gio.DBusError.strip_remote_error(e)
            raise CallError(name, e.message) from None
        return reply.unpack() if reply is not None else ()

    def call_error(self, path, interface, method, params=None, **kw):
        """Call a method that must fail; returns the CallError."""
        try:
            reply = self.call(path, interface, method, params, **kw)
        except CallError as e:
            return e
        raise AssertionError('%s.%s on %s succeeded (%r), expected an error'
                             % (interface, method, path, reply))

    # --- bus daemon ----------------------------------------------------
    def name_has_owner(self, name):
        return self.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameHasOwner',
                         GLib.Variant('(s)', (name,)), dest='org.freedesktop.DBus')[0]

    def name_owner(self, name):
        return self.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetNameOwner',
                         GLib.Variant('(s)', (name,)), dest='org.freedesktop.DBus')[0]

    # --- hostdevd --------------------------------------------------------
    def managed_objects(self):
        return self.call(hostspec.ROOT_PATH, OBJMGR, 'GetManagedObjects')[0]

    def get_all(self, path, interface):
        return self.call(path, PROPS, 'GetAll', GLib.Variant('(s)', (interface,)))[0]

    def get(self, path, interface, name):
        return self.call(path, PROPS, 'Get', GLib.Variant('(ss)', (interface, name)))[0]

    def introspect(self, path):
        return self.call(path, INTROSPECTABLE, 'Introspect')[0]

    def get_device(self, address):
        return self.call(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'GetDevice',
                         GLib.Variant('(s)', (address,)))[0]

    def ping(self):
        """A cheap call proving the daemon still serves."""
        return self.get(hostspec.ROOT_PATH, 'org.hostdev1.Manager', 'Version')


class SignalRecorder:
    """Records the ObjectManager and PropertiesChanged signals of one
    sender, in the order they arrive, as dicts:

      {'signal': 'InterfacesAdded', 'path': p, 'interfaces': {iface: {prop: v}}}
      {'signal': 'InterfacesRemoved', 'path': p, 'interfaces': [iface, ...]}
      {'signal': 'PropertiesChanged', 'path': p, 'interface': i,
       'changed': {prop: v}, 'invalidated': [prop, ...]}
    """

    def __init__(self, client, sender):
        self.conn = client.conn
        self.events = []
        self._subs = []
        for iface, member in ((OBJMGR, 'InterfacesAdded'), (OBJMGR, 'InterfacesRemoved'),
                              (PROPS, 'PropertiesChanged')):
            self._subs.append(self.conn.signal_subscribe(
                sender, iface, member, None, None, Gio.DBusSignalFlags.NONE, self._on_signal))
        # a round trip to the bus makes sure the match rules are in place
        client.name_has_owner(hostspec.BUS_NAME)

    def _on_signal(self, _conn, _sender, path, _iface, member, params):
        args = params.unpack()
        if member == 'InterfacesAdded':
            ev = {'signal': member, 'path': args[0], 'interfaces': args[1]}
        elif member == 'InterfacesRemoved':
            ev = {'signal': member, 'path': args[0], 'interfaces': args[1]}
        else:
            ev = {'signal': member, 'path': path, 'interface': args[0],
                  'changed': args[1], 'invalidated': args[2]}
        ev['time'] = time.monotonic()
        self.events.append(ev)

    def close(self):
        for s in self._subs:
            self.conn.signal_unsubscribe(s)
        self._subs = []

    def clear(self):
        self.events = []

    @staticmethod
    def pump(seconds=0.0):
        """Dispatch what arrived, and keep doing so for `seconds`."""
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + seconds
        while True:
            while ctx.iteration(False):
                pass
            if time.monotonic() >= deadline:
                return
            time.sleep(0.005)

    def wait_for(self, predicate, timeout=10, what=None):
        """Dispatch signals until predicate(events) is true. Returns events."""
        deadline = time.monotonic() + timeout
        ctx = GLib.MainContext.default()
        while True:
            while ctx.iteration(False):
                pass
            if predicate(self.events):
                return self.events
            if time.monotonic() > deadline:
                raise AssertionError('timed out after %gs waiting for %s; got:\n  %s' % (
                    timeout, what or 'signals',
                    '\n  '.join(describe(e) for e in self.events) or '(nothing)'))
            time.sleep(0.005)

    def quiet(self, period=0.5, timeout=10):
        """Wait until no signal has arrived for `period` seconds."""
        deadline = time.monotonic() + timeout
        n = -1
        while time.monotonic() < deadline:
            if len(self.events) == n:
                return self.events
            n = len(self.events)
            self.pump(period)
        return self.events

    # --- selectors -----------------------------------------------------
    def of(self, signal=None, path=None, interface=None):
        out = []
        for e in self.events:
            if signal and e['signal'] != signal:
                continue
            if path and e['path'] != path:
                continue
            if interface and e.get('interface') != interface and \
                    interface not in (e.get('interfaces') or ()):
                continue
            out.append(e)
        return out

    def changed(self, path, interface, prop):
        """Values of `prop` in PropertiesChanged of path, in order."""
        return [e['changed'][prop] for e in self.of('PropertiesChanged', path, interface)
                if prop in e['changed']]

    def seen(self, match):
        """True when a recorded signal matches (a Match or a predicate)."""
        return any(match(e) for e in self.events)

    def index(self, match):
        """Position of the first recorded signal that matches. A signal
        that never came fails the test: an order cannot hold for it."""
        for i, e in enumerate(self.events):
            if match(e):
                return i
        raise AssertionError('no %s among the %d signals recorded:\n  %s' % (
            match, len(self.events), '\n  '.join(describe(e) for e in self.events) or '(nothing)'))

    def first(self, match):
        """The first recorded signal that matches; fails when none did."""
        return self.events[self.index(match)]


class Match:
    """A predicate over recorded signals that can say what it looks for."""

    def __init__(self, text, predicate):
        self.text = text
        self.predicate = predicate

    def __call__(self, event):
        return self.predicate(event)

    def __str__(self):
        return self.text


def added(path):
    return Match('InterfacesAdded %s' % path,
                 lambda e: e['signal'] == 'InterfacesAdded' and e['path'] == path)


def removed(path):
    return Match('InterfacesRemoved %s' % path,
                 lambda e: e['signal'] == 'InterfacesRemoved' and e['path'] == path)


def changed(path, interface, prop, value=None):
    """A PropertiesChanged of path and interface carrying prop (with that
    value, unless value is None)."""
    def pred(e):
        return (e['signal'] == 'PropertiesChanged' and e['path'] == path and
                e['interface'] == interface and prop in e['changed'] and
                (value is None or e['changed'][prop] == value))
    what = 'PropertiesChanged %s %s %s' % (path, interface, prop)
    return Match(what if value is None else '%s=%r' % (what, value), pred)


def describe(e):
    if e['signal'] == 'PropertiesChanged':
        return 'PropertiesChanged %s %s %r %r' % (e['path'], e['interface'], e['changed'],
                                                 e['invalidated'])
    ifaces = e['interfaces'] if isinstance(e['interfaces'], list) else sorted(e['interfaces'])
    return '%s %s %s' % (e['signal'], e['path'], ', '.join(ifaces))


def run_as(argv, uid=65534, gid=None, groups=False, env=None, timeout=30, input=None):
    """Run a command as another user (default nobody), no supplementary
    groups unless `groups` (then those of the user's entry)."""
    gid = uid if gid is None else gid
    cmd = ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid]
    cmd += ['--init-groups'] if groups else ['--clear-groups']
    return subprocess.run(cmd + list(argv), env=env, capture_output=True, text=True,
                          timeout=timeout, input=input)
