#!/usr/bin/python3
"""The 'vm' suite: hostdevd on a real kernel, in QEMU with an emulated Intel IOMMU.

Everything the guest needs comes from Debian packages and is built here,
once, into a cache (BUILD/tests/vm/cache, or $HOSTDEV_VM_CACHE):
  kernel/    Debian's kernel (what linux-image-amd64 depends on), unpacked
             with dpkg-deb -x and indexed with the root filesystem's depmod;
             never installed on this host
  kernel/lib/modules/VER/extra/mtty.ko
             the sample mdev parent, built here out of tree from
             linux-source with the kernel's linux-headers (mtty.stamp)
  kernel/lib/modules/VER/extra/netdevsim.ko
             the simulated NIC with VFs, built the same way (netdevsim.stamp)
  busybox    from busybox-static, the initramfs's only program
  rootfs/    mmdebstrap --variant=minbase plus udev, D-Bus, polkitd, python3
             and the libraries the built binaries link; rootfs.img is it as
             ext4, the guest's virtio-blk root disk (opened with snapshot=on)
  initrd-*   loads virtio, ext4 and 9p, mounts the root disk and the 9p
             shares, then hands over to guest/boot.sh
The source tree and the build tree reach the guest through 9p at the same
paths as here; guest/cases.py writes TAP to a third, writable share and
this script relays it to meson. A missing prerequisite is a TAP skip with
its reason, never a pass.
"""

import argparse
import fcntl
import hashlib
import json
import lzma
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

# Bump when the root filesystem recipe changes: cached images are rebuilt.
ROOTFS_RECIPE = 1
# Bump when the way mtty.ko is built changes.
MTTY_RECIPE = 1
# Bump when the way netdevsim.ko is built changes.
NETDEVSIM_RECIPE = 1
SUITE = 'bookworm'
ROOTFS_PACKAGES = [
    'libsystemd0', 'libpci3', 'libgdbm6', 'pci.ids', 'usb.ids',
    # the sanitizer runtimes, so that plain and sanitizer builds share one image
    'libasan8', 'libubsan1',
    'dbus-daemon', 'dbus-system-bus-common', 'polkitd',
    'udev', 'kmod', 'pciutils',
    'python3', 'python3-gi', 'gir1.2-glib-2.0',
    # a nested QEMU opens a claimed device through VFIO
    'qemu-system-x86',
    # ip -d -j link show reads VF settings back (the netdevsim case)
    'iproute2',
]
# Loaded by the initramfs, in this order after their dependencies.
INITRD_MODULES = ['virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4',
                  '9pnet_virtio', '9p']
