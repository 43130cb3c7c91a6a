#!/bin/sh
# Realizer benchmark: kiln against `runc run` doing the same work in the
# same run, printed as one table. Rows: the per-step overhead of a chain of
# 20 exec steps (cold build minus the cold build of its source, over 20)
# against runc running the same commands on an overlay of the same busybox
# root; 16 independent 4 MiB steps merged by copy steps, against 16 runc
# runs (as parallel as kiln, one per CPU) and a copy; no-op rebuilds of
# both and of a generated 1,001-derivation graph, end to end (process
# start, parse, compile, store look-ups); and the floor of starting kiln.
# Needs root, busybox-static and runc (apt-get install busybox-static runc).
# Flags go to the helper: -reps N (cold builds), -noops N, -keep, -copy
# (also the chain with the copy snapshotter, KILN_SNAPSHOTTER=copy, against
# overlayfs), and
# -user NAME: also kiln run by that unprivileged user (it needs a subuid
# range: usermod --add-subuids 100000-165535 --add-subgids 100000-165535
# NAME) against root kiln and `runc run --rootless` as NAME.
set -e
cd "$(dirname "$0")/.."
. scripts/goenv.sh
bin="$(mktemp -d)"
chmod 755 "$bin" # a -user run reaches kiln here
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/kiln" ./cmd/kiln
go build -o "$bin/kiln-init" ./cmd/kiln-init
go build -o "$bin/realizebench" ./bench/realizebench
"$bin/realizebench" -kiln "$bin/kiln" "$@"
