#!/usr/bin/env bash
# Make a Docker engine available, idempotently: use a running one; otherwise install Debian's
# docker.io when dockerd is missing, start dockerd in the background and wait for it.
#   infra/engine.sh            # prints "engine ready: <version>"
set -euo pipefail
log() { printf '[engine] %s\n' "$*"; }
ready() { docker version --format '{{.Server.Version}}' 2>/dev/null; }

if v=$(ready) && [ -n "$v" ]; then log "engine ready: $v (already running)"; exit 0; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi
# Docker's default address pools hold about 30 networks; a range needs one per team (+ edge).
# 10.213.0.0/16 in /24s gives 256. Written only when there is no daemon.json of the operator's.
if [ ! -f /etc/docker/daemon.json ]; then
  $SUDO mkdir -p /etc/docker
  printf '%s\n' '{"default-address-pools": [{"base": "10.213.0.0/16", "size": 24}]}' \
    | $SUDO tee /etc/docker/daemon.json >/dev/null
  log "wrote /etc/docker/daemon.json (address pool 10.213.0.0/16 in /24s)"
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/range-dockerd.log)"
  $SUDO sh -c 'nohup dockerd >/var/log/range-dockerd.log 2>&1 &'
fi
for _ in $(seq 1 120); do
  if v=$(ready) && [ -n "$v" ]; then log "engine ready: $v"; exit 0; fi
  sleep 0.5
done
log "dockerd did not answer within 60 s; last lines of its log:"
tail -n 20 /var/log/range-dockerd.log >&2 || true
exit 1
