#!/usr/bin/env bash
# kiln against its peers on the rows issue 20 sets targets for, in one
# table: kiln, BuildKit (buildctl on a fresh buildkitd, the same workloads
# as Dockerfiles, no export) and the floor of doing the same work with the
# plain tools, their ratios, the target and PASS/FAIL. The series is
# interleaved (kiln, BuildKit, floor, kiln, BuildKit, floor, ...) so that
# load from elsewhere hits all three alike; each cell is a median.
#
# Rows (workloads from bench/realizebench, so the figures compare with
# bench/realize.sh):
#   chain   20 exec steps in a row, cold: per step (the cold build of the
#           source alone subtracted); floor `runc run` on an overlay
#   fan     16 x 4 MiB steps and the copies merging them, cold (source
#           subtracted); floor 16 runc runs (one per CPU at once) + cp
#   no-op   rebuild of the chain and of the fan; floor `kiln version`
#   graph   1,001 file derivations, cold and no-op (kiln only)
#   export  256 MiB one-layer image out of the store as OCI: zstd on text
#           data (floor `zstd -3`), gzip on base64 data (floor `gzip -6`,
#           sizes printed), uncompressed (floor `tar`); end to end, the
#           no-op rebuild included, each in a store that has not compressed
#           the layer before. Outputs are not flushed to disk (kiln's
#           default, as tar's); the uncompressed row is also timed with
#           sync=true against `tar` and `sync FILE`, without a target
#   plan    `kiln plan` of 10,000 stages (bench/genbuild, as bench/plan.sh)
#           floor sha256sum of the build file
# Nix's figures in the targets are the issue's constants; Nix is never run.
#
# Needs root, runc, busybox-static, zstd and gzip; builds buildkitd and
# buildctl once (scripts/buildkit-tools.sh, minutes the first time).
# Usage: sudo bench/peers.sh [-quick]   (-quick: 2 repetitions, a smoke run;
# KILN_BENCH_MB=N exports N MiB layers instead of 256)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
reps=5 noops=5 mb=${KILN_BENCH_MB:-256}
case "${1:-}" in
-quick) reps=2 noops=2 ;;
"") ;;
*) echo "usage: bench/peers.sh [-quick]" >&2; exit 2 ;;
esac
[ -n "${EPOCHREALTIME:-}" ] || { echo "bench/peers.sh needs bash 5 or later (it times with \$EPOCHREALTIME)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench/peers.sh needs root (sandboxes, runc, buildkitd)" >&2; exit 1; }
for t in runc zstd gzip tar jq; do
	command -v "$t" >/dev/null || { echo "bench/peers.sh needs $t (apt-get install $t)" >&2; exit 1; }
done
. scripts/goenv.sh
tools="${KILN_BUILDKIT_TOOLS:-$(bash scripts/buildkit-tools.sh)}"
work="$(mktemp -d /tmp/kiln-peers.XXXXXX)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
load_start="$(uptime)"
go build -o "$work/kiln" ./cmd/kiln
go build -o "$work/kiln-init" ./cmd/kiln-init
go build -o "$work/realizebench" ./bench/realizebench
go build -o "$work/genbuild" ./bench/genbuild
go build -o "$work/layerdata" ./bench/layerdata
kiln="$work/kiln"

# One buildkitd, pruned before each cold build.
bk="$work/bk"
mkdir -p "$bk"
XDG_RUNTIME_DIR="$bk" XDG_CONFIG_HOME="$bk" XDG_DATA_HOME="$bk" \
	"$tools/buildkitd" --addr "unix://$bk/sock" --root "$bk/root" --oci-worker=true --containerd-worker=false >"$bk/log" 2>&1 &
pids+=($!)
buildctl() { "$tools/buildctl" --addr "unix://$bk/sock" "$@"; }
for _ in $(seq 600); do buildctl debug workers >/dev/null 2>&1 && break; sleep 0.1; done
buildctl debug workers >/dev/null || { echo "bench: buildkitd did not start:" >&2; tail "$bk/log" >&2; exit 1; }

