#!/bin/sh
# range-jumpbox-keys "<key line>" ...: the members' SSH public keys become exactly these (the
# file sshd reads at each login: root's, not the team user's to change).
set -eu
umask 022
dir=/etc/ssh/range_keys
mkdir -p "$dir"
: > "$dir/team.new"
for key in "$@"; do
  [ -n "$key" ] && printf '%s\n' "$key" >> "$dir/team.new"
done
mv "$dir/team.new" "$dir/team"
