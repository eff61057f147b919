#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The layers of src/ include one way (docs/architecture.md): each
directory includes only the directories below it, so no directory includes
one that includes it back; and no prototype is declared in a .c file
(one header per module)."""

import glob
import os
import re
import sys

src = os.path.join(os.environ['HOSTDEV_SOURCE_ROOT'], 'src')

# What each directory may include besides itself.
ALLOWED = {
    'shared': set(),
    'common': {'shared'},
    'model': {'common', 'shared'},
    'kernel': {'model', 'common', 'shared'},
    'store': {'model', 'common', 'shared'},
    'daemon': {'kernel', 'store', 'model', 'common', 'shared'},
    'bus': {'daemon', 'model', 'common', 'shared'},
    'hostdevd': {'bus', 'daemon', 'kernel', 'store', 'model', 'common', 'shared'},
    'cli': {'common', 'shared'},
}

problems = []
files = sorted(glob.glob(os.path.join(src, '*', '*.[ch]')))
if not files:
    sys.exit('no sources under %s' % src)
for path in files:
    layer = os.path.basename(os.path.dirname(path))
    rel = os.path.relpath(path, src)
    with open(path) as f:
        text = f.read()
    if layer not in ALLOWED:
        problems.append('%s: directory %s is not in the layer table of this check' % (rel, layer))
        continue
    for m in re.finditer(r'^#include "([a-z]+)/', text, re.M):
        if m.group(1) != layer and m.group(1) not in ALLOWED[layer]:
            problems.append('%s includes %s/, which %s/ may not' % (rel, m.group(1), layer))
    if path.endswith('.c'):
        # a declaration at file scope ending in ");" that is not static
        for m in re.finditer(r'^(?!static\b|typedef\b|#|\s|/|\*|extern\b)[A-Za-z_][\w \*]*\b\w+\([^;{]*\);\s*$',
                             text, re.M):
            problems.append('%s: prototype in a .c file: %s' % (rel, m.group(0).strip()))

for p in problems:
    print(p)
print('%d files checked, %d problems' % (len(files), len(problems)))
sys.exit(1 if problems else 0)
