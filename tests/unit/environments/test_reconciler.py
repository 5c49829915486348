"""The reconciler's convergence rules, step by step, on the in-memory engine (no Docker, no
database): what it keeps, restarts, replaces, removes and creates, and what it reports."""

from __future__ import annotations

from dataclasses import replace

import pytest

from range_control.orchestrator.fake import FakeBackend
from range_control.orchestrator.reconciler import DesiredState, Progress, Reconciler
from range_control.orchestrator.types import (
    EVENT,
    GENERATION,
    INSTANCE,
    MANAGED,
    PORT,
    ROLE,
    SERVICE,
    TEAM,
    DesiredGateway,
    DesiredInstance,
    DesiredJumpbox,
    ServiceRun,
    container_name,
    edge_network_name,
    gateway_name,
    jumpbox_name,
    network_name,
)
from range_control.specs.environment import ServiceSpec

EV = "unit"


def svc(name: str, **spec: object) -> ServiceRun:
    return ServiceRun(
        ServiceSpec(name=name, image="range/base:bookworm", **spec), "range/base:bookworm"
    )  # type: ignore[arg-type]


def instance(
    iid: int,
    team: int,
    challenge: str = "web",
    *,
    services: tuple[ServiceRun, ...] = (),
    generation: int = 0,
    published: tuple[tuple[str, int, int], ...] = (),
) -> DesiredInstance:
    return DesiredInstance(
        EV, team, iid, challenge, f"ICE{{{team}}}", services or (svc("app"),), generation, published
    )


def state(*instances: DesiredInstance, restarts: dict[int, int] | None = None) -> DesiredState:
    teams = sorted({i.team_id for i in instances})
    jumpboxes = {t: DesiredJumpbox(EV, t, 20000 + t, f"pw{t}") for t in teams}
    return DesiredState(EV, {i.instance_id: i for i in instances}, jumpboxes, restarts or {})


def labels(inst: DesiredInstance, service: str, generation: int | None = None) -> dict[str, str]:
    out = {**inst.labels(service), ROLE: "service"}
    if generation is not None:
        out[GENERATION] = str(generation)
    return out


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


def test_converges_from_nothing_then_a_second_pass_changes_nothing(fake: FakeBackend) -> None:
    want = state(instance(1, 1, services=(svc("app"), svc("db"))), instance(2, 2))
    seen: list[Progress] = []
    report = Reconciler(fake, pool=3).converge(want, seen.append)
    assert sorted(report.created) == sorted(
        [
            container_name(EV, 1, "web", "app"),
            container_name(EV, 1, "web", "db"),
            container_name(EV, 2, "web", "app"),
            jumpbox_name(EV, 1),
            jumpbox_name(EV, 2),
        ]
    )
    assert sorted(fake.network_objs) == sorted(
        [network_name(EV, 1), network_name(EV, 2), edge_network_name(EV)]
    )
    assert fake.guarded
    assert [o.state for o in report.observed.values()] == ["running", "running"]
    # Progress counts every service and jumpbox once, and ends at the total.
    assert [p.total for p in seen] == [5] * len(seen) and seen[-1].done == 5
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    calls = len(fake.calls)
    again = Reconciler(fake, pool=3).converge(want)
    assert (again.created, again.removed, again.restarted, again.networks_removed) == (
        [],
        [],
        [],
        [],
    )
    assert [c for c in fake.calls[calls:] if not c.startswith("guard")] == []


def test_a_duplicate_is_removed_and_the_running_one_kept(fake: FakeBackend) -> None:
    inst = instance(1, 1)
    want = state(inst)
    Reconciler(fake).converge(want)
    dup = fake.add("rc-unit-t1-web-app-copy", labels(inst, "app"), status="exited")
    report = Reconciler(fake).converge(want)
    assert report.removed == [dup.name]
    assert report.created == [] and report.restarted == []
    assert fake.names("service") == [container_name(EV, 1, "web", "app")]


def test_a_service_that_keeps_exiting_is_restarted_within_its_budget(fake: FakeBackend) -> None:
    inst = instance(1, 1)
    Reconciler(fake).converge(state(inst))
    name = container_name(EV, 1, "web", "app")
    restarts = 0
    for _ in range(2):
        fake.set_status(name, "exited")
        report = Reconciler(fake, max_restarts=2).converge(state(inst, restarts={1: restarts}))
        assert report.restarted == [name] and report.observed[1].state == "running"
        restarts = report.observed[1].restarts
    assert restarts == 2
    fake.set_status(name, "exited")
    report = Reconciler(fake, max_restarts=2).converge(state(inst, restarts={1: restarts}))
    assert report.restarted == []
    assert report.failed == {1: "service app keeps exiting (2 restarts)"}
    assert report.observed[1].state == "failed" and report.observed[1].error == report.failed[1]