GUEST_MEMORY = '1024'
# Passed on to the daemon in the guest (tools/run-tests --sanitize sets them).
GUEST_ENV = ('ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'HOSTDEV_LOG_LEVEL')


class Skip(Exception):
    pass


def log(msg):
    # meson reads stdout as TAP; progress goes to stderr.
    print('vmtest: ' + msg, file=sys.stderr, flush=True)


def timed(what, func, *args):
    t0 = time.monotonic()
    result = func(*args)
    if time.monotonic() - t0 > 1:
        log('%s: %.1f s' % (what, time.monotonic() - t0))
    return result


def run(cmd, **kw):
    kw.setdefault('check', True)
    kw.setdefault('stdout', sys.stderr)  # stdout is TAP
    return subprocess.run(cmd, **kw)


def apt_download(packages, dest):
    """apt-get download into dest; raises Skip when apt cannot fetch."""
    r = subprocess.run(['apt-get', '-q', '-o', 'APT::Sandbox::User=root', 'download'] + packages,
                       cwd=dest, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise Skip('apt-get download %s failed (apt unreachable?): %s'
                   % (' '.join(packages), r.stdout.strip().splitlines()[-1:] or ''))


def stamp_ok(path, expected):
    try:
        with open(path) as f:
            return json.load(f) == expected
    except (OSError, ValueError):
        return False


def write_stamp(path, value):
    with open(path + '.tmp', 'w') as f:
        json.dump(value, f, sort_keys=True)
    os.rename(path + '.tmp', path)


def need_tools(what, tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise Skip('%s needs %s (tools/install-deps installs them)' % (what, ', '.join(missing)))
    if os.geteuid() != 0:
        raise Skip('%s needs root (mmdebstrap, dpkg-deb)' % what)


# --- packages the built binaries link ---------------------------------------

def linked_packages(binaries):
    """{package: host version} of the shared libraries the binaries load."""
    libs = set()
    for binary in binaries:
        out = run(['ldd', binary], stdout=subprocess.PIPE, text=True).stdout
        for line in out.splitlines():
            parts = line.split('=>')
            if len(parts) == 2 and parts[1].strip().startswith('/'):
                libs.add(parts[1].split()[0])
    # One dpkg -S and one dpkg-query for all of them: each call costs a
    # second or more on a loaded machine.
    candidates = {}
    for lib in sorted(libs):
        c = {lib, os.path.realpath(lib)}
        c |= {'/usr' + p for p in c if not p.startswith('/usr/')}
        candidates[lib] = sorted(c)
    r = subprocess.run(['dpkg', '-S'] + sorted({p for c in candidates.values() for p in c}),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    owner = {}
    for ln in r.stdout.splitlines():
        # "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6"
        pkgs, sep, path = ln.partition(': ')
        if sep and not ln.startswith('diversion '):
            owner[path.strip()] = pkgs.split(',')[0].split(':')[0].strip()
    found = {}
    for lib, paths in candidates.items():
        pkgs = [owner[p] for p in paths if p in owner]
        if not pkgs:
            log('%s belongs to no package; the guest may lack it' % lib)
            continue
        found[lib] = pkgs[0]
    packages = {}
    if found:
        out = run(['dpkg-query', '-W', '-f=${Package} ${Version}\n'] + sorted(set(found.values())),
                  stdout=subprocess.PIPE, text=True).stdout
        for ln in out.splitlines():
            name, _, version = ln.partition(' ')
            packages[name.split(':')[0]] = version.strip()
    return packages


def installed_packages(rootfs):
    """{package: version} installed in the root filesystem."""
    installed = {}
    try:
        with open(os.path.join(rootfs, 'var/lib/dpkg/status')) as f:
            for para in f.read().split('\n\n'):
                fields = dict(ln.split(': ', 1) for ln in para.splitlines() if ': ' in ln and not ln.startswith(' '))
                if fields.get('Status') == 'install ok installed':
                    installed[fields['Package']] = fields.get('Version', '')
    except OSError:
        pass
    return installed


def rootfs_lacks(rootfs, needed):
    """Packages the built binaries need that the root filesystem lacks or
    has in an older version than this host."""
    installed = installed_packages(rootfs)
    return sorted(p for p, v in needed.items()
                  if p not in installed or subprocess.run(
                      ['dpkg', '--compare-versions', installed[p], 'lt', v]).returncode == 0)


# --- cache items -------------------------------------------------------------

def build_rootfs(cache, needed):
    """mmdebstrap minbase + ROOTFS_PACKAGES + what the binaries link, kept as
    a directory and as an ext4 image. Reused while it holds what the
    binaries need, so plain and sanitizer builds share it."""
    want = {'recipe': ROOTFS_RECIPE, 'suite': SUITE, 'packages': ROOTFS_PACKAGES}
    stamp = os.path.join(cache, 'rootfs.stamp')
    rootfs = os.path.join(cache, 'rootfs')
    image = os.path.join(cache, 'rootfs.img')
    if stamp_ok(stamp, want) and os.path.exists(image):
        lacking = rootfs_lacks(rootfs, needed)
        if not lacking:
            return rootfs, image
        log('the guest root filesystem lacks %s: rebuilding it' % ', '.join(lacking))
    packages = sorted(set(ROOTFS_PACKAGES) | set(needed))
    need_tools('building the guest root filesystem', ['mmdebstrap', 'mkfs.ext4', 'apt-get'])
    log('building the guest root filesystem (mmdebstrap %s, %d packages)' % (SUITE, len(packages)))
    for p in (stamp, image):
        if os.path.exists(p):
            os.unlink(p)
    shutil.rmtree(rootfs, ignore_errors=True)
    cmd = ['mmdebstrap', '--quiet', '--mode=root', '--variant=minbase',
           '--dpkgopt=force-unsafe-io',  # a throw-away tree: no fsync per file
           '--include=' + ','.join(packages),
           '--dpkgopt=path-exclude=/usr/share/man/*',
           '--dpkgopt=path-exclude=/usr/share/locale/*',
           '--dpkgopt=path-exclude=/usr/share/doc/*',
           '--dpkgopt=path-include=/usr/share/doc/*/copyright',
           SUITE, rootfs]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        shutil.rmtree(rootfs, ignore_errors=True)
        tail = '\n'.join(r.stdout.strip().splitlines()[-5:])
        if any(w in r.stdout for w in ('Failed to fetch', 'Could not resolve', 'Temporary failure',
                                       'apt-get update')):
            raise Skip('mmdebstrap cannot download packages (apt unreachable?): ' + tail)
        raise RuntimeError('mmdebstrap failed:\n' + tail)
    lacking = rootfs_lacks(rootfs, needed)
    if lacking:
        raise RuntimeError('the new root filesystem still lacks %s (is this host newer than %s?)'
                           % (', '.join(lacking), SUITE))
    os.makedirs(os.path.join(rootfs, 'lib/modules'), exist_ok=True)
    size = int(run(['du', '-sm', rootfs], stdout=subprocess.PIPE, text=True).stdout.split()[0])
    size_mb = size * 13 // 10 + 128
    t0 = time.monotonic()
    run(['mkfs.ext4', '-q', '-F', '-L', 'hostdev-vm', '-d', rootfs, image + '.tmp', '%dM' % size_mb])
    log('mkfs.ext4: %.1f s' % (time.monotonic() - t0))
    os.rename(image + '.tmp', image)
    write_stamp(stamp, want)
    return rootfs, image


def depmod(rootfs, base, kver):
    """Index the modules under base/lib/modules/kver. The host may have no
    kmod: this runs the root filesystem's own depmod through its dynamic
    loader."""
    libpath = ':'.join(os.path.join(rootfs, d) for d in ('lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu'))
    run([os.path.join(rootfs, 'lib64/ld-linux-x86-64.so.2'), '--library-path', libpath,
         '--argv0', 'depmod', os.path.join(rootfs, 'bin/kmod'), '-b', base, kver])


def build_kernel(cache, rootfs):
    """Debian's kernel image and modules, unpacked, with depmod's indexes."""
    kdir = os.path.join(cache, 'kernel')
    stamp = os.path.join(cache, 'kernel.stamp')
    try:
        with open(stamp) as f:
            kver = json.load(f)['version']
        if os.path.exists(os.path.join(kdir, 'lib/modules', kver, 'modules.dep.bin')):
            return kdir, kver
    except (OSError, ValueError, KeyError):
        pass
    need_tools('fetching the guest kernel', ['apt-get', 'dpkg-deb'])
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        apt_download(['linux-image-amd64'], tmp)
        meta = [f for f in os.listdir(tmp) if f.endswith('.deb')][0]
        depends = run(['dpkg-deb', '-f', os.path.join(tmp, meta), 'Depends'],
                      stdout=subprocess.PIPE, text=True).stdout.strip()
        # "linux-image-6.1.0-56-amd64 (= 6.1.192-2)"
        name = depends.split(',')[0].split()[0]
        version = depends.split('(=')[1].split(')')[0].strip() if '(=' in depends else None
        log('fetching the guest kernel %s' % name)
        apt_download([name + ('=' + version if version else '')], tmp)
        deb = [f for f in os.listdir(tmp) if f.startswith(name + '_')][0]
        unpacked = os.path.join(tmp, 'kernel')
        run(['dpkg-deb', '-x', os.path.join(tmp, deb), unpacked])
        kver = os.listdir(os.path.join(unpacked, 'lib/modules'))[0]
        depmod(rootfs, unpacked, kver)
        shutil.rmtree(kdir, ignore_errors=True)
        os.rename(unpacked, kdir)
    write_stamp(stamp, {'version': kver})
    return kdir, kver


def fetch_kernel_tree(tmp, kver, members):
    """The linux-headers of the guest's kernel unpacked under tmp (never
    installed), and the given paths of the matching linux-source taken out
    of its tarball into tmp/linux-source-X.Y/. Returns (headers directory,
    source directory)."""
    headers = 'linux-headers-' + kver
    apt_download([headers], tmp)
    deb = [f for f in os.listdir(tmp) if f.startswith(headers + '_')][0]
    version = deb.split('_')[1]
    # linux-headers-6.1.0-57-common (= 6.1.192-3), linux-kbuild-6.1 (>= 6.1.192-3), ...
    depends = run(['dpkg-deb', '-f', os.path.join(tmp, deb), 'Depends'],
                  stdout=subprocess.PIPE, text=True).stdout
    wanted = [d.split()[0] for d in depends.split(',')
              if d.split()[0].startswith(('linux-headers-', 'linux-kbuild-'))]
    series = [d for d in wanted if d.startswith('linux-kbuild-')][0][len('linux-kbuild-'):]
    apt_download(['%s=%s' % (p, version) for p in wanted] +
                 ['linux-source-%s=%s' % (series, version)], tmp)
    root = os.path.join(tmp, 'root')
    for f in os.listdir(tmp):
        if f.startswith(tuple(wanted + [headers + '_'])) and f.endswith('.deb'):
            run(['dpkg-deb', '-x', os.path.join(tmp, f), root])
    hdir = os.path.join(root, 'usr/src', headers)
    # Its Makefile includes the common headers by their installed path.
    with open(os.path.join(hdir, 'Makefile')) as f:
        makefile = f.read()
    with open(os.path.join(hdir, 'Makefile'), 'w') as f:
        f.write(makefile.replace('include /usr/src/', 'include %s/usr/src/' % root))
    src = [f for f in os.listdir(tmp) if f.startswith('linux-source-')][0]
    top = 'linux-source-%s' % series
    # linux-source holds the whole tree as one tar.xz: take out only members.
    deb_tar = subprocess.Popen(['dpkg-deb', '--fsys-tarfile', os.path.join(tmp, src)],
                               stdout=subprocess.PIPE)
    inner = subprocess.Popen(['tar', '-xO', './usr/src/%s.tar.xz' % top],
                             stdin=deb_tar.stdout, stdout=subprocess.PIPE)
    deb_tar.stdout.close()
    run(['tar', '-xJ', '-C', tmp] + ['%s/%s' % (top, m) for m in members], stdin=inner.stdout)
    inner.wait()
    deb_tar.wait()
    return hdir, os.path.join(tmp, top)


def build_module(cache, kdir, kver, rootfs, name, recipe, members, prepare, make_args, users):
    """An out-of-tree module the guest's kernel lacks, built here from
    linux-source with the kernel's linux-headers and put beside the guest's
    modules as extra/NAME.ko, so that modprobe finds it and its
    dependencies. prepare(source directory, tmp) returns the directory to
    build (M=). Reused while the kernel and recipe stay the same (NAME.stamp);
    a failure is only logged: the cases that need it (users) then skip."""
    moddir = os.path.join(kdir, 'lib/modules', kver)
    target = os.path.join(moddir, 'extra', name + '.ko')
    stamp = os.path.join(cache, name + '.stamp')
    want = {'recipe': recipe, 'kernel': kver}
    if stamp_ok(stamp, want) and os.path.exists(target):
        return target
    try:
        with open(stamp) as f:
            failed = json.load(f)
        if failed.pop('failed', None) is not None and failed == want:
            log('the %s module failed to build for this kernel (%s); %s skip' % (name, stamp, users))
            return None
    except (OSError, ValueError, AttributeError):
        pass
    try:
        need_tools('building the %s module' % name, ['apt-get', 'dpkg-deb', 'make', 'tar', 'xz'])
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            hdir, srcdir = fetch_kernel_tree(tmp, kver, members)
            mod = prepare(srcdir, tmp)
            run(['make', '-s', '-j%d' % (os.cpu_count() or 1), '-C', hdir, 'M=' + mod] + make_args + ['modules'])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy(os.path.join(mod, name + '.ko'), target + '.tmp')
            os.rename(target + '.tmp', target)
        depmod(rootfs, kdir, kver)
    except Skip as e:
        # apt unreachable: try again next time
        log('cannot build the %s module (%s will skip): %s' % (name, users, e))
        return None
    except (OSError, IndexError, subprocess.CalledProcessError) as e:
        # A build that fails is not tried again for this kernel and recipe.
        log('cannot build the %s module (%s will skip): %s' % (name, users, e))
        write_stamp(stamp, dict(want, failed=str(e)))
        return None
    write_stamp(stamp, want)
    log('built %s' % target)
    return target


def build_mtty(cache, kdir, kver, rootfs):
    """The mtty sample mdev parent (samples/vfio-mdev/mtty.c), which Debian's
    kernel does not ship: `modprobe mtty` pulls in mdev and vfio."""
    def prepare(srcdir, tmp):
        mod = os.path.join(tmp, 'mtty')
        os.makedirs(mod)
        shutil.copy(os.path.join(srcdir, 'samples/vfio-mdev/mtty.c'), mod)
        with open(os.path.join(mod, 'Kbuild'), 'w') as f:
            f.write('obj-m := mtty.o\n')
        return mod
    return build_module(cache, kdir, kver, rootfs, 'mtty', MTTY_RECIPE, ['samples/vfio-mdev/mtty.c'],
                        prepare, [], 'the mdev cases')


def build_netdevsim(cache, kdir, kver, rootfs):
    """netdevsim (drivers/net/netdevsim/), which Debian's kernel leaves unset
    (CONFIG_NETDEVSIM): a simulated NIC whose VFs take MAC, VLAN, trust,
    spoofchk, link state and rates over rtnetlink, so the VF settings case
    meets the kernel's own parser. Built with the directory's own Makefile;
    the headers' .config decides its optional objects."""
    return build_module(cache, kdir, kver, rootfs, 'netdevsim', NETDEVSIM_RECIPE, ['drivers/net/netdevsim'],
                        lambda srcdir, tmp: os.path.join(srcdir, 'drivers/net/netdevsim'),
                        ['CONFIG_NETDEVSIM=m'], 'the netdevsim case')


def build_busybox(cache):
    path = os.path.join(cache, 'busybox')
    if os.path.exists(path):
        return path
    need_tools('fetching busybox', ['apt-get', 'dpkg-deb'])
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        apt_download(['busybox-static'], tmp)
        deb = [f for f in os.listdir(tmp) if f.endswith('.deb')][0]
        run(['dpkg-deb', '-x', os.path.join(tmp, deb), os.path.join(tmp, 'x')])
        shutil.copy(os.path.join(tmp, 'x/bin/busybox'), path + '.tmp')
        os.rename(path + '.tmp', path)
    return path


def module_closure(moddir, names):
    """Module files for names, each after its dependencies."""
    deps = {}
    with open(os.path.join(moddir, 'modules.dep')) as f:
        for line in f:
            path, _, rest = line.partition(':')
            deps[path] = rest.split()
    by_name = {os.path.basename(p).split('.ko')[0].replace('-', '_'): p for p in deps}
    order = []

    def visit(path):
        if path in order:
            return
        for d in reversed(deps[path]):
            visit(d)
        order.append(path)
    for n in names:
        if n not in by_name:
            raise RuntimeError('module %s not in modules.dep' % n)
        visit(by_name[n])
    return order


class Cpio:
    """A newc archive, written without root: ownership is always 0:0."""

    def __init__(self):
        self.data = bytearray()
        self.ino = 1

    def _entry(self, name, mode, body=b'', rdev=(0, 0)):
        name_b = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08x' % v for v in (
            self.ino, mode, 0, 0, 1, 0, len(body), 0, 0, rdev[0], rdev[1], len(name_b), 0))
        self.ino += 1
        self.data += hdr.encode() + name_b
        self.data += b'\0' * (-len(self.data) % 4)
        self.data += body
        self.data += b'\0' * (-len(self.data) % 4)

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name, body, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, body)

    def chardev(self, name, major, minor):
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self):
        self._entry('TRAILER!!!', 0)
        return bytes(self.data)


