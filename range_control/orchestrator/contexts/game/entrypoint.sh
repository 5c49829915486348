#!/bin/sh
# Close everything first (the range's rules come through range-game-rules once the router is on
# its networks), then wait: the router is its packet filter, it runs no service.
set -eu
iptables -w -P INPUT DROP
iptables -w -P FORWARD DROP
iptables -w -A INPUT -i lo -j ACCEPT
echo "game router up"
exec sleep infinity
