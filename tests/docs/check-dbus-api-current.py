#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""docs/dbus-api.md must match what docs/gen-dbus-doc.py makes of dbus/*.xml."""

import difflib
import glob
import os
import subprocess
import sys
import tempfile

src = os.environ['HOSTDEV_SOURCE_ROOT']
generator = os.path.join(src, 'docs', 'gen-dbus-doc.py')
committed = os.path.join(src, 'docs', 'dbus-api.md')
xml = sorted(glob.glob(os.path.join(src, 'dbus', '*.xml')))

if not xml:
    sys.exit('no dbus/*.xml found')

with tempfile.TemporaryDirectory() as tmp:
    fresh = os.path.join(tmp, 'dbus-api.md')
    subprocess.run([sys.executable, generator, '-o', fresh] + xml, check=True)
    with open(fresh, encoding='utf-8') as f:
        want = f.read().splitlines(keepends=True)

try:
    with open(committed, encoding='utf-8') as f:
        have = f.read().splitlines(keepends=True)
except FileNotFoundError:
    have = []

if have != want:
    sys.stdout.writelines(difflib.unified_diff(have, want, 'docs/dbus-api.md (in the tree)',
                                               'docs/dbus-api.md (from dbus/*.xml)'))
    print('\ndocs/dbus-api.md is out of date with dbus/*.xml. Update it with:\n'
          '    /usr/bin/python3 docs/gen-dbus-doc.py\n'
          'and include the result in the same change.')
    sys.exit(1)

print(f'docs/dbus-api.md is current ({len(xml)} interface files)')
