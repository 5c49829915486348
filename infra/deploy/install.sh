#!/usr/bin/env bash
# Set up Range Control on a Debian host for production, idempotently (run it again after an
# upgrade of the checkout: it reinstalls the package and re-renders what it owns):
#   - Debian packages: nginx, python3-venv, openssl (and docker.io unless RANGE_NO_DOCKER=1)
#   - a system user `range`, the data dir /var/lib/range-control (0700)
#   - the package in /opt/range-control/venv (from this checkout)
#   - /etc/range-control/range.env (settings; written once, never overwritten)
#   - a self-signed certificate in /etc/range-control/tls unless one is there (replace it with
#     your own: same paths)
#   - the nginx site (render-site.sh) as /etc/nginx/sites-available/range-control, enabled
#   - systemd units range-web (gunicorn) and range-worker, enabled and started
#   - the schema migrated (`rangectl db upgrade`)
# Options (environment): RANGE_SITE_NAME (server name, default the host's FQDN),
#   RANGE_PREFIX (/opt/range-control), RANGE_NO_START=1 (install, start nothing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
prefix="${RANGE_PREFIX:-/opt/range-control}"
etc=/etc/range-control
data=/var/lib/range-control
# Debian's interpreter: the service user must be able to run it (not a pyenv under /root).
py="${RANGE_SYSTEM_PYTHON:-/usr/bin/python3}"
log() { printf '[install] %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
umask 022  # the installed code must be readable by the range user, whatever root's umask is

missing=()
for pair in /usr/sbin/nginx:nginx openssl:openssl pg_dump:postgresql-client; do
  cmd="${pair%%:*}"; pkg="${pair##*:}"
  command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ] || missing+=("$pkg")
done
"$py" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ -z "${RANGE_NO_DOCKER:-}" ] && ! command -v dockerd >/dev/null 2>&1; then missing+=(docker.io); fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! id range >/dev/null 2>&1; then
  log "creating the system user range"
  useradd --system --home-dir "$data" --shell /usr/sbin/nologin range
fi
getent group docker >/dev/null && usermod -a -G docker range
install -d -m 0700 -o range -g range "$data" "$data/backups"
# The units' RuntimeDirectory; made here too for what runs before them (the migration below).
install -d -m 0755 -o range -g range /run/range-control
install -d -m 0700 -o range -g range /run/range-control/metrics
install -d -m 0755 "$etc"
install -d -m 0700 "$etc/tls"

if [ ! -x "$prefix/venv/bin/python" ] || ! runuser -u range -- "$prefix/venv/bin/python" -c '' 2>/dev/null; then
  log "creating $prefix/venv"
  rm -rf "$prefix/venv"
  install -d -m 0755 "$prefix"
  "$py" -m venv "$prefix/venv"
fi
log "installing Range Control from $repo into $prefix/venv"
# The documentation site goes with the package when the checkout has it built (infra/setup.sh
# builds it); the range then serves it at /docs/.
[ -f "$repo/range_control/web/site/index.html" ] \
  || log "note: no documentation site in $repo (run infra/setup.sh there first): /docs/ answers 404"
"$prefix/venv/bin/python" -m pip install -q --upgrade pip 2> >(grep -v '^WARNING: Location' >&2)
"$prefix/venv/bin/python" -m pip install -q --upgrade "$repo" 2> >(grep -v '^WARNING: Location' >&2)
chmod -R a+rX "$prefix"

if [ ! -f "$etc/range.env" ]; then
  log "writing $etc/range.env (edit it: it is never overwritten)"
  umask 027
  cat > "$etc/range.env" <<ENV
# Range Control settings (README, "Settings"). Read by range-web and range-worker.
RANGE_DATA_DIR=$data
# RANGE_DATABASE_URL=postgresql+psycopg://range:PASSWORD@localhost/range
RANGE_PROXY_HOPS=1
# On tmpfs (systemd's RuntimeDirectory): the metrics' files are written on every request.
RANGE_METRICS_DIR=/run/range-control/metrics
RANGE_BACKUP_EVERY=15m
RANGE_BACKUP_KEEP=96
RANGE_LOG_FORMAT=json
RANGE_BIND=127.0.0.1:8000
RANGE_WEB_WORKERS=2
ENV
  chgrp range "$etc/range.env"
  umask 022
fi

if [ ! -f "$etc/tls/cert.pem" ] || [ ! -f "$etc/tls/key.pem" ]; then
  name="${RANGE_SITE_NAME:-$(hostname -f 2>/dev/null || hostname)}"
  log "no certificate in $etc/tls: a self-signed one for $name (replace it with your own)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$name" \
    -addext "subjectAltName=DNS:$name" -keyout "$etc/tls/key.pem" -out "$etc/tls/cert.pem" 2>/dev/null
  chmod 600 "$etc/tls/key.pem"
fi

install -d -m 0700 -o www-data /var/cache/nginx/range-control 2>/dev/null \
  || install -d -m 0700 /var/cache/nginx/range-control
RANGE_PYTHON="$prefix/venv/bin/python" RANGE_SITE_NAME="${RANGE_SITE_NAME:-_}" \
  "$here/render-site.sh" > /etc/nginx/sites-available/range-control.new
mv /etc/nginx/sites-available/range-control.new /etc/nginx/sites-available/range-control
ln -sf /etc/nginx/sites-available/range-control /etc/nginx/sites-enabled/range-control
# Debian's welcome site would answer port 80 first.
[ -L /etc/nginx/sites-enabled/default ] && rm -f /etc/nginx/sites-enabled/default
nginx -t -q

for unit in range-web range-worker; do
  sed "s|@PREFIX@|$prefix|g" "$here/$unit.service" > "/etc/systemd/system/$unit.service"
done

log "migrating the schema"
( cd "$data" && set -a && . "$etc/range.env" && set +a \
  && runuser -u range -- "$prefix/venv/bin/rangectl" db upgrade )

if [ -n "${RANGE_NO_START:-}" ]; then
  log "installed; nothing started (RANGE_NO_START)"
elif [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now range-web range-worker
  systemctl reload-or-restart nginx
  log "running: range-web, range-worker, nginx. Check: $prefix/venv/bin/rangectl doctor"
else
  log "installed, but systemd is not running here: start gunicorn, the worker and nginx"
  log "by hand (the commands are the ExecStart lines of /etc/systemd/system/range-*.service)"
fi
