#!/usr/bin/env bash
# Installs what kiln's tests and examples need on a fresh Debian 12 machine
# with Go, as root. Safe to run again: it installs only what is missing.
set -euo pipefail
# libseccomp-dev and pkg-config: kiln links libseccomp (see goenv.sh); gpg
# signs the throw-away Debian repositories of the deb tests.
pkgs=(busybox-static docker-registry skopeo umoci runc git zstd gzip podman uidmap libseccomp-dev pkg-config gpg gpg-agent gpgv gpgconf)
# openssh-client: ssh-agent, ssh-add and ssh-keygen for the ssh mount test.
pkgs+=(openssh-client)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Emulation of other platforms (docs/platforms.md): Debian's static qemu
# user-mode emulators, registered with binfmt_misc by binfmt-support. The
# registration must carry the F (fix-binary) flag: the kernel then opens
# the emulator once, here, so a foreign binary runs inside a sandbox whose
# root has no /usr/bin/qemu-*. Debian's qemu-user-static asks for F
# (fix_binary yes in /usr/share/binfmts/qemu-*).
emu=(qemu-user-static binfmt-support)
missing=()
for p in "${emu[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/register" ]; then
	mount -t binfmt_misc binfmt_misc "$binfmt"
fi
# The package's postinst registers its formats only where it can (not in
# a chroot or a container without binfmt_misc mounted then): import and
# enable whatever is missing, and switch the feature on.
[ "$(cat "$binfmt/status")" = enabled ] || echo 1 >"$binfmt/status"
for f in /usr/share/binfmts/qemu-*; do
	name="$(basename "$f")"
	if [ ! -e "$binfmt/$name" ]; then
		if [ -e "/var/lib/binfmts/$name" ]; then
			update-binfmts --enable "$name" >/dev/null
		else
			update-binfmts --import "$name" >/dev/null
		fi
	fi
	# Registered but switched off (echo 0 >ENTRY): switch it on.
	grep -qx enabled "$binfmt/$name" || echo 1 >"$binfmt/$name"
done
if ! grep -q '^flags: .*F' "$binfmt/qemu-aarch64"; then
	echo "deps.sh: $binfmt/qemu-aarch64 is registered without the F (fix-binary) flag, so emulated steps cannot find the emulator inside a sandbox;" >&2
	echo "  re-register it: update-binfmts --disable qemu-aarch64 && echo -1 >$binfmt/qemu-aarch64 && update-binfmts --enable qemu-aarch64" >&2
	exit 1
fi
