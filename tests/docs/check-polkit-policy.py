#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkit/org.hostdev1.policy declares exactly the actions of the API, with
their defaults, and a description and message for each."""

import os
import sys
import xml.etree.ElementTree as ET

src = os.environ['HOSTDEV_SOURCE_ROOT']

A, K = 'auth_admin', 'auth_admin_keep'
# action: (allow_any, allow_inactive, allow_active), from the API's action table
EXPECTED = {
    'org.hostdev1.manage-resource-groups': (A, A, K),
    'org.hostdev1.prepare-devices': (A, A, K),
    'org.hostdev1.claim-devices': (A, A, K),
    'org.hostdev1.assign-tenant': (A, A, A),
    'org.hostdev1.configure-sriov': (A, A, K),
    'org.hostdev1.manage-mdev': (A, A, K),
    'org.hostdev1.override-critical': (A, A, A),
}

root = ET.parse(os.path.join(src, 'polkit', 'org.hostdev1.policy')).getroot()
failures = []

if root.tag != 'policyconfig':
    failures.append(f'root element is <{root.tag}>, not <policyconfig>')
if (root.findtext('vendor') or '').strip() != 'hostdev':
    failures.append('<vendor> is not "hostdev"')

found = {}
for action in root.findall('action'):
    aid = action.get('id')
    if aid in found:
        failures.append(f'{aid}: declared twice')
    d = action.find('defaults')
    found[aid] = tuple((d.findtext(k) or '').strip() if d is not None else ''
                       for k in ('allow_any', 'allow_inactive', 'allow_active'))
    for tag in ('description', 'message'):
        text = (action.findtext(tag) or '').strip()
        if len(text) < 10:
            failures.append(f'{aid}: <{tag}> is missing or too short')
    if any('_keep' in v for v in found[aid]) and aid == 'org.hostdev1.override-critical':
        failures.append(f'{aid}: an authorization to override must never be kept')

for aid in sorted(set(EXPECTED) - set(found)):
    failures.append(f'{aid}: missing')
for aid in sorted(set(found) - set(EXPECTED)):
    failures.append(f'{aid}: not part of the API')
for aid in sorted(set(EXPECTED) & set(found)):
    if found[aid] != EXPECTED[aid]:
        failures.append(f'{aid}: defaults {found[aid]}, expected {EXPECTED[aid]}')

for f in failures:
    print(f'FAIL: {f}')
if failures:
    sys.exit(1)
print(f'{len(found)} actions with the expected defaults')