# The workloads: realizebench's projects, and the same as Dockerfiles.
p="$work/projects"
"$work/realizebench" -projects "$p"
mkdir -p "$p/chain/df-src" "$p/chain/df" "$p/fan/df"
printf 'FROM scratch\nCOPY base/rootfs/ /\n' >"$p/chain/df-src/Dockerfile"
{
	printf 'FROM scratch\nCOPY base/rootfs/ /\n'
	for i in $(seq 0 19); do echo "RUN echo $i >> /log"; done
} >"$p/chain/df/Dockerfile"
{
	printf 'FROM scratch AS base\nCOPY base/rootfs/ /\n'
	for i in $(seq 0 15); do
		printf 'FROM base AS f%02d\nRUN dd if=/dev/zero of=/out bs=1M count=4 2>/dev/null; echo %d | dd of=/out conv=notrunc 2>/dev/null\n' "$i" "$i"
	done
	echo 'FROM base'
	for i in $(seq 0 15); do printf 'COPY --from=f%02d /out /out%02d\n' "$i" "$i"; done
} >"$p/fan/df/Dockerfile"

# The export project: two one-layer images of 256 MiB each.
e="$work/export"
mkdir -p "$e/text" "$e/b64"
"$work/layerdata" -kind text -mb "$mb" "$e/text/data"
"$work/layerdata" -kind base64 -mb "$mb" "$e/b64/data"
cat >"$e/build.hcl" <<'EOF'
kiln {
  source_date_epoch = 1700000000
  platform          = "linux/amd64"
}
source "local" "text" {
  path = "text"
}
source "local" "b64" {
  path = "b64"
}
stage "text" {
  from = source.local.text
}
stage "b64" {
  from = source.local.b64
}
image "text" {
  from = stage.text
}
image "b64" {
  from = stage.b64
}
EOF
tar -C "$e/text" -cf "$e/text.tar" .
tar -C "$e/b64" -cf "$e/b64.tar" .

# The plan project.
"$work/genbuild" "$work/plan" >/dev/null

# Figures go to $work/fig/KEY, one a line, in seconds (sizes in bytes).
mkdir -p "$work/fig" "$work/stores"
rec() { echo "$2" >>"$work/fig/$1"; }
# The clock is bash's own: a $(date) on each side of the command, or a
# subshell around it, forks inside the timed window and cost about 25 ms
# a row (`kiln version` timed at 60 ms here against 34.6 ms by `perf stat`).
# Between the two readings there is only bash's fork and exec of the command.
secs() { awk -v us="$1" 'BEGIN { printf "%.6f", us / 1e6 }'; }
timed() { # KEY CMD...: runs CMD, records its wall time under KEY
	local key="$1" t0 t1
	shift
	t0=$EPOCHREALTIME
	"$@" >"$work/out" 2>&1 || { echo "bench: $key failed: $*" >&2; tail -20 "$work/out" >&2; exit 1; }
	t1=$EPOCHREALTIME
	rec "$key" "$(secs $((${t1/[.,]/} - ${t0/[.,]/})))"
}
n=0
kb() { # DIR STORE ARGS...: kiln in DIR on STORE, started straight from this shell (no subshell)
	local dir="$1" st="$2" rc=0
	shift 2
	cd "$dir" || return
	KILN_STORE="$work/stores/$st" SOURCE_DATE_EPOCH= CI= KILN_TIMING= KILN_TRACE= "$kiln" "$@" || rc=$?
	cd "$root"
	return "$rc"
}
bkb() { # DIR DOCKERFILE-DIR: buildctl builds it, no export
	buildctl build --frontend dockerfile.v0 --local context="$1" --local dockerfile="$1/$2"
}
prune() { buildctl prune --all >/dev/null; }
blobsize() { find "$1/blobs" -type f -printf '%s\n' | sort -n | tail -1; }

