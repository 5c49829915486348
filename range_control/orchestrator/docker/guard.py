"""The host guard of one engine's host: packet-filter rules that keep every bridge of the range
(``rcb`` + 12 hex) off the host and the outside.

Docker's "internal" flag stops forwarding out of a team network, but packets *to the host's own
addresses* (the control plane's port, any host service) go through INPUT, which Docker leaves
open; and the edge network of the jumpboxes must publish ports, so it cannot be internal."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

from range_control.orchestrator.types import (
    BackendError,
)

# Every bridge we create is named rcb<12 hex>, so that a few packet-filter rules cover them all.
# Docker's "internal" flag stops forwarding out of a team network, but packets *to the host's own
# addresses* (the control plane's port, any host service) go through INPUT, which Docker leaves
# open; and the edge network of the jumpboxes must publish ports, so it cannot be internal.
BRIDGE_PREFIX = "rcb"


_BR = BRIDGE_PREFIX + "+"


_EST = ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED"]


HOST_GUARD: list[list[str]] = [
    # Nothing from our bridges reaches the host, except replies (to docker-proxy, for ports).
    ["INPUT", "-i", _BR, *_EST, "-j", "ACCEPT"],
    ["INPUT", "-i", _BR, "-j", "DROP"],
    # Nothing from our bridges leaves for another interface, except replies (published ports).
    ["DOCKER-USER", "-i", _BR, "!", "-o", _BR, *_EST, "-j", "RETURN"],
    ["DOCKER-USER", "-i", _BR, "!", "-o", _BR, "-j", "DROP"],
]


def bridge_name(network: str) -> str:
    return BRIDGE_PREFIX + hashlib.sha1(network.encode()).hexdigest()[:12]  # noqa: S324 - a name


def _canonical(tokens: list[str]) -> list[str]:
    """A rule as ``iptables -S`` prints it is compared with ours token by token; conntrack
    states are a set (it prints ESTABLISHED,RELATED as RELATED,ESTABLISHED)."""
    out = list(tokens)
    for i, tok in enumerate(out[:-1]):
        if tok == "--ctstate":
            out[i + 1] = ",".join(sorted(out[i + 1].split(",")))
    return out


def _guard_in_order(exe: str, chain: str) -> bool:
    """Our rules of ``chain`` are all there, in HOST_GUARD's order (a rule put back alone at
    the top, after someone deleted it, would come before the ones meant to precede it: a DROP
    above the ACCEPT of replies cuts every published port)."""
    listed = subprocess.run([exe, "-w", "-S", chain], capture_output=True, text=True)  # noqa: S603
    lines = [
        _canonical(line.split()[1:])
        for line in listed.stdout.splitlines()
        if line.startswith("-A ")
    ]
    ours = [_canonical(rule) for rule in HOST_GUARD if rule[0] == chain]
    try:
        positions = [lines.index(rule) for rule in ours]
    except ValueError:
        return False
    return positions == sorted(positions)


def ensure_host_guard() -> None:
    """Install the rules above (idempotent, in order, IPv4 and where present IPv6). A chain
    whose rules are missing or out of order gets all of ours again, in order (the rules are
    put back first and the strays removed after: never a moment with fewer)."""
    for tool in ("iptables", "ip6tables"):
        exe = shutil.which(tool)
        if exe is None:
            if tool == "ip6tables":
                continue
            raise BackendError("iptables is not installed: the host guard cannot be set")
        for chain in dict.fromkeys(rule[0] for rule in HOST_GUARD):
            subprocess.run([exe, "-w", "-N", chain], capture_output=True)  # noqa: S603 - exists is fine
            if _guard_in_order(exe, chain):
                continue
            rules = [rule for rule in HOST_GUARD if rule[0] == chain]
            stale = subprocess.run([exe, "-w", "-S", chain], capture_output=True, text=True)  # noqa: S603
            old = sum(
                _canonical(line.split()[1:]) in map(_canonical, rules)
                for line in stale.stdout.splitlines()
                if line.startswith("-A ")
            )
            # Insert in reverse at the top, so the final order is the order above.
            for rule in reversed(rules):
                done = subprocess.run([exe, "-w", "-I", *rule], capture_output=True, text=True)  # noqa: S603
                if done.returncode != 0:
                    raise BackendError(
                        f"{tool}: cannot install the rule {' '.join(rule)} that keeps team "
                        f"networks off the host ({done.stderr.strip()}); no instance is "
                        "started without it"
                    )
            # The copies that were there before (now below ours) go, from the bottom.
            for _ in range(old):
                listed = subprocess.run(  # noqa: S603 - our iptables, our arguments
                    [exe, "-w", "-S", chain],
                    capture_output=True,
                    text=True,
                ).stdout.splitlines()
                body = [line.split()[1:] for line in listed if line.startswith("-A ")]
                for index in range(len(body) - 1, len(rules) - 1, -1):
                    if _canonical(body[index]) in map(_canonical, rules):
                        subprocess.run(  # noqa: S603 - our iptables, our arguments
                            [exe, "-w", "-D", chain, str(index + 1)],
                            capture_output=True,
                        )
                        break


def host_guard_missing() -> tuple[str, ...]:
    """The rules of HOST_GUARD not in place now (IPv4), each as ``iptables -S`` shows it; a
    chain whose rules are out of order counts all of them."""
    exe = shutil.which("iptables")
    if exe is None:
        return ("iptables is not installed",)
    missing = []
    for chain in dict.fromkeys(rule[0] for rule in HOST_GUARD):
        if not _guard_in_order(exe, chain):
            missing.extend("-A " + " ".join(rule) for rule in HOST_GUARD if rule[0] == chain)
    return tuple(missing)


def game_guard(subnet: str) -> list[list[str]]:
    """What lets the game network through the engine's bridges: Docker drops a packet on an
    internal bridge whose address is outside the bridge's subnet, and a packet to or from a game
    address is one (a jumpbox's to the game router, the router's replies). Bridged only (in and
    out on bridges of ours): the host routes no game address anywhere."""
    return [
        ["DOCKER-USER", "-i", _BR, "-o", _BR, "-d", subnet, "-j", "ACCEPT"],
        ["DOCKER-USER", "-i", _BR, "-o", _BR, "-s", subnet, "-j", "ACCEPT"],
    ]


def ensure_game_guard(subnet: str) -> None:
    """The rules of :func:`game_guard` in place (idempotent), at the top of DOCKER-USER."""
    exe = shutil.which("iptables")
    if exe is None:
        raise BackendError("iptables is not installed: the game network cannot be let through")
    for rule in game_guard(subnet):
        there = subprocess.run([exe, "-w", "-C", *rule], capture_output=True)  # noqa: S603
        if there.returncode == 0:
            continue
        done = subprocess.run([exe, "-w", "-I", *rule], capture_output=True, text=True)  # noqa: S603
        if done.returncode != 0:
            raise BackendError(
                f"iptables: cannot install the rule {' '.join(rule)} that lets the game network "
                f"through ({done.stderr.strip()})"
            )
