#!/usr/bin/env bash
# kiln builds itself (the root build.hcl), and this shows it is
# reproducible and works:
#   1. a cold build of artifact.kiln and image.kiln-image in an empty store,
#      then the same again (warm: nothing to build);
#   2. at least a minute later, a second cold build in another empty store:
#      the binary must be byte-identical and the image digest the same;
#   3. kiln verify kiln (rebuilds under varied conditions and compares);
#   4. the binary it built runs `kiln version` and builds examples/service
#      in a temporary store.
# It prints the times and sizes as a table. Too heavy for CI (two cold
# self-builds download ~90 Debian packages, the Go toolchain and every
# module twice, and take minutes): CI runs the lighter
# cmd/kiln/testdata/script/impure_env.txtar and examples/selfhost_test.go.
#
# Needs root (sandboxes), the Debian apt configuration, and the Go module
# proxy: GOPROXY from the environment, else `go env GOPROXY`.
# Usage: sudo bench/selfhost.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/goenv.sh
export GOPROXY="${GOPROXY:-$(go env GOPROXY)}"
work="$(mktemp -d /tmp/kiln-selfhost.XXXXXX)"
trap 'rm -rf "$work"' EXIT

kiln="$work/kiln-host"
go build -o "$kiln" ./cmd/kiln
go build -o "$(dirname "$kiln")/kiln-init" ./cmd/kiln-init

# Build a snapshot of the working tree, so that edits made while this runs
# cannot make the two builds differ. .kilnignore's folders stay out.
tar -C "$root" --exclude=./.git --exclude=./.kiln-store --exclude=./out --exclude=./bin \
	--exclude=./kiln --exclude='./examples/*/rootfs' -cf - . | (mkdir "$work/src" && tar -C "$work/src" -xf -)
cd "$work/src"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# build STORE OUT: the binary to OUT/bin, the image to OUT/image.oci.
build() {
	mkdir -p "$2"
	KILN_STORE="$1" "$kiln" --progress plain build kiln -o "type=local,dest=$2/bin" --force >>"$work/log" 2>&1
	KILN_STORE="$1" "$kiln" --progress plain build kiln-image -o "type=oci,dest=$2/image.oci" --force >>"$work/log" 2>&1
}
fail() { echo "selfhost: $*" >&2; tail -30 "$work/log" >&2; exit 1; }

t0=$(now); build "$work/store1" "$work/a" || fail "cold build 1 failed"; t1=$(now)
build "$work/store1" "$work/a" || fail "warm build failed"; t2=$(now)
cold1=$(secs "$t0" "$t1"); warm=$(secs "$t1" "$t2")

# Two builds at least a minute apart: a time-dependent byte would show.
wait=$(awk -v a="$t2" -v b="$(now)" 'BEGIN { w = 61 - (b - a); print (w > 0 ? int(w) + 1 : 0) }')
sleep "$wait"
t3=$(now); build "$work/store2" "$work/b" || fail "cold build 2 failed"; t4=$(now)
cold2=$(secs "$t3" "$t4")

bin_a="$work/a/bin/kiln" bin_b="$work/b/bin/kiln"
cmp "$bin_a" "$bin_b" || fail "the two kiln binaries differ"
cmp "$bin_a-buildkit" "$bin_b-buildkit" || fail "the two kiln-buildkit binaries differ"
cmp "$bin_a-init" "$bin_b-init" || fail "the two kiln-init binaries differ"
idx_a=$(sha256sum <"$work/a/image.oci/index.json") idx_b=$(sha256sum <"$work/b/image.oci/index.json")
[ "$idx_a" = "$idx_b" ] || fail "the two images differ"
manifest=$(grep -o 'sha256:[0-9a-f]*' "$work/a/image.oci/index.json" | head -1)

# kiln verify rebuilds everything in throw-away stores, varying time,
# umask, hostname, locale, folder...
t5=$(now)
if KILN_STORE="$work/store1" "$kiln" --progress plain verify kiln >>"$work/log" 2>&1; then verify=passed; else fail "kiln verify kiln failed"; fi
t6=$(now)

# The self-built kiln works: its version, and a sandboxed example build.
"$bin_a" version >"$work/version" || fail "the built kiln does not run"
cp -r "$root/examples/service" "$work/service"
rm -rf "$work/service/rootfs"
"$root/examples/base/mkrootfs.sh" "$work/service/rootfs" >/dev/null
(cd "$work/service" && KILN_STORE="$work/store-svc" "$bin_a" --progress plain build -o "type=oci,dest=$work/svc.oci" --force) >>"$work/log" 2>&1 ||
	fail "the built kiln could not build examples/service"

img_bytes=$(du -sb "$work/a/image.oci/blobs" | cut -f1)
bin_bytes=$(stat -c %s "$bin_a")
helper_bytes=$(stat -c %s "$bin_a-buildkit")
init_bytes=$(stat -c %s "$bin_a-init")
printf '| what | value |\n| --- | --- |\n'
printf '| cold build 1 (empty store: debs, Go toolchain, modules, go build) | %ss |\n' "$cold1"
printf '| warm build (same store, nothing changed) | %ss |\n' "$warm"
printf '| cold build 2 (another empty store, %ss later) | %ss |\n' "$(secs "$t2" "$t3")" "$cold2"
printf '| binaries identical | yes, sha256 %s |\n' "$(sha256sum <"$bin_a" | cut -c1-16)"
printf '| image digests identical | yes, %s |\n' "$manifest"
printf '| kiln verify kiln | %s in %ss |\n' "$verify" "$(secs "$t5" "$t6")"
printf '| built kiln version | %s |\n' "$(cat "$work/version")"
printf '| built kiln builds examples/service | yes |\n'
printf '| kiln binary (static, stripped) | %s bytes |\n' "$bin_bytes"
printf '| kiln-buildkit helper (static, stripped) | %s bytes |\n' "$helper_bytes"
printf '| kiln-init (static, stripped) | %s bytes |\n' "$init_bytes"
printf '| image.kiln-image (OCI blobs, gzip) | %s bytes |\n' "$img_bytes"
