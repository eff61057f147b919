#!/bin/bash
# The libvirt handles of a claim (GPU + audio, a VF, a USB key) inside a
# minimal <domain> validate against libvirt's schema.
# Usage: libvirt-validate.sh HANDLE-DOMAIN-PROGRAM
set -euo pipefail

if ! command -v virt-xml-validate >/dev/null; then
        echo "virt-xml-validate (libvirt-clients) is not installed" >&2
        exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$1" >"$dir/domain.xml"
cat "$dir/domain.xml"
# Four devices: the GPU, its audio function, the VF and the key.
n=$(grep -c "<hostdev mode='subsystem'" "$dir/domain.xml")
if [ "$n" != 4 ]; then
        echo "expected 4 <hostdev> elements, found $n" >&2
        exit 1
fi
virt-xml-validate "$dir/domain.xml" domain
