#!/bin/sh
set -eu
tool="$1"
"$tool" --help | grep -q '^usage: wordfreq' || { echo "FAIL usage"; exit 1; }
if "$tool" --bogus 2>/dev/null; then echo "FAIL: --bogus accepted"; exit 1; fi
echo "ok usage"
