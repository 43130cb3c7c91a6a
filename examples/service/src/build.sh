#!/bin/sh
# Installs the service and its pages under $1.
set -eu
out="$1"
mkdir -p "$out/bin" "$out/srv/www"
sed "s/@PORT@/${PORT}/" service.sh >"$out/bin/service"
chmod 0755 "$out/bin/service"
cat >"$out/srv/www/index.html" <<HTML
<!doctype html>
<title>service</title>
<h1>${GREETING}</h1>
HTML
echo "built service for port ${PORT}"
