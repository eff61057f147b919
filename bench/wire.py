# SPDX-License-Identifier: LGPL-2.1-or-later
"""A minimal D-Bus client speaking the wire protocol on a unix socket.

The benchmark times replies and signals as they come off the socket; a
full binding would add its own parsing and thread hand-offs to every
figure (GDBus parses a whole multi-megabyte GetManagedObjects reply before
the caller sees it). This client reads whole messages and decodes only the
header fields and the leading strings of a body.
"""

import os
import select
import socket
import struct
import time

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
FIELDS = {1: 'path', 2: 'interface', 3: 'member', 4: 'error_name', 5: 'reply_serial',
          6: 'destination', 7: 'sender', 8: 'signature', 9: 'unix_fds'}


def _pad(n, align):
    return (align - n % align) % align


class Message:
    """One message; raw (and body) may be a view into a buffer that the next
    large message reuses: detached() for one to keep."""
    __slots__ = ('type', 'serial', 'fields', 'body', 'size', 'received', 'raw')

    def __init__(self, raw, received):
        self.raw = raw
        self.received = received
        self.size = len(raw)
        if raw[0:1] != b'l':
            raise ValueError('big-endian messages are not supported')
        self.type = raw[1]
        body_len, self.serial, fields_len = struct.unpack_from('<III', raw, 4)
        self.fields = {}
        off, end = 16, 16 + fields_len
        while off < end:
            off += _pad(off, 8)
            code = raw[off]
            siglen = raw[off + 1]
            sig = bytes(raw[off + 2:off + 2 + siglen]).decode()
            off += 3 + siglen
            if sig in ('s', 'o'):
                off += _pad(off, 4)
                (n,) = struct.unpack_from('<I', raw, off)
                val = bytes(raw[off + 4:off + 4 + n]).decode()
                off += 5 + n
            elif sig == 'g':
                n = raw[off]
                val = bytes(raw[off + 1:off + 1 + n]).decode()
                off += 2 + n
            elif sig == 'u':
                off += _pad(off, 4)
                (val,) = struct.unpack_from('<I', raw, off)
                off += 4
            else:
                raise ValueError('unexpected header field signature %r' % sig)
            self.fields[FIELDS.get(code, code)] = val
        self.body = raw[end + _pad(end, 8):]

    def get(self, field):
        return self.fields.get(field)

    def detached(self):
        """The message with its own copy of the bytes: a large message is
        read into a buffer the next large message reuses."""
        return Message(bytes(self.raw), self.received)

    def strings(self, count):
        """The first count string/object-path arguments of the body."""
        out, off = [], 0
        for _ in range(count):
            off += _pad(off, 4)
            (n,) = struct.unpack_from('<I', self.body, off)
            out.append(bytes(self.body[off + 4:off + 4 + n]).decode())
            off += 5 + n
        return out


def _string(s, offset):
    """An s or o value at a position 'offset' of the message."""
    b = s.encode()
    return b'\0' * _pad(offset, 4) + struct.pack('<I', len(b)) + b + b'\0'


def _args(args):
    """Signature and body of arguments that are all strings (s) or integers (u)."""
    sig, body = '', b''
    for a in args:
        if isinstance(a, int):
            sig += 'u'
            body += b'\0' * _pad(len(body), 4) + struct.pack('<I', a)
        else:
            sig += 's'
            body += _string(a, len(body))
    return sig, body


