#!/bin/sh
# build-package.sh SRCDIR OUTDIR NPM NODE: the Cockpit package into OUTDIR.
#
# node_modules is (re)filled by `npm ci` only when package-lock.json
# changed since the last fill; npm prefers its cache, so a machine that has
# built once builds again offline.
set -eu
src=$1 out=$2 npm=$3 node=$4
stamp="$src/node_modules/.hostdev-package-lock.json"
if ! cmp -s "$src/package-lock.json" "$stamp" 2>/dev/null; then
        (cd "$src" && "$npm" ci --prefer-offline --no-audit --no-fund --loglevel=error)
        cp "$src/package-lock.json" "$stamp"
fi
exec "$node" "$src/build.js" "$out"
