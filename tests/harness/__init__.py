"""Test harness of hostdev: a simulated host on a umockdev testbed, a kernel
emulator, a private system bus with a real polkitd, and the real hostdevd.

Test programs call harness.main() instead of unittest.main(): it re-executes
the program in a private mount namespace under the umockdev preload first,
and exits with 77 (meson's "skipped") when every test was skipped.
"""

import sys

from . import sandbox


def main():
    sandbox.enter()
    import unittest
    prog = unittest.main(module='__main__', exit=False, verbosity=2)
    result = prog.result
    if result.testsRun and len(result.skipped) == result.testsRun:
        sys.exit(sandbox.EXIT_SKIP)
    sys.exit(0 if result.wasSuccessful() else 1)
