#!/usr/bin/env bash
# Runs every test of kiln: installs what the tests need, then go vet and
# go test over the whole module. Sandboxes, overlay mounts and the registry
# tests need root; CI runs as root. GOFLAGS gets -tags=seccomp (scripts/goenv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# Build outputs never belong in the repository: fail on any tracked ELF file.
elves=$(git ls-files -z | xargs -0 -r sh -c 'for f; do [ -f "$f" ] && [ "$(head -c 4 "$f" | od -An -tx1 | tr -d " ")" = 7f454c46 ] && echo "$f"; done; true' sh)
if [ -n "$elves" ]; then
	echo "ELF binaries are tracked (git rm --cached them and ignore them):"; echo "$elves"; exit 1
fi
. scripts/goenv.sh
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
# A step that reached the host's /dev would show here: every kiln test runs
# steps as root, and /dev/null is the node a sandbox most often binds in.
# Rootless tests need it writable by everyone, so a wrong mode before the
# tests is named (and set right), and a change during them is named too.
devnull() { stat -c '%F %t:%T %a %U' /dev/null; }
want='character special file 1:3 666 root'
if [ "$(devnull)" != "$want" ]; then
	echo "warning: /dev/null is '$(devnull)', not '$want'; setting its mode to 666"
	chmod 666 /dev/null
fi
# buildkitd and buildctl for the BuildKit tests, and cosign for the signing
# tests (which check kiln's signatures and attestations with the real
# verifier), built once into a cache outside the repository (minutes the
# first time; then reused). The two builds run side by side: their module
# downloads overlap the other's compiling.
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
scripts/buildkit-tools.sh >"$tools/buildkit" &
bk=$!
scripts/cosign-tools.sh >"$tools/cosign" &
cs=$!
wait "$bk"
wait "$cs"
KILN_BUILDKIT_TOOLS="$(cat "$tools/buildkit")"
KILN_COSIGN="$(cat "$tools/cosign")"
export KILN_BUILDKIT_TOOLS KILN_COSIGN
go test -count=1 -timeout 25m ./... "$@"
if [ "$(devnull)" != "$want" ]; then
	echo "warning: /dev/null changed during the tests: now '$(devnull)'; find what changed it (a step reaching the host's /dev would)"
fi