def build_initrd(cache, kdir, kver, busybox, init_script):
    moddir = os.path.join(kdir, 'lib/modules', kver)
    modules = module_closure(moddir, INITRD_MODULES)
    with open(init_script, 'rb') as f:
        init = f.read()
    key = hashlib.sha256(repr((kver, modules, init)).encode()).hexdigest()[:16]
    path = os.path.join(cache, 'initrd-%s.img' % key)
    if os.path.exists(path):
        return path
    for old in os.listdir(cache):
        if old.startswith('initrd-'):
            os.unlink(os.path.join(cache, old))
    c = Cpio()
    for d in ('bin', 'dev', 'proc', 'sys', 'newroot', 'modules'):
        c.dir(d)
    c.chardev('dev/console', 5, 1)
    with open(busybox, 'rb') as f:
        c.file('bin/busybox', f.read(), 0o755)
    c.file('init', init, 0o755)
    names = []
    for m in modules:
        with open(os.path.join(moddir, m), 'rb') as f:
            c.file('modules/' + os.path.basename(m), f.read())
        names.append(os.path.basename(m))
    c.file('modules/order', ('\n'.join(names) + '\n').encode())
    with open(path + '.tmp', 'wb') as f:
        f.write(c.finish())
        # QEMU 7.2 overwrites the end of the initrd when it boots an ELF
        # kernel through PVH: keep the archive clear of that.
        f.write(b'\0' * (1 << 20))
    os.rename(path + '.tmp', path)
    return path


