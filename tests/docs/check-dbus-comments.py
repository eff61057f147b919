#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every interface, method, property and signal in dbus/*.xml has a comment.

Uses the same rules as docs/gen-dbus-doc.py to attach comments to members,
so "documented" here means "has a description in docs/dbus-api.md".
"""

import glob
import importlib.util
import os
import sys

src = os.environ['HOSTDEV_SOURCE_ROOT']
spec = importlib.util.spec_from_file_location('gen_dbus_doc', os.path.join(src, 'docs', 'gen-dbus-doc.py'))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

files = sorted(glob.glob(os.path.join(src, 'dbus', '*.xml')))
if not files:
    sys.exit('no dbus/*.xml found')

interfaces = gen.load_all(files)
members = sum(len(i.members()) for i in interfaces)
if not interfaces or not members:
    sys.exit('dbus/*.xml declare no interfaces or members')

missing = gen.undocumented(interfaces)
for m in missing:
    print(f'undocumented: {m}')
if missing:
    print('\nAdd an XML comment before each of these in dbus/*.xml, then run '
          '/usr/bin/python3 docs/gen-dbus-doc.py.')
    sys.exit(1)

print(f'{len(interfaces)} interfaces and {members} members, all documented')
