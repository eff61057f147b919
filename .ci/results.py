#!/usr/bin/python3
"""Sums up the meson test logs of a CI run and fails on unexplained skips.

    .ci/results.py ALLOW-LIST TESTLOG.json...

Prints one line per skip and a last line "N passed, N failed, N skipped";
exits 1 when a test failed, a log is missing, or a test was skipped without
an entry in ALLOW-LIST. CI installs everything the suites need, so a skip
there is a regression hiding, unless the list says why it is expected.

A skip is known by its id:
  suite/test              a whole meson test (exit status 77, or TAP "1..0 # SKIP")
  suite/test/Class.method a unittest case the harness reports as skipped
                          ("hostdev-skip: Class.method: reason" on stdout)
  suite/test/name         a TAP subtest ("ok N - name # SKIP reason", the vm suite)

ALLOW-LIST: one "id  reason" a line; blank lines and "#" comments are
ignored; the reason is required.
"""

import json
import re
import sys

SKIP_LINE = re.compile(r'^hostdev-skip: (\S+): (.*)$')
TAP_SKIP = re.compile(r'^ok \d+ - (\S+).*# SKIP\s*(.*)$')


def load_allowed(path):
    allowed, problems = {}, []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2 or not parts[1].strip():
                problems.append('%s:%d: %r has no reason' % (path, n, parts[0]))
                continue
            allowed[parts[0]] = parts[1].strip()
    return allowed, problems


def test_id(name):
    """"hostdev:cli / cli-status" -> "cli/cli-status"."""
    suite, _, test = name.partition(' / ')
    return '%s/%s' % (suite.split(':', 1)[-1], test)


def skip_reason(entry):
    """The reason a whole test gives for skipping: its last line saying so."""
    text = (entry.get('stdout') or '') + (entry.get('stderr') or '')
    for line in reversed(text.splitlines()):
        if 'skip' in line.lower():
            return line.strip()
    return '(no reason printed)'


def count(entry, tally, skips):
    """Adds one meson test to tally (passed, failed, skipped) and its skips
    ((id, reason)) to skips."""
    tid = test_id(entry['name'])
    out = entry.get('stdout') or ''
    result = entry['result']
    subs = [l for l in out.splitlines() if l.startswith(('ok ', 'not ok '))]
    if out.startswith('TAP version') and subs:
        # a TAP test counts by its subtests
        for line in subs:
            m = TAP_SKIP.match(line)
            if m:
                tally['skipped'] += 1
                skips.append(('%s/%s' % (tid, m.group(1)), m.group(2)))
            elif line.startswith('ok '):
                tally['passed'] += 1
        bad = sum(l.startswith('not ok ') for l in subs)
        tally['failed'] += bad or (result not in ('OK', 'SKIP'))
        return
    if result == 'SKIP':
        tally['skipped'] += 1
        skips.append((tid, skip_reason(entry)))
        return
    if result in ('OK', 'EXPECTEDFAIL'):
        tally['passed'] += 1
    else:
        tally['failed'] += 1
    # cases skipped inside a program that passed as a whole
    for line in out.splitlines():
        m = SKIP_LINE.match(line)
        if m:
            tally['skipped'] += 1
            skips.append(('%s/%s' % (tid, m.group(1)), m.group(2)))


def main(argv):
    allowed, problems = load_allowed(argv[1])
    tally = {'passed': 0, 'failed': 0, 'skipped': 0}
    skips = []
    for path in argv[2:]:
        try:
            lines = open(path).read().splitlines()
        except OSError:
            print('%s: missing, counted as one failure' % path)
            tally['failed'] += 1
            continue
        for line in lines:
            count(json.loads(line), tally, skips)
    used = set()
    for tid, reason in skips:
        if tid in allowed:
            used.add(tid)
            print('skipped %s: %s (allowed: %s)' % (tid, reason, allowed[tid]))
        else:
            problems.append('skipped %s: %s (not in %s)' % (tid, reason, argv[1]))
    for tid in sorted(set(allowed) - used):
        print('note: %s is allowed to skip but ran' % tid)
    for p in problems:
        print('FAIL: %s' % p)
    print('%(passed)d passed, %(failed)d failed, %(skipped)d skipped' % tally)
    return 1 if tally['failed'] or problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
