#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""data/org.hostdev1.conf, read as text: only root may own org.hostdev1, and
the default context may call it on every interface."""

import os
import sys
import xml.etree.ElementTree as ET

src = os.environ['HOSTDEV_SOURCE_ROOT']
NAME = 'org.hostdev1'
# Attributes that would narrow an allow rule to some interfaces or members.
NARROWING = {'send_interface', 'send_member', 'send_path', 'send_type', 'send_error',
             'send_broadcast', 'send_requested_reply'}

root = ET.parse(os.path.join(src, 'data', 'org.hostdev1.conf')).getroot()
failures = []


def owns(rule):
    own = rule.get('own')
    prefix = rule.get('own_prefix')
    return own in (NAME, '*') or (prefix is not None and (NAME + '.').startswith(prefix + '.'))


if root.tag != 'busconfig':
    failures.append(f'root element is <{root.tag}>, not <busconfig>')

root_may_own = False
default_may_send = False
for policy in root.iter('policy'):
    ctx = dict(policy.attrib)
    for rule in policy:
        if rule.tag == 'allow' and owns(rule):
            if ctx == {'user': 'root'}:
                root_may_own = True
            else:
                failures.append(f'<policy {ctx}> allows owning {NAME}: only root may')
        if rule.tag == 'deny' and ctx == {'context': 'default'} \
                and rule.get('send_destination') == NAME:
            failures.append(f'the default context denies some calls to {NAME}: {rule.attrib}')
        if rule.tag == 'allow' and ctx == {'context': 'default'} \
                and rule.get('send_destination') == NAME:
            extra = NARROWING & set(rule.attrib)
            if extra:
                print(f'note: default rule narrowed by {sorted(extra)}: {rule.attrib}')
            else:
                default_may_send = True

if not root_may_own:
    failures.append(f'no <policy user="root"> allows owning {NAME}')
if not default_may_send:
    failures.append(f'the default context does not allow calling {NAME} on every interface')

for f in failures:
    print(f'FAIL: {f}')
if failures:
    sys.exit(1)
print(f'only root may own {NAME}; everyone may call it')
