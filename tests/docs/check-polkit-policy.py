#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkit/org.hostdev1.policy declares every action hostdevd asks for, as
its own action table says (printed by the polkit-actions program built from
it), each with a description, a message and defaults that always ask an
administrator; an action asked in addition to a method's own (the override
of a host-critical device) is never kept. Actions the policy declares for
methods the daemon does not serve yet are listed, not failed.

Usage: check-polkit-policy.py BUILD/tests/docs/polkit-actions
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

src = os.environ['HOSTDEV_SOURCE_ROOT']
ADMIN, KEEP = 'auth_admin', 'auth_admin_keep'

# action: [methods it guards], "+" for an action asked in addition
table = {}
out = subprocess.run([sys.argv[1]], capture_output=True, text=True, check=True).stdout
for line in out.splitlines():
    action, method = line.split('\t')
    table.setdefault(action, []).append(method)

root = ET.parse(os.path.join(src, 'polkit', 'org.hostdev1.policy')).getroot()
failures = []

if not table or not any('+' not in m for m in table.values()):
    failures.append('polkit-actions printed no action guarding a method:\n' + out)
if root.tag != 'policyconfig':
    failures.append(f'root element is <{root.tag}>, not <policyconfig>')
if (root.findtext('vendor') or '').strip() != 'hostdev':
    failures.append('<vendor> is not "hostdev"')

declared = {}
for action in root.findall('action'):
    aid = action.get('id')
    if aid in declared:
        failures.append(f'{aid}: declared twice')
    d = action.find('defaults')
    declared[aid] = tuple((d.findtext(k) or '').strip() if d is not None else ''
                          for k in ('allow_any', 'allow_inactive', 'allow_active'))
    for tag in ('description', 'message'):
        text = (action.findtext(tag) or '').strip()
        if len(text) < 10:
            failures.append(f'{aid}: <{tag}> is missing or too short')
    allow_any, allow_inactive, allow_active = declared[aid]
    # No session is trusted without an administrator: without logind
    # (servers, containers) only allow_any applies.
    if (allow_any, allow_inactive) != (ADMIN, ADMIN):
        failures.append(f'{aid}: allow_any and allow_inactive must be {ADMIN}, '
                        f'not {allow_any!r}, {allow_inactive!r}')
    if allow_active not in (ADMIN, KEEP):
        failures.append(f'{aid}: allow_active must be {ADMIN} or {KEEP}, not {allow_active!r}')

for aid, methods in sorted(table.items()):
    if aid not in declared:
        failures.append(f'{aid}: hostdevd asks for it ({", ".join(methods)}) '
                        'but the policy does not declare it')
    elif '+' in methods and declared[aid] != (ADMIN, ADMIN, ADMIN):
        failures.append(f'{aid}: an authorization to override must never be kept, '
                        f'defaults are {declared[aid]}')

for aid in sorted(set(declared) - set(table)):
    print(f'note: {aid} is declared, no method of this hostdevd asks for it yet')
for f in failures:
    print(f'FAIL: {f}')
if failures:
    sys.exit(1)
print(f'{len(table)} actions hostdevd asks for, all declared with the expected defaults')
