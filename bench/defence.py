"""Defence checking benchmark: N teams x S defended services (copies of the ICE pack's convoy
tracker, an exit-code checker on PyPI's checklib), on the real engine.

Measured in the same run, against the same running services, with the same parallelism:

* raw: a plain Docker SDK loop: per service, one container of the checker's own image on every
  team's defence network, and ``exec`` of ``checker check|put|get`` per team (8 at once), the
  put's private flag id (stderr) carried to the get as ForcAD's ``pfr`` tag says; the floor of running those
  checker processes at all;
* ours: the range's check jobs (the wrapped, hardened image with its runner: firewall, user
  switch, timeouts, bounded output, JSON answers parsed into verdicts) for the same chains,
  every check started at once (as an unscored check is);
* a real tick: the worker's loop (``DefenceTicks.step`` every second, on the wall clock) runs
  the first tick it starts whole, its checks spread over the first half of the tick; the lag of each verdict is
  when it was recorded minus (the tick's start + the team's planned offset + the chain's own
  time): what the scheduler, the job's start and the recording add.

Reports the ratio ours / raw, the peak memory of the check containers (cgroup), and the lag's
p50 / p99 / max.

    python bench/defence.py [--teams 40] [--services 4] [--tick 60]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import docker
import yaml
from sqlalchemy import select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from range_control.context import Range  # noqa: E402
from range_control.core.actors import Actor  # noqa: E402
from range_control.core.settings import Settings, secret  # noqa: E402
from range_control.domain.defence.ticks import offset  # noqa: E402
from range_control.orchestrator.docker import DockerBackend  # noqa: E402
from range_control.orchestrator.types import (  # noqa: E402
    EVENT,
    MANAGED,
    ROLE,
    check_job_name,
    defence_network_name,
)
from range_control.services.catalog.lint import lint  # noqa: E402
from range_control.services.catalog.sync import sync  # noqa: E402
from range_control.services.defence import plan as plans  # noqa: E402
from range_control.services.defence.chains import (  # noqa: E402
    Collector,
    Placement,
    Team,
    batch,
    flags_of_tick,
    host,
)
from range_control.services.defence.ticks import DefenceTicks  # noqa: E402
from range_control.services.environments.run import EnvironmentReconciler  # noqa: E402
from range_control.services.event import controls, scenario  # noqa: E402
from range_control.services.people import teams as people  # noqa: E402
from range_control.store import migrate  # noqa: E402
from range_control.store.models import DefenceTick, DefenceVerdict, Instance  # noqa: E402

BENCH = Actor.range("bench")
POOL = 8  # checks at once per service, in both runs (the product's default)


def set_up(tmp: Path, event: str, teams_n: int, services_n: int, tick: int) -> Range:
    settings = Settings(
        data_dir=tmp,
        database_url=f"sqlite:///{tmp / 'range.db'}",
        event_slug=event,
        admin_token="x",
        flag_secret="bench-flag-secret",
        secret_key="x",
        port_range="42000-42999",
        publish_ip="127.0.0.1",
        launch_pool=8,
    )
    ctx = Range.from_settings(settings)
    migrate.upgrade(ctx.store.engine)
    for i in range(services_n):
        d = tmp / "pack" / f"dt{i}"
        shutil.copytree(REPO / "challenges" / "convoy-tracker", d)
        spec = yaml.safe_load((d / "challenge.yml").read_text())
        spec.update(slug=f"dt{i}", name=f"Tracker {i}")
        spec.pop("translations", None)
        (d / "challenge.yml").write_text(yaml.safe_dump(spec))
    result = lint([tmp / "pack"])
    assert result.ok, [str(p) for p in result.problems]
    sync(ctx, result.challenges, actor=BENCH)  # builds the checkers
    for t in range(teams_n):
        people.add_team(ctx, f"Team {t:03d}", "NL", actor=BENCH)
    spec = scenario.parse(
        {
            "event": "defence bench",
            "phases": [{"id": "hold", "title": "Hold", "duration": "4h"}],
            "defence": {
                "phases": ["hold"],
                "tick": f"{tick}s",
                "services": {f"dt{i}": 1 for i in range(services_n)},
            },
        }
    )
    scenario.load(ctx, spec, BENCH)
    controls.start(ctx, BENCH)
    return ctx


def bring_up(ctx: Range, backend: DockerBackend, want: int) -> float:
    rec = EnvironmentReconciler(ctx, backend, pool=8)
    t0 = time.perf_counter()
    while True:
        report = rec.run_once()
        assert not report.failed, report.failed
        with ctx.store.read() as s:
            states = [i.state for i in s.scalars(select(Instance))]
        if len(states) >= want and all(x == "running" for x in states):
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > 1800:
            raise RuntimeError(f"not all running within 30 min: {states}")
        time.sleep(2)


class Peak:
    """The highest memory (cgroup) of the containers a filter finds, sampled twice a second."""

    def __init__(self, client: docker.DockerClient, flt: dict) -> None:
        self.client, self.flt, self.mb = client, flt, 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Peak:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stop.is_set():
            for c in self.client.api.containers(filters=self.flt):
                for path in (
                    Path(f"/sys/fs/cgroup/memory/docker/{c['Id']}/memory.usage_in_bytes"),
                    Path(f"/sys/fs/cgroup/system.slice/docker-{c['Id']}.scope/memory.current"),
                ):
                    try:
                        self.mb = max(self.mb, int(path.read_text()) / 1024**2)
                        break
                    except OSError:
                        continue
            time.sleep(0.5)


def chains(ctx: Range, tick: int) -> list[tuple[plans.Service, list[Team], dict]]:
    """Per service: the teams and their flags of ``tick`` (made as a tick makes them)."""
    p = plans.plan(ctx)
    assert p is not None
    with ctx.store.write() as s:
        from range_control.services.defence.ticks import _teams

        teams = _teams(s)
        return [
            (svc, teams, flags_of_tick(s, ctx, svc, tick, teams)) for svc in p.services.values()
        ]


def ours(ctx: Range, backend: DockerBackend, work: list, tick: int) -> tuple[float, int, float]:
    """The range's check jobs for these chains, all started at once: (seconds, OK, peak MB)."""
    event = ctx.event_slug
    now = ctx.clock.now()
    oks = 0
    lock = threading.Lock()

    def one(item: tuple) -> None:
        nonlocal oks
        svc, teams, flags = item
        place = Placement(
            name=check_job_name(event, svc.slug, tick),
            tick=tick,
            length_seconds=600,
            started=now,
            deadline=600,
            tick_start=now,
            scored=False,
        )
        nets = {t.id: defence_network_name(event, t.id) for t in teams}
        b = batch(ctx, svc, place, teams, flags, {}, nets)
        collector = Collector(svc, b.tags)
        ended = []

        def on_line(raw: str) -> None:
            done = collector.feed(raw)
            if done is not None:
                ended.append(done)

        backend.run_checks(b, threading.Event(), on_line)
        with lock:
            oks += sum(1 for e in ended if str(e.verdict.verdict) == "OK")

    flt = {"label": [f"{MANAGED}=1", f"{EVENT}={event}", f"{ROLE}=checker"]}
    with Peak(backend.client, flt) as peak:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(len(work)) as ex:
            list(ex.map(one, work))
        took = time.perf_counter() - t0
    return took, oks, peak.mb


