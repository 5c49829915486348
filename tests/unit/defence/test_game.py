"""The game network's pure parts: the router's packet filter, the game addresses, the state
the controls leave (who attacks now), a phase's own mode; and the reconciler's game step on the
in-memory engine."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from range_control.core.settings import Settings
from range_control.orchestrator.fake import FakeBackend
from range_control.orchestrator.game import RoutedTarget, game_address, router_rules
from range_control.orchestrator.reconciler import DesiredState, Reconciler
from range_control.orchestrator.types import DesiredGame, GameTarget, game_router_name
from range_control.services.defence.game import GameState
from range_control.specs.scenario import ScenarioSpec

ALPHA, BRAVO, CHARLIE = "10.213.1.0/24", "10.213.2.0/24", "10.213.3.0/24"


def test_the_router_forwards_new_connections_from_attackers_to_service_ports_only() -> None:
    rules = router_rules(
        attackers=[ALPHA, BRAVO],
        others=[CHARLIE],
        targets=[
            RoutedTarget("10.60.1.1", "10.214.1.2", (8080,)),
            RoutedTarget("10.60.2.1", "10.214.2.2", tuple(range(1, 18))),
        ],
        defence=["10.214.1.0/24", "10.214.2.0/24"],
    ).splitlines()
    assert rules.count("COMMIT") == 2 and ":FORWARD DROP [0:0]" in rules
    assert ":INPUT DROP [0:0]" in rules  # the router answers nothing itself
    assert "-A PREROUTING -d 10.60.2.1/32 -p tcp -j DNAT --to-destination 10.214.2.2" in rules
    assert "-A POSTROUTING -d 10.214.1.0/24 -j MASQUERADE" in rules
    assert f"-A FORWARD -s {ALPHA} -m conntrack --ctstate DNAT -j GAME" in rules
    assert not any(r.startswith(f"-A FORWARD -s {CHARLIE} -m conntrack") for r in rules)
    # A team off the game is dropped before the replies of what it opened are let through.
    forward = [r for r in rules if r.startswith("-A FORWARD")]
    assert forward.index(f"-A FORWARD -s {CHARLIE} -j DROP") < forward.index(
        "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
    )
    assert f"-A FORWARD -d {CHARLIE} -j DROP" in forward
    ports = [r for r in rules if r.startswith("-A GAME -d 10.214.2.2/32")]
    assert len(ports) == 2 and ports[1].endswith("--dports 16,17 -j ACCEPT")  # 15 at most
    assert "-A GAME -d 10.214.1.2/32 -p tcp -m multiport --dports 8080 -j ACCEPT" in rules


def test_closed_the_router_forwards_nothing_new() -> None:
    rules = router_rules([], [ALPHA, BRAVO], [RoutedTarget("10.60.1.1", "10.214.1.2", (80,))], [])
    assert "-j GAME" not in rules and f"-A FORWARD -s {ALPHA} -j DROP" in rules


def test_game_addresses_are_team_dot_service() -> None:
    assert game_address("10.60.0.0/16", 3, 1) == "10.60.3.1"
    assert game_address("10.60.0.0/16", 255, 254) == "10.60.255.254"
    for team, index in ((0, 1), (256, 1), (1, 0), (1, 255)):
        with pytest.raises(ValueError):
            game_address("10.60.0.0/16", team, index)


def test_the_game_subnet_setting_is_checked(tmp_path) -> None:
    assert Settings(data_dir=tmp_path, game_subnet="10.60.0.0/16").game_subnet == "10.60.0.0/16"
    for bad in ("10.60.0.0/24", "10.60.1.0/15", "fd00::/16", "game"):
        with pytest.raises(ValidationError, match="RANGE_GAME_SUBNET"):
            Settings(data_dir=tmp_path, game_subnet=bad)
    # The tunnels' subnet, by the same rule with its own sizes.
    assert Settings(data_dir=tmp_path, wireguard_subnet="100.96.0.0/24").wireguard_subnet
    for bad in ("100.96.0.0/30", "100.0.0.0/15", "100.96.0.1/24", "fd00::/64"):
        with pytest.raises(ValidationError, match="RANGE_WIREGUARD_SUBNET"):
            Settings(data_dir=tmp_path, wireguard_subnet=bad)


def test_who_attacks_follows_the_mode_the_closure_the_cuts_and_the_nop_team() -> None:
    teams = [1, 2, 3, 4]
    assert GameState("attack-defence", 5, False, {}, 4).attackers(teams) == (1, 2, 3)
    assert GameState("defence", 5, False).attackers(teams) == ()
    assert GameState(None, None, False).attackers(teams) == ()
    assert GameState("attack-defence", 5, True).attackers(teams) == ()
    cut = GameState("attack-defence", 5, False, {2: 6, 3: 5})
    assert cut.attackers(teams) == (1, 3, 4)  # 3's cut ended when tick 5 began
    assert cut.cut_now() == frozenset({2})


def test_a_phase_has_its_own_mode_and_only_a_defence_phase_may_name_one() -> None:
    phases = [{"id": p, "title": p, "duration": "10m"} for p in ("attack", "hold", "brief")]
    plan = {"phases": ["attack", "hold"], "services": {"tracker": 1}, "mode": "attack-defence"}
    spec = ScenarioSpec.model_validate(
        {"event": "e", "phases": phases, "defence": {**plan, "modes": {"hold": "defence"}}}
    )
    assert spec.defence is not None
    assert spec.defence.mode_of("attack") == "attack-defence"
    assert spec.defence.mode_of("hold") == "defence" and spec.defence.any_attack
    with pytest.raises(ValidationError, match="defence.modes: 'brief' is not one of"):
        ScenarioSpec.model_validate(
            {"event": "e", "phases": phases, "defence": {**plan, "modes": {"brief": "defence"}}}
        )


def _game(attackers: tuple[int, ...]) -> DesiredGame:
    target = GameTarget(1, "tracker", "app", "10.60.1.1", (8080,))
    return DesiredGame("ev", "10.60.0.0/16", (target,), (1, 2), attackers)


def test_the_reconciler_keeps_the_router_while_a_game_is_desired_and_removes_it_after() -> None:
    fake = FakeBackend()
    rec = Reconciler(fake, pool=2)
    report = rec.converge(DesiredState("ev", {}, {}, game=_game((1, 2))))
    assert report.game_error is None and fake.game == _game((1, 2))
    router = [o for o in fake.containers("ev") if o.name == game_router_name("ev")]
    assert len(router) == 1
    rec.converge(DesiredState("ev", {}, {}, game=_game(())))
    assert fake.game == _game(()) and [o.id for o in fake.containers("ev")] == [router[0].id]
    rec.converge(DesiredState("ev", {}, {}))
    assert fake.containers("ev") == []


def test_a_game_the_engine_refuses_is_reported_and_the_pass_goes_on() -> None:
    fake = FakeBackend()
    fake.failures[f"game:{game_router_name('ev')}"] = "iptables: permission denied"
    report = Reconciler(fake).converge(DesiredState("ev", {}, {}, game=_game((1,))))
    assert report.game_error == "iptables: permission denied"
