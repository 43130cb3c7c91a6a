#!/usr/bin/env bash
# A shared cache against a cold build, in one run and one table: kiln's
# self-build (the root build.hcl, target kiln-image) and examples/service
# (image.app). Each is built in an empty store exporting to a
# docker-registry on loopback (mode=max, signed), then in another empty
# store importing from it; the table shows the two times, the speed-up
# (target for the self-build: at least 10x), the bytes downloaded against
# the size of the final image, and whether the image digests match.
# The cold self-build takes minutes (Debian packages, the Go toolchain and
# modules: see bench/selfhost.sh). KILN_BENCH_ONLY=service skips it.
#
# Needs root (sandboxes), docker-registry, busybox-static, the Debian apt
# configuration and the Go module proxy (GOPROXY, else `go env GOPROXY`).
# Usage: sudo bench/cache.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/goenv.sh
export GOPROXY="${GOPROXY:-$(go env GOPROXY)}"
work="$(mktemp -d /tmp/kiln-cachebench.XXXXXX)"
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

kiln="$work/kiln"
go build -o "$kiln" ./cmd/kiln
go build -o "$(dirname "$kiln")/kiln-init" ./cmd/kiln-init

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
(cd "$work" && "$kiln" cache keygen bench >/dev/null)

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
fail() { echo "cache bench: $*" >&2; tail -30 "$(ls -t "$work"/*.log | head -1)" >&2; exit 1; }

# snapshot NAME DIR: a copy of DIR to build, so that edits made while this
# runs change nothing; an example's busybox rootfs as the tests write it.
snapshot() {
	local src="$work/$1-src"
	mkdir "$src"
	tar -C "$2" --exclude=./.git --exclude=./.kiln-store --exclude=./out --exclude=./bin \
		--exclude=./kiln --exclude='./examples/*/rootfs' -cf - . | tar -C "$src" -xf -
	if grep -q 'path *= *"rootfs"' "$src/build.hcl" && [ ! -d "$src/rootfs" ]; then
		local r="$src/rootfs"
		mkdir -p "$r"/{bin,etc,tmp,proc,dev,sys,root,usr/bin,sbin}
		chmod 1777 "$r/tmp"
		cp /usr/bin/busybox "$r/bin/busybox"
		for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
		find "$r" -not -type l -exec touch -h -d @0 {} +
	fi
}

rows=()
# bench NAME DIR TARGET: one cold build exporting to the cache, one build
# in an empty store importing from it.
bench() {
	local name=$1 target=$3 ref="127.0.0.1:$port/kiln-cache:$1"
	snapshot "$name" "$2"
	build() { # RUN ARGS...
		local run=$1
		shift
		(cd "$work/$name-src" && KILN_STORE="$work/$name-$run-store" "$kiln" --progress plain build "$target" \
			--metadata-file "$work/$name-$run.json" -o "type=oci,dest=$work/$name-$run.oci" "$@") >"$work/$name-$run.log" 2>&1
	}
	local t0 t1 t2
	echo "cache bench: $name: cold build of $target" >&2
	t0=$(now); build cold --cache-to "type=registry,ref=$ref,mode=max,key=$work/bench.key" || fail "$name: cold build failed"; t1=$(now)
	echo "cache bench: $name: build from the cache" >&2
	build cached --cache-from "type=registry,ref=$ref,trusted=$work/bench.pub" || fail "$name: build from the cache failed"; t2=$(now)
	local cold cached bytes image dc dw
	cold=$(secs "$t0" "$t1") cached=$(secs "$t1" "$t2")
	digest() { grep -o '"containerimage.digest": *"[^"]*"' "$work/$1.json" | grep -o 'sha256:[0-9a-f]*'; }
	dc=$(digest "$name-cold") dw=$(digest "$name-cached")
	[ "$dc" = "$dw" ] || fail "$name: the image from the cache ($dw) differs from the cold build's ($dc)"
	bytes=$(grep -o 'fetched [0-9]* outputs from the caches, [0-9]* bytes' "$work/$name-cached.log" | tail -1 | awk '{print $7}')
	image=$(du -sb --apparent-size "$work/$name-cold.oci/blobs" | cut -f1)
	rows+=("$(printf '%-26s %10s %10s %8s %14s %14s %7s  %s' "$name ($target)" "$cold" "$cached" \
		"$(awk -v a="$cold" -v b="$cached" 'BEGIN { printf "%.1fx", a / b }')" "${bytes:-0}" "$image" \
		"$(awk -v a="${bytes:-0}" -v b="$image" 'BEGIN { printf "%.2f", a / b }')" "${dc:7:12}")")
}

[ "${KILN_BENCH_ONLY:-}" = service ] || bench selfbuild "$root" kiln-image
bench service "$root/examples/service" image.app

printf '%-26s %10s %10s %8s %14s %14s %7s  %s\n' "build (target)" "cold s" "cached s" "speed-up" "downloaded B" "image B" "dl/img" "same image digest"
printf '%s\n' "${rows[@]}"
