"""rangectl end to end: real processes for `serve`, CliRunner for the rest; both databases."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from range_control.orchestrator.docker.engine import sweep
from tests.support import REPO
from tests.support.cli import free_port as _free_port
from tests.support.cli import run
from tests.support.cli import wait_http as _wait_http
from tests.support.env import ADMIN, unique_event


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "RANGE_DATA_DIR": str(tmp_path / "var"),
        "RANGE_DATABASE_URL": database_url,
        "RANGE_ADMIN_TOKEN": ADMIN,
        "RANGE_EVENT_SLUG": unique_event("c"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def test_teams_add_json_import_and_errors(cli_env: dict[str, str], tmp_path: Path) -> None:
    code, out = run("teams", "add", "Estonia", "--country", "EE", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["team"] == "Estonia" and obj["token"].startswith("rct_")
    code, out = run("teams", "add", "Estonia")
    assert code == 1 and "already exists" in out
    code, out = run("teams", "add", "X", "--country", "Narnia")
    assert code == 1 and "country" in out
    sheet = tmp_path / "teams.csv"
    sheet.write_text("name,country\nGermany,DE\nItaly,IT\n\nSpain,es\n")
    code, out = run("teams", "import", str(sheet))
    assert code == 0, out
    tokens = list(csv.DictReader((tmp_path / "teams-tokens.csv").open()))
    assert [(r["name"], r["country"]) for r in tokens] == [
        ("Germany", "DE"),
        ("Italy", "IT"),
        ("Spain", "ES"),
    ]
    assert all(r["token"].startswith("rct_") for r in tokens)
    assert oct((tmp_path / "teams-tokens.csv").stat().st_mode & 0o777) == "0o600"
    code, out = run("teams", "import", str(sheet), "--out", str(tmp_path / "again.csv"))
    assert code == 1 and "already exist" in out and not (tmp_path / "again.csv").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("France,FR\nBelgium,BE,extra\n")
    code, out = run("teams", "import", str(bad))
    assert code == 1 and f"{bad}:2: expected name,country" in out
    code, out = run("teams", "list", "--json")
    assert [t["name"] for t in json.loads(out)] == ["Estonia", "Germany", "Italy", "Spain"]


def test_sync_is_idempotent_and_keeps_solves(cli_env: dict[str, str], tmp_path: Path) -> None:
    pack = tmp_path / "pack" / "c"
    pack.mkdir(parents=True)
    spec = {
        "name": "Convoy",
        "value": 100,
        "flags": ["ICE{c}"],
        "hints": [{"content": "h", "cost": 5}],
    }
    (pack / "challenge.yml").write_text(yaml.safe_dump(spec))
    code, out = run("challenges", "sync", str(tmp_path / "pack"))
    assert code == 0 and "created 1" in out
    code, out = run("challenges", "sync", str(tmp_path / "pack"))
    assert "created 0, updated 0, unchanged 1" in out
    # Solve it through the API, then change the challenge and sync again.
    from tests.support.env import make_env

    env = make_env(cli_env["RANGE_DATABASE_URL"], tmp_path)
    try:
        _, team = env.team()
        env.start()
        hint_id = env.client.get("/api/v1/challenges/convoy", headers=team).json["hints"][0]["id"]
        env.client.post(f"/api/v1/hints/{hint_id}/unlock", headers=team)
        assert env.attempt(team, "convoy", "ICE{c}").json["status"] == "correct"
        spec.update(value=250, description="new text", hints=[])
        (pack / "challenge.yml").write_text(yaml.safe_dump(spec))
        code, out = run("challenges", "sync", str(tmp_path / "pack"))
        assert code == 0 and "updated 1" in out
        me = env.client.get("/api/v1/me", headers=team).json["standing"]
        assert (
            me["score"] == 250 - 5
        )  # solve kept, new value, paid (now retired) hint still explained
        detail = env.client.get("/api/v1/challenges/convoy", headers=team).json
        assert (
            detail["description"] == "new text" and detail["hints"] == [] and detail["solved_by_me"]
        )
    finally:
        env.ctx.store.dispose()
    (pack / "challenge.yml").write_text(yaml.safe_dump({**spec, "vaule": 1}))
    code, out = run("challenges", "sync", str(tmp_path / "pack"))
    assert code == 1 and "vaule: unknown key" in out and "nothing loaded" in out


def test_event_commands(cli_env: dict[str, str]) -> None:
    code, out = run(
        "event",
        "set",
        "--name",
        "ICE 2026",
        "--end",
        "2026-07-03T16:00:00Z",
        "--freeze",
        "2026-07-03T15:00Z",
        "--points-fixed-at-solve",
    )
    assert code == 0 and "ICE 2026" in out and "fixed at solve" in out
    code, out = run("event", "set", "--end", "2026-07-03T16:00:00")
    assert code == 2 and "no time zone" in out
    code, out = run("event", "set", "--freeze", "2026-08-01T00:00Z")
    assert code == 1 and "freeze_at must not be after ends_at" in out
    code, out = run("event", "stop")
    assert code == 1 and "not running" in out
    code, out = run("award", "Nobody", "10", "reason")
    assert code == 1 and "not found" in out


def test_serve_migrates_and_answers(cli_env: dict[str, str]) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "range_control.cli", "serve", "--port", str(port)],
        env={**os.environ, **cli_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = json.loads(_wait_http(f"http://127.0.0.1:{port}/api/v1/scoreboard", proc))
        assert body["standings"] == [] and body["state"] == "not_started"
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/admin/teams",
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310
            assert json.loads(r.read()) == []
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    # No secret ever reaches the log.
    assert ADMIN not in out


def test_gunicorn_preload_as_the_readme_runs_it(cli_env: dict[str, str], tmp_path: Path) -> None:
    """The production web tier: the app is built once before the workers fork, so it must hold
    no database connection then; every worker serves flags and the scoreboard."""
    from range_control.web import create_app

    assert run("db", "upgrade")[0] == 0
    assert create_app().extensions["range"].store.engine.pool.checkedin() == 0
    code, out = run("teams", "add", "Norway", "--country", "NO", "--json")
    token = json.loads(out)["token"]
    d = tmp_path / "pack" / "relay"
    d.mkdir(parents=True)
    (d / "challenge.yml").write_text(
        yaml.safe_dump({"name": "Relay", "value": 50, "flags": ["ICE{relay}"]})
    )
    assert run("challenges", "sync", str(tmp_path / "pack"))[0] == 0
    assert run("event", "start")[0] == 0
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--preload",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "range_control:create_app()",
        ],
        env={**os.environ, **cli_env, "RANGE_ATTEMPTS_PER_MINUTE": "10000"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/healthz", proc)

        def attempt(flag: str) -> dict[str, Any]:
            req = urllib.request.Request(  # noqa: S310 - loopback only
                f"{base}/api/v1/challenges/relay/attempts",
                method="POST",
                data=json.dumps({"flag": flag}).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback only
                return json.loads(r.read())

        from concurrent.futures import ThreadPoolExecutor

        assert [attempt("nope")["status"] for _ in range(3)] == ["incorrect"] * 3
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(attempt, ["ICE{relay}"] * 16))
        assert sorted(r["status"] for r in results) == ["already_solved"] * 15 + ["correct"]
        for _ in range(6):  # any worker answers with the solve
            board = json.loads(_wait_http(f"{base}/api/v1/scoreboard", proc))
            assert [(r["team"], r["score"]) for r in board["standings"]] == [("Norway", 50)]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert token not in out and ADMIN not in out


def test_demo_sets_up_pack_teams_and_running_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: Any
) -> None:
    """The README's first command, end to end on the real engine: images, pack, teams, the
    started scenario with the first phase's environments up; a second run reuses everything;
    served, Ctrl-C tears the environments down."""
    event = unique_event("d")
    monkeypatch.setenv("RANGE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RANGE_EVENT_SLUG", event)
    monkeypatch.setenv("RANGE_PORT_RANGE", "29000-29099")
    monkeypatch.delenv("RANGE_DATABASE_URL", raising=False)
    monkeypatch.delenv("RANGE_ADMIN_TOKEN", raising=False)
    flt = {"label": ["range.managed=1", f"range.event={event}"]}
    try:
        code, out = run("demo", "--no-serve")
        assert code == 0, out
        assert "challenges: 10" in out and "images: " in out and "Netherlands" in out
        assert "event ICE - Operation STEADFAST RESERVE: running" in out and "detection" in out
        assert "ssh -p 290" in out and "/portal/" in out and "/console/" in out
        assert "/defence  (convoy-tracker, message-hub: checked every 60 s" in out
        running = {
            (c["Labels"]["range.role"], c["Labels"].get("range.service"))
            for c in client.api.containers(filters=flt)
        }
        # logistics-portal, and each team's own convoy tracker and message hub to defend
        assert running == {
            ("service", "portal"),
            ("service", "tracker"),
            ("service", "hub"),
            ("jumpbox", None),
        }
        assert len(client.api.containers(filters=flt)) == 16  # 4 teams: 3 instances + jumpbox
        assert (tmp_path / "var" / "range.db").exists()
        secrets_file = tmp_path / "var" / "secrets.json"
        assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
        assert set(json.loads(secrets_file.read_text())) == {
            "secret_key",
            "flag_secret",
            "admin_token",
        }
        # A second run reuses everything but the teams' tokens, shown anew: each jumpbox's
        # password follows its team's token, so the 4 jumpboxes (only they) are replaced.
        code, out = run("demo", "--no-serve")
        assert code == 0 and "(0 new, 0 updated)" in out and "created 4," in out, out
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "range_control.cli", "demo", "--port", str(port)],
            env={**os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            page = _wait_http(f"http://127.0.0.1:{port}/", proc, timeout=120)
            assert b"Ranking" in page
            # The in-process scheduler checks every team's defended services: the first
            # tick's verdicts reach the public grid within the tick (60 s).
            deadline = time.monotonic() + 150
            while True:
                grid = json.loads(_wait_http(f"http://127.0.0.1:{port}/api/v1/defence/grid", proc))
                seen = [c["now"]["verdict"] for r in grid["rows"] for c in r["cells"] if c["now"]]
                if len(seen) == 8:
                    break
                assert time.monotonic() < deadline, grid
                time.sleep(3)
            assert set(seen) == {"OK"}, grid
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        assert "tearing the demo's environments down" in out
        assert client.api.containers(all=True, filters=flt) == []
        assert client.api.networks(filters=flt) == []
    finally:
        sweep(client, event)
    code, token = run("admin-token")
    assert token.strip() == json.loads(secrets_file.read_text())["admin_token"]


def test_the_command_list_is_the_commands_and_help_loads_nothing_heavy() -> None:
    import importlib

    from range_control.cli import COMMANDS

    for name, (module, attr, short) in COMMANDS.items():
        command = getattr(importlib.import_module(f"range_control.cli.{module}"), attr)
        assert (command.help or "").startswith(short.rstrip(".")), name
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from range_control.cli import main\n"
        "out = CliRunner().invoke(main, ['--help']).output\n"
        "assert 'worker' in out and 'demo' in out, out\n"
        "heavy = [m for m in ('sqlalchemy', 'pydantic', 'rich', 'docker', 'flask') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("event: x\nphases: []\n")
    # A directory where the database file should be: SQLite cannot open it (not a ServiceError).
    (tmp_path / "db").mkdir()
    env = {**os.environ, **cli_env, "RANGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}
    for debug, want in (([], 1), (["--debug"], 1)):
        done = subprocess.run(
            [sys.executable, "-m", "range_control.cli", *debug, "teams", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == want, done.stderr
        if debug:
            assert "Traceback (most recent call last)" in done.stderr
        else:
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: OperationalError"), lines
            assert "rangectl --debug" in lines[0]
