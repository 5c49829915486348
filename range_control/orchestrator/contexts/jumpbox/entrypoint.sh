#!/bin/sh
# Set the team's password and its members' SSH keys (given by the reconciler), make a fresh
# host key, run sshd. One Ed25519 key: every client of the last decade speaks it, and it is made in milliseconds where
# `ssh-keygen -A` spends about a second of CPU on RSA (times every team, at every start).
set -eu
: "${RANGE_JUMPBOX_PASSWORD:?}"
printf 'team:%s\n' "$RANGE_JUMPBOX_PASSWORD" | chpasswd
unset RANGE_JUMPBOX_PASSWORD
# The members' SSH keys, one per line (later changes come through range-jumpbox-keys).
# shellcheck disable=SC2046 # one argument per line
(set -f; IFS='
'; exec /usr/local/sbin/range-jumpbox-keys $(printf '%s' "${RANGE_JUMPBOX_KEYS:-}"))
unset RANGE_JUMPBOX_KEYS
# The red cell's jumpbox: its people's logins, their commands logged (range-red-people).
if [ -n "${RANGE_JUMPBOX_PEOPLE:-}" ]; then
  /usr/local/sbin/range-red-people
  unset RANGE_JUMPBOX_PEOPLE
fi
mkdir -p /run/sshd && chmod 0755 /run/sshd
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
# The game network's route, kept by root; NET_ADMIN leaves the bounding set of everything else.
if [ -n "${RANGE_GAME_SUBNET:-}" ]; then
  /usr/local/sbin/range-game-route "$RANGE_GAME_SUBNET" &
fi
exec setpriv --bounding-set -net_admin /usr/sbin/sshd -D -e