class Connection:
    def __init__(self, address):
        if not address.startswith('unix:path='):
            raise ValueError('only unix:path= addresses are supported')
        path = address[len('unix:path='):].split(',')[0]
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.buf = bytearray()
        self.large = bytearray()
        self.pending = []
        self.serial = 0
        self._auth()
        self.unique_name = self.call('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                     'org.freedesktop.DBus', 'Hello').strings(1)[0]

    def close(self):
        self.sock.close()

    def _auth(self):
        uid = str(os.getuid()).encode().hex()
        self.sock.sendall(b'\0AUTH EXTERNAL ' + uid.encode() + b'\r\n')
        line = b''
        while not line.endswith(b'\r\n'):
            chunk = self.sock.recv(256)
            if not chunk:
                raise ConnectionError('bus closed during authentication')
            line += chunk
        if not line.startswith(b'OK '):
            raise ConnectionError('authentication refused: %r' % line)
        self.sock.sendall(b'BEGIN\r\n')

    def _send(self, mtype, header_fields, signature, body):
        self.serial += 1
        if signature:
            header_fields = header_fields + [(8, 'g', signature)]
        fields = b''
        for code, sig, val in header_fields:
            fields += b'\0' * _pad(16 + len(fields), 8)
            fields += bytes((code, 1)) + sig.encode() + b'\0'
            if sig == 'g':
                fields += bytes((len(val),)) + val.encode() + b'\0'
            elif sig == 'u':
                fields += b'\0' * _pad(16 + len(fields), 4) + struct.pack('<I', val)
            else:
                fields += _string(val, 16 + len(fields))
        header = struct.pack('<cBBBIII', b'l', mtype, 0, 1, len(body), self.serial, len(fields))
        self.sock.sendall(header + fields + b'\0' * _pad(16 + len(fields), 8))
        self.sock.sendall(body)
        return self.serial

    def send_call(self, destination, path, interface, member, args=()):
        """Send a method call with string and integer arguments; return its serial."""
        sig, body = _args(args)
        return self._send(METHOD_CALL, [(1, 'o', path), (2, 's', interface), (3, 's', member),
                                        (6, 's', destination)], sig, body)

    def send_return(self, destination, reply_serial, signature, body):
        """Send a method return with an already marshalled body."""
        return self._send(METHOD_RETURN, [(5, 'u', reply_serial), (6, 's', destination)],
                          signature, body)

    def read_message(self, timeout=None):
        """The next message, or None after timeout seconds (None: wait for ever)."""
        return self._read_message(None if timeout is None else time.monotonic() + timeout)

    def _fill(self, n, deadline):
        """Read until the buffer holds at least n bytes; False on timeout."""
        while len(self.buf) < n:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return False
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError('bus connection closed')
            self.buf += chunk
        return True

    def _read_message(self, deadline):
        if not self._fill(16, deadline):
            return None
        body_len, _, fields_len = struct.unpack_from('<III', self.buf, 4)
        total = 16 + fields_len + _pad(16 + fields_len, 8) + body_len
        if len(self.buf) < total and total > (1 << 20):
            # A large message: receive the rest straight into one buffer kept
            # for all of them, so that reading costs the same whoever sent
            # it. A fresh multi-megabyte buffer per message would cost this
            # client a page fault per 4 KiB or none, as the allocator
            # happens to map new memory or reuse the last.
            if len(self.large) < total:
                self.large = bytearray(total)
            have = len(self.buf)
            view = memoryview(self.large)[:total]
            view[:have] = self.buf
            self.buf = bytearray()
            while have < total:
                n = self.sock.recv_into(view[have:], total - have)
                if not n:
                    raise ConnectionError('bus connection closed')
                have += n
            return Message(view, time.perf_counter_ns())
        # a message is read to its end once started; only its start may time out
        self._fill(total, None)
        raw = bytes(self.buf[:total])
        del self.buf[:total]
        return Message(raw, time.perf_counter_ns())

    def wait_reply(self, serial, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m is None:
                raise TimeoutError('no reply to call %d' % serial)
            if m.type in (METHOD_RETURN, ERROR) and m.get('reply_serial') == serial:
                if m.type == ERROR:
                    raise RuntimeError('%s: %s' % (m.get('error_name'),
                                                   m.strings(1)[0] if m.body else ''))
                return m
            if m.type == SIGNAL:
                self.pending.append(m)

    def call(self, destination, path, interface, member, args=(), timeout=60):
        return self.wait_reply(self.send_call(destination, path, interface, member, args), timeout)

    def add_match(self, rule):
        self.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                  'AddMatch', (rule,))

    def wait_signal(self, predicate, timeout):
        """The first signal (queued or new) for which predicate(msg) is true, or None."""
        for i, m in enumerate(self.pending):
            if predicate(m):
                del self.pending[i]
                return m
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m is None:
                return None
            if m.type != SIGNAL:
                continue
            if predicate(m):
                return m

    def drain(self):
        """Drop queued signals and whatever is already readable."""
        self.pending.clear()
        while self._read_message(time.monotonic()) is not None:
            pass
