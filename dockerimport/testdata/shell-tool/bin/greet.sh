#!/bin/sh
# greet @VERSION@
echo "${GREETING:-hi}, ${1:-you} (greet @VERSION@)"