def test_created_but_never_started_is_replaced_not_started(fake: FakeBackend) -> None:
    inst = instance(1, 1)
    Reconciler(fake).converge(state(inst))
    name = container_name(EV, 1, "web", "app")
    fake.set_status(name, "created")
    report = Reconciler(fake).converge(state(inst))
    assert report.removed == [name] and report.created == [name]
    assert f"restart:{name}" not in fake.calls


def test_strays_go_containers_networks_and_flag_volumes(fake: FakeBackend) -> None:
    keep, gone = (
        instance(1, 1),
        instance(2, 2, services=(svc("app", flag={"file": "/run/f/flag"}),)),
    )
    Reconciler(fake).converge(state(keep, gone))
    assert len(fake.volumes(EV)) == 1
    stray = fake.add(
        "rc-unit-t1-old-app",
        {MANAGED: "1", EVENT: EV, TEAM: "1", INSTANCE: "99", SERVICE: "app", ROLE: "service"},
    )
    other_event = fake.add("rc-else-t1-web-app", {MANAGED: "1", EVENT: "else", ROLE: "service"})
    report = Reconciler(fake).converge(state(keep))
    assert sorted(report.removed) == sorted(
        [stray.name, container_name(EV, 2, "web", "app"), jumpbox_name(EV, 2)]
    )
    assert report.networks_removed == [network_name(EV, 2)]
    assert fake.volumes(EV) == []
    assert other_event.name in fake.names()  # never anything of another event
    # Nothing desired at all: the edge network goes too.
    report = Reconciler(fake).converge(state())
    assert sorted(report.networks_removed) == sorted([network_name(EV, 1), edge_network_name(EV)])
    assert fake.names() == [other_event.name]


def test_a_new_generation_replaces_every_container_of_the_instance(fake: FakeBackend) -> None:
    Reconciler(fake).converge(state(instance(1, 1, services=(svc("app"), svc("db")))))
    report = Reconciler(fake).converge(
        state(instance(1, 1, services=(svc("app"), svc("db")), generation=1))
    )
    both = sorted([container_name(EV, 1, "web", "app"), container_name(EV, 1, "web", "db")])
    assert sorted(report.removed) == both and sorted(report.created) == both
    assert {o.labels[GENERATION] for o in fake.containers(EV) if o.role == "service"} == {"1"}


def test_a_jumpbox_on_another_port_is_replaced(fake: FakeBackend) -> None:
    want = state(instance(1, 1))
    Reconciler(fake).converge(want)
    jb = next(o for o in fake.containers(EV) if o.role == "jumpbox")
    fake.objects[jb.id] = type(jb)(jb.id, jb.name, {**jb.labels, PORT: "1"}, "running")
    report = Reconciler(fake).converge(want)
    assert report.removed == [jb.name] and report.created == [jb.name]


def test_a_failed_launch_is_reported_on_its_instance_and_others_go_on(fake: FakeBackend) -> None:
    fake.failures[f"create:{container_name(EV, 1, 'web', 'db')}"] = "engine said no"
    want = state(instance(1, 1, services=(svc("app"), svc("db"))), instance(2, 2))
    report = Reconciler(fake).converge(want)
    assert report.failed == {1: "engine said no"}
    assert report.observed[1].state == "failed" and report.observed[2].state == "running"
    # The services of an instance start in order: the one before the failure exists.
    assert container_name(EV, 1, "web", "app") in report.created
    del fake.failures[f"create:{container_name(EV, 1, 'web', 'db')}"]
    report = Reconciler(fake).converge(want)
    assert report.created == [container_name(EV, 1, "web", "db")] and report.failed == {}


def test_a_missing_image_without_a_build_context_fails_clearly(fake: FakeBackend) -> None:
    run = ServiceRun(ServiceSpec(name="app", image="local/missing:1"), "local/missing:1")
    report = Reconciler(fake).converge(state(instance(1, 1, services=(run,))))
    assert report.failed == {1: "challenge web: image 'local/missing:1' is missing"}


def test_a_network_that_cannot_be_made_fails_that_team_only(fake: FakeBackend) -> None:
    fake.failures[f"network:{network_name(EV, 2)}"] = "address pools exhausted"
    report = Reconciler(fake).converge(state(instance(1, 1), instance(2, 2)))
    assert report.failed == {2: "address pools exhausted"}
    assert report.jumpbox_errors == {2: "address pools exhausted"}
    assert report.observed[1].state == "running"


