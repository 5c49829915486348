"""Operating a live event: metrics from a 2-worker gunicorn equal the traffic sent,
JSON logs without secrets, backups taken during a burst restore to the same range, rolling
backups in the worker, and a doctor that fails on each broken precondition it checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from range_control.core import logs
from tests.support import REPO
from tests.support.env import (
    ADMIN,
    Env,
    make_env,
    migrated_sqlite,
)
from tests.support.servers import Server, samples, value

# --- a real web tier ---------------------------------------------------------------------------


def test_metrics_of_two_workers_equal_the_traffic_and_logs_hold_no_secret(
    range_env: dict[str, str], tmp_path: Path
) -> None:
    env = range_env | {"RANGE_LOG_FORMAT": "json", "RANGE_METRICS_DIR": str(tmp_path / "prom")}
    server = Server(env, tmp_path)
    try:
        sent = {"incorrect": 0, "correct": 0, "already_solved": 0}
        for i in range(3):
            for _ in range(4):
                status, body, _ = server.call(
                    "POST",
                    f"/api/v1/challenges/c{i}/attempts",
                    env["token_a"],
                    {"flag": "ICE{wrong-guess}"},
                )
                assert status == 200 and json.loads(body)["status"] == "incorrect"
                sent["incorrect"] += 1
        for i in range(2):
            for _ in range(2):
                status, body, _ = server.call(
                    "POST",
                    f"/api/v1/challenges/c{i}/attempts",
                    env["token_b"],
                    {"flag": f"ICE{{ops-secret-flag-{i}}}"},
                )
                sent[json.loads(body)["status"]] += 1
        assert sent == {"incorrect": 12, "correct": 2, "already_solved": 2}
        for _ in range(7):
            assert server.call("GET", "/api/v1/scoreboard")[0] == 200
        # A request id given by the proxy in front comes back, and is in the log line.
        status, _, headers = server.call(
            "GET", "/api/v1/event", headers={"X-Request-ID": "proxy-id-12345678"}
        )
        assert status == 200 and headers["X-Request-ID"] == "proxy-id-12345678"
        assert server.call("GET", "/api/v1/challenges", "rct_not-a-token")[0] == 401
        # The scrape: from loopback without a token (RANGE_METRICS_TOKEN unset).
        status, body, headers = server.call("GET", "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        m = samples(body)
        route = "/api/v1/challenges/<slug>/attempts"
        for outcome, n in sent.items():
            assert value(m, "range_flag_attempts_total", outcome=outcome) == n, outcome
        assert value(m, "range_solves_total") == 2
        assert value(m, "range_http_requests_total", route=route, method="POST", status="200") == 16
        assert (
            value(
                m,
                "range_http_requests_total",
                route="/api/v1/scoreboard",
                method="GET",
                status="200",
            )
            == 7
        )
        assert (
            value(
                m,
                "range_http_requests_total",
                route="/api/v1/challenges",
                method="GET",
                status="401",
            )
            == 1
        )
        assert value(m, "range_http_request_duration_seconds_count", route=route) == 16
        cache = value(m, "range_scoreboard_cache_total", result="hit") + value(
            m, "range_scoreboard_cache_total", result="miss"
        )
        assert cache == 7
        assert value(m, "range_scoreboard_cache_total", result="miss") >= 1
        # SQLite's writer queue: every recorded attempt waited for its turn (perhaps 0 s).
        assert value(m, "range_db_write_wait_seconds_count") >= 16
        assert ("range_instances", ()) not in m  # no instance: no series, but the family is there
        assert b"# TYPE range_instances gauge" in body
        # The worker, given the same metrics directory, is in the same scrape: its backups.
        worker = subprocess.Popen(
            [sys.executable, "-m", "range_control.cli", "worker"],
            env={
                **os.environ,
                **{k: v for k, v in env.items() if k.startswith("RANGE_")},
                "RANGE_BACKUP_EVERY": "1s",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while (
                value(
                    samples(server.call("GET", "/metrics")[1]), "range_backups_total", result="ok"
                )
                < 1
            ):
                assert worker.poll() is None and time.monotonic() < deadline, "no backup metric"
                time.sleep(0.3)
            m = samples(server.call("GET", "/metrics")[1])
            assert 0 <= value(m, "range_backup_age_seconds") < 60
        finally:
            worker.terminate()
            worker_out = worker.communicate(timeout=30)[0]
        assert '"logger": "range_control.worker"' in worker_out  # JSON from the worker too
        assert ADMIN not in worker_out
    finally:
        out = server.stop()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    access = [r for r in lines if r["logger"] == "range_control.access"]
    assert len(access) >= 16 + 7 + 3
    for r in access:
        assert {
            "time",
            "level",
            "logger",
            "message",
            "request_id",
            "route",
            "status",
            "duration_ms",
        } <= set(r)
    attempts_logged = [r for r in access if r["route"] == "/api/v1/challenges/<slug>/attempts"]
    assert len(attempts_logged) == 16 and all(
        isinstance(r["team_id"], int) for r in attempts_logged
    )
    assert any(r["request_id"] == "proxy-id-12345678" for r in access)
    # No secret and no submitted flag anywhere in what the web tier wrote.
    for secret in (
        ADMIN,
        env["token_a"],
        env["token_b"],
        "ops-secret-flag",
        "wrong-guess",
        "rct_not-a-token",
    ):
        assert secret not in out, secret


def test_metrics_need_the_token_or_loopback(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "range.db")
    e = make_env(url, tmp_path)
    try:
        remote = {"REMOTE_ADDR": "10.9.8.7"}
        assert e.client.get("/metrics", environ_base=remote).status_code == 403
        assert e.client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    finally:
        e.ctx.store.dispose()
    e = make_env(url, tmp_path, metrics_token="metrics-token-0123456789")
    try:
        assert e.client.get("/metrics").status_code == 401
        bad = {"Authorization": "Bearer metrics-token-wrong"}
        assert e.client.get("/metrics", headers=bad).status_code == 401
        good = {"Authorization": "Bearer metrics-token-0123456789"}
        labels = {"route": "<unmatched>", "method": "other", "status": "405"}
        before = value(
            samples(e.client.get("/metrics", headers=good).data),
            "range_http_requests_total",
            **labels,
        )
        for method in ("BREW", "PROPFIND", "X-ANYTHING"):  # any token is a method to HTTP
            assert e.client.open("/api/v1/event", method=method).status_code == 405
        r = e.client.get("/metrics", headers=good, environ_base=remote)
        assert r.status_code == 200 and b"range_http_requests_total" in r.data
        # Labels stay bounded whatever a client sends: unknown methods count as "other".
        assert b'method="BREW"' not in r.data
        assert value(samples(r.data), "range_http_requests_total", **labels) == before + 3
    finally:
        e.ctx.store.dispose()


def test_log_scrubbing_and_formats(tmp_path: Path) -> None:
    import io
    import logging

    stream = io.StringIO()
    handler = logs.configure("json", secrets=["s3cret-admin-token-value"], stream=stream)
    try:
        logging.getLogger("range_control.test").warning("token is %s", "s3cret-admin-token-value")
        try:
            raise RuntimeError("boom s3cret-admin-token-value")
        except RuntimeError:
            logging.getLogger("range_control.test").exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert records[0]["message"] == "token is [redacted]" and records[0]["level"] == "WARNING"
    assert records[0]["logger"] == "range_control.test" and "time" in records[0]
    assert "s3cret" not in stream.getvalue() and "[redacted]" in records[1]["exc_info"]


# --- backups -----------------------------------------------------------------------------------


# --- the doctor: one test per line -------------------------------------------------------------


def test_monitoring_files_name_only_metrics_the_range_exports(env: Env) -> None:
    """Every metric the alert rules and the dashboard use is one /metrics declares."""
    import re

    body = env.client.get("/metrics").data.decode()
    declared = set(re.findall(r"^# TYPE (range_\w+) (\w+)", body, re.M))
    names = set()
    for name, kind in declared:
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        if kind == "counter":
            names.add(f"{name}_total")
    monitoring = REPO / "infra" / "monitoring"
    rules = yaml.safe_load((monitoring / "range-alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((monitoring / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\b(range_[a-z_]+)", e)}
    assert used and used <= names, sorted(used - names)
    assert yaml.safe_load((monitoring / "prometheus.yml").read_text())["rule_files"] == [
        "range-alerts.yml"
    ]


def _promtool() -> str:
    exe = shutil.which("promtool")
    assert exe is not None, "promtool is missing: Debian's prometheus package (infra/setup.sh)"
    return exe


def test_promtool_checks_the_rules_the_config_the_dashboard_and_the_metrics(
    env: Env, tmp_path: Path
) -> None:
    """Prometheus' own promtool, not a list of names: the alert rules and the config are valid,
    every dashboard query parses as PromQL (each checked as a recording rule), and /metrics
    passes promtool's lint of an exposition."""
    promtool = _promtool()
    monitoring = REPO / "infra" / "monitoring"
    for args in (
        ["check", "rules", str(monitoring / "range-alerts.yml")],
        ["check", "config", str(monitoring / "prometheus.yml")],
    ):
        done = subprocess.run([promtool, *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    dashboard = json.loads((monitoring / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    recorded = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(recorded))
    done = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "dashboard.yml")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and f"{len(exprs)} rules found" in done.stdout, done.stdout
    # A broken query is caught (the control: the check can fail).
    recorded["groups"][0]["rules"].append({"record": "dashboard:broken", "expr": "sum(rate(x[1m]"})
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(recorded))
    broken = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "broken.yml")], capture_output=True, text=True
    )
    assert broken.returncode != 0
    body = env.client.get("/metrics").data
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30
    )
    assert lint.returncode == 0, (lint.stdout + lint.stderr).decode()
