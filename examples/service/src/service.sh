#!/bin/sh
# Serves /srv/www over HTTP with busybox httpd.
port=@PORT@
while [ $# -gt 0 ]; do
	case "$1" in
	--port) port="$2"; shift 2 ;;
	--version) echo "service 1.0"; exit 0 ;;
	*) echo "service: unknown argument $1" >&2; exit 2 ;;
	esac
done
exec httpd -f -p "$port" -h /srv/www
