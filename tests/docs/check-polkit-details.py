#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every polkit detail key hostdevd passes (a string literal given to
polkit_details_add() or polkit_details_new() in src/bus) is documented in
the details table of docs/polkit.md and named in the comment of
polkit/org.hostdev1.policy, and the table documents no key that is never
passed."""

import os
import re
import sys

src = os.environ['HOSTDEV_SOURCE_ROOT']
bus_dir = os.path.join(src, 'src', 'bus')

passed = set()
for name in sorted(os.listdir(bus_dir)):
    if not name.endswith('.c'):
        continue
    with open(os.path.join(bus_dir, name)) as f:
        text = f.read()
    for m in re.finditer(r'polkit_details_(?:add\([^,]+,|new\()\s*"([a-z.-]+)"', text):
        passed.add(m.group(1))

with open(os.path.join(src, 'docs', 'polkit.md')) as f:
    doc = f.read()
section = doc.split('## Details', 1)[1].split('\n## ', 1)[0]
documented = set()
for line in section.splitlines():
    m = re.match(r'\|\s*(`[^|]+)\|', line)
    if m:
        documented.update(re.findall(r'`([a-z.-]+)`', m.group(1)))

with open(os.path.join(src, 'polkit', 'org.hostdev1.policy')) as f:
    policy = f.read()

failures = []
if len(passed) < 5:
    failures.append('found only %d detail keys in src/bus: %s' % (len(passed), sorted(passed)))
for key in sorted(passed - documented):
    failures.append('%s: passed by hostdevd, missing from the details table of docs/polkit.md' % key)
for key in sorted(documented - passed):
    failures.append('%s: documented in docs/polkit.md, never passed' % key)
for key in sorted(passed):
    if not re.search(r'(^|[\s,])%s([\s,]|$)' % re.escape(key), policy, re.M):
        failures.append('%s: not named in polkit/org.hostdev1.policy' % key)

for f in failures:
    print('FAIL: ' + f)
if failures:
    sys.exit(1)
print('%d detail keys, each documented: %s' % (len(passed), ', '.join(sorted(passed))))
