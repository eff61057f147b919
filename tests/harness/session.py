"""Start and stop the pieces in the right order.

    namespace (polkit directories, identities)   once per process
    system bus + polkitd                         shared by the tests of a file
    simulated host + kernel emulator             per test
    hostdevd                                     per test (restartable)

The demo (simhost.py) uses the same pieces.
"""

import atexit
import os
import shutil
import tempfile

from . import paths
from .bus import Namespace, Polkitd, SystemBus


class SharedBus:
    _instance = None

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = cls()
            atexit.register(cls._instance.stop)
        return cls._instance

    def __init__(self):
        self.namespace = Namespace.get()
        self.dir = tempfile.mkdtemp(prefix='hostdev-bus.', dir=paths.tmpdir())
        os.chmod(self.dir, 0o755)
        self.bus = SystemBus(self.dir)
        self.polkitd = Polkitd(self.bus, os.path.join(self.dir, 'polkitd.log'))
        self.address = self.bus.address
        try:
            self.bus.start()
            self.polkitd.start()
        except BaseException:
            self.stop()
            raise

    def stop(self):
        self.polkitd.stop()
        self.bus.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
