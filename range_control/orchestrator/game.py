"""The game network: what lets a team's entry points reach other teams' defended services in
attack-defence, and the red cell's in defence, and nothing else.

Every engine keeps the same shape. A **router** (one container of the event, ``NET_ADMIN``, IP
forwarding in its own namespace only) joins every team network that has an entry point and the
defence network of every target. Each target has a **game address** outside every engine pool
(``10.60.<team>.<n>``, the way FAUST and ECSC hand out ``10.x.<team>.2``): the jumpboxes and
WireGuard gateways route the game subnet through the router's address on their own team network
(``GAME_ALIAS``), and the router

* translates a game address to the target's address on its defence network (DNAT), and the
  source to its own there (masquerade: as in the A/D games, a service cannot tell an attacker
  from another, nor the checker, by address);
* forwards a new connection only from the team network of an *attacker* to a target's
  declared ports (not its shell, not any other port a team opens), and the replies of those;
* drops everything from and to the team network of a team that is not an attacker now (the
  game closed, the team cut off): its open connections end at once;
* answers nothing itself, and forwards nothing from a defence network (a target, a checker).

Teams' networks stay as they are: a team reaches its own services by name, never another
team's network, the checkers or the host (the host guard). :func:`router_rules` is the packet
filter, pure (``iptables-restore`` input), so that it is tested without an engine.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX_TEAM = 255  # a game address holds the team's id in one byte
MAX_SERVICES = 254


@dataclass(frozen=True)
class RoutedTarget:
    """A target as the router sees it: its game address, where it is on its defence network."""

    address: str
    real: str
    ports: tuple[int, ...]


def game_address(subnet: str, team_id: int, index: int) -> str:
    """The game address of a team's ``index``-th defended service (from 1): the subnet's
    ``<team>.<index>`` (a /16: ``10.60.3.1`` for team 3's first)."""
    net = ipaddress.ip_network(subnet)
    if not 0 < team_id <= MAX_TEAM:
        raise ValueError(f"team id {team_id} has no game address (1 to {MAX_TEAM})")
    if not 0 < index <= MAX_SERVICES:
        raise ValueError(f"service {index} has no game address (1 to {MAX_SERVICES})")
    return str(net.network_address + team_id * 256 + index)


def router_rules(
    attackers: list[str],
    others: list[str],
    targets: list[RoutedTarget],
    defence: list[str],
) -> str:
    """The router's whole packet filter (``iptables-restore`` input, replacing what was there):
    ``attackers`` and ``others`` are the team networks (subnets) whose entry points may and may
    not reach the targets now; ``defence`` the targets' defence networks (subnets)."""
    nat = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    nat.append(":POSTROUTING ACCEPT [0:0]")
    for t in targets:
        nat.append(f"-A PREROUTING -d {t.address}/32 -p tcp -j DNAT --to-destination {t.real}")
    for subnet in defence:
        nat.append(f"-A POSTROUTING -d {subnet} -j MASQUERADE")
    nat.append("COMMIT")
    filt = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    filt.append(":GAME - [0:0]")
    # Nothing reaches the router itself but the replies to what it sends (nothing).
    filt.append("-A INPUT -i lo -j ACCEPT")
    filt.append("-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
    # A team off the game: nothing of it passes, not even a connection it opened before.
    for subnet in others:
        filt.append(f"-A FORWARD -s {subnet} -j DROP")
        filt.append(f"-A FORWARD -d {subnet} -j DROP")
    filt.append("-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
    # New connections: from an attacker's network, to a game address (DNAT), its ports only.
    for subnet in attackers:
        filt.append(f"-A FORWARD -s {subnet} -m conntrack --ctstate DNAT -j GAME")
    for t in targets:
        for i in range(0, len(t.ports), 15):  # multiport takes at most 15 ports
            ports = ",".join(str(p) for p in t.ports[i : i + 15])
            filt.append(f"-A GAME -d {t.real}/32 -p tcp -m multiport --dports {ports} -j ACCEPT")
    filt.append("COMMIT")
    return "\n".join([*nat, *filt]) + "\n"
