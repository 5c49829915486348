"""Schemathesis over /api/v1/openapi.json, on SQLite and PostgreSQL: every operation, with
generated (valid and invalid) paths, queries and bodies, sent with the token its security
names. No answer may be a 5xx, and every answer must match the document (status, content
type, body schema)."""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.env import ADMIN, Env, make_env

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("RANGE_FUZZ_EXAMPLES", "30"))


@pytest.fixture
def seeded(database_url: str, tmp_path: Path) -> Iterator[tuple[Env, str]]:
    e = make_env(database_url, tmp_path)
    e.challenge("convoy", value=100, hints=[{"content": "look", "cost": 5}])
    e.challenge("relay", requirements=["convoy"], files=[])
    e.challenge("web", environment={"services": [{"name": "box", "image": "range/base:bookworm"}]})
    _, h = e.team("Alpha", "NL")
    e.team("Bravo", "NO")
    e.start()
    e.attempt(h, "convoy", "ICE{convoy}")
    yield e, h["Authorization"]
    e.ctx.store.dispose()


def fuzz(
    op: schemathesis.APIOperation, headers: dict[str, str], calls: collections.Counter[int]
) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy())
    def check(case: schemathesis.Case) -> None:
        case.headers = {**(case.headers or {}), **headers}
        response = case.call()
        calls[response.status_code // 100] += 1
        case.validate_response(response, checks=CHECKS)

    return check


def test_no_5xx_and_every_answer_matches_the_document(seeded: tuple[Env, str]) -> None:
    env, team_auth = seeded
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", env.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    failures: list[str] = []
    calls: collections.Counter[int] = collections.Counter()
    for op in operations:
        security = op.definition.raw.get("security") or []
        names = {name for req in security for name in req}
        auth = {"organiser": f"Bearer {ADMIN}", "team": team_auth}
        headers = {"Authorization": auth[next(iter(names))]} if names else {}

        check = fuzz(op, headers, calls)
        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all tried, all reported
            failures.append(f"{op.label}: {type(exc).__name__}: {str(exc)[:800]}")
    assert failures == [], "\n\n".join(failures[:10])
    # The fuzzer got through the door: most answers are the handlers' own, not 401s.
    assert calls[2] > 50 and sum(calls.values()) > len(operations) * 5, calls
