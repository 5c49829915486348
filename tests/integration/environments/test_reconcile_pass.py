"""The whole pass of the service layer (expire, desired state, engine steps, write back) on the
real databases, with the in-memory engine: what the instances table says afterwards."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from range_control.orchestrator.fake import FakeBackend
from range_control.orchestrator.types import container_name
from range_control.services.environments import instances
from range_control.services.environments.instances import Selection
from range_control.services.environments.run import EnvironmentReconciler
from range_control.store.models import Instance, PortAllocation
from tests.support.env import TEST, Env

LIVE = {"services": [{"name": "app", "image": "range/base:bookworm"}], "lifetime": "30m"}


def rows(env: Env) -> dict[int, tuple[str, str | None, int]]:
    with env.ctx.store.read() as s:
        return {i.id: (i.state, i.last_error, i.restarts) for i in s.scalars(select(Instance))}


def test_pass_writes_back_state_and_errors_and_expires(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    b_id, _ = env.team("Bravo", "NO")
    env.challenge("web", environment=LIVE)
    env.start()
    fake = FakeBackend()
    fake.failures[f"create:{container_name(env.ctx.event_slug, b_id, 'web', 'app')}"] = "no"
    rec = EnvironmentReconciler(env.ctx, fake, pool=2)
    instances.up(env.ctx, Selection(), TEST)
    report = rec.run_once()
    assert sorted(rows(env).values()) == [("failed", "no", 0), ("running", None, 0)]
    assert set(report.failed.values()) == {"no"}
    # Every team with an instance holds a jumpbox port, recorded before its container exists.
    with env.ctx.store.read() as s:
        purposes = sorted((p.team_id, p.purpose) for p in s.scalars(select(PortAllocation)))
    assert purposes == [(a_id, "jumpbox"), (b_id, "jumpbox")]
    # Alpha's instance (the organisers', no expiry) is reset by the team, Bravo's goes; then
    # Alpha's expires: the next pass drops it and its containers.
    instances.down(env.ctx, Selection(team="Bravo"), TEST)
    assert env.client.post("/api/v1/challenges/web/instance", headers=a).status_code == 202
    env.clock.advance(minutes=31)
    report = rec.run_once()
    assert report.expired == [] and len(rows(env)) == 1
    with env.ctx.store.write() as s:
        inst = s.scalar(select(Instance))
        inst.expires_at = env.clock.now() - timedelta(seconds=1)
    report = rec.run_once()
    assert len(report.expired) == 1 and rows(env) == {}
    assert fake.names() == []


def test_an_exhausted_port_pool_fails_the_instance_not_the_pass(
    database_url: str, tmp_path
) -> None:
    from tests.support.env import make_env

    e = make_env(database_url, tmp_path, port_range="20000-20000")
    try:
        e.team("Alpha", "NL")
        e.team("Bravo", "NO")
        e.challenge("web", environment=LIVE)
        instances.up(e.ctx, Selection(), TEST)
        report = EnvironmentReconciler(e.ctx, FakeBackend()).run_once()
        states = sorted(rows(e).values())
        assert states[0][0] == "failed" and "port pool 20000-20000 is exhausted" in states[0][1]
        assert states[1][0] == "running" and len(report.created) == 2  # a service, a jumpbox
    finally:
        e.ctx.store.dispose()
