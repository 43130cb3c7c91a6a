#!/usr/bin/env bash
# A shared cache against a cold build: builds TARGET of the build file in
# DIR (default: examples/service) in an empty store, exporting to a
# docker-registry on loopback (mode=max, signed), then in another empty
# store importing from it, and prints one table: the two times, the
# speed-up, the bytes downloaded against the image size, and whether the
# image digests match. For kiln's self-build: bench/cache.sh . kiln-image
# (minutes, with the Go module proxy: see bench/selfhost.sh).
#
# Needs root (sandboxes), docker-registry and busybox-static.
# Usage: sudo bench/cache.sh [DIR TARGET]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/examples/service}"
target="${2:-image.app}"
cd "$root"
. scripts/goenv.sh
export GOPROXY="${GOPROXY:-$(go env GOPROXY)}"
work="$(mktemp -d /tmp/kiln-cachebench.XXXXXX)"
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

kiln="$work/kiln"
go build -o "$kiln" ./cmd/kiln

tar -C "$dir" --exclude=./.git --exclude=./.kiln-store --exclude=./out -cf - . | (mkdir "$work/src" && tar -C "$work/src" -xf -)
if grep -q 'path *= *"rootfs"' "$work/src/build.hcl" && [ ! -d "$work/src/rootfs" ]; then
	# The examples' busybox rootfs, as the tests write it.
	r="$work/src/rootfs"
	mkdir -p "$r"/{bin,etc,tmp,proc,dev,sys,root,usr/bin,sbin}
	chmod 1777 "$r/tmp"
	cp /usr/bin/busybox "$r/bin/busybox"
	for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	find "$r" -not -type l -exec touch -h -d @0 {} +
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

cd "$work" && "$kiln" cache keygen bench >/dev/null && cd "$work/src"
ref="127.0.0.1:$port/kiln-cache:bench"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
fail() { echo "cache bench: $*" >&2; tail -30 "$work/log" >&2; exit 1; }
build() { # STORE NAME ARGS...
	local store=$1 name=$2
	shift 2
	KILN_STORE="$work/$store" "$kiln" --progress plain build "$target" --metadata-file "$work/$name.json" \
		-o "type=oci,dest=$work/$name.oci" "$@" >>"$work/log" 2>&1
}

t0=$(now); build cold cold --cache-to "type=registry,ref=$ref,mode=max,key=$work/bench.key" || fail "cold build failed"; t1=$(now)
build cached cached --cache-from "type=registry,ref=$ref,trusted=$work/bench.pub" || fail "build from the cache failed"; t2=$(now)
cold=$(secs "$t0" "$t1") cached=$(secs "$t1" "$t2")

digest() { grep -o '"containerimage.digest": *"[^"]*"' "$work/$1.json" | grep -o 'sha256:[0-9a-f]*'; }
[ "$(digest cold)" = "$(digest cached)" ] || fail "the image from the cache differs from the cold build's"
bytes=$(grep -o 'fetched [0-9]* outputs from the caches, [0-9]* bytes' "$work/log" | tail -1 | awk '{print $7}')
image=$(du -sb "$work/cold.oci/blobs" | cut -f1)

printf '%-40s %s\n' "target" "$target ($dir)"
printf '%-40s %s s\n' "cold build, empty store" "$cold"
printf '%-40s %s s\n' "empty store, warm registry cache" "$cached"
printf '%-40s %s\n' "speed-up" "$(awk -v a="$cold" -v b="$cached" 'BEGIN { printf "%.1fx", a / b }')"
printf '%-40s %s bytes\n' "downloaded from the cache" "${bytes:-0}"
printf '%-40s %s bytes\n' "image (OCI layout blobs)" "$image"
printf '%-40s %s\n' "same image digest" "yes, $(digest cold)"
