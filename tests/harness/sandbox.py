"""The process environment every test runs in.

A test process needs these before it creates anything:

* the umockdev preload, so that libumockdev can build a testbed and send
  uevents, and so that every child (hostdevd, busctl, lspci, a demo shell)
  inherits it;
* a private mount namespace, so that polkitd can be given the project's
  actions and rules by bind mounts without touching the host, and a tmpfs
  of its own for testbeds;
* a private network namespace, for a uevent queue as deep as the kernel's
  (see _uevent_queue); nothing in the tests uses the network, and the
  buses are unix sockets in the file system.

enter() re-executes the current program through `unshare` and
`umockdev-wrapper` when it is not yet in that state. It must run before a
testbed is created, ideally first thing in main().
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

PRELOAD = 'libumockdev-preload.so.0'
PYTHON = '/usr/bin/python3'
_NS_MARK = 'HOSTDEV_TEST_NAMESPACE'

# meson treats this exit status as "skipped"
EXIT_SKIP = 77


def preloaded():
    return PRELOAD in os.environ.get('LD_PRELOAD', '')


def in_namespace():
    return os.environ.get(_NS_MARK) == str(os.getpid())


def enter(argv=None):
    """Re-exec into a private mount namespace under the umockdev preload.

    Returns only when both are in place. Exits with EXIT_SKIP when the
    environment cannot provide them (not root, tools missing)."""
    argv = list(sys.argv if argv is None else argv)
    # A closed standard descriptor would be taken by the next open() (an
    # inotify fd, a FIFO) and inherited by children as their stdin or stdout.
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            os.set_inheritable(fd, True)
    if sys.stdin is None:
        sys.stdin = open(0, closefd=False)
    if sys.stdout is None:
        sys.stdout = open(1, 'w', closefd=False)
    if sys.stderr is None:
        sys.stderr = open(2, 'w', closefd=False)
    if (os.environ.get('TMPDIR') or '').startswith('/dev'):
        # see paths.tmpdir(): nothing the preload sees may live below /dev
        os.environ['TMPDIR'] = '/tmp'
    if in_namespace() and preloaded():
        _private_tmp()
        _uevent_queue()
        return
    if os.geteuid() != 0:
        sys.stderr.write('SKIP: the integration tests need root (mount namespace, polkitd)\n')
        sys.exit(EXIT_SKIP)
    for tool in ('unshare', 'umockdev-wrapper'):
        if shutil.which(tool) is None:
            sys.stderr.write('SKIP: %s is not installed\n' % tool)
            sys.exit(EXIT_SKIP)
    sys.stdout.flush()
    sys.stderr.flush()
    script = os.path.abspath(argv[0])
    # unshare execs the next command in the same process, so the pid it
    # gets is ours: the marker proves we are the process inside.
    cmd = ['unshare', '--mount', '--net', '--propagation', 'private',
           'env', '%s=%d' % (_NS_MARK, os.getpid()),
           'umockdev-wrapper', PYTHON, script] + argv[1:]
    os.execvp(cmd[0], cmd)


def _private_tmp():
    """A tmpfs of our own for testbeds and work directories: a testbed is
    thousands of small files, which tmpfs creates an order of magnitude
    faster than a disk file system. It lives in the private mount
    namespace, so it goes away with the test process."""
    if os.environ.get('HOSTDEV_TEST_TMPFS_OWNER') == str(os.getpid()):
        return
    base = tempfile.mkdtemp(prefix='hostdev-tmpfs.')
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755,size=2g', 'hostdev-tests', base],
                   check=True)
    os.environ['HOSTDEV_TEST_TMPFS_OWNER'] = str(os.getpid())
    os.environ['TMPDIR'] = base
    tempfile.tempdir = None
    atexit.register(_remove_private_tmp, base)


def _remove_private_tmp(base):
    subprocess.run(['umount', '--lazy', base], stderr=subprocess.DEVNULL)
    try:
        os.rmdir(base)
    except OSError:
        pass


def _uevent_queue():
    """umockdev delivers uevents over unix datagram sockets, which queue
    only net.unix.max_dgram_qlen messages (10 by default) where the kernel's
    netlink socket holds as many as its buffer; a burst beyond that makes
    libumockdev abort. The private network namespace has its own setting."""
    try:
        with open('/proc/sys/net/unix/max_dgram_qlen', 'w') as f:
            f.write('65536\n')
    except OSError as e:
        sys.stderr.write('warning: cannot raise net.unix.max_dgram_qlen: %s\n' % e)



# Children that must not outlive the test process, even when it is killed:
# prefix their command line with this (the signal survives the exec).
DIE_WITH_PARENT = ['setpriv', '--pdeathsig', 'TERM']
