#!/bin/sh
# Keep the host guard's rules on this node, in this order, at the top of their chains:
#   INPUT:       from docker_gwbridge, only replies (nothing a container starts reaches the node)
#   DOCKER-USER: from docker_gwbridge to anywhere else, only replies (no egress, no other node)
# docker_gwbridge is where every Swarm task that publishes a port (jumpboxes, published
# services) has its only route off its overlay networks; the team networks themselves are
# internal overlays with no route at all.
#   range-guard           # install, then re-check every 10 s (a firewall reload, a reboot)
#   range-guard --check   # exit 0 only when every rule is in place (the healthcheck)
set -u
BR=docker_gwbridge
EST="-m conntrack --ctstate ESTABLISHED,RELATED"
rules() {
  # chain|rule, in the final order
  echo "INPUT|-i $BR $EST -j ACCEPT"
  echo "INPUT|-i $BR -j DROP"
  echo "DOCKER-USER|-i $BR ! -o $BR $EST -j RETURN"
  echo "DOCKER-USER|-i $BR ! -o $BR -j DROP"
}
check() {
  rules | while IFS='|' read -r chain rule; do
    # shellcheck disable=SC2086
    iptables -w -C "$chain" $rule 2>/dev/null || exit 1
  done
}
install() {
  iptables -w -N DOCKER-USER 2>/dev/null || true
  # Insert in reverse at the top of each chain, so the final order is the order above.
  rules | tac | while IFS='|' read -r chain rule; do
    # shellcheck disable=SC2086
    iptables -w -C "$chain" $rule 2>/dev/null || iptables -w -I "$chain" $rule || exit 1
  done
}
if [ "${1:-}" = "--check" ]; then check; exit $?; fi
trap 'exit 0' TERM INT
while :; do
  install || echo "range-guard: cannot install the rules" >&2
  sleep 10 &
  wait $!
done
