#!/bin/sh
# Store-sharing benchmark: this kiln against a baseline kiln (by default
# the main branch, BASE=<git ref> to choose) in the same run, printed as
# one table. Rows: no-op rebuilds of the 20-step chain and of a generated
# 1,001-derivation graph; the delay from a second build's start to its
# first step while another build sleeps in a step (target < 50 ms); four
# builds of independent 4-step targets at once against one after another.
# Needs root and busybox-static. Flags go to the helper: -noops N, -reps N.
set -e
cd "$(dirname "$0")/.."
. scripts/goenv.sh
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/kiln" ./cmd/kiln
mkdir "$bin/base-src"
git archive "${BASE:-main}" | tar -x -C "$bin/base-src"
(cd "$bin/base-src" && go build -o "$bin/kiln-base" ./cmd/kiln)
go build -o "$bin/storebench" ./bench/storebench
"$bin/storebench" -kiln "$bin/kiln" -base "$bin/kiln-base" "$@"
