#!/usr/bin/python3
"""Run hostdevd on the simulated host and look around.

    data/simhost/run [--no-shell] [--no-iommu] [--build DIR]

Starts a private system bus with polkitd, the simulated host of
data/simhost/host.json with its kernel emulator, and hostdevd; prints
`hostdevctl list` and `hostdevctl iommu list`; then opens a shell in which the
system bus is the private one, hostdevctl is on PATH and /sys is the
simulated host's (through the umockdev preload). Without a terminal the
shell reads commands from standard input, so

    echo 'busctl --system tree org.hostdev1' | data/simhost/run

works, and so does `data/simhost/run < /dev/null`. Everything is torn down
when the shell exits.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import paths, sandbox  # noqa: E402

BANNER = '''
=== hostdev on a simulated host ===========================================
{description}
{pci} PCI functions, {usb} USB devices, {groups} IOMMU groups
(data/simhost/README.md has the table).

hostdevd runs on a private system bus:
  DBUS_SYSTEM_BUS_ADDRESS={address}
Its log: {log}

Try:
  hostdevctl list                       hostdevctl iommu list
  hostdevctl show 01:00.0               hostdevctl monitor   (Ctrl-C stops it)
  busctl --system tree org.hostdev1
  busctl --system introspect org.hostdev1 /org/hostdev1/iommu_group/12
  ls /sys/bus/pci/devices               (the simulated sysfs, via umockdev)

Move the host GPU's audio function to vfio-pci as the kernel would see it
(a kernel emulator reacts to writes under /sys):
  echo vfio-pci > /sys/bus/pci/devices/0000:01:00.1/driver_override
  echo 0000:01:00.1 > /sys/bus/pci/devices/0000:01:00.1/driver/unbind
  echo 0000:01:00.1 > /sys/bus/pci/drivers_probe
  hostdevctl iommu list

Leave with "exit" or Ctrl-D; the daemon, bus and testbed go away.
============================================================================
'''


def run_cli(args, env):
    cli = paths.cli_binary()
    if not os.access(cli, os.X_OK):
        print('(hostdevctl is not built: %s; skipping "hostdevctl %s")' % (cli, ' '.join(args)))
        return
    print('$ hostdevctl %s' % ' '.join(args))
    sys.stdout.flush()
    subprocess.run([cli] + args, env=env)
    print()


def shell_env(sim, address, tmp):
    env = dict(os.environ)
    env['DBUS_SYSTEM_BUS_ADDRESS'] = address
    env['UMOCKDEV_DIR'] = sim.root
    extra = [os.path.dirname(paths.cli_binary()), os.path.dirname(paths.daemon_binary())]
    env['PATH'] = ':'.join(extra + [env.get('PATH', '/usr/bin:/bin')])
    rc = os.path.join(tmp, 'bashrc')
    with open(rc, 'w') as f:
        f.write('PS1="[simhost] \\w\\$ "\n')
    env['HOSTDEV_SIMHOST_RC'] = rc
    for k in ('HOSTDEV_TEST_NAMESPACE',):
        env.pop(k, None)
    return env


def main():
    parser = argparse.ArgumentParser(description='hostdevd on the simulated host')
    parser.add_argument('--no-shell', action='store_true', help='print and exit')
    parser.add_argument('--no-iommu', action='store_true', help='a host booted without IOMMU')
    parser.add_argument('--build', help='build directory (default: $HOSTDEV_BUILD_ROOT or ./build)')
    args = parser.parse_args()
    if args.build:
        os.environ['HOSTDEV_BUILD_ROOT'] = os.path.abspath(args.build)
    sandbox.enter()
    if args.build:
        paths.BUILD_ROOT = os.environ['HOSTDEV_BUILD_ROOT']

    from harness import hostspec
    from harness.daemon import Hostdevd
    from harness.kernel import KernelEmulator
    from harness.session import SharedBus
    from harness.critical import MountTable
    from harness.testbed import SimHost

    if not os.access(paths.daemon_binary(), os.X_OK):
        sys.stderr.write('hostdevd is not built (%s).\nBuild it first: meson setup build && '
                         'ninja -C build, or pass --build DIR.\n' % paths.daemon_binary())
        return 1

    host = hostspec.Host.load()
    tmp = tempfile.mkdtemp(prefix='hostdev-simhost.', dir=paths.tmpdir())
    shared = sim = kernel = daemon = None
    status = 0
    try:
        shared = SharedBus.get()
        sim = SimHost(host, iommu='empty' if args.no_iommu else 'enabled',
                      proc_dir=os.path.join(tmp, 'proc'))
        # The host's own mounts (host.json "mounts": / and /boot on the
        # NVMe), so that hostdevd sees which disk the host runs from.
        MountTable(sim)
        kernel = KernelEmulator(sim).start()
        daemon = Hostdevd(sim, shared.address, tmp).start()
        env = shell_env(sim, shared.address, tmp)
        run_cli(['list'], env)
        run_cli(['iommu', 'list'], env)
        if not args.no_shell:
            print(BANNER.format(description=host.data['description'], pci=len(host.pci),
                                usb=len(host.published_usb), groups=len(host.groups()),
                                address=shared.address, log=daemon.log_path))
            sys.stdout.flush()
            interactive = sys.stdin is not None and os.isatty(0)
            cmd = ['bash', '--rcfile', env['HOSTDEV_SIMHOST_RC'], '-i'] if interactive else \
                ['bash', '--norc', '--noprofile', '-s']
            cmd = sandbox.DIE_WITH_PARENT + cmd
            old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the shell's
            try:
                status = subprocess.run(cmd, env=env).returncode
            finally:
                signal.signal(signal.SIGINT, old)
    finally:
        problems = daemon.stop() if daemon else []
        if kernel:
            kernel.stop()
            problems += ['kernel emulator: ' + e for e in kernel.errors]
        if sim:
            sim.close()
        if shared:
            shared.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        for p in problems:
            sys.stderr.write('simhost: %s\n' % p)
    return 1 if problems else status


if __name__ == '__main__':
    sys.exit(main())
