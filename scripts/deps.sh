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
