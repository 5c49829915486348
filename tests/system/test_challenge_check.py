"""`rangectl challenges check --live` on the real engine: the shipped pack passes (and is the
pack the issue asks for); broken challenges fail at the right step with the right reason;
Ctrl-C tears everything down. Real processes, real engine."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import docker
import pytest
import yaml

from range_control.orchestrator.types import EVENT, MANAGED, ROLE
from range_control.services.catalog.lint import lint, solver_of
from tests.support import REPO

PACK = REPO / "challenges"
BROKEN = REPO / "tests" / "fixtures" / "check"


def check(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "range_control.cli", "challenges", "check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
    )


def check_objects(client: docker.DockerClient) -> list[str]:
    """Containers, networks and volumes of any check run (event slugs ``chk...``)."""
    flt = {"label": [f"{MANAGED}=1"]}
    found = [
        c["Names"][0]
        for c in client.api.containers(all=True, filters=flt)
        if c["Labels"].get(EVENT, "").startswith("chk")
    ]
    found += [
        n["Name"]
        for n in client.api.networks(filters=flt)
        if (n.get("Labels") or {}).get(EVENT, "").startswith("chk")
    ]
    found += [
        v["Name"]
        for v in client.api.volumes(filters=flt).get("Volumes") or []
        if (v.get("Labels") or {}).get(EVENT, "").startswith("chk")
    ]
    return found


def junit(path: Path) -> dict[str, ET.Element | None]:
    suite = ET.parse(path).getroot()  # noqa: S314 - our own report
    return {case.get("name", ""): case.find("failure") for case in suite.iter("testcase")}


def test_the_pack_is_what_the_ice_needs() -> None:
    result = lint([PACK])
    assert result.ok, [str(p) for p in result.problems]
    specs = {c.slug: c.spec for c in result.challenges}
    live = [s for s in specs.values() if s.environment is not None]
    assert len(specs) >= 6 and len(live) >= 4
    assert any(len(s.environment.services) >= 2 for s in live)
    assert any(svc.exposure == "published" for s in live for svc in s.environment.services)
    assert sum(1 for s in specs.values() if s.dynamic_flag is not None) >= 2
    flags = [f for s in specs.values() for f in s.flags]
    assert {f.type for f in flags} == {"static", "regex"}
    assert any(f.case_insensitive for f in flags)
    assert any(h.cost > 0 for s in specs.values() for h in s.hints)
    assert any(s.files for s in specs.values())
    for item in result.challenges:  # every challenge has a solver and an author's note
        assert (item.directory / "README.md").is_file(), item.slug
        if item.spec.type == "task" and not item.spec.solvable_by_flag:
            continue  # people grade it: there is no flag for a solver to capture
        if item.spec.type == "defended":  # checked by its checker; attacked by its exploit
            assert item.spec.defence is not None, item.slug
            assert (item.directory / "solve" / "exploit.py").is_file(), item.slug
            continue
        assert solver_of(item) is not None, item.slug
    defended = {s.defence.checker.contract for s in specs.values() if s.defence}
    assert defended == {"exit-code", "http"}  # one checker in each published contract
    assert any(s.type == "task" and s.rubric for s in specs.values())  # the white cell's
    scenario = yaml.safe_load((PACK / "ice-scenario.yml").read_text())
    in_phases = {c for p in scenario["phases"] for c in p.get("challenges", [])}
    in_phases |= set((scenario.get("defence") or {}).get("services", {}))
    assert set(specs) <= in_phases | {
        i["action"]["unlock_challenge"]
        for p in scenario["phases"]
        for i in p.get("injects", [])
        if (i.get("action") or {}).get("unlock_challenge")
    }


def test_every_shipped_challenge_is_solved_live(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    report = tmp_path / "pack.xml"
    before = set(check_objects(client))  # another run's leftovers are not ours to judge
    done = check("--live", "--jobs", "2", "--junit", str(report), str(PACK))
    assert done.returncode == 0, done.stdout + done.stderr
    cases = junit(report)
    assert sorted(cases) == sorted(c.slug for c in lint([PACK]).challenges)
    assert all(f is None for f in cases.values()), cases
    assert f"{len(cases)} passed, 0 failed" in done.stdout and len(cases) >= 10
    assert set(check_objects(client)) <= before


def test_broken_challenges_fail_at_the_right_step(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    report = tmp_path / "broken.xml"
    before = set(check_objects(client))
    done = check(
        "--live", "--jobs", "2", "--health-timeout", "60", "--junit", str(report), str(BROKEN)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    cases = junit(report)
    got = {slug: (f.get("type"), f.text or "") for slug, f in cases.items() if f is not None}
    assert set(got) == {"fx-wrong-flag", "fx-build-fails", "fx-exits", "fx-hangs"}, cases
    step, why = got["fx-wrong-flag"]
    assert step == "flag" and "not the validation team's flag ICE{" in why
    step, why = got["fx-build-fails"]
    assert step == "build" and re.match(
        r"challenge fx-build-fails, service box: build failed at Step 2/\d+ : RUN .*exit 3", why
    ), why
    step, why = got["fx-exits"]
    assert step == "health" and "service box exited (exit code 3)" in why
    assert "config file missing" in why
    step, why = got["fx-hangs"]
    assert step == "solve" and "solver timed out after 5 s" in why and "connecting..." in why
    assert "0 passed, 4 failed" in done.stdout
    assert set(check_objects(client)) <= before


def test_ctrl_c_tears_everything_down(client: docker.DockerClient, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(BROKEN / "hangs", pack / "hangs")
    spec = yaml.safe_load((pack / "hangs" / "challenge.yml").read_text())
    spec["solver"] = {"timeout": 600}
    (pack / "hangs" / "challenge.yml").write_text(yaml.safe_dump(spec))
    before = set(check_objects(client))
    proc = subprocess.Popen(
        [sys.executable, "-m", "range_control.cli", "challenges", "check", "--live", str(pack)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        flt = {"label": [f"{MANAGED}=1", f"{ROLE}=solver"]}
        while time.monotonic() < deadline:
            solvers = [
                c
                for c in client.api.containers(filters=flt)
                if c["Labels"].get(EVENT, "").startswith("chk")
            ]
            if solvers:
                break
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.2)
        else:
            pytest.fail("the solver never started")
        assert set(check_objects(client)) - before  # the instance, the jumpbox, networks...
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "interrupted" in out
    assert set(check_objects(client)) <= before


def test_a_ctfcli_deployment_challenge_runs_per_team_and_is_solved(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    """ctfcli's ``image: .`` + ``protocol: tcp``, as the repository has it: built, started on
    the validation team's network from its Dockerfile's EXPOSE, solved by name; the lint
    warnings ride along in the JUnit report."""
    report = tmp_path / "deploy.xml"
    before = set(check_objects(client))
    deploy = REPO / "tests" / "fixtures" / "ctfcli" / "deploy"
    done = check("--live", "--junit", str(report), str(deploy))
    assert done.returncode == 0, done.stdout + done.stderr
    assert junit(report) == {"echo-service": None}
    assert "1 passed, 0 failed" in done.stdout
    assert f"{deploy / 'challenge.yml'}: connection_info: warning: each team gets" in done.stdout
    suite = ET.parse(report).getroot()  # noqa: S314 - our own report
    out = suite.find("testcase/system-out")
    assert out is not None and "warning: " in (out.text or "")
    assert "connection_info: each team gets its own instance" in (out.text or "")
    assert set(check_objects(client)) <= before


def test_a_base_image_from_a_public_registry_is_explained(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    """Real repositories build FROM python:3.x: air-gapped, the build fails at FROM, and the
    error says why and what to do."""
    from range_control.orchestrator import images

    (tmp_path / "Dockerfile").write_text("FROM rc-missing/python:3.11-slim\nRUN true\n")
    with pytest.raises(images.ImageError) as err:
        images.build_context(
            client,
            challenge="web-x",
            service="web",
            context=tmp_path,
            dockerfile=None,
            tag="rc-test/from-missing:1",
        )
    message = str(err.value)
    assert message.startswith("challenge web-x, service web: build failed at Step 1/")
    assert "FROM rc-missing/python:3.11-slim" in message
    assert "the range pulls from no registry" in message and "range/base:bookworm" in message