def raw(ctx: Range, backend: DockerBackend, work: list) -> tuple[float, int, float]:
    """The same chains with plain SDK calls: a container of the checker's image per service on
    every defence network, ``exec`` per action."""
    event = ctx.event_slug
    client = backend.client
    api = client.api
    label = {MANAGED: "1", EVENT: event, "range.bench": "raw"}
    oks = 0
    lock = threading.Lock()

    def one(item: tuple) -> None:
        nonlocal oks
        svc, teams, flags = item
        c = api.create_container(
            svc.checker_image,
            entrypoint=["sleep"],
            command=["infinity"],
            name=f"rc-{event}-raw-{svc.slug}",
            labels=label,
            host_config=api.create_host_config(mem_limit=2 * 1024**3, init=True),
            networking_config=api.create_networking_config(
                {defence_network_name(event, teams[0].id): api.create_endpoint_config()}
            ),
        )
        for t in teams[1:]:
            api.connect_container_to_network(c["Id"], defence_network_name(event, t.id))
        api.start(c["Id"])
        argv = backend.checker_command(svc.checker_image, tuple(svc.spec.checker.command or ()))

        def run(args: list[str]) -> tuple[int, bytes]:
            e = api.exec_create(c["Id"], [*argv, *args])
            _out, err = api.exec_start(e["Id"], demux=True)
            return api.exec_inspect(e["Id"])["ExitCode"], err or b""

        def chain(team: Team) -> bool:
            where = host(event, team.id, svc)
            ok = run(["check", where])[0] == 101
            for f in flags[team.id]:
                code, err = run(["put", where, f.flag_id, f.flag, str(f.store)])
                flag_id = err.decode().strip() or f.flag_id  # pfr: the put's private flag id
                ok = ok and code == 101
                ok = ok and run(["get", where, flag_id, f.flag, str(f.store)])[0] == 101
            return ok

        with ThreadPoolExecutor(POOL) as ex:
            good = sum(ex.map(chain, teams))
        with lock:
            oks += good
        api.remove_container(c["Id"], force=True)

    flt = {"label": [f"{MANAGED}=1", f"{EVENT}={event}", "range.bench=raw"]}
    with Peak(client, flt) as peak:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(len(work)) as ex:
            list(ex.map(one, work))
        took = time.perf_counter() - t0
    return took, oks, peak.mb