def extract_vmlinux(cache, kdir, kver):
    """The uncompressed ELF inside Debian's bzImage: QEMU boots it through
    PVH, skipping the decompression that is slow under TCG."""
    path = os.path.join(cache, 'vmlinux-' + kver)
    if os.path.exists(path):
        return path
    with open(os.path.join(kdir, 'boot', 'vmlinuz-' + kver), 'rb') as f:
        bz = f.read()
    start = bz.find(b'\xfd7zXZ\x00')
    if start < 0:
        return None
    elf = lzma.LZMADecompressor().decompress(bz[start:])
    if not elf.startswith(b'\x7fELF'):
        return None
    with open(path + '.tmp', 'wb') as f:
        f.write(elf)
    os.rename(path + '.tmp', path)
    return path


# --- the guest's hardware ----------------------------------------------------

def qemu_command(qemu, kernel, initrd, image, kver, src, build, rundir, moddir, console, cmdline_extra):
    """q35 with an Intel IOMMU and the devices the cases expect (guest/cases.py
    describes the same layout in FIXTURE)."""
    def share(tag, path, ro=True):
        return ['-virtfs', 'local,path=%s,mount_tag=%s,security_model=none%s'
                % (path, tag, ',readonly=on' if ro else '')]
    cmdline = ' '.join([
        'console=ttyS0', 'quiet', 'panic=-1', 'intel_iommu=on', 'iommu=pt',
        # A loaded host slows TCG enough to fail the IO-APIC timer check
        # ("timer doesn't work through Interrupt-remapped IO-APIC").
        'no_timer_check',
        'hostdev.kver=' + kver, 'hostdev.src=' + src, 'hostdev.build=' + build,
        # the build tree rides on the source share when it lies inside it
        'hostdev.buildshare=' + ('0' if (build + '/').startswith(src + '/') else '1'),
    ] + cmdline_extra)
    cmd = [qemu,
           '-machine', 'q35,kernel-irqchip=split', '-accel', 'tcg', '-cpu', 'max',
           '-smp', '2', '-m', GUEST_MEMORY,
           '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
           '-serial', 'file:' + console,
           '-device', 'intel-iommu,intremap=on,caching-mode=on',
           '-kernel', kernel, '-initrd', initrd, '-append', cmdline,
           # the guest's own root disk, on the root complex
           '-drive', 'if=none,id=root,file=%s,format=raw,snapshot=on' % image,
           '-device', 'virtio-blk-pci,drive=root,addr=0x3',
           # e1000e alone in its group
           '-device', 'pcie-root-port,id=rp1,chassis=1,addr=0x4',
           '-netdev', 'user,id=n1,restrict=on',
           '-device', 'e1000e,netdev=n1,bus=rp1,mac=52:54:00:00:01:01',
           # a PCIe-to-PCI bridge: it and everything behind it share a group
           '-device', 'pcie-root-port,id=rp2,chassis=2,addr=0x5',
           '-device', 'pcie-pci-bridge,id=br0,bus=rp2',
           '-netdev', 'user,id=n2,restrict=on',
           '-device', 'e1000,netdev=n2,bus=br0,addr=0x1,mac=52:54:00:00:02:01',
           '-device', 'pci-testdev,bus=br0,addr=0x2',
           # a root port without ACS: shares its group with the edu device
           '-device', 'pcie-root-port,id=rp3,chassis=3,addr=0x6,disable-acs=on',
           '-device', 'edu,bus=rp3',
           # NVMe with SR-IOV (two VFs) and one namespace
           '-device', 'pcie-root-port,id=rp4,chassis=4,addr=0x7',
           '-device', 'nvme-subsys,id=nvs0,nqn=hostdev-vm-subsys',
           '-device', 'nvme,id=nvme0,serial=HOSTDEVNVME0,subsys=nvs0,bus=rp4,'
                      'sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2',
           '-blockdev', 'null-co,node-name=nvns0,size=67108864,read-zeroes=on',
           '-device', 'nvme-ns,drive=nvns0,bus=nvme0,nsid=1',
           # USB: a keyboard and a stick with a serial
           '-device', 'pcie-root-port,id=rp5,chassis=5,addr=0x8',
           '-device', 'qemu-xhci,id=xhci,bus=rp5',
           '-device', 'usb-kbd,bus=xhci.0',
           '-blockdev', 'null-co,node-name=stick,size=67108864,read-zeroes=on',
           '-device', 'usb-storage,bus=xhci.0,drive=stick,serial=HOSTDEVSTICK01',
           ]
    cmd += share('src', src) + share('results', rundir, ro=False) + share('modules', moddir)
    if not (build + '/').startswith(src + '/'):
        cmd += share('build', build)
    return cmd


