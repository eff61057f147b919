"""A small inotify binding (ctypes), enough for the kernel emulator."""

import ctypes
import ctypes.util
import errno
import os
import struct

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE_SELF = 0x00000400
IN_IGNORED = 0x00008000
IN_Q_OVERFLOW = 0x00004000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]

_EVENT = struct.Struct('iIII')


class Inotify:
    def __init__(self):
        self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))

    def add_watch(self, path, mask):
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), path)
        return wd

    def rm_watch(self, wd):
        _libc.inotify_rm_watch(self.fd, wd)

    def read(self):
        """[(wd, mask, name)] of everything queued; [] when nothing is."""
        try:
            buf = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        except OSError as e:
            if e.errno == errno.EINTR:
                return []
            raise
        events = []
        off = 0
        while off < len(buf):
            wd, mask, _cookie, length = _EVENT.unpack_from(buf, off)
            off += _EVENT.size
            name = buf[off:off + length].rstrip(b'\0').decode()
            off += length
            events.append((wd, mask, name))
        return events

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
