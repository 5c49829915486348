"""WireGuard access, as a member's laptop has it: a WireGuard client in a container of
the test's own (wireguard-go, wg-quick, the configuration the range handed out) connects to the
team's gateway through the published UDP port, runs a shipped solver through the tunnel, and
reaches nothing else. The real Docker engine; listeners the test starts prove "unreachable"."""

from __future__ import annotations

import time
from pathlib import Path

import docker

from range_control.orchestrator.types import (
    edge_network_name,
    gateway_name,
    jumpbox_name,
    network_name,
)
from range_control.services.catalog import builds
from range_control.services.catalog.lint import lint
from range_control.services.catalog.live_check import check_flag
from range_control.services.catalog.sync import sync
from range_control.services.environments import instances, team_access
from range_control.services.environments.instances import Selection
from tests.support import REPO
from tests.support.env import TEST
from tests.support.instances import name_of, web_challenge
from tests.support.wireguard import (
    Listener,
    address_of,
    client_image,
    connect,
    handshake,
    laptop,
    sh,
    wait_gateways,
)


def test_a_member_reaches_the_team_through_wireguard_and_nothing_else(
    wg_range, client: docker.DockerClient, tmp_path: Path
) -> None:
    env, rec, lan = wg_range
    event = env.ctx.event_slug
    a_id, _ = env.team("Alpha", "NL")
    b_id, _ = env.team("Bravo", "NO")
    pack = lint([REPO / "challenges"])
    diag = next(c for c in pack.challenges if c.slug == "diag-panel")
    builds.build_challenge(rec.backend, diag)
    sync(env.ctx, [diag], actor=TEST)
    web_challenge(env, "web")
    for slug in ("diag-panel", "web"):
        instances.up(env.ctx, Selection(challenge=slug), TEST)
    mine = team_access.add_peer(env.ctx, a_id, "Ana's laptop", TEST)
    theirs = team_access.add_peer(env.ctx, b_id, "Bo's laptop", TEST)
    assert "PrivateKey = " in mine.config and mine.peer.address == "100.96.0.2"
    with env.ctx.store.read() as s:  # the private key is not kept anywhere
        from range_control.store.models import AuditLog, WireGuardPeer

        secret_part = mine.config.split("PrivateKey = ")[1].split()[0]
        assert all(secret_part not in repr(vars(r)) for r in s.query(WireGuardPeer))
        assert all(secret_part not in repr(r.detail) for r in s.query(AuditLog))
    wait_gateways(env, rec, client, [a_id, b_id], {"diag-panel", "web"})

    image = client_image(client, rec.backend, tmp_path)
    ana = laptop(client, image, lan, event, "ana")
    connect(ana, mine.config)
    gw_box = client.containers.get(gateway_name(event, a_id))
    assert handshake(ana), (sh(ana, "wg show")[1], gw_box.logs().decode())

    # Team A's services: by address, and by name through the gateway's DNS.
    web_a = address_of(client, name_of(env, a_id, "web"), network_name(event, a_id))
    code, out = sh(ana, f"curl -s -m 5 http://{web_a}:8080/")
    assert code == 0 and out == "convoy manifest\n", out
    code, out = sh(ana, "dig +short +time=2 +tries=2 @100.96.0.1 portal")
    assert out.split() == [web_a], out
    # A shipped solver, unchanged, through the tunnel (names from the range's DNS).
    sh(ana, "echo 'nameserver 100.96.0.1' > /etc/resolv.conf")
    solver = diag.directory / "solve" / "solve.py"
    code, out = sh(
        ana,
        "cat > /tmp/solve.py <<'EOF'\n" + solver.read_text() + "EOF\npython3 /tmp/solve.py",
        timeout=60,
    )
    assert code == 0, out
    assert check_flag(env.ctx, diag, a_id, out.strip().splitlines()[-1]), out  # raises if not

    # Not reachable: team B's services and entry points, the gateway's other side (the edge
    # network: every jumpbox and gateway), the host, the outside. Names of B: not resolved.
    web_b = address_of(client, name_of(env, b_id, "web"), network_name(event, b_id))
    edge = edge_network_name(event)
    targets = {
        "team B's service": (web_b, 8080),
        "team B's jumpbox": (address_of(client, jumpbox_name(event, b_id), edge), 2222),
        "team A's own jumpbox, edge side": (
            address_of(client, jumpbox_name(event, a_id), edge),
            2222,
        ),
        "team B's gateway": (address_of(client, gateway_name(event, b_id), edge), 53),
    }
    for what, (ip, port) in targets.items():
        code, out = sh(ana, f"curl -s -m 3 telnet://{ip}:{port} </dev/null; echo rc=$?")
        assert "rc=0" not in out, (what, out)
    # The host: a listener of ours on every address, tried at the team network's bridge (the
    # host's side of it) and at the edge network's; the outside: a listener container on a
    # network of the test's own, routed into the tunnel by a client that wants to get out.
    host = Listener()
    outside = client.networks.create(
        f"rct-{event}-out", driver="bridge", labels={"rct.event": event}
    )
    try:
        far = client.containers.run(
            image,
            ["python3", "-m", "http.server", "8000"],
            name=f"rct-{event}-far",
            detach=True,
            network=outside.name,
            labels={"rct.event": event},
        )
        far_ip = address_of(client, far.name, outside.name)
        team_gw = client.api.inspect_network(network_name(event, a_id))["IPAM"]["Config"][0][
            "Gateway"
        ]
        edge_gw = client.api.inspect_network(edge)["IPAM"]["Config"][0]["Gateway"]
        gw_pub = mine.config.split("[Peer]\nPublicKey = ")[1].split()[0]
        code, out = sh(
            ana,
            f"wg set range peer {gw_pub} allowed-ips "
            f"10.213.0.0/16,100.96.0.1/32,{far_ip}/32 && "
            f"ip route add {far_ip}/32 dev range",
        )
        assert code == 0, out
        for ip in (team_gw, edge_gw):
            code, out = sh(ana, f"curl -s -m 3 telnet://{ip}:{host.port} </dev/null; echo rc=$?")
            assert "rc=0" not in out, (ip, out)
        code, out = sh(ana, f"curl -s -m 3 http://{far_ip}:8000/; echo rc=$?")
        assert "rc=0" not in out, out
        assert host.hits == []
    finally:
        host.close()
        for c in client.containers.list(all=True, filters={"label": f"rct.event={event}"}):
            if c.name.endswith("-far"):
                c.remove(force=True)
        outside.remove()

    # The organiser revokes the device: a second later it cannot handshake again (the client
    # forgets its session, so its next packet starts a handshake: never answered).
    team_access.revoke_peer(env.ctx, mine.peer.id, TEST)
    time.sleep(1)
    endpoint = mine.config.split("Endpoint = ")[1].split()[0]
    code, out = sh(
        ana,
        f"wg set range peer {gw_pub} remove && wg set range peer {gw_pub} "
        f"endpoint {endpoint} allowed-ips 10.213.0.0/16,100.96.0.1/32",
    )
    assert code == 0, out
    code, out = sh(ana, f"curl -s -m 6 http://{web_a}:8080/; echo rc=$?")
    assert "convoy" not in out, out
    code, out = sh(ana, "wg show range latest-handshakes")
    assert out.split()[-1] == "0", out
    # ... and the gateway no longer knows it.
    seen = client.containers.get(gateway_name(event, a_id)).exec_run(["wg", "show", "wg0", "peers"])
    assert mine.peer.public_key not in seen.output.decode()
    # B's device was not touched.
    assert (
        theirs.peer.public_key
        in client.containers.get(gateway_name(event, b_id))
        .exec_run(["wg", "show", "wg0", "peers"])
        .output.decode()
    )
    # Its device list is what the console shows.
    reason, gateways = team_access.gateways(env.ctx)
    assert reason is None and [g.team for g in gateways] == ["Bravo"]


def test_the_gateway_runs_with_least_privilege(wg_range, client: docker.DockerClient) -> None:
    env, rec, _lan = wg_range
    event = env.ctx.event_slug
    a_id, _ = env.team("Alpha", "NL")
    web_challenge(env, "web")
    instances.up(env.ctx, Selection(), TEST)
    team_access.add_peer(env.ctx, a_id, "laptop", TEST)
    wait_gateways(env, rec, client, [a_id], {"web"})
    host = client.api.inspect_container(gateway_name(event, a_id))["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and host["CapAdd"] == ["NET_ADMIN"]
    assert [d["PathOnHost"] for d in host["Devices"]] == ["/dev/net/tun"]
    assert not host["Privileged"] and host["ReadonlyRootfs"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert not host.get("Binds") and not host.get("Mounts")
    assert list(host["PortBindings"]) == ["51820/udp"]
    nets = client.api.inspect_container(gateway_name(event, a_id))["NetworkSettings"]["Networks"]
    assert set(nets) == {edge_network_name(event), network_name(event, a_id)}
    code, out = sh(client.containers.get(gateway_name(event, a_id)), "iptables -S FORWARD")
    assert "-P FORWARD DROP" in out, out