# --- main --------------------------------------------------------------------

def tap_skip(reason):
    print('1..0 # SKIP ' + reason, flush=True)
    log('skipped: ' + reason)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--source-root', default=os.environ.get('HOSTDEV_SOURCE_ROOT'))
    ap.add_argument('--build-root', default=os.environ.get('HOSTDEV_BUILD_ROOT'))
    ap.add_argument('--cache', default=os.environ.get('HOSTDEV_VM_CACHE'))
    ap.add_argument('--timeout', type=int, default=int(os.environ.get('HOSTDEV_VM_TIMEOUT', '600')),
                    help='seconds the guest may run')
    ap.add_argument('--cases', default='', help='comma-separated case names to run (default: all)')
    ap.add_argument('--prepare-only', action='store_true', help='build the cache, boot nothing')
    ap.add_argument('--shell', action='store_true',
                    help='boot to a shell on this terminal with the services and hostdevd running')
    args = ap.parse_args()
    if not args.source_root or not args.build_root:
        ap.error('--source-root and --build-root are needed (meson sets them)')
    src = os.path.realpath(args.source_root)
    build = os.path.realpath(args.build_root)
    cache = os.path.realpath(args.cache or os.path.join(build, 'tests/vm/cache'))
    rundir = os.path.join(build, 'tests/vm/run')
    t0 = time.monotonic()

    try:
        qemu = shutil.which(os.environ.get('HOSTDEV_VM_QEMU', 'qemu-system-x86_64'))
        if not qemu:
            raise Skip('%s not found (Debian package qemu-system-x86; tools/install-deps installs it)'
                       % os.environ.get('HOSTDEV_VM_QEMU', 'qemu-system-x86_64'))
        binaries = [os.path.join(build, 'src/hostdevd/hostdevd'), os.path.join(build, 'src/cli/hostdevctl')]
        for b in binaries:
            if not os.access(b, os.X_OK):
                raise Skip('%s is not built' % b)
        os.makedirs(cache, exist_ok=True)
        # One builder at a time per cache: build directories may share one.
        lock = open(os.path.join(cache, '.lock'), 'w')
        fcntl.flock(lock, fcntl.LOCK_EX)
        rootfs, image = timed('root filesystem', build_rootfs, cache, linked_packages(binaries))
        kdir, kver = timed('kernel', build_kernel, cache, rootfs)
        timed('mtty module', build_mtty, cache, kdir, kver, rootfs)
        timed('netdevsim module', build_netdevsim, cache, kdir, kver, rootfs)
        busybox = timed('busybox', build_busybox, cache)
        initrd = timed('initramfs', build_initrd, cache, kdir, kver, busybox,
                       os.path.join(src, 'tests/vm/guest/initramfs-init'))
        kernel = (timed('vmlinux', extract_vmlinux, cache, kdir, kver) or
                  os.path.join(kdir, 'boot', 'vmlinuz-' + kver))
        fcntl.flock(lock, fcntl.LOCK_UN)
    except Skip as e:
        tap_skip(str(e))
        return 0
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        print('Bail out! preparing the guest failed: %s' % e, flush=True)
        return 1
    log('cache ready in %.1f s (%s)' % (time.monotonic() - t0, cache))
    if args.prepare_only:
        print('1..0 # SKIP --prepare-only: cache built, nothing booted', flush=True)
        return 0

    shutil.rmtree(rundir, ignore_errors=True)
    os.makedirs(rundir)
    with open(os.path.join(rundir, 'env.json'), 'w') as f:
        json.dump({k: os.environ[k] for k in GUEST_ENV if k in os.environ}, f)
    console = os.path.join(rundir, 'console.log')
    extra = ['hostdev.cases=' + args.cases] if args.cases else []
    if args.shell:
        extra.append('hostdev.shell=1')
    cmd = qemu_command(qemu, kernel, initrd, image, kver, src, build, rundir,
                       os.path.join(kdir, 'lib/modules'), console, extra)
    if args.shell:
        # the serial line on this terminal; Ctrl-A X quits QEMU
        cmd[cmd.index('file:' + console)] = 'mon:stdio'
        os.execv(qemu, cmd)
    with open(os.path.join(rundir, 'qemu.cmdline'), 'w') as f:
        f.write(' '.join(cmd) + '\n')
    for attempt in (1, 2):
        t1 = time.monotonic()
        log('booting the guest (log: %s)' % console)
        qemu_proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        try:
            qemu_out, _ = qemu_proc.communicate(timeout=args.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            qemu_proc.kill()
            qemu_out, _ = qemu_proc.communicate()
            timed_out = True
        log('guest ran %.1f s' % (time.monotonic() - t1))
        # A guest that never reached the cases (early boot under a loaded
        # TCG host) gets one more boot; its console stays beside.
        if attempt == 1 and not timed_out and not read_text(os.path.join(rundir, 'tap.txt')):
            os.rename(console, console + '.first-boot')
            log('the guest did not reach the cases (see console.log.first-boot); booting once more')
            continue
        break
    return relay(rundir, console, qemu_proc.returncode, qemu_out, timed_out)


def relay(rundir, console, returncode, qemu_out, timed_out):
    """Print the guest's TAP; anything short of a finished run is a failure."""
    tap = read_text(os.path.join(rundir, 'tap.txt'))
    status = read_text(os.path.join(rundir, 'finished'))  # "cases exited with N"
    lines = tap.splitlines()
    print('TAP version 13')
    for line in lines:
        print(line)
    passed = sum(1 for ln in lines if ln.startswith('ok ') and '# SKIP' not in ln)
    skipped = sum(1 for ln in lines if ln.startswith('ok ') and '# SKIP' in ln)
    failed = sum(1 for ln in lines if ln.startswith('not ok '))
    log('guest cases: %d passed, %d failed, %d skipped' % (passed, failed, skipped))
    for ln in lines:
        if ln.startswith('ok ') and '# SKIP' in ln:
            log('skipped %s: %s' % (ln.split(' - ', 1)[-1].split(' # ')[0], ln.split('# SKIP', 1)[1].strip()))
    finished = not timed_out and status.split()[-1:] == ['0']
    if failed or not finished:
        print('# last lines of hostdevd.log:')
        for line in tail_lines(os.path.join(rundir, 'hostdevd.log'), 25):
            print('#   ' + line)
    if not finished:
        reason = ('the guest did not finish in time' if timed_out else
                  'the guest stopped before finishing (QEMU exit %s%s)'
                  % (returncode, ', ' + status if status else ''))
        print('# %s; last console lines:' % reason)
        for line in tail_lines(console, 40) + (qemu_out or '').splitlines()[-10:]:
            print('#   ' + line)
        print('Bail out! ' + reason, flush=True)
        return 1
    sys.stdout.flush()
    return 0


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ''


def tail_lines(path, n):
    try:
        with open(path, errors='replace') as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


if __name__ == '__main__':
    sys.exit(main())
