"""WireGuard against the jumpbox (issue 13): throughput and latency to a team's service through
a member's tunnel (a client container with wireguard-go, on a veth link to the host as a laptop
on the venue's network would be) against the same measures from the team's jumpbox, which sits
on the team's network (the direct path). Both in the same run, rounds interleaved.

A range like the tests' (tests/system/test_wireguard.py): one team, one live challenge, one device.
A measuring service on the team's network serves zeros (throughput: one TCP stream of
``--megabytes``) and echoes (latency: ``--pings`` one-byte round trips on one connection).
Prints Mbit/s and round-trip microseconds (median, p95) for each path and their ratios.

    python bench/wireguard.py [--rounds 5] [--megabytes 256] [--pings 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from range_control.core.actors import Actor  # noqa: E402
from range_control.orchestrator import images  # noqa: E402
from range_control.orchestrator.types import jumpbox_name, network_name  # noqa: E402
from range_control.services.environments import instances, team_access  # noqa: E402
from range_control.services.environments.instances import Selection  # noqa: E402
from tests.support.instances import web_challenge  # noqa: E402
from tests.support.wireguard import (  # noqa: E402
    client_image,
    connect,
    handshake,
    laptop,
    wait_gateways,
    wg_range,
)

BENCH = Actor.range("bench")

# Run where measured (python3 is on the jumpbox and on the client): one stream, then pings.
PROBE = r"""
import json, socket, sys, time
host, n, pings = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, 9000)); got = 0; t0 = time.perf_counter()
while True:
    b = s.recv(1 << 16)
    if not b: break
    got += len(b)
mbit = got * 8 / (time.perf_counter() - t0) / 1e6; s.close()
e = socket.create_connection((host, 9001)); e.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for _ in range(pings):
    t = time.perf_counter(); e.sendall(b"x"); e.recv(1); rtts.append((time.perf_counter() - t) * 1e6)
print(json.dumps({"bytes": got, "mbit": mbit, "rtts": rtts}))
"""


def measure(container, host: str, size: int, pings: int) -> dict:
    out = container.exec_run(["python3", "-c", PROBE, host, str(size), str(pings)])
    if out.exit_code != 0:
        raise SystemExit(f"probe failed in {container.name}: {out.output.decode()[-500:]}")
    data = json.loads(out.output.decode().strip().splitlines()[-1])
    if data["bytes"] != size:
        raise SystemExit(f"short stream in {container.name}: {data['bytes']} bytes")
    return data


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--megabytes", type=int, default=256)
    ap.add_argument("--pings", type=int, default=2000)
    args = ap.parse_args()
    client = docker.from_env(timeout=300)
    if not images.image_exists(client, images.BASE_IMAGE):
        images.build_base(client)
    tmp = Path(tempfile.mkdtemp(prefix="range-bench-wg-"))
    fixture = wg_range.__wrapped__(client, tmp)  # the tests' range, set up and torn down alike
    env, rec, lan = next(fixture)
    try:
        event = env.ctx.event_slug
        team_id, _ = env.team("Alpha", "NL")
        web_challenge(env, "web")
        instances.up(env.ctx, Selection(), BENCH)
        device = team_access.add_peer(env.ctx, team_id, "bench", BENCH)
        wait_gateways(env, rec, client, [team_id], {"web"})
        image = client_image(client, rec.backend, tmp)
        member = laptop(client, image, lan, event, "bench")
        connect(member, device.config)
        if not handshake(member):
            raise SystemExit("no WireGuard handshake")
        size = args.megabytes * 2**20
        server = client.containers.run(
            rec.backend.jumpbox_image(),
            [
                "sh",
                "-c",
                f"socat TCP-LISTEN:9000,fork,reuseaddr SYSTEM:'head -c {size} /dev/zero'"
                " & exec socat TCP-LISTEN:9001,fork,reuseaddr,nodelay EXEC:cat",
            ],
            name=f"rct-{event}-probe",
            detach=True,
            network=network_name(event, team_id),
            labels={"rct.event": event},
        )
        server.reload()
        host = server.attrs["NetworkSettings"]["Networks"][network_name(event, team_id)][
            "IPAddress"
        ]
        jumpbox = client.containers.get(jumpbox_name(event, team_id))
        paths = {"jumpbox (direct)": jumpbox, "wireguard (tunnel)": member}
        runs: dict[str, list[dict]] = {name: [] for name in paths}
        measure(member, host, size, 50)  # warm-up: ARP, conntrack, the tunnel's session
        for _ in range(args.rounds):
            for name, box in paths.items():
                runs[name].append(measure(box, host, size, args.pings))
        summary = {}
        for name, rs in runs.items():
            rtts = sorted(r for run in rs for r in run["rtts"])
            summary[name] = {
                "mbit_s": statistics.median(r["mbit"] for r in rs),
                "rtt_us_p50": rtts[len(rtts) // 2],
                "rtt_us_p95": rtts[int(len(rtts) * 0.95)],
            }
        direct, tunnel = summary["jumpbox (direct)"], summary["wireguard (tunnel)"]
        print(f"{'path':<22}{'Mbit/s':>10}{'RTT p50 us':>12}{'RTT p95 us':>12}")
        for name, s in summary.items():
            print(f"{name:<22}{s['mbit_s']:>10.0f}{s['rtt_us_p50']:>12.0f}{s['rtt_us_p95']:>12.0f}")
        print(
            f"tunnel / direct: throughput x{tunnel['mbit_s'] / direct['mbit_s']:.2f}, "
            f"RTT p50 x{tunnel['rtt_us_p50'] / direct['rtt_us_p50']:.2f}, "
            f"RTT p95 x{tunnel['rtt_us_p95'] / direct['rtt_us_p95']:.2f} "
            f"({args.rounds} rounds of {args.megabytes} MiB and {args.pings} pings)"
        )
    finally:
        for _ in fixture:  # the fixture's teardown: containers, networks, the veth link
            pass


if __name__ == "__main__":
    main()