for rep in $(seq "$reps"); do
	echo "bench: repetition $rep of $reps" >&2
	n=$((n + 1))
	# Cold: the source alone (subtracted from both), the chain, the fan.
	timed k-src kb "$p/chain" "src$n" build --progress quiet stage.src
	rm -rf "$work/stores/src$n"
	prune
	timed b-src bkb "$p/chain" df-src
	for w in chain fan; do
		target=stage.chain
		[ "$w" = fan ] && target=stage.all
		timed "k-$w" kb "$p/$w" "$w$n" build --progress quiet "$target"
		prune
		timed "b-$w" bkb "$p/$w" df
		"$work/realizebench" -floor "$w" >"$work/floor" || { echo "bench: runc floor failed" >&2; exit 1; }
		rec "f-$w" "$(cat "$work/floor")"
	done
	# No-op rebuilds, in the stores just filled; BuildKit's cache is warm
	# for the fan (the last build) and is warmed for the chain.
	kb "$p/chain" "chain$n" build --progress quiet stage.chain >/dev/null 2>&1
	kb "$p/fan" "fan$n" build --progress quiet stage.all >/dev/null 2>&1
	bkb "$p/chain" df >/dev/null 2>&1
	for _ in $(seq "$noops"); do
		timed k-noop-chain kb "$p/chain" "chain$n" build --progress quiet stage.chain
		timed b-noop-chain bkb "$p/chain" df
		timed f-noop kb "$p/chain" "chain$n" version
		timed k-noop-fan kb "$p/fan" "fan$n" build --progress quiet stage.all
		timed b-noop-fan bkb "$p/fan" df
	done
	rm -rf "$work/stores/chain$n" "$work/stores/fan$n"
	# The graph of 1,001 derivations (kiln only).
	timed k-graph-cold kb "$p/graph" "graph$n" build --progress quiet all
	kb "$p/graph" "graph$n" build --progress quiet all >/dev/null 2>&1
	for _ in $(seq "$noops"); do
		timed k-graph-noop kb "$p/graph" "graph$n" build --progress quiet all
	done
	rm -rf "$work/stores/graph$n"
	# Export: a store with both layers and no compressed blob of them.
	kb "$e" "export$n" build --progress quiet text b64 >/dev/null 2>&1
	o="$work/oci"
	rm -rf "$o"
	timed k-zstd kb "$e" "export$n" build --progress quiet text -o "type=oci,dest=$o,compression=zstd,compression-level=3,force-compression=true"
	rec s-k-zstd "$(blobsize "$o")"
	rm -rf "$o"
	timed f-zstd sh -c "zstd -3 -q -c '$e/text.tar' >'$work/floor.zst'"
	rec s-f-zstd "$(stat -c %s "$work/floor.zst")"
	timed k-gzip kb "$e" "export$n" build --progress quiet b64 -o "type=oci,dest=$o,compression=gzip,compression-level=6,force-compression=true"
	rec s-k-gzip "$(blobsize "$o")"
	rm -rf "$o"
	timed f-gzip sh -c "gzip -6 -c '$e/b64.tar' >'$work/floor.gz'"
	rec s-f-gzip "$(stat -c %s "$work/floor.gz")"
	timed k-unc kb "$e" "export$n" build --progress quiet text -o "type=oci,dest=$o,compression=uncompressed,force-compression=true"
	rm -rf "$o"
	timed k-unc-sync kb "$e" "export$n" build --progress quiet text -o "type=oci,dest=$o,sync=true,compression=uncompressed,force-compression=true"
	rm -rf "$o"
	timed f-unc tar -C "$e/text" -cf "$work/floor.tar" .
	rm -f "$work/floor.tar"
	timed f-unc-sync sh -c "tar -C '$e/text' -cf '$work/floor.tar' . && sync '$work/floor.tar'"
	rm -f "$work/floor.zst" "$work/floor.gz" "$work/floor.tar"
	rm -rf "$work/stores/export$n"
	# Plan of 10,000 stages, the stat and page caches warm.
	[ "$rep" = 1 ] && kb "$work/plan" plan plan app >/dev/null 2>&1
	timed k-plan kb "$work/plan" plan plan app
	timed f-plan sha256sum "$work/plan/build.hcl"
done
load_end="$(uptime)"

