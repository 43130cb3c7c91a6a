#!/bin/sh
# Export benchmark of issue 20's table: kiln's zstd, gzip and uncompressed
# layer exports against `tar | zstd -3`, `tar | gzip -6` and `tar`, on
# 256 MiB of seeded text and of base64, each row's kiln and CLI runs
# interleaved, medians of 5 rounds, with sizes, wall and CPU times, the
# ratios, PASS/FAIL against the row's target and the load. Export rows go
# from a tree of files to an OCI layout through a fresh store; codec rows
# compress a file. A table is printed after every round.
#
#   KILN_BENCH_MB=256     layer size in MiB
#   KILN_BENCH_RUNS=5     rounds
#   KILN_BENCH_ROWS=RE    rows whose "name data" match, e.g. 'export'
#
# Then BenchmarkCompress (the codecs on the older mixed data, as before)
# unless KILN_BENCH_ROWS is set.
set -e
cd "$(dirname "$0")/.."
. scripts/goenv.sh
uptime
go test -v ./export -run '^$' -bench ExportTable -benchtime 1x -timeout 0 "$@"
if [ -z "$KILN_BENCH_ROWS" ]; then
	go test -v ./export/compress -run '^$' -bench Compress -benchmem -benchtime 1x -timeout 0 "$@"
fi
