"""Test harness of hostdev: a simulated host on a umockdev testbed, a kernel
emulator, a private system bus with a real polkitd, and the real hostdevd.

Test programs call harness.main() instead of unittest.main(): it re-executes
the program in a private mount namespace under the umockdev preload first,
and exits with 77 (meson's "skipped") when every test was skipped.
"""

import re
import sys

from . import sandbox

# .ci/run reads these lines: a test skipped inside a program that passes
# is still a skip, and CI fails on skips it has not been told about.
SKIP_LINE = 'hostdev-skip: %s: %s'


def skip_id(test):
    """Class.method of a unittest test; Class.setUpClass for a skip
    raised there ("setUpClass (__main__.Class)")."""
    m = re.match(r'(\w+) \((?:__main__\.)?([\w.]+)\)$', test.id())
    if m:
        return '%s.%s' % (m.group(2), m.group(1))
    return test.id().replace('__main__.', '', 1)


def main():
    sandbox.enter()
    import unittest
    prog = unittest.main(module='__main__', exit=False, verbosity=2)
    result = prog.result
    for test, reason in result.skipped:
        print(SKIP_LINE % (skip_id(test), ' '.join(str(reason).split())), flush=True)
    # A class skipped in setUpClass counts as a skip but not as a test run.
    skipped_cases = sum(isinstance(t, unittest.TestCase) for t, _ in result.skipped)
    if result.skipped and result.testsRun == skipped_cases and result.wasSuccessful():
        sys.exit(sandbox.EXIT_SKIP)
    sys.exit(0 if result.wasSuccessful() else 1)
