#!/usr/bin/env bash
# A private image registry for a range on several machines, on the Swarm manager: Debian's
# docker-registry package (distribution 2.8), no public registry anywhere. Idempotent: a
# registry that answers is left alone.
#   infra/registry.sh                 # :5000, storage in /var/lib/docker-registry
#   RANGE_REGISTRY_PORT=5000 RANGE_REGISTRY_DATA=/srv/registry infra/registry.sh
#   RANGE_REGISTRY_CERT=cert.pem RANGE_REGISTRY_KEY=key.pem infra/registry.sh   # TLS
# Nodes pull from it: with TLS, put the CA in /etc/docker/certs.d/<host>:<port>/ca.crt on each
# node; without, list "<host>:<port>" under "insecure-registries" in /etc/docker/daemon.json.
set -euo pipefail
log() { printf '[registry] %s\n' "$*"; }
PORT="${RANGE_REGISTRY_PORT:-5000}"
DATA="${RANGE_REGISTRY_DATA:-/var/lib/docker-registry}"
CONF=/etc/range/registry.yml
SCHEME=http; [ -n "${RANGE_REGISTRY_CERT:-}" ] && SCHEME=https
answers() { curl -fsSk --max-time 2 "$SCHEME://127.0.0.1:$PORT/v2/" >/dev/null 2>&1; }

if answers; then log "registry ready on :$PORT (already running)"; exit 0; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if ! command -v docker-registry >/dev/null 2>&1; then
  log "installing Debian's docker-registry"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends docker-registry curl >/dev/null
fi
$SUDO mkdir -p "$(dirname "$CONF")" "$DATA"
{
  printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$DATA"
  printf '  delete:\n    enabled: true\nhttp:\n  addr: :%s\n' "$PORT"
  if [ "$SCHEME" = https ]; then
    printf '  tls:\n    certificate: %s\n    key: %s\n' "$RANGE_REGISTRY_CERT" "$RANGE_REGISTRY_KEY"
  fi
} | $SUDO tee "$CONF" >/dev/null
log "starting docker-registry on :$PORT (log: /var/log/range-registry.log)"
$SUDO sh -c "nohup docker-registry serve '$CONF' >/var/log/range-registry.log 2>&1 &"
for _ in $(seq 1 60); do
  if answers; then log "registry ready on :$PORT"; exit 0; fi
  sleep 0.5
done
log "the registry did not answer within 30 s; last lines of its log:"
tail -n 20 /var/log/range-registry.log >&2 || true
exit 1
