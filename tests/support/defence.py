"""A range with defended services for a test: challenge directories written here (a service and
a checker in either contract), a scenario with a defence block, the event started, and the
defence loop over an engine (the in-memory one for integration tests, the real one for system
tests)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.defence.ticks import DefenceTicks
from range_control.services.event import controls, scenario
from tests.support.env import TEST, Env


def write_defended(
    root: Path, slug: str, contract: str = "exit-code", value: int = 10, **checker: Any
) -> Path:
    """A defended challenge's directory: ``service/`` and ``checker/`` with placeholder
    Dockerfiles (a test that builds writes its own over them)."""
    d = root / slug
    for sub in ("service", "checker"):
        (d / sub).mkdir(parents=True, exist_ok=True)
        if not (d / sub / "Dockerfile").exists():
            (d / sub / "Dockerfile").write_text("FROM range/base:bookworm\n")
    spec = {
        "name": slug.replace("-", " ").title(),
        "slug": slug,
        "type": "defended",
        "value": value,
        "description": f"Keep {slug} up.",
        "environment": {"services": [{"name": "app", "build": "service", "ports": [8080]}]},
        "defence": {
            "target": "app",
            "data": {"app": ["/srv/data"]},
            "checker": {"contract": contract, "build": "checker", **checker},
        },
    }
    (d / "challenge.yml").write_text(yaml.safe_dump(spec))
    return d


def load_defence(
    env: Env,
    slugs: dict[str, float],
    *,
    tick: str = "60s",
    duration: str = "1h",
    phases: dict[str, str] | None = None,
    **plan: Any,
) -> None:
    """Sync the pack under ``env.tmp / "pack"``, load a scenario defending ``slugs`` (slug:
    weight) in every phase (``phases``: id -> duration; by default one, "hold") and start the
    event."""
    result = lint([env.tmp / "pack"])
    assert result.ok, [str(p) for p in result.problems]
    sync(env.ctx, result.challenges, actor=TEST)
    spec = scenario.parse(
        {
            "event": "defence test",
            "phases": [
                {"id": pid, "title": pid.title(), "duration": length}
                for pid, length in (phases or {"hold": duration}).items()
            ],
            "defence": {
                "phases": list(phases or ["hold"]),
                "tick": tick,
                "services": slugs,
                **plan,
            },
        }
    )
    scenario.load(env.ctx, spec, TEST)
    controls.start(env.ctx, TEST)


def run_tick(ticks: DefenceTicks) -> None:
    """One pass, its batches to their end, and the pass that closes the tick."""
    ticks.step()
    for run in list(ticks.runs.values()):
        run.thread.join(timeout=300)
    ticks.step()


def answers(verdicts: Callable[[int, str], dict[str, Any]]) -> Callable[[Any], list[str]]:
    """A fake engine's check batches: ``verdicts(team_id, action)`` gives each answer's fields
    (``code`` for the exit-code contract, ``result`` for HTTP); every chain ends."""

    def lines(batch: Any) -> list[str]:
        out = [json.dumps({"ready": True})]
        for t in batch.targets:
            for i, action in enumerate(t.actions):
                got = {
                    "stdout": "",
                    "stderr": "",
                    "seconds": 0.1,
                    **verdicts(t.team_id, action["action"]),
                }
                out.append(
                    json.dumps(
                        {
                            "team": t.team_id,
                            "i": i,
                            "action": action["action"],
                            "store": action.get("store", 0),
                            "current": action.get("current", True),
                            **got,
                        }
                    )
                )
                ok = got.get("code") == 101 or got.get("result") == "OK"
                if action.get("current", True) and not ok:
                    break
            out.append(json.dumps({"team": t.team_id, "end": True}))
        return out

    return lines


# DestructiveFarm's server/protocols (ructf_tcp, forcad_tcp, ructf_http): the words of an
# answer it looks for, lowercased, in this order; an answer matching none is resent forever.
FARM_WORDS = {
    "QUEUED": ["timeout", "game not started", "try again later", "game over", "is not up"],
    "ACCEPTED": ["accepted", "congrat"],
    "REJECTED": [
        "bad",
        "wrong",
        "expired",
        "unknown",
        "your own",
        "too old",
        "not in database",
        "already submitted",
        "invalid flag",
    ],
}


def farm_reads(response: str, flag: str) -> str:
    """The status DestructiveFarm gives an answer line to ``flag``."""
    text = response.replace(f"[{flag}] ", "").lower()
    for status, words in FARM_WORDS.items():
        if any(w in text for w in words):
            return status
    return "RESENT FOREVER"
