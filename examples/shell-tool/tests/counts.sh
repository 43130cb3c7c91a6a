#!/bin/sh
set -eu
tool="$1"
got=$(printf 'the cat and the hat\nThe end\n' | "$tool" -n 2)
want=$(printf 'the 3\nand 1')
[ "$got" = "$want" ] || { echo "FAIL counts: got [$got] want [$want]"; exit 1; }
echo "ok counts"
