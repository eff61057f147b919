#!/usr/bin/python3
"""The libvirt handles of a claim made through hostdevd (GPU + audio from
the pool of tests/prepare/preparecase.py), put inside a minimal <domain>,
validate against libvirt's schema with virt-xml-validate."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'prepare'))

import harness  # noqa: E402
from preparecase import AUDIO1, GPU1  # noqa: E402
from test_claim_release import CLAIM, ClaimTestCase  # noqa: E402

DOMAIN = """<domain type='kvm'>
  <name>hostdev-claim</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
%s
  </devices>
</domain>
"""


@unittest.skipUnless(shutil.which('virt-xml-validate'), 'virt-xml-validate (libvirt-clients) is not installed')
class LibvirtHandle(ClaimTestCase):

    def test_validates(self):
        c = self.claim('vm-1', 1)
        handles = self.client.get(c, CLAIM, 'Handles')
        self.assertEqual([h['address'] for h in handles], [GPU1, AUDIO1])
        xml = DOMAIN % '\n'.join('    ' + h['libvirt'] for h in handles)
        self.assertEqual(xml.count("<hostdev mode='subsystem' type='pci'"), 2)
        with tempfile.NamedTemporaryFile('w', suffix='.xml') as f:
            f.write(xml)
            f.flush()
            p = subprocess.run(['virt-xml-validate', f.name, 'domain'], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, xml + p.stdout + p.stderr)
        self.release_claim(c)


if __name__ == '__main__':
    harness.main()
