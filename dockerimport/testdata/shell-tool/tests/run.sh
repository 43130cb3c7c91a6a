#!/bin/sh
set -e
out=$(GREETING=hey sh bin/greet.sh tester)
case "$out" in
"hey, tester (greet @VERSION@)") echo "tests passed" ;;
*) echo "unexpected: $out"; exit 1 ;;
esac
