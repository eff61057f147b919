#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write the D-Bus API reference (docs/dbus-api.md) from dbus/*.xml.

The introspection files are the contract; their XML comments are the
documentation. A comment documents the element that follows it. A comment
that starts with a list of member names and a colon ("VendorName,
ProductName: ...") documents each of those members when they follow it
without a comment of their own. A comment that documents nothing (another
comment or a non-listed member comes first) is dropped. Comments before <node> or directly inside
it describe the interface.

Usage: gen-dbus-doc.py [-o OUTPUT] [XML...]
Without XML files, reads dbus/*.xml next to this script's directory; without
-o, writes docs/dbus-api.md there ("-o -" writes to standard output).
"""

import argparse
import glob
import os
import re
import sys
import textwrap
import xml.etree.ElementTree as ET

EMITS = 'org.freedesktop.DBus.Property.EmitsChangedSignal'
DEPRECATED = 'org.freedesktop.DBus.Deprecated'
ERROR_RE = re.compile(r'\b(?:org\.hostdev1\.Error|org\.freedesktop\.DBus\.Error)\.[A-Za-z]+')
PATH_RE = re.compile(r'/org/hostdev1(?:/[A-Za-z0-9_]+)*')
HEADING_RE = re.compile(r'^([A-Z][A-Za-z0-9]*(?:\s*,\s*[A-Z][A-Za-z0-9]*)*)\s*:\s*', re.S)

BASIC_TYPES = {
    'y': 'byte', 'b': 'boolean', 'n': 'int16', 'q': 'uint16', 'i': 'int32',
    'u': 'uint32', 'x': 'int64', 't': 'uint64', 'd': 'double', 's': 'string',
    'o': 'object path', 'g': 'signature', 'h': 'file descriptor', 'v': 'variant',
}


class _Builder(ET.TreeBuilder):
    """A TreeBuilder that also keeps the comments outside the root element."""

    def __init__(self):
        super().__init__(insert_comments=True)
        self.depth = 0
        self.preamble = []

    def start(self, tag, attrs):
        self.depth += 1
        return super().start(tag, attrs)

    def end(self, tag):
        self.depth -= 1
        return super().end(tag)

    def comment(self, text):
        if self.depth == 0:
            self.preamble.append(text)
        return super().comment(text)


def clean_comment(text):
    """Dedent a comment and return its paragraphs, each as one line."""
    text = textwrap.dedent(text.strip('\n')).strip()
    paragraphs = re.split(r'\n\s*\n', text)
    return [' '.join(line.strip() for line in p.splitlines()) for p in paragraphs if p.strip()]


def describe_type(sig):
    """A readable form of a D-Bus type signature, e.g. a(os) → array of (object path, string)."""
    def parse(i):
        c = sig[i]
        if c == 'a':
            if sig[i + 1] == '{':
                k, j = parse(i + 2)
                v, j = parse(j)
                return f'dict of {k} → {v}', j + 1
            inner, j = parse(i + 1)
            return f'array of {inner}', j
        if c == '(':
            parts, j = [], i + 1
            while sig[j] != ')':
                p, j = parse(j)
                parts.append(p)
            return '(' + ', '.join(parts) + ')', j + 1
        return BASIC_TYPES.get(c, c), i + 1

    try:
        out, end = parse(0)
        return out if end == len(sig) else sig
    except (IndexError, KeyError):
        return sig


def annotations(elem):
    return {a.get('name'): a.get('value') for a in elem.findall('annotation')}


def attach_comments(parent, names):
    """Map each child element of parent to the paragraphs documenting it.

    names: the member names a heading comment ("A, B: text") may list.
    """
    docs = {}
    pending = None          # paragraphs of the last comment
    pending_names = set()   # members a heading comment names
    for child in parent:
        if child.tag is ET.Comment:
            paragraphs = clean_comment(child.text or '')
            if not paragraphs:
                continue
            m = HEADING_RE.match(paragraphs[0])
            heading = set()
            if m:
                listed = {n.strip() for n in m.group(1).split(',')}
                if listed <= names:
                    heading = listed
                    # "Name: text" → "Text"; a list of names stays, as it
                    # tells which part of the text is whose.
                    if len(listed) == 1:
                        rest = paragraphs[0][m.end():]
                        paragraphs = ([rest[:1].upper() + rest[1:]] if rest else []) + paragraphs[1:]
            pending, pending_names = paragraphs, heading
            continue
        if not isinstance(child.tag, str) or child.tag == 'annotation':
            continue
        name = child.get('name')
        if pending is not None and (not pending_names or name in pending_names):
            docs[child] = pending
            if not pending_names:
                pending = None
        else:
            pending, pending_names = None, set()
    return docs


class Member:
    def __init__(self, kind, elem, doc):
        self.kind = kind
        self.name = elem.get('name')
        self.elem = elem
        self.doc = doc or []


class Interface:
    def __init__(self, name, source, doc):
        self.name = name
        self.source = source
        self.doc = doc
        self.methods = []
        self.properties = []
        self.signals = []

    def members(self):
        return self.methods + self.properties + self.signals

    def paths(self):
        found = []
        for p in self.doc:
            for path in PATH_RE.findall(p):
                if path not in found:
                    found.append(path)
        return found


def load(path):
    """Parse one introspection file; return its interfaces."""
    builder = _Builder()
    parser = ET.XMLParser(target=builder)
    with open(path, 'rb') as f:
        parser.feed(f.read())
    root = parser.close()
    # The comment before <node> describes the file's interface when the file
    # holds one; a comment inside <node> describes the interface after it.
    ifaces = root.findall('interface')
    preamble = [p for c in builder.preamble for p in clean_comment(c)] if len(ifaces) == 1 else []
    node_docs = attach_comments(root, set())
    result = []
    for iface in ifaces:
        names = {m.get('name') for m in iface if isinstance(m.tag, str) and m.get('name')}
        docs = attach_comments(iface, names)
        interface = Interface(iface.get('name'), os.path.basename(path),
                              preamble + node_docs.get(iface, []))
        interface.annotations = annotations(iface)
        for child in iface:
            if not isinstance(child.tag, str):
                continue
            member = Member(child.tag, child, docs.get(child))
            if child.tag == 'method':
                interface.methods.append(member)
            elif child.tag == 'property':
                interface.properties.append(member)
            elif child.tag == 'signal':
                interface.signals.append(member)
            else:
                continue
            member.annotations = annotations(child)
            member.arg_docs = attach_comments(child, set())
        result.append(interface)
    return result


def load_all(paths):
    interfaces = []
    for path in paths:
        interfaces.extend(load(path))
    # The Manager is the entry point; the rest in name order.
    interfaces.sort(key=lambda i: (i.name != 'org.hostdev1.Manager', i.name))
    return interfaces


def undocumented(interfaces):
    """Every interface, method, property, signal without a non-empty comment."""
    missing = []
    for iface in interfaces:
        if not iface.doc:
            missing.append(f'{iface.source}: interface {iface.name}')
        for m in iface.members():
            if not m.doc:
                missing.append(f'{iface.source}: {m.kind} {iface.name}.{m.name}')
    return missing


def md_escape(text):
    return text.replace('|', '\\|')


def anchor(name):
    return re.sub(r'[^a-z0-9 -]', '', name.lower()).replace(' ', '-')


def emits_changed(iface, prop):
    value = prop.annotations.get(EMITS, iface.annotations.get(EMITS, 'true'))
    return {
        'true': 'PropertiesChanged',
        'invalidates': 'PropertiesChanged (invalidated, value not sent)',
        'const': 'constant',
        'false': 'not signalled',
    }.get(value, value)


def signature(member):
    ins, outs = [], []
    for a in member.elem.findall('arg'):
        text = f"{a.get('type')} {a.get('name') or ''}".strip()
        default = 'in' if member.kind == 'method' else 'out'
        (ins if a.get('direction', default) == 'in' else outs).append(text)
    sig = f"{member.name}({', '.join(ins)})"
    if member.kind == 'method' and outs:
        sig += f" → ({', '.join(outs)})"
    return sig


def render(interfaces):
    out = []
    w = out.append
    w('# hostdev D-Bus API')
    w('')
    w('<!-- This file is built from dbus/*.xml by docs/gen-dbus-doc.py; do not edit it by hand. -->')
    w('')
    w('hostdevd owns the name `org.hostdev1` on the system bus. The root object')
    w('`/org/hostdev1` implements `org.freedesktop.DBus.ObjectManager`; every other')
    w('object is announced through it. Reading needs no authorization; changes are')
    w('checked with polkit (see `polkit/org.hostdev1.policy`).')
    w('')
    w('Interfaces:')
    w('')
    for iface in interfaces:
        w(f'- [{iface.name}](#{anchor(iface.name)})')
    w('')

    errors = []
    for iface in interfaces:
        for m in iface.members():
            for e in ERROR_RE.findall(' '.join(m.doc)):
                if e not in errors:
                    errors.append(e)
    if errors:
        w('Errors named in this API:')
        w('')
        for e in sorted(errors):
            w(f'- `{e}`')
        w('')

    for iface in interfaces:
        w(f'## {iface.name}')
        w('')
        w(f'Defined in `dbus/{iface.source}`.')
        w('')
        for p in iface.doc:
            w(p)
            w('')
        paths = iface.paths()
        if paths:
            w('Object paths: ' + ', '.join(f'`{p}`' for p in paths))
            w('')

        if iface.methods:
            w('### Methods')
            w('')
            for m in iface.methods:
                render_member(w, iface, m)
        if iface.properties:
            w('### Properties')
            w('')
            w('| Name | Type | Access | Changes | Description |')
            w('|---|---|---|---|---|')
            for p in iface.properties:
                t = p.elem.get('type')
                desc = ' '.join(p.doc)
                if DEPRECATED in p.annotations:
                    desc = '**Deprecated.** ' + desc
                w(f"| `{p.name}` | `{t}` ({describe_type(t)}) | {p.elem.get('access')} "
                  f"| {emits_changed(iface, p)} | {md_escape(desc)} |")
            w('')
        if iface.signals:
            w('### Signals')
            w('')
            for s in iface.signals:
                render_member(w, iface, s)
    return '\n'.join(out).rstrip('\n') + '\n'


def render_member(w, iface, m):
    w(f'#### {m.name}')
    w('')
    w('```')
    w(signature(m))
    w('```')
    w('')
    if DEPRECATED in m.annotations:
        w('**Deprecated.**')
        w('')
    for p in m.doc:
        w(p)
        w('')
    args = m.elem.findall('arg')
    if args:
        w('| Argument | Direction | Type | Description |')
        w('|---|---|---|---|')
        default = 'in' if m.kind == 'method' else 'out'
        for a in args:
            t = a.get('type')
            desc = ' '.join(m.arg_docs.get(a, []))
            w(f"| `{a.get('name') or ''}` | {a.get('direction', default)} "
              f"| `{t}` ({describe_type(t)}) | {md_escape(desc)} |")
        w('')
    errors = []
    for e in ERROR_RE.findall(' '.join(m.doc)):
        if e not in errors:
            errors.append(e)
    if errors:
        w('Errors: ' + ', '.join(f'`{e}`' for e in errors))
        w('')


def default_inputs():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return sorted(glob.glob(os.path.join(top, 'dbus', '*.xml'))), os.path.join(top, 'docs', 'dbus-api.md')


def main(argv=None):
    ap = argparse.ArgumentParser(description='Write the D-Bus API reference from dbus/*.xml.')
    ap.add_argument('-o', '--output', help='output file, "-" for standard output')
    ap.add_argument('xml', nargs='*', help='introspection files (default: dbus/*.xml)')
    args = ap.parse_args(argv)

    inputs, output = default_inputs()
    if args.xml:
        inputs = sorted(args.xml)
    if args.output:
        output = args.output
    if not inputs:
        print('gen-dbus-doc: no introspection files found', file=sys.stderr)
        return 1

    text = render(load_all(inputs))
    if output == '-':
        sys.stdout.write(text)
    else:
        with open(output, 'w', encoding='utf-8') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
