#!/bin/sh
# Builds buildkitd and buildctl at the BuildKit release pinned in
# internal/tools/buildkit/go.mod into a cache outside the repository and
# prints the directory that holds them. A second run with the same go.mod
# and go.sum reuses the binaries. kiln's BuildKit tests call this (or find
# the directory in KILN_BUILDKIT_TOOLS); CI calls it once before the tests.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
mod="$here/internal/tools/buildkit"
version=$(awk '$1 == "require" && $2 == "github.com/moby/buildkit" { print $3 }' "$mod/go.mod")
key=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)
base=${KILN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln-test-tools}
dir="$base/buildkit-$version-$key"
if [ -x "$dir/buildkitd" ] && [ -x "$dir/buildctl" ]; then
	echo "$dir"
	exit 0
fi
mkdir -p "$base"
# Test binaries of several packages may ask at once: one builds, the
# others wait for it and then find the binaries.
exec 9>"$base/.lock"
flock 9
if [ -x "$dir/buildkitd" ] && [ -x "$dir/buildctl" ]; then
	echo "$dir"
	exit 0
fi
tmp=$(mktemp -d "$base/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# BuildKit's own release builds are static and without cgo; its OCI worker
# runs runc from PATH.
(cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$tmp/" \
	github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl) >&2
# Publish the pair at once, so a half-built directory is never found.
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
