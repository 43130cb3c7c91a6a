#!/usr/bin/env bash
# Assembles the busybox root filesystem the examples build on, from
# Debian's busybox-static, into each example's rootfs/ folder (not
# committed: it holds a binary). The examples read it as
# source "local" "busybox" { path = "rootfs" }.
# Usage: mkrootfs.sh [DIR...]   (default: every example)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bb=/usr/bin/busybox
[ -x "$bb" ] || { echo "busybox-static is not installed: apt-get install busybox-static" >&2; exit 1; }
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
	for d in "$here"/../*/build.hcl; do dirs+=("$(dirname "$d")/rootfs"); done
fi
for root in "${dirs[@]}"; do
	rm -rf "$root"
	mkdir -p "$root"/{bin,etc,tmp,root,usr/bin,sbin,proc,dev,sys}
	chmod 1777 "$root/tmp"
	cp "$bb" "$root/bin/busybox"
	for applet in $("$bb" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
done
