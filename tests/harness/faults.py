"""Faults and life events for the tests of Prepare and Release.

* DriverFaults wraps a running KernelEmulator: for chosen PCI functions an
  unbind or a drivers_probe takes effect only after a delay (a driver slow
  to let go, a slow probe), or an unbind never does (a driver stuck in its
  remove callback). Delayed reactions run on timers, so the emulator keeps
  reacting to everything else meanwhile. It also records when a write for
  a chosen function arrives, so that a test can act while hostdevd waits.
* write_boot_id() gives the fake /proc the file hostdevd reads the boot
  identity from.
* reboot() does to the simulated host what a reboot does to a real one
  while hostdevd is not running: every PCI function back on the driver it
  gets at boot, with the driver_override the boot sets (none, unless the
  host description says so), dynamic ids forgotten, a new boot_id. Cards
  can be taken out or moved to another slot on the way.
"""

import os
import threading
import time
import uuid

from . import hostspec

UNBIND = ('pci-drv', 'unbind')
PROBE = ('pci-bus', 'drivers_probe')


class DriverFaults:
    """Installed on a KernelEmulator by replacing its PCI unbind and
    drivers_probe handlers; close() puts them back."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.host = kernel.host
        self.slow_unbind = {}       # address -> seconds
        self.slow_probe = {}        # address -> seconds
        self.refusing = {}          # address -> driver whose probe fails for it
        self.arrived = {}           # (kind, address) -> threading.Event
        self.writes = []            # (kind, driver or None, address), as they arrived
        self._timers = []
        self._pending = 0
        self._cond = threading.Condition()
        self._orig = {UNBIND: kernel.handlers[UNBIND], PROBE: kernel.handlers[PROBE]}
        kernel.handlers[UNBIND] = self._on_unbind
        kernel.handlers[PROBE] = self._on_probe

    # --- configuration ------------------------------------------------------
    def hang_unbind(self, address):
        """The driver of `address` never finishes letting go of it."""
        self.kernel.faults['unbind-hangs'].add(address)

    def unhang_unbind(self, address):
        self.kernel.faults['unbind-hangs'].discard(address)

    def fail_probe(self, address):
        """No driver takes `address` (vfio-pci's probe fails, say)."""
        self.kernel.faults['probe-fails'].add(address)

    def refuse(self, address, driver):
        """`driver`'s probe fails for `address` (others still take it)."""
        self.refusing[address] = driver

    def clear(self):
        self.slow_unbind.clear()
        self.slow_probe.clear()
        self.refusing.clear()
        self.kernel.faults['unbind-hangs'].clear()
        self.kernel.faults['probe-fails'].clear()

    def event(self, kind, address, fresh=False):
        """Set once a write of `kind` ('unbind' or 'probe') for `address`
        reaches the kernel; with fresh, only a write from now on counts."""
        with self._cond:
            if fresh:
                self.arrived[(kind, address)] = threading.Event()
            return self.arrived.setdefault((kind, address), threading.Event())

    # --- handlers -------------------------------------------------------------
    # Handlers get (key, value, path) and, in newer emulators, more
    # arguments: passed through as they come.
    def _on_unbind(self, driver, value, *rest):
        self._note('unbind', driver, value)
        self._maybe_later(self.slow_unbind.get(value), UNBIND, (driver, value) + rest)

    def _on_probe(self, key, value, *rest):
        self._note('probe', None, value)
        spec = self.host.pci.get(value)
        if spec and self.refusing.get(value) and \
                (spec.get('driver_override') or spec.get('native_driver')) == self.refusing[value]:
            return
        self._maybe_later(self.slow_probe.get(value), PROBE, (key, value) + rest)

    def _note(self, kind, driver, address):
        with self._cond:
            self.writes.append((kind, driver, address))
            self.arrived.setdefault((kind, address), threading.Event()).set()

    def _maybe_later(self, delay, which, args):
        handler = self._orig[which]
        value = args[1]
        if not delay:
            handler(*args)
            return

        def fire():
            try:
                with self.host.lock:
                    handler(*args)
            except Exception as e:  # noqa: BLE001 - reported like the emulator's own failures
                self.kernel.errors.append('delayed %s of %s: %r' % (which[1], value, e))
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

        with self._cond:
            self._pending += 1
        t = threading.Timer(delay, fire)
        t.daemon = True
        self._timers.append(t)
        t.start()

    # --- life -----------------------------------------------------------------
    def settle(self, timeout=30):
        """Wait until every delayed reaction has happened; True if so."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return self.kernel.settle()

    def close(self):
        """Cancel what has not happened yet and give the emulator its own
        handlers back."""
        for t in self._timers:
            t.cancel()
        self._timers = []
        self.kernel.handlers[UNBIND] = self._orig[UNBIND]
        self.kernel.handlers[PROBE] = self._orig[PROBE]


# ----------------------------------------------------------------------
# boot identity and reboot

def boot_id_path(proc_dir):
    return os.path.join(proc_dir, 'sys', 'kernel', 'random', 'boot_id')


def write_boot_id(proc_dir, boot_id=None):
    """Write /proc/sys/kernel/random/boot_id (a new random one by default)
    under the fake proc directory; returns it."""
    boot_id = boot_id or str(uuid.uuid4())
    p = boot_id_path(proc_dir)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'w') as f:
        f.write(boot_id + '\n')
    return boot_id


def boot_state(sim, spec):
    """(driver, driver_override) a function has after boot: what the host
    description says for a function at that address with the same ids
    (its driver_override set by the boot, as driverctl does), else its own
    driver and no override."""
    for d in sim.host.pci:
        if d['address'] == spec['address'] and d['device_id'] == spec['device_id'] \
                and d['vendor_id'] == spec['vendor_id']:
            return d.get('driver'), d.get('driver_override')
    return spec.get('native_driver'), None


def moved_spec(spec, address, parent, iommu_group, slot=None):
    """The same card (ids, serial) at another address: a runtime spec for
    SimHost.add_pci_devices()."""
    s = {k: v for k, v in spec.items() if not k.startswith('_')}
    s.update(address=address, parent=parent, iommu_group=iommu_group, slot=slot,
             driver=spec.get('native_driver'), driver_override=None)
    return s


def reboot(sim, kernel, remove=(), add=(), boot_id=None):
    """Reboot the simulated host while hostdevd is not running: functions
    in `remove` are gone, specs in `add` appear (a card moved to another
    slot), every function is on its boot driver with its boot
    driver_override, and the boot_id is new (returned). Nothing is announced:
    nobody listens during a reboot."""
    kernel.settle()
    with sim.lock:
        if remove:
            sim.remove_pci_devices(list(remove), announce=False)
        if add:
            sim.add_pci_devices([dict(s) for s in add], announce=False)
        kernel.dynamic_ids.clear()
        for address, spec in sorted(sim.pci.items()):
            want, override = boot_state(sim, spec)
            spec['driver_override'] = override
            path = sim.devpaths[address] + '/driver_override'
            text = (override or '(null)') + '\n'
            if sim.read(path) != text:
                sim.write(path, text)
            if sim.driver_of(address) != want:
                sim.unbind(address, announce=False)
                if want:
                    sim.bind(address, want, announce=False)
    # the emulator sees the driver_override files written: let it finish
    kernel.settle()
    return write_boot_id(sim.proc, boot_id)


def pci_drivers(sim):
    """{address: driver or None} of every PCI function, read from the
    testbed's sysfs links (what the kernel says, not what hostdevd says)."""
    return {a: sim.driver_of(a) for a in sorted(sim.pci)}


def driver_overrides(sim):
    """{address: content of driver_override} of every PCI function."""
    return {a: sim.read(sim.devpaths[a] + '/driver_override') for a in sorted(sim.pci)}


def is_vfio(driver):
    return hostspec.is_prepared_driver(driver)
