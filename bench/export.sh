#!/bin/sh
# Compression benchmark of kiln's exporters: kiln's gzip and zstd against
# `gzip -6` and `zstd -3` on the same 256 MiB of seeded data, interleaved in
# one run. Columns: ratio (kiln out/in), cli-ratio, kiln-s, cli-s, vs-cli
# (CLI time / kiln time) and size-vs-cli (kiln size / CLI size); B/op shows
# that memory does not grow with the layer. Set KILN_BENCH_MB for another size.
set -e
cd "$(dirname "$0")/.."
exec go test ./export/compress -run '^$' -bench Compress -benchmem -benchtime 1x "$@"
