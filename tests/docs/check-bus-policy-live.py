#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""data/org.hostdev1.conf on a real bus.

Starts a private system-type dbus-daemon whose policy is the Debian system
bus default plus our file, then:
  - an unprivileged process (uid 65534) asks for org.hostdev1 and is refused;
  - a root process asks for it and becomes its owner, serving /org/hostdev1;
  - the unprivileged process calls the owner on every interface the daemon
    offers (Peer, Introspectable, Properties, ObjectManager, Manager) and
    gets the owner's answers, not AccessDenied from the bus.

Needs root, dbus-daemon, setpriv and python3-gi; exits 77 (skip) without them.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

NAME = 'org.hostdev1'
NOBODY = 65534
SKIP = 77

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <includedir>{includedir}</includedir>
</busconfig>
"""


def connect(address):
    from gi.repository import Gio
    return Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)


def call(conn, dest, path, iface, method, args=None):
    """Call and return ('reply', value) or ('error', D-Bus error name)."""
    from gi.repository import Gio, GLib
    try:
        r = conn.call_sync(dest, path, iface, method, args, None, Gio.DBusCallFlags.NONE, 5000, None)
        return ['reply', r.unpack() if r is not None else None]
    except GLib.Error as e:
        return ['error', Gio.DBusError.get_remote_error(e) or e.message]


def request_name(conn):
    from gi.repository import GLib
    # flags 4 = DBUS_NAME_FLAG_DO_NOT_QUEUE; reply 1 = primary owner
    return call(conn, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                'RequestName', GLib.Variant('(su)', (NAME, 4)))


def serve(address, manager_xml):
    """Own the name as root and answer on /org/hostdev1 until stdin closes."""
    from gi.repository import Gio, GLib

    conn = connect(address)
    result = request_name(conn)

    info = Gio.DBusNodeInfo.new_for_xml(open(manager_xml).read()).lookup_interface('org.hostdev1.Manager')

    def on_call(connection, sender, path, iface, method, params, invocation):
        invocation.return_dbus_error('org.hostdev1.Error.NotFound', 'no such device in this test')

    def on_get(connection, sender, path, iface, prop):
        if prop == 'Version':
            return GLib.Variant('s', 'test')
        return None

    conn.register_object('/org/hostdev1', info, on_call, on_get, None)
    manager = Gio.DBusObjectManagerServer.new('/org/hostdev1')
    manager.set_connection(conn)

    print(json.dumps({'uid': os.getuid(), 'request_name': result}), flush=True)
    loop = GLib.MainLoop()
    GLib.io_add_watch(GLib.IOChannel.unix_new(0), GLib.PRIORITY_DEFAULT,
                      GLib.IOCondition.IN | GLib.IOCondition.HUP, lambda *a: loop.quit())
    loop.run()


def client_request(address):
    conn = connect(address)
    print(json.dumps({'uid': os.getuid(), 'request_name': request_name(conn)}))


def client_calls(address):
    from gi.repository import GLib
    conn = connect(address)
    p = '/org/hostdev1'
    results = {
        'Peer.Ping': call(conn, NAME, p, 'org.freedesktop.DBus.Peer', 'Ping'),
        'Introspectable.Introspect': call(conn, NAME, p, 'org.freedesktop.DBus.Introspectable', 'Introspect'),
        'Properties.Get': call(conn, NAME, p, 'org.freedesktop.DBus.Properties', 'Get',
                               GLib.Variant('(ss)', ('org.hostdev1.Manager', 'Version'))),
        'ObjectManager.GetManagedObjects': call(conn, NAME, p, 'org.freedesktop.DBus.ObjectManager',
                                                'GetManagedObjects'),
        'Manager.GetDevice': call(conn, NAME, p, 'org.hostdev1.Manager', 'GetDevice',
                                  GLib.Variant('(s)', ('0000:01:00.0',))),
    }
    print(json.dumps({'uid': os.getuid(), 'calls': results}, default=str))


def as_nobody(args):
    cmd = [shutil.which('setpriv'), f'--reuid={NOBODY}', f'--regid={NOBODY}', '--clear-groups',
           sys.executable, os.path.abspath(__file__)] + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f'{args[0]} as uid {NOBODY} failed:\n{r.stderr}')
    return json.loads(r.stdout)


def main():
    if os.geteuid() != 0:
        print('skip: needs root, to run the name owner as root and a client as another user')
        return SKIP
    dbus_daemon = shutil.which('dbus-daemon')
    if not dbus_daemon or not shutil.which('setpriv'):
        print('skip: dbus-daemon or setpriv not installed')
        return SKIP
    try:
        import gi
        gi.require_version('Gio', '2.0')
        from gi.repository import Gio  # noqa: F401
    except (ImportError, ValueError):
        print('skip: python3-gi not installed')
        return SKIP

    src = os.environ['HOSTDEV_SOURCE_ROOT']
    failures = []
    tmp = tempfile.mkdtemp(prefix='hostdev-bus-')
    daemon = owner = None
    try:
        os.chmod(tmp, 0o755)  # the unprivileged client must reach the socket
        includedir = os.path.join(tmp, 'system.d')
        os.mkdir(includedir)
        shutil.copy(os.path.join(src, 'data', 'org.hostdev1.conf'), includedir)
        conf = os.path.join(tmp, 'bus.conf')
        with open(conf, 'w') as f:
            f.write(BUS_CONF.format(socket=os.path.join(tmp, 'system_bus_socket'), includedir=includedir))

        daemon = subprocess.Popen([dbus_daemon, f'--config-file={conf}', '--nofork', '--nopidfile',
                                   '--print-address=1'], stdout=subprocess.PIPE, text=True)
        address = daemon.stdout.readline().strip()
        if not address:
            failures.append('dbus-daemon did not start')
            return 1
        print(f'private system bus at {address}')

        # 1. Not root: refused by the bus.
        r = as_nobody(['--client-request', address])
        if r['uid'] != NOBODY:
            failures.append(f'client ran as uid {r["uid"]}, not {NOBODY}')
        if r['request_name'] != ['error', 'org.freedesktop.DBus.Error.AccessDenied']:
            failures.append(f'uid {NOBODY} asking for {NAME}: {r["request_name"]}, expected AccessDenied')
        else:
            print(f'ok: uid {NOBODY} may not own {NAME}')

        # 2. Root: becomes the owner.
        owner = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--serve', address,
                                  os.path.join(src, 'dbus', 'org.hostdev1.Manager.xml')],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        r = json.loads(owner.stdout.readline() or '{}')
        if r.get('request_name') != ['reply', [1]]:
            failures.append(f'root asking for {NAME}: {r.get("request_name")}, expected primary owner (1)')
            return 1
        print(f'ok: root owns {NAME}')

        # 3. Not root: may call the owner on each interface.
        r = as_nobody(['--client-calls', address])
        expect_errors = {'Manager.GetDevice': 'org.hostdev1.Error.NotFound'}
        for what, (kind, value) in sorted(r['calls'].items()):
            want = expect_errors.get(what)
            if want and (kind, value) != ('error', want):
                failures.append(f'uid {NOBODY} calling {what}: {kind} {value}, expected the owner\'s {want}')
            elif not want and kind != 'reply':
                failures.append(f'uid {NOBODY} calling {what}: {kind} {value}, expected a reply')
            else:
                print(f'ok: uid {NOBODY} may call {what}')
        if r['calls']['Properties.Get'] != ['reply', ['test']]:
            failures.append(f'Properties.Get returned {r["calls"]["Properties.Get"]}, expected the owner\'s "test"')
    finally:
        for p in (owner, daemon):
            if p and p.poll() is None:
                if p is owner:
                    p.stdin.close()
                p.terminate()
                p.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
        for f in failures:
            print(f'FAIL: {f}')
    return 1 if failures else 0


if __name__ == '__main__':
    if len(sys.argv) >= 2 and sys.argv[1].startswith('--'):
        import gi
        gi.require_version('Gio', '2.0')
    if len(sys.argv) >= 2 and sys.argv[1] == '--serve':
        serve(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 2 and sys.argv[1] == '--client-request':
        client_request(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == '--client-calls':
        client_calls(sys.argv[2])
    else:
        sys.exit(main())
