#!/bin/sh
# Checks what build.sh installed under $1.
set -eu
out="$1"
[ -x "$out/bin/service" ] || { echo "FAIL: service not executable"; exit 1; }
"$out/bin/service" --version | grep -q "service 1.0" || { echo "FAIL: --version"; exit 1; }
grep -q "<h1>" "$out/srv/www/index.html" || { echo "FAIL: index.html"; exit 1; }
echo "ok: 3 checks passed"
