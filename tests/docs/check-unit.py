#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The configured hostdevd.service passes `systemd-analyze verify` cleanly.

systemd-analyze exits 0 even for unknown keys or unparsable values, only
printing a warning; so any output about the unit counts as a failure.
ExecStart= names the installed path, which need not exist at test time: the
check runs on a copy whose ExecStart= points at the daemon in the build tree
(or /bin/true before it is built). The man page named in Documentation= is
not installed either, hence --man=no.

Usage: check-unit.py BUILD/data/hostdevd.service
Exits 77 (skip) when systemd-analyze is not installed.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

analyze = shutil.which('systemd-analyze')
if not analyze:
    print('skip: systemd-analyze is not installed')
    sys.exit(SKIP)

unit = sys.argv[1]
with open(unit) as f:
    text = f.read()

failures = []
left = re.findall(r'@[A-Za-z_]+@', text)
if left:
    failures.append(f'left unsubstituted: {" ".join(left)}')
m = re.search(r'^ExecStart=(\S+)', text, re.M)
if not m or not m.group(1).endswith('/hostdevd'):
    failures.append('no ExecStart=…/hostdevd')
for key in ('Type=dbus', 'BusName=org.hostdev1', 'StateDirectory=hostdev'):
    if not re.search(rf'^{re.escape(key)}$', text, re.M):
        failures.append(f'missing {key}')

built = os.path.join(os.environ.get('HOSTDEV_BUILD_ROOT', ''), 'src', 'hostdevd', 'hostdevd')
binary = built if os.access(built, os.X_OK) else '/bin/true'

with tempfile.TemporaryDirectory() as tmp:
    copy = os.path.join(tmp, 'hostdevd.service')
    with open(copy, 'w') as f:
        f.write(re.sub(r'^ExecStart=\S+', f'ExecStart={binary}', text, flags=re.M))
    r = subprocess.run([analyze, 'verify', '--man=no', copy], capture_output=True, text=True)
    output = (r.stdout + r.stderr).strip()
    # Lines about other units (e.g. a distribution's broken unit that gets
    # loaded as a dependency) are not ours to fix.
    ours = [line for line in output.splitlines() if 'hostdevd' in line or line.startswith(tmp)]
    print(f'systemd-analyze verify (ExecStart={binary}): exit {r.returncode}')
    if output:
        print(output)
    if r.returncode != 0:
        failures.append(f'systemd-analyze verify exited with {r.returncode}')
    failures.extend(f'systemd-analyze: {line}' for line in ours)

for f in failures:
    print(f'FAIL: {f}')
if failures:
    sys.exit(1)
print('hostdevd.service verifies cleanly')
