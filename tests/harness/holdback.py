"""Holding back one reaction of the kernel emulator, for the crash tests.

HoldBack replaces one handler of a running KernelEmulator (a key of
kernel.handlers, e.g. ('pci-dev', 'sriov_numvfs') or ('mdev-type',
'create')). The first write that match(key, value) accepts (key: the
address, uuid or (parent, type) the handler gets) is not acted on, and
`arrived` is set; every other write is handled as before. release() lets
the kernel act on it then, as a kernel slow to react would: the same
text is written to the same file again and the emulator handles it on
its own thread, as any write. close() releases (if still held) and puts
the handler back. Nothing runs on a timer: the test decides when the
kernel reacts, typically after it killed hostdevd."""

import threading


class HoldBack:

    def __init__(self, kernel, key, match=lambda key, value: True):
        self.kernel = kernel
        self.key = key
        self.match = match
        self.arrived = threading.Event()
        self._acted = threading.Event()
        self._held = None           # (key, value, path, raw) of the write held back
        self._replay = None         # the same, once released: handled when it comes again
        self._lock = threading.Lock()
        self._orig = kernel.handlers[key]
        kernel.handlers[key] = self._on_write

    def _on_write(self, key, value, path, raw=None, *rest):
        with self._lock:
            if self._held is None and self._replay is None and not self.arrived.is_set() \
                    and self.match(key, value):
                self._held = (key, value, path, raw)
                self.arrived.set()
                return
            replayed = self._replay is not None and self._replay[:3] == (key, value, path)
            if replayed:
                self._replay = None
        try:
            self._orig(key, value, path, raw, *rest)
        finally:
            if replayed:
                self._acted.set()

    def release(self, timeout=10):
        """The kernel acts on the write held back; True once it did and
        the emulator settled (also when nothing was held)."""
        with self._lock:
            held, self._held = self._held, None
            self._replay = held
        if held is None:
            return self.kernel.settle()
        _key, value, path, raw = held
        with open(path, 'w') as f:
            f.write(raw if raw is not None else value + '\n')
        return self._acted.wait(timeout) and self.kernel.settle()

    def close(self):
        self.release()
        self.kernel.handlers[self.key] = self._orig