med() { # KEY: the median, or nothing
	[ -s "$work/fig/$1" ] || return 0
	sort -g "$work/fig/$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a - b }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a / b }'; }
chain_k=$(div "$(sub "$(med k-chain)" "$(med k-src)")" 20)
chain_b=$(div "$(sub "$(med b-chain)" "$(med b-src)")" 20)
fan_k=$(sub "$(med k-fan)" "$(med k-src)")
fan_b=$(sub "$(med b-fan)" "$(med b-src)")

fmt_s() { # seconds, as ms below 1 s
	[ -n "$1" ] || { echo -; return; }
	awk -v s="$1" 'BEGIN { if (s < 1) printf "%.1f ms", s * 1000; else printf "%.2f s", s }'
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || echo -; }
verdict() { awk "BEGIN { exit !($1) }" && echo PASS || echo FAIL; }
printf '%-38s %10s %10s %10s %9s %9s  %-28s %s\n' row kiln BuildKit floor kiln/bk kiln/fl target met
row() { # NAME KILN BK FLOOR TARGET-TEXT CONDITION
	printf '%-38s %10s %10s %10s %9s %9s  %-28s %s\n' "$1" "$(fmt_s "$2")" "$(fmt_s "$3")" "$(fmt_s "$4")" \
		"$(ratio "$2" "$3")" "$(ratio "$2" "$4")" "$5" "$([ -n "$6" ] && verdict "$6" || echo -)"
}
f_chain=$(med f-chain) f_fan=$(med f-fan)
row "chain: per step, cold (20 steps)" "$chain_k" "$chain_b" "$f_chain" "<= 0.8 x Nix 101 ms = 80.8 ms" "$chain_k <= 0.0808"
row "fan: 16 x 4 MiB + merge, cold" "$fan_k" "$fan_b" "$f_fan" "<= 0.8 x Nix 1.36 s = 1.09 s" "$fan_k <= 1.088"
row "no-op rebuild: chain" "$(med k-noop-chain)" "$(med b-noop-chain)" "$(med f-noop)" "<= 0.5 x Nix 70 ms = 35 ms" "$(med k-noop-chain) <= 0.035"
row "no-op rebuild: fan" "$(med k-noop-fan)" "$(med b-noop-fan)" "$(med f-noop)" "<= 0.5 x Nix 70 ms = 35 ms" "$(med k-noop-fan) <= 0.035"
row "1,001-derivation graph: no-op" "$(med k-graph-noop)" "" "$(med f-noop)" "<= 50 ms" "$(med k-graph-noop) <= 0.050"
row "1,001-derivation graph: cold" "$(med k-graph-cold)" "" "" "" ""
kz=$(med k-zstd) fz=$(med f-zstd) skz=$(med s-k-zstd) sfz=$(med s-f-zstd)
row "export 256 MiB text, zstd" "$kz" "" "$fz" "time <= zstd -3, size <= +2%" "$kz <= $fz && $skz <= 1.02 * $sfz"
kg=$(med k-gzip) fg=$(med f-gzip) skg=$(med s-k-gzip) sfg=$(med s-f-gzip)
row "export 256 MiB base64, gzip" "$kg" "" "$fg" ">= 3x gzip -6, size <= +2%" "$kg * 3 <= $fg && $skg <= 1.02 * $sfg"
ku=$(med k-unc) fu=$(med f-unc)
row "export 256 MiB text, uncompressed" "$ku" "" "$fu" "<= 1.5 x tar" "$ku <= 1.5 * $fu"
row "  the same, sync=true (floor: + sync)" "$(med k-unc-sync)" "" "$(med f-unc-sync)" "" ""
row "kiln plan, 10,000 stages" "$(med k-plan)" "" "$(med f-plan)" "<= 0.5 s" "$(med k-plan) <= 0.5"
echo
awk -v a="$skz" -v b="$sfz" -v c="$skg" -v d="$sfg" 'BEGIN {
	printf "sizes: zstd kiln %.1f MiB, zstd -3 %.1f MiB (%+.2f%%); gzip kiln %.1f MiB, gzip -6 %.1f MiB (%+.2f%%)\n",
		a / 1048576, b / 1048576, (a / b - 1) * 100, c / 1048576, d / 1048576, (c / d - 1) * 100 }'
echo "medians of $reps repetitions ($noops no-op runs each); BuildKit: buildctl + buildkitd $(basename "$tools"), Dockerfiles, no export, pruned before cold builds; $(nproc) CPUs"
echo "load at start: $load_start"
echo "load at end:   $load_end"