def test_no_host_guard_no_container(fake: FakeBackend) -> None:
    fake.failures["guard:host"] = "iptables: permission denied"
    report = Reconciler(fake).converge(state(instance(1, 1)))
    assert report.failed == {1: "iptables: permission denied"} and report.created == []
    assert fake.names() == []


def test_published_services_join_the_edge_network(fake: FakeBackend) -> None:
    inst = instance(
        1,
        1,
        services=(svc("app", ports=[80], exposure="published"),),
        published=(("app", 80, 20500),),
    )
    fake.failures[f"network:{edge_network_name(EV)}"] = "no edge"
    report = Reconciler(fake).converge(state(inst))
    assert report.failed == {1: "no edge"} and report.jumpbox_errors == {1: "no edge"}


def with_access(
    desired: DesiredState,
    *,
    keys: tuple[str, ...] = (),
    password: str | None = None,
    peers: tuple[tuple[str, str], ...] | None = None,
) -> DesiredState:
    """The same state, the jumpboxes with these keys (and password), and a gateway per team
    when ``peers`` is given."""
    jbs = {
        t: replace(jb, keys=keys, password=password or jb.password)
        for t, jb in desired.jumpboxes.items()
    }
    gws = (
        {}
        if peers is None
        else {t: DesiredGateway(EV, t, 21000 + t, f"key{t}", "100.96.0.1/24", peers) for t in jbs}
    )
    return replace(desired, jumpboxes=jbs, gateways=gws)


def test_members_keys_are_synced_into_the_running_jumpbox_not_replacing_it(
    fake: FakeBackend,
) -> None:
    rec, base = Reconciler(fake), state(instance(1, team=1))
    rec.converge(with_access(base, keys=("ssh-ed25519 AAAA1",)))
    before = fake.names("jumpbox")
    fake.calls.clear()
    report = rec.converge(with_access(base, keys=("ssh-ed25519 AAAA1", "ssh-ed25519 AAAA2")))
    assert [c for c in fake.calls if c != "guard:host"] == [f"sync:{jumpbox_name(EV, 1)}"]
    assert not report.removed
    assert fake.names("jumpbox") == before
    fake.calls.clear()
    rec.converge(with_access(base, keys=("ssh-ed25519 AAAA1", "ssh-ed25519 AAAA2")))
    assert fake.calls == ["guard:host"]  # synced once per change
    # A new password (the team's token rotated) cannot be given in place: replaced.
    report = rec.converge(with_access(base, password="rotated"))
    assert report.removed == [jumpbox_name(EV, 1)] and report.created == [jumpbox_name(EV, 1)]


def test_a_gateway_follows_its_devices(fake: FakeBackend) -> None:
    rec, base = Reconciler(fake), state(instance(1, team=1), instance(2, team=2))
    report = rec.converge(with_access(base, peers=(("pk1", "100.96.0.2"),)))
    assert sorted(fake.names("gateway")) == [gateway_name(EV, 1), gateway_name(EV, 2)]
    assert report.gateway_errors == {}
    fake.calls.clear()
    rec.converge(with_access(base, peers=(("pk1", "100.96.0.2"), ("pk2", "100.96.0.3"))))
    synced = sorted(c for c in fake.calls if c.startswith("sync:"))
    assert synced == [f"sync:{gateway_name(EV, 1)}", f"sync:{gateway_name(EV, 2)}"]
    report = rec.converge(with_access(base))  # no device left: no gateway
    assert fake.names("gateway") == [] and len(report.removed) == 2


def test_an_entry_point_that_cannot_be_synced_is_reported_or_replaced(fake: FakeBackend) -> None:
    rec, base = Reconciler(fake), state(instance(1, team=1))
    rec.converge(with_access(base, peers=()))
    fake.failures[f"sync:{gateway_name(EV, 1)}"] = "exec refused"
    report = rec.converge(with_access(base, peers=(("pk1", "100.96.0.2"),)))
    assert report.gateway_errors == {1: "exec refused"} and report.observed[1].state == "running"
    # An engine that cannot sync in place (a Swarm task) gets a new one.
    fake.failures.clear()
    fake.sync_access = lambda obs, want: obs.role != "gateway"  # type: ignore[method-assign]
    report = rec.converge(with_access(base, peers=(("pk1", "100.96.0.2"),)))
    assert report.removed == [gateway_name(EV, 1)] and report.created == [gateway_name(EV, 1)]


def test_gateways_fail_clearly_where_the_engine_has_no_tun(fake: FakeBackend) -> None:
    fake.wireguard = "this engine's host has no /dev/net/tun"
    report = Reconciler(fake).converge(with_access(state(instance(1, team=1)), peers=()))
    assert report.gateway_errors == {1: "this engine's host has no /dev/net/tun"}
    assert fake.names("jumpbox") and report.observed[1].state == "running"