def real_tick(ctx: Range, backend: DockerBackend, want: int) -> tuple[int, list[float]]:
    """The worker's loop on the wall clock until the first tick it starts whole is done (the
    ticks that passed while nothing ran are recorded missed); each verdict's lag."""
    ticks = DefenceTicks(ctx, backend)
    p = plans.plan(ctx)
    assert p is not None
    now = p.current()
    number = (now.number if now is not None else 0) + 1
    deadline = time.monotonic() + 3 * 3600
    while time.monotonic() < deadline:
        ticks.step()
        with ctx.store.read() as s:
            row = s.get(DefenceTick, number)
            if row is not None and row.status == "done":
                rows = s.scalars(select(DefenceVerdict).where(DefenceVerdict.tick == number)).all()
                break
        time.sleep(1)
    else:
        raise RuntimeError(f"tick {number} never ended")
    key = secret(ctx.settings.flag_secret)
    length = p.spec.tick
    slugs = {svc.id: svc.slug for svc in p.services.values()}
    lags = []
    for v in rows:
        planned = row.starts_at + timedelta(
            seconds=offset(key, ctx.event_slug, number, v.team_id, slugs[v.challenge_id], length)
        )
        lags.append((v.checked_at - planned).total_seconds() - v.seconds)
    counts: dict[str, int] = {}
    for v in rows:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    print(f"tick {number}: {len(rows)} verdicts of {want}: {counts}")
    return number, lags


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=40)
    ap.add_argument("--services", type=int, default=4)
    ap.add_argument("--tick", type=int, default=60)
    args = ap.parse_args()
    client = docker.from_env(timeout=600)
    tmp = Path(tempfile.mkdtemp(prefix="range-defbench-"))
    event = "d" + uuid.uuid4().hex[:8]
    backend = DockerBackend(client, publish_ip="127.0.0.1")
    try:
        ctx = set_up(tmp, event, args.teams, args.services, args.tick)
        chains_n = args.teams * args.services
        up = bring_up(ctx, backend, chains_n)
        print(f"{args.teams} teams x {args.services} services: {chains_n} copies up in {up:.0f} s")
        # The same chains for both, each with flags of its own (a tick number no tick has).
        t_raw, ok_raw, mb_raw = raw(ctx, backend, chains(ctx, 10_001))
        t_ours, ok_ours, mb_ours = ours(ctx, backend, chains(ctx, 10_000), 10_000)
        print(f"{'':8} {'seconds':>8} {'chains OK':>10} {'checks/s':>9} {'peak MB':>8}")
        for name, t, ok, mb in (("raw", t_raw, ok_raw, mb_raw), ("ours", t_ours, ok_ours, mb_ours)):
            print(f"{name:8} {t:8.1f} {ok:>10} {chains_n * 3 / t:9.1f} {mb:8.0f}")
        print(f"ours / raw: {t_ours / t_raw:.2f}x the time")
        _number, lags = real_tick(ctx, backend, chains_n)
        lags.sort()

        def rank(q: float) -> float:  # nearest rank
            return lags[max(0, math.ceil(q * len(lags)) - 1)]

        print(
            f"lag after the planned start (beyond the chain's own time), tick {args.tick} s: "
            f"p50 {rank(0.5):.2f} s, p99 {rank(0.99):.2f} s, max {lags[-1]:.2f} s"
        )
    finally:
        from range_control.orchestrator.docker.engine import sweep

        sweep(client, event)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
