#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Validate the XML the project installs or treats as its contract.

- polkit/org.hostdev1.policy against polkit's DTD;
- dbus/*.xml against the D-Bus introspection DTD, plus the rules a DTD cannot
  express: valid names and type signatures, one interface per file named
  after it;
- data/org.hostdev1.conf is well-formed (dbus's own busconfig.dtd lacks the
  send_*/receive_* attributes, so it cannot be used).

A DTD found in the system's copy is used offline (--nonet); without one only
well-formedness is checked by xmllint and the Python checks still run.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

src = os.environ['HOSTDEV_SOURCE_ROOT']
failures = []
checked = 0

POLKIT_DTDS = ['/usr/share/polkit-1/policyconfig-1.dtd']
INTROSPECT_DTDS = ['/usr/share/xml/dbus-1/introspect.dtd', '/usr/share/dbus-1/introspect.dtd']


def first(paths):
    return next((p for p in paths if os.path.exists(p)), None)


def xmllint(path, dtd):
    global checked
    xmllint = shutil.which('xmllint')
    if not xmllint:
        print('xmllint not found; relying on the Python checks')
        return
    cmd = [xmllint, '--nonet', '--noout']
    if dtd:
        cmd += ['--dtdvalid', dtd]
    cmd.append(path)
    r = subprocess.run(cmd, capture_output=True, text=True)
    what = f'valid against {dtd}' if dtd else 'well-formed'
    if r.returncode != 0:
        failures.append(f'{path}: not {what}:\n{r.stderr}')
    else:
        checked += 1
        print(f'ok: {os.path.relpath(path, src)} is {what}')


BASIC = 'ybnqiuxtdsogh'


def parse_type(sig, i):
    """Return the index after one complete type starting at sig[i], or raise ValueError."""
    if i >= len(sig):
        raise ValueError('truncated')
    c = sig[i]
    if c in BASIC or c == 'v':
        return i + 1
    if c == 'a':
        if i + 1 < len(sig) and sig[i + 1] == '{':
            if i + 2 >= len(sig) or sig[i + 2] not in BASIC:
                raise ValueError('dict key must be a basic type')
            j = parse_type(sig, parse_type(sig, i + 2))
            if j >= len(sig) or sig[j] != '}':
                raise ValueError('dict entry must hold exactly two types')
            return j + 1
        return parse_type(sig, i + 1)
    if c == '(':
        j = i + 1
        if j < len(sig) and sig[j] == ')':
            raise ValueError('empty struct')
        while j < len(sig) and sig[j] != ')':
            j = parse_type(sig, j)
        if j >= len(sig):
            raise ValueError('unterminated struct')
        return j + 1
    raise ValueError(f'unexpected {c!r}')


def single_type(sig):
    try:
        return bool(sig) and len(sig) <= 255 and parse_type(sig, 0) == len(sig)
    except ValueError:
        return False


IFACE_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$')
MEMBER_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
EMITS_VALUES = {'true', 'invalidates', 'const', 'false'}


def check_introspection(path):
    name = os.path.basename(path)
    errors = []
    root = ET.parse(path).getroot()
    if root.tag != 'node':
        errors.append('root element is not <node>')
    ifaces = root.findall('interface')
    if [i.get('name') for i in ifaces] != [name[:-len('.xml')]]:
        errors.append(f'must declare exactly the interface {name[:-4]}, '
                      f'declares {[i.get("name") for i in ifaces]}')
    for iface in ifaces:
        iname = iface.get('name') or ''
        if not IFACE_RE.match(iname) or len(iname) > 255:
            errors.append(f'invalid interface name {iname!r}')
        seen = set()
        for m in iface:
            if m.tag not in ('method', 'property', 'signal', 'annotation'):
                continue
            if m.tag == 'annotation':
                continue
            mname = m.get('name') or ''
            where = f'{iname}.{mname}'
            if not MEMBER_RE.match(mname) or len(mname) > 255:
                errors.append(f'invalid member name {where!r}')
            if mname in seen:
                errors.append(f'{where} declared twice')
            seen.add(mname)
            if m.tag == 'property':
                if not single_type(m.get('type') or ''):
                    errors.append(f'{where}: invalid type {m.get("type")!r}')
                if m.get('access') not in ('read', 'write', 'readwrite'):
                    errors.append(f'{where}: invalid access {m.get("access")!r}')
            for a in m.findall('arg'):
                if not single_type(a.get('type') or ''):
                    errors.append(f'{where}: argument {a.get("name")!r} has invalid type {a.get("type")!r}')
                if a.get('name') and not MEMBER_RE.match(a.get('name')):
                    errors.append(f'{where}: invalid argument name {a.get("name")!r}')
                d = a.get('direction')
                if m.tag == 'method' and d not in ('in', 'out'):
                    errors.append(f'{where}: argument {a.get("name")!r} needs direction in or out')
                if m.tag == 'signal' and d not in (None, 'out'):
                    errors.append(f'{where}: signal argument {a.get("name")!r} with direction {d!r}')
            for ann in m.findall('annotation'):
                if ann.get('name') == 'org.freedesktop.DBus.Property.EmitsChangedSignal' \
                        and ann.get('value') not in EMITS_VALUES:
                    errors.append(f'{where}: invalid EmitsChangedSignal {ann.get("value")!r}')
    return errors


policy = os.path.join(src, 'polkit', 'org.hostdev1.policy')
xmllint(policy, first(POLKIT_DTDS))

dbus_files = sorted(glob.glob(os.path.join(src, 'dbus', '*.xml')))
if not dbus_files:
    failures.append('no dbus/*.xml found')
introspect_dtd = first(INTROSPECT_DTDS)
if not introspect_dtd:
    print('D-Bus introspect.dtd not installed (Debian: libdbus-1-dev); checking well-formedness only')
for path in dbus_files:
    xmllint(path, introspect_dtd)
    try:
        errors = check_introspection(path)
    except ET.ParseError as e:
        errors = [f'does not parse: {e}']
    for e in errors:
        failures.append(f'{os.path.relpath(path, src)}: {e}')
    if not errors:
        checked += 1
        print(f'ok: {os.path.relpath(path, src)}: names, signatures and layout')

xmllint(os.path.join(src, 'data', 'org.hostdev1.conf'), None)

for f in failures:
    print(f'FAIL: {f}')
if failures:
    sys.exit(1)
if checked == 0:
    sys.exit('nothing was checked')
print(f'{checked} checks passed')
