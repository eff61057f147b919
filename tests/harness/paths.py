"""Where the source tree, the build tree and the binaries under test are.

meson sets HOSTDEV_SOURCE_ROOT and HOSTDEV_BUILD_ROOT for its tests; when a
test is run by hand they default to this checkout and its build/ directory.
"""

import os

SOURCE_ROOT = os.environ.get('HOSTDEV_SOURCE_ROOT') or \
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_ROOT = os.environ.get('HOSTDEV_BUILD_ROOT') or os.path.join(SOURCE_ROOT, 'build')

HOST_JSON = os.path.join(SOURCE_ROOT, 'data', 'simhost', 'host.json')
DBUS_CONTRACT_DIR = os.path.join(SOURCE_ROOT, 'dbus')
BUS_POLICY = os.path.join(SOURCE_ROOT, 'data', 'org.hostdev1.conf')
POLKIT_DIR = os.path.join(SOURCE_ROOT, 'polkit')
TEST_RULES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'polkit')


def daemon_binary():
    return os.environ.get('HOSTDEVD') or os.path.join(BUILD_ROOT, 'src', 'hostdevd', 'hostdevd')


def cli_binary():
    return os.environ.get('HOSTDEVCTL') or os.path.join(BUILD_ROOT, 'src', 'cli', 'hostdevctl')


def tmpdir():
    """Where work directories go ($HOSTDEV_TEST_TMPDIR, else $TMPDIR or /tmp).

    Never below /dev (so not /dev/shm): the umockdev preload takes every
    file opened under /dev for a device node and tracks it, and aborts when
    its table overflows."""
    d = os.environ.get('HOSTDEV_TEST_TMPDIR')
    return d if d and os.path.isdir(d) else None
