#!/usr/bin/env bash
# The C example for linux/arm64 built two ways on an amd64 machine
# (examples/hello-c-arm64): Debian's arm64 gcc run under qemu-user-static
# (image "hello") against Debian's amd64 cross-compiler
# gcc-aarch64-linux-gnu (image "hello-cross"); next to the amd64 build of
# the same program (examples/hello-c) as the native baseline. Prints one
# table:
#   cold      an empty store: every .deb downloaded and unpacked, then the
#             compile (downloads dominate and vary with the mirror);
#   compile   the compiling stage alone, built again with its sources in
#             the store (--no-cache-filter on it; what follows is reused by
#             early cutoff): the best of $RUNS runs. stage.build of both
#             hello-c examples is copy, mkdir, gcc and a run of the binary
#             (under qemu for arm64); stage.cross has no run of the binary,
#             which stage.check does under qemu.
# The two-platform row builds examples/hello-c-multi: one image index for
# linux/amd64 and linux/arm64 in one kiln build (gcc natively for amd64,
# under qemu for arm64, from deb sources locked per architecture), its
# compile ratio against the native baseline, and a last line comparing it
# with the two one-platform builds it replaces (native + emulated).
#
# Needs root, apt sources for bookworm, and qemu-user-static registered
# with binfmt_misc (bash scripts/deps.sh).
# Usage: sudo bench/platform.sh
set -euo pipefail
shopt -s inherit_errexit
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. scripts/goenv.sh
if ! grep -qs '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
	echo "platform.sh: qemu-aarch64 is not registered with binfmt_misc (with the F flag): run bash scripts/deps.sh" >&2
	exit 1
fi
work="$(mktemp -d /tmp/kiln-platbench.XXXXXX)"
cleanup() {
	grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
kiln="$work/kiln"
go build -o "$kiln" ./cmd/kiln
go build -o "$(dirname "$kiln")/kiln-init" ./cmd/kiln-init
runs=${RUNS:-3}
cp -r examples/hello-c "$work/amd64"
cp -r examples/hello-c-arm64 "$work/arm64"
cp -r examples/hello-c-multi "$work/multi"

now() { date +%s.%N; }
# build STORE DIR ARGS...: the wall seconds of one kiln build.
build() {
	local st="$1" dir="$2" t0 t1
	shift 2
	t0=$(now)
	(cd "$dir" && KILN_STORE="$st" "$kiln" --progress quiet build "$@" >/dev/null)
	t1=$(now)
	echo "$t1 - $t0" | bc
}
# compile STORE DIR TARGET STAGE: the best of $runs rebuilds of STAGE.
compile() {
	local st="$1" dir="$2" target="$3" stage="$4"
	for _ in $(seq "$runs"); do
		build "$st" "$dir" --no-cache-filter "$stage" "$target"
	done >"$work/times"
	sort -n "$work/times" | head -1
}

declare -A cold comp
cold[native]=$(build "$work/s-native" "$work/amd64" hello)
comp[native]=$(compile "$work/s-native" "$work/amd64" hello stage.build)
cold[emu]=$(build "$work/s-emu" "$work/arm64" hello)
comp[emu]=$(compile "$work/s-emu" "$work/arm64" hello stage.build)
cold[cross]=$(build "$work/s-cross" "$work/arm64" hello-cross)
comp[cross]=$(compile "$work/s-cross" "$work/arm64" hello-cross stage.cross)
cold[multi]=$(build "$work/s-multi" "$work/multi" hello)
comp[multi]=$(compile "$work/s-multi" "$work/multi" hello stage.build)

ratio() { echo "scale=2; $1 / $2" | bc; }
printf '%-52s %10s %10s %14s\n' "build (load: $(cut -d' ' -f1-3 /proc/loadavg))" "cold s" "compile s" "compile ratio"
printf '%-52s %10.2f %10.2f %14s\n' "hello-c linux/amd64, native gcc (baseline)" "${cold[native]}" "${comp[native]}" "1.00"
printf '%-52s %10.2f %10.2f %14s\n' "hello-c linux/arm64, arm64 gcc under qemu" "${cold[emu]}" "${comp[emu]}" "$(ratio "${comp[emu]}" "${comp[native]}")"
printf '%-52s %10.2f %10.2f %14s\n' "hello-c linux/arm64, amd64 cross gcc" "${cold[cross]}" "${comp[cross]}" "$(ratio "${comp[cross]}" "${comp[native]}")"
printf '%-52s %10.2f %10.2f %14s\n' "hello-c linux/amd64 + linux/arm64, one index" "${cold[multi]}" "${comp[multi]}" "$(ratio "${comp[multi]}" "${comp[native]}")"
printf 'emulated against cross-compiled compile: %sx\n' "$(ratio "${comp[emu]}" "${comp[cross]}")"
printf 'two platforms in one build against the two one-platform builds (native + emulated): compile %sx, cold %sx\n' \
	"$(ratio "${comp[multi]}" "$(echo "${comp[native]} + ${comp[emu]}" | bc)")" \
	"$(ratio "${cold[multi]}" "$(echo "${cold[native]} + ${cold[emu]}" | bc)")"
