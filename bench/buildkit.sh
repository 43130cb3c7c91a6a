#!/usr/bin/env bash
# Exec steps on buildkitd against the local sandbox. Two workloads on the
# examples' busybox root, each built into an empty store:
#   W1  a chain of 20 run steps, each appending one line to a file;
#   W2  16 independent run steps (a fan), each writing its own file, and
#       one image that copies the 16 results together;
#   W3  a chain of 20 file steps (each a stage of its own making one file
#       and one directory), which go to buildkitd as llb.File: what moving
#       file steps to the daemon costs;
# locally, through one buildkitd and through two, and prints one table
# of the times and their ratio to the local build, with whether the
# outputs match the local build's; then the same workload as a Dockerfile
# built by buildctl alone (no export) on a third daemon. The daemons are
# fresh (no BuildKit cache) and run as root with the OCI worker on unix
# sockets.
#
# Needs root, runc and busybox-static; builds buildkitd and buildctl once
# (scripts/buildkit-tools.sh, minutes).
# Usage: sudo bench/buildkit.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/goenv.sh
tools="${KILN_BUILDKIT_TOOLS:-$(sh scripts/buildkit-tools.sh)}"
work="$(mktemp -d /tmp/kiln-bkbench.XXXXXX)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
kiln="$work/kiln"
go build -o "$kiln" ./cmd/kiln
go build -o "$(dirname "$kiln")/kiln-init" ./cmd/kiln-init
# --buildkit runs through the helper, found next to kiln.
go build -o "$work/kiln-buildkit" ./cmd/kiln-buildkit

daemon() { # N: starts buildkitd N, prints its address
	local d="$work/bk$1"
	mkdir -p "$d"
	XDG_RUNTIME_DIR="$d" XDG_CONFIG_HOME="$d" XDG_DATA_HOME="$d" \
		"$tools/buildkitd" --addr "unix://$d/sock" --root "$d/root" --oci-worker=true --containerd-worker=false >"$d/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 600); do
		"$tools/buildctl" --addr "unix://$d/sock" debug workers >/dev/null 2>&1 && break
		sleep 0.1
	done
}
daemon 1
daemon 2
daemon 3
a="unix://$work/bk1/sock"
b="unix://$work/bk2/sock"
c="unix://$work/bk3/sock"

rootfs() { # DIR
	local r="$1/rootfs"
	mkdir -p "$r"/{bin,etc,tmp,proc,dev,sys,root,usr/bin,sbin}
	chmod 1777 "$r/tmp"
	cp /usr/bin/busybox "$r/bin/busybox"
	for x in $(busybox --list); do [ "$x" = busybox ] || ln -s busybox "$r/bin/$x"; done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\n' >"$r/etc/group"
}
head_hcl='kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
  default           = ["app"]
}
source "local" "busybox" {
  path = "rootfs"
}
'
mkdir -p "$work/w1" "$work/w2" "$work/w3"
rootfs "$work/w1"
rootfs "$work/w2"
rootfs "$work/w3"
{
	echo "$head_hcl"
	echo 'stage "f0" {'
	echo '  from = source.local.busybox'
	echo '}'
	for i in $(seq 20); do
		printf 'stage "f%d" {\n  from = stage.f%d\n  file {\n    path    = "/f%d"\n    content = "%d\\n"\n  }\n  mkdir {\n    path = "/d%d"\n  }\n}\n' "$i" "$((i - 1))" "$i" "$i" "$i"
	done
	echo 'image "app" {'
	echo '  from = stage.f20'
	echo '}'
} >"$work/w3/build.hcl"
{
	echo "$head_hcl"
	echo 'stage "chain" {'
	echo '  from = source.local.busybox'
	for i in $(seq 20); do printf '  run {\n    shell = "echo step %d >> /chain"\n  }\n' "$i"; done
	echo '}'
	echo 'image "app" {'
	echo '  from = stage.chain'
	echo '}'
} >"$work/w1/build.hcl"
{
	echo "$head_hcl"
	for i in $(seq 16); do printf 'stage "s%d" {\n  from = source.local.busybox\n  run {\n    shell = "echo %d > /out%d"\n  }\n}\n' "$i" "$i" "$i"; done
	echo 'stage "all" {'
	echo '  from = source.local.busybox'
	for i in $(seq 16); do printf '  copy {\n    from = stage.s%d\n    src  = ["/out%d"]\n    dest = "/"\n  }\n' "$i" "$i"; done
	echo '}'
	echo 'image "app" {'
	echo '  from = stage.all'
	echo '}'
} >"$work/w2/build.hcl"

# The same workloads as Dockerfiles, for buildctl on its own (fresh) daemon.
{
	echo 'FROM scratch'
	echo 'COPY rootfs/ /'
	for i in $(seq 20); do echo "RUN echo step $i >> /chain"; done
} >"$work/w1/Dockerfile"
{
	echo 'FROM scratch AS base'
	echo 'COPY rootfs/ /'
	for i in $(seq 16); do printf 'FROM base AS s%d\nRUN echo %d > /out%d\n' "$i" "$i" "$i"; done
	echo 'FROM base'
	for i in $(seq 16); do echo "COPY --from=s$i /out$i /"; done
} >"$work/w2/Dockerfile"

now() { date +%s.%N; }
run() { # WORKLOAD ARGS...: prints "SECONDS OUTPUT", each build in a new store
	local w="$1"; shift
	local n t0 t1 out
	n=$(mktemp -u XXXXXX)
	t0=$(now)
	out=$(cd "$work/$w" && KILN_STORE="$work/store$n" SOURCE_DATE_EPOCH= CI= "$kiln" --progress quiet build -j 16 "$@" 2>"$work/log$n") ||
		{ echo "bench: $w $* failed:" >&2; tail -20 "$work/log$n" >&2; exit 1; }
	t1=$(now)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $(echo "$out" | awk '$1 == "output" { sub(",", "", $2); print $2 }')"
}

printf '%-4s %-22s %8s %8s %s\n' load executor seconds ratio "same output"
for w in w1 w2 w3; do
	read -r lt lo < <(run "$w")
	[ -n "$lo" ] || exit 1
	printf '%-4s %-22s %8s %8s %s\n' "$w" local "$lt" 1.00 -
	for mode in one two; do
		if [ "$mode" = one ]; then args=(--buildkit "$a"); else args=(--buildkit "$a" --buildkit "$b"); fi
		read -r t o < <(run "$w" "${args[@]}")
		[ -n "$o" ] || exit 1
		same=no
		[ "$o" = "$lo" ] && same=yes
		printf '%-4s %-22s %8s %8s %s\n' "$w" "buildkitd ($mode)" "$t" "$(awk -v a="$t" -v b="$lt" 'BEGIN { printf "%.2f", a / b }')" "$same"
	done
	[ -f "$work/$w/Dockerfile" ] || continue
	# buildctl alone, no export: BuildKit's own cost for the same steps.
	t0=$(now)
	"$tools/buildctl" --addr "$c" build --frontend dockerfile.v0 --local context="$work/$w" --local dockerfile="$work/$w" >"$work/buildctl-$w.log" 2>&1 ||
		{ echo "bench: buildctl $w failed:" >&2; tail -20 "$work/buildctl-$w.log" >&2; exit 1; }
	t=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
	printf '%-4s %-22s %8s %8s %s\n' "$w" "buildctl Dockerfile" "$t" "$(awk -v a="$t" -v b="$lt" 'BEGIN { printf "%.2f", a / b }')" -
done
