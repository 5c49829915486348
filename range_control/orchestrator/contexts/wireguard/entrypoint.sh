#!/bin/sh
# Start the tunnel, let it reach only the team's networks, answer DNS for the team's names.
# Given by the reconciler: RANGE_WG_PRIVATE_KEY, RANGE_WG_ADDRESS (the gateway's tunnel address
# with its prefix), RANGE_WG_ROUTES (the team's networks and the game subnet, comma-separated),
# RANGE_GAME_SUBNET (routed through the game router), RANGE_WG_PEERS
# ("<public key> <address>" pairs, comma-separated; later changes come through range-wg-sync).
set -eu
: "${RANGE_WG_PRIVATE_KEY:?}" "${RANGE_WG_ADDRESS:?}" "${RANGE_WG_ROUTES:?}"
umask 077
mkdir -p /run/wg /run/wireguard
printf '%s\n' "$RANGE_WG_PRIVATE_KEY" > /run/wg/private
unset RANGE_WG_PRIVATE_KEY
tunnel_ip=${RANGE_WG_ADDRESS%/*}

# The packet filter first: nothing is forwarded before the rules that limit it are in place.
# From the tunnel: to the team's networks (masqueraded, so the services answer the gateway),
# DNS and ping to the gateway itself; nothing else (not the edge network, where every other
# team's jumpbox and gateway live, not the other members' devices, not the outside).
iptables -w -P FORWARD DROP
iptables -w -A FORWARD -o wg0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
for route in $(printf '%s' "$RANGE_WG_ROUTES" | tr ',' ' '); do
  iptables -w -A FORWARD -i wg0 -d "$route" -j ACCEPT
  iptables -w -t nat -A POSTROUTING -s "$RANGE_WG_ADDRESS" -d "$route" -j MASQUERADE
done
iptables -w -A INPUT -i wg0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -w -A INPUT -i wg0 -d "$tunnel_ip" -p udp --dport 53 -j ACCEPT
iptables -w -A INPUT -i wg0 -d "$tunnel_ip" -p tcp --dport 53 -j ACCEPT
iptables -w -A INPUT -i wg0 -d "$tunnel_ip" -p icmp --icmp-type echo-request -j ACCEPT
iptables -w -A INPUT -i wg0 -j DROP

export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
wireguard-go -f wg0 >/dev/null 2>&1 &
wg_pid=$!
for _ in $(seq 50); do [ -S /run/wireguard/wg0.sock ] && break; sleep 0.1; done
ip address add "$RANGE_WG_ADDRESS" dev wg0
ip link set wg0 up
# shellcheck disable=SC2046 # one argument per "<key> <address>" pair
(set -f; IFS=','; exec /usr/local/sbin/range-wg-sync ${RANGE_WG_PEERS:-})

# Names go to the engine's resolver, which answers the team's service names (as on the
# jumpbox); any other name it would look up outside from this container's namespace, where the
# host guard drops it: the tunnel is no way out, not even through DNS. --no-daemon: dnsmasq
# would otherwise switch user and group, which this container has no capability for.
dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$tunnel_ip" \
  --except-interface=lo --server=127.0.0.11 &
# The game network (its subnet is among the routes above): through the game router.
if [ -n "${RANGE_GAME_SUBNET:-}" ]; then
  /usr/local/sbin/range-game-route "$RANGE_GAME_SUBNET" &
fi
echo "gateway up: $tunnel_ip, routes $RANGE_WG_ROUTES"
wait "$wg_pid"
