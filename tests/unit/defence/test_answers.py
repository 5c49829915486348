"""What the range makes of a checker's answers, as the runner reports them (one JSON line per
answer): every verdict of both contracts, a hang, a crash, megabytes of output, an exit code
outside the contract, HTTP garbage, a fatal start; the flag ids a put gives. And the files:
a defended service's challenge.yml and the scenario's defence block, refused with the field
named."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from range_control.domain.defence.verdicts import Verdict
from range_control.services.defence.chains import NOT_OURS, Collector
from range_control.services.defence.plan import Service
from range_control.specs.challenge import ChallengeSpec
from range_control.specs.defence import DefenceSpec
from range_control.specs.scenario import ScenarioSpec


def service(contract: str = "exit-code", **checker: object) -> Service:
    spec = DefenceSpec.model_validate(
        {"checker": {"contract": contract, "build": "checker", **checker}}
    )
    return Service(1, "tracker", "Tracker", 10, 1.0, spec, "img", "tracker")


def line(**fields: object) -> str:
    return json.dumps({"team": 1, "current": True, "seconds": 0.1, **fields})


def chain(svc: Service, *lines: str) -> object:
    c = Collector(svc, tuple(svc.spec.checker.tags))
    for raw in lines:
        assert c.feed(raw) is None
    ended = c.feed(json.dumps({"team": 1, "end": True}))
    assert ended is not None
    return ended


@pytest.mark.parametrize(
    ("code", "verdict"),
    [(101, "OK"), (102, "CORRUPT"), (103, "MUMBLE"), (104, "DOWN"), (110, "CHECKER ERROR")],
)
def test_every_exit_code_of_the_contract(code: int, verdict: str) -> None:
    ended = chain(service(), line(action="check", code=code, stdout="pub", stderr="priv"))
    assert str(ended.verdict.verdict) == verdict
    if ended.verdict.verdict.team_fault and ended.verdict.verdict is not Verdict.OK:
        assert (ended.verdict.public, ended.verdict.private) == ("pub", "priv")


def test_a_hang_a_crash_and_an_odd_code_are_checker_errors_with_bounded_messages() -> None:
    hang = chain(service(), line(action="check", code=None, timed_out=True, stderr="stuck"))
    assert (
        hang.verdict.verdict is Verdict.CHECKER_ERROR and "timed out after" in hang.verdict.private
    )
    assert hang.verdict.public == NOT_OURS  # the team is told it is not theirs
    crash = chain(service(), line(action="put", code=1, stderr="Traceback...\n" + "x" * 9000))
    assert crash.verdict.verdict is Verdict.CHECKER_ERROR
    assert "exit code 1 (not in the contract)" in crash.verdict.private
    assert len(crash.verdict.private) <= 1024
    flood = chain(service(), line(action="check", code=101, stdout="z" * 8192, printed=4 << 20))
    assert flood.verdict.verdict is Verdict.CHECKER_ERROR
    assert "printed 4194304 bytes" in flood.verdict.private
    odd = chain(service(), line(action="check", code=42, stdout="y" * 8192))
    assert odd.verdict.verdict is Verdict.CHECKER_ERROR and len(odd.verdict.public) < 100


def test_a_put_gives_the_flag_id_as_the_checksystem_and_forcad_s_pfr_say() -> None:
    plain = chain(service(), line(action="put", store=1, code=101, stdout="new-id\n", stderr=""))
    assert plain.placed == {1: ("new-id", "")}
    pfr = chain(
        service(tags=["pfr"]),
        line(action="put", store=1, code=101, stdout='{"callsign": "X"}', stderr='{"id": 3}'),
    )
    assert pfr.placed == {1: ('{"id": 3}', '{"callsign": "X"}')}


def test_eno_answers_and_http_garbage() -> None:
    eno = service("http")
    ok = chain(eno, line(action="putflag", store=1, result="OK", attack_info="off-12"))
    assert ok.verdict.verdict is Verdict.OK and ok.placed == {1: (None, "off-12")}
    offline = chain(eno, line(action="putflag", result="OFFLINE", message="refused"))
    assert (offline.verdict.verdict, offline.verdict.public) == (Verdict.DOWN, "refused")
    garbage = chain(eno, line(action="getflag", code=200, result=None, raw="<html>oops"))
    assert garbage.verdict.verdict is Verdict.CHECKER_ERROR
    assert "HTTP 200: <html>oops" in garbage.verdict.private
    broken = chain(eno, line(action="getflag", error="the checker's API did not answer"))
    assert broken.verdict.verdict is Verdict.CHECKER_ERROR


def test_a_fatal_start_a_late_action_and_junk_lines() -> None:
    c = Collector(service())
    c.feed(json.dumps({"fatal": "the checker's API server did not listen on port 8000"}))
    c.feed("not json at all")
    c.feed(json.dumps([1, 2]))
    ended = c.end(1)
    assert ended.verdict.verdict is Verdict.CHECKER_ERROR
    assert "did not listen" in ended.verdict.private
    late = chain(service(), json.dumps({"team": 1, "action": "get", "late": True}))
    assert late.verdict.verdict is Verdict.CHECKER_ERROR
    assert "tick ended before" in late.verdict.private


def test_a_defended_service_s_file_is_checked_with_the_field_named() -> None:
    base = {
        "name": "T",
        "type": "defended",
        "value": 10,
        "environment": {"services": [{"name": "web", "build": "s", "ports": [80]}]},
        "defence": {"checker": {"contract": "exit-code", "build": "c"}},
    }
    ChallengeSpec.model_validate(base)

    def refused(**change: object) -> str:
        data = json.loads(json.dumps(base))
        for key, value in change.items():
            if "." in key:
                outer, inner = key.split(".", 1)
                data[outer][inner] = value
            else:
                data[key] = value
        with pytest.raises(ValidationError) as exc:
            ChallengeSpec.model_validate(data)
        return str(exc.value)

    assert "defence.target: no service 'db'" in refused(**{"defence.target": "db"})
    assert "takes no flags" in refused(flags=["ICE{x}"])
    assert "needs environment" in refused(environment=None)
    assert "only for type 'defended'" in refused(type="standard")
    assert "outside 1s to 5m" in refused(
        **{"defence.checker": {"contract": "http", "build": "c", "timeout": "10m"}}
    )
    assert "for contract 'exit-code'" in refused(
        **{"defence.checker": {"contract": "http", "build": "c", "tags": ["pfr"]}}
    )
    assert "for contract 'http'" in refused(
        **{"defence.checker": {"contract": "exit-code", "build": "c", "havoc": 1}}
    )


def test_the_scenario_s_defence_block_is_checked_with_the_field_named() -> None:
    def scenario(**defence: object) -> ScenarioSpec:
        return ScenarioSpec.model_validate(
            {
                "event": "x",
                "phases": [{"id": "a", "title": "A", "duration": "1h"}],
                "defence": {"phases": ["a"], "services": {"t": 1}, **defence},
            }
        )

    assert scenario().defence.tick == timedelta(seconds=60)
    for bad, said in [
        ({"phases": ["b"]}, "defence.phases: no phase 'b'"),
        ({"tick": "2s"}, "outside 5s to 1h"),
        ({"services": {"t": 0}}, "a weight is more than 0"),
        ({"flag_lifetime": 0}, "flag_lifetime"),
        ({"services": {}}, "services"),
    ]:
        with pytest.raises(ValidationError) as exc:
            scenario(**bad)
        assert said in str(exc.value), said
