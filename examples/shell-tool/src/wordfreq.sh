#!/bin/sh
# wordfreq: print the N most frequent words of the input, most frequent
# first, ties in alphabetical order.
set -eu
n=10
case "${1:-}" in
-n) n="$2"; shift 2 ;;
-h|--help) echo "usage: wordfreq [-n N] [FILE...]"; exit 0 ;;
-*) echo "wordfreq: unknown option $1" >&2; echo "usage: wordfreq [-n N] [FILE...]" >&2; exit 2 ;;
esac
cat "$@" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '\n' | grep -v '^$' | sort | uniq -c | sort -k1,1nr -k2,2 | head -n "$n" | awk '{ print $2, $1 }'
