"""Holding back one reaction of the kernel emulator, for the crash tests.

HoldBack replaces one handler of a running KernelEmulator (a key of
kernel.handlers, e.g. ('pci-dev', 'sriov_numvfs') or ('mdev-type',
'create')): the first write that match(key, value) accepts (key: the
device address, uuid or (parent, type) the handler gets) is kept and not acted on,
and `arrived` is set; every other write is handled at once as before.
release() lets the kept write take effect then, as a kernel that was slow
to react would; close() releases it (if still kept) and puts the handler
back. Nothing runs on a timer: the test decides when the kernel reacts,
typically after it killed hostdevd."""

import threading


class HoldBack:

    def __init__(self, kernel, key, match=lambda key, value: True):
        self.kernel = kernel
        self.key = key
        self.match = match
        self.arrived = threading.Event()
        self.value = None
        self._orig = kernel.handlers[key]
        self._kept = None
        self._lock = threading.Lock()
        kernel.handlers[key] = self._on_write

    def _on_write(self, key, value, *rest):
        with self._lock:
            if self._kept is None and not self.arrived.is_set() and self.match(key, value):
                self._kept = (key, value) + rest
                self.value = value
                self.arrived.set()
                return
        self._orig(key, value, *rest)

    def release(self):
        """The kept write takes effect now (under the testbed's lock, as
        the emulator's own reactions do); then the emulator settles."""
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            with self.kernel.host.lock:
                self._orig(*kept)
        return self.kernel.settle()

    def close(self):
        self.release()
        self.kernel.handlers[self.key] = self._orig
