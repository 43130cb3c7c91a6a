#!/usr/bin/env bash
# Runs every test of kiln: installs what the tests need, then go vet and
# go test over the whole module. Sandboxes, overlay mounts and the registry
# tests need root; CI runs as root. GOFLAGS gets -tags=seccomp (scripts/goenv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
. scripts/goenv.sh
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
go test -count=1 -timeout 25m ./... "$@"
