#!/usr/bin/env bash
# Print the nginx site of Range Control (range-site.conf.in) with its values filled in, from
# the environment (defaults for a Debian host set up by install.sh):
#   RANGE_SITE_NAME (server_name, default _), RANGE_SITE_HTTP_PORT (80), RANGE_SITE_HTTPS_PORT
#   (443), RANGE_SITE_UPSTREAM (127.0.0.1:8000, gunicorn), RANGE_SITE_STATIC (the installed
#   range_control/web/static), RANGE_SITE_CACHE (/var/cache/nginx/range-control),
#   RANGE_SITE_CERT / RANGE_SITE_KEY (/etc/range-control/tls/{cert,key}.pem)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
https_port="${RANGE_SITE_HTTPS_PORT:-443}"
suffix=""; [ "$https_port" = 443 ] || suffix=":$https_port"
static="${RANGE_SITE_STATIC:-}"
if [ -z "$static" ]; then
  static="$("${RANGE_PYTHON:-python3}" -c 'import pathlib, range_control.web as w; print(pathlib.Path(w.__file__).parent / "static")')"
fi
for value in "${RANGE_SITE_NAME:-_}" "$static" "${RANGE_SITE_UPSTREAM:-127.0.0.1:8000}"; do
  case "$value" in *[\;\{\}\ ]*) echo "render-site: unsafe value for an nginx directive: $value" >&2; exit 1;; esac
done
sed -e "s|@SERVER_NAME@|${RANGE_SITE_NAME:-_}|g" \
    -e "s|@HTTP_PORT@|${RANGE_SITE_HTTP_PORT:-80}|g" \
    -e "s|@HTTPS_PORT@|${https_port}|g" \
    -e "s|@HTTPS_SUFFIX@|${suffix}|g" \
    -e "s|@UPSTREAM@|${RANGE_SITE_UPSTREAM:-127.0.0.1:8000}|g" \
    -e "s|@STATIC@|${static}|g" \
    -e "s|@CACHE@|${RANGE_SITE_CACHE:-/var/cache/nginx/range-control}|g" \
    -e "s|@CERT@|${RANGE_SITE_CERT:-/etc/range-control/tls/cert.pem}|g" \
    -e "s|@KEY@|${RANGE_SITE_KEY:-/etc/range-control/tls/key.pem}|g" \
    "$here/range-site.conf.in"
