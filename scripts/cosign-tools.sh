#!/bin/sh
# Builds cosign at the release pinned in internal/tools/cosign/go.mod into a
# cache outside the repository and prints the directory that holds it. A
# second run with the same go.mod and go.sum reuses the binary. kiln's
# signing tests call this (or find the directory in KILN_COSIGN); CI calls
# it once before the tests.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
mod="$here/internal/tools/cosign"
version=$(awk '$1 == "require" && $2 == "github.com/sigstore/cosign/v2" { print $3 }' "$mod/go.mod")
key=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)
base=${KILN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln-test-tools}
dir="$base/cosign-$version-$key"
if [ -x "$dir/cosign" ]; then
	echo "$dir"
	exit 0
fi
mkdir -p "$base"
# Test binaries of several packages may ask at once: one builds, the
# others wait for it and then find the binary. The lock is cosign's own,
# so a cosign build does not wait for a BuildKit one.
exec 9>"$base/.lock-cosign"
flock 9
if [ -x "$dir/cosign" ]; then
	echo "$dir"
	exit 0
fi
tmp=$(mktemp -d "$base/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# cosign's own release builds are static and without cgo.
(cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$tmp/" \
	github.com/sigstore/cosign/v2/cmd/cosign) >&2
# Publish the directory at once, so a half-built one is never found.
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
