"""The layers of ARCHITECTURE.md, checked on the imports themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "range_control"

RULES = {
    "domain": {"flask", "sqlalchemy", "docker", "range_control.store", "range_control.services"},
    "specs": {"flask", "sqlalchemy", "docker", "range_control.store", "range_control.services",
              "range_control.domain"},
    "services": {"flask", "werkzeug", "docker", "range_control.orchestrator.docker_backend"},
    "store": {"flask", "docker", "range_control.services"},
    "api": {"sqlalchemy", "docker", "range_control.store"},
    "orchestrator": {"flask", "werkzeug", "range_control.api"},
    "../scoreboard_web": {"sqlalchemy", "docker", "range_control.store", "range_control.api",
                          "range_control.orchestrator"},
}  # fmt: skip


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_never_imports_what_it_must_not(layer: str) -> None:
    offenders = []
    for path in (PKG / layer).rglob("*.py"):
        for name in imports_of(path):
            for banned in RULES[layer]:
                if name == banned or name.startswith(banned + "."):
                    offenders.append(f"{path.relative_to(PKG)} imports {name}")
    assert offenders == []
