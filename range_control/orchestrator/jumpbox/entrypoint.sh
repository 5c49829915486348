#!/bin/sh
# Set the team's password (given by the reconciler), make fresh host keys, run sshd.
set -eu
: "${RANGE_JUMPBOX_PASSWORD:?}"
printf 'team:%s\n' "$RANGE_JUMPBOX_PASSWORD" | chpasswd
unset RANGE_JUMPBOX_PASSWORD
mkdir -p /run/sshd && chmod 0755 /run/sshd
ssh-keygen -A >/dev/null
exec /usr/sbin/sshd -D -e
