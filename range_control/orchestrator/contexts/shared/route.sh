#!/bin/sh
# Route the game network (RANGE_GAME_SUBNET) through the game router, wherever the engine puts
# it: its name on the team network is looked up every few seconds (a router replaced has a new
# address); no router, no route. Runs as root with NET_ADMIN (the jumpbox drops it from the
# bounding set of sshd and the team's sessions). Shared by the jumpbox and the gateway (SHARED).
set -u
subnet=${1:?}
via=""
while :; do
  now=$(getent ahostsv4 range-game 2>/dev/null | awk 'NR == 1 { print $1 }')
  if [ "$now" != "$via" ]; then
    if [ -n "$now" ]; then
      ip route replace "$subnet" via "$now" && via=$now
    else
      ip route del "$subnet" 2>/dev/null
      via=""
    fi
  fi
  if [ -n "$via" ]; then sleep 3; else sleep 1; fi
done
