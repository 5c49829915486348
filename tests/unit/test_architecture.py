"""The layers of ../shared/ARCHITECTURE.md, checked on the imports themselves (every import
statement, also inside functions and under TYPE_CHECKING).

Each module belongs to one layer; a layer may import our own code only from the layers it
knows about (arrows point down), and third-party packages only where they belong (Flask in the
interfaces that serve HTTP, the Docker SDK in the Docker backend, SQLAlchemy below the
interfaces, APScheduler in the scheduler).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.support import REPO

ROOT = REPO

# layer -> the files or packages (relative to the repository) that make it up
LAYERS: dict[str, tuple[str, ...]] = {
    "interfaces": (
        "range_control/web",
        "range_control/cli",
        "range_control/worker.py",
        "range_control/__init__.py",
    ),
    "services": ("range_control/services",),
    "domain": ("range_control/domain",),
    "store": ("range_control/store",),
    "orchestrator": ("range_control/orchestrator",),
    "specs": ("range_control/specs",),
    # Cross-cutting leaves every layer may use: no I/O beyond reading the environment and
    # writing the files they are asked to. The metrics and the log set-up too: every layer
    # counts and logs; who may do what and who did it: every layer names them.
    "core": ("range_control/core",),
    # What every use case is handed: store, settings and clock.
    "context": ("range_control/context.py",),
}

# layer -> the layers whose modules it may import
KNOWS: dict[str, set[str]] = {
    "interfaces": {"interfaces", "services", "specs", "context", "core"},
    "services": {"services", "domain", "store", "orchestrator", "specs", "context", "core"},
    "domain": {"domain", "specs", "core"},
    "store": {"store", "specs", "core"},
    "orchestrator": {"orchestrator", "specs", "core"},
    "specs": {"specs", "core"},
    "core": {"core"},
    "context": {"context", "store", "core"},
}

# third-party package -> the places allowed to import it (layers, or files/packages)
THIRD_PARTY: dict[str, set[str]] = {
    "flask": {"range_control/web"},
    "werkzeug": {"range_control/web"},
    "flask_wtf": {"range_control/web/pages"},
    "flask_babel": {"range_control/web/i18n.py"},
    "babel": {"range_control/web/catalogs.py", "range_control/web/i18n.py"},
    "spectree": {"range_control/web/api"},
    "authlib": {"range_control/web/pages/sso.py"},
    "docker": {
        "range_control/orchestrator/docker",
        "range_control/orchestrator/swarm",
        "range_control/orchestrator/images.py",
    },
    "sqlalchemy": {"services", "store", "context"},
    "alembic": {"store"},
    "apscheduler": {"range_control/worker.py"},
    "waitress": {"range_control/cli/operations.py"},
    "rich": {"range_control/cli"},
    "click": {"range_control/cli"},
    "prometheus_client": {
        "range_control/core/metrics.py",
        "range_control/services/operations/scrape.py",
    },
    "pythonjsonlogger": {"range_control/core/logs.py"},
    # Account passwords (argon2id) and their second factor.
    "argon2": {"range_control/services/people/accounts.py"},
    "pyotp": {"range_control/services/people/accounts.py"},
    # QR codes: the WireGuard configuration, the second factor, the accounts' invite sheet.
    "segno": {"range_control/web/pages", "range_control/cli/people.py"},
    # Backups' sealed secrets; the key math of SSH and WireGuard keys (pure functions); the
    # accounts' sealed second factor.
    "cryptography": {
        "range_control/services/operations/backups.py",
        "range_control/domain/keys.py",
        "range_control/services/people/accounts.py",
    },
}

# Services may use the engine only through the Backend protocol: never a concrete engine.
SERVICES_NEVER = ("range_control.orchestrator.docker", "range_control.orchestrator.swarm")


def module_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def layer_of(rel: str) -> str | None:
    for layer, places in LAYERS.items():
        for place in places:
            if rel == place or rel.startswith(place.rstrip("/") + "/"):
                return layer
    return None


def imports_of(path: Path, module: str) -> set[str]:
    """Absolute names of everything imported, relative imports resolved."""
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                up = parts[: len(parts) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def place_of(name: str, root: Path) -> str | None:
    """The repository path of one of our modules (or packages), else None."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        base = root.joinpath(*parts[:n])
        if base.with_suffix(".py").is_file():
            return str(base.with_suffix(".py").relative_to(root))
        if (base / "__init__.py").is_file():
            return str(base.relative_to(root))
    return None


def allowed_for(package: str, rel: str, layer: str) -> bool:
    for place in THIRD_PARTY[package]:
        if place == layer or rel == place or rel.startswith(place + "/"):
            return True
    return False


def violations(root: Path) -> list[str]:
    found = []
    files = sorted(root.joinpath("range_control").rglob("*.py"))
    for path in files:
        rel = str(path.relative_to(root))
        if "/migrations/" in rel:
            continue  # Alembic's scripts: the store's own
        layer = layer_of(rel)
        if layer is None:
            found.append(f"{rel}: in no layer of LAYERS")
            continue
        for name in sorted(imports_of(path, module_of(path, root))):
            top = name.split(".")[0]
            if top == "range_control":
                target = place_of(name, root)
                if target is None or target == "range_control":
                    continue  # a top package itself: what is taken from it is checked
                other = layer_of(target)
                if other not in KNOWS[layer]:
                    found.append(f"{rel} ({layer}) imports {name} ({other})")
                if layer == "services" and name.startswith(SERVICES_NEVER):
                    found.append(f"{rel} (services) imports a concrete engine: {name}")
            elif top in THIRD_PARTY and not allowed_for(top, rel, layer):
                found.append(f"{rel} ({layer}) imports {name}")
    return sorted(set(found))


def test_every_import_follows_the_layers() -> None:
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("where", "line", "expected"),
    [
        (
            "range_control/domain/bad.py",
            "from range_control.store.models import Team",
            "range_control/domain/bad.py (domain) imports range_control.store.models (store)",
        ),
        (
            "range_control/orchestrator/bad.py",
            "from range_control.services import teams",
            "range_control/orchestrator/bad.py (orchestrator) imports range_control.services (services)",
        ),
        (
            "range_control/cli/bad.py",
            "from range_control.orchestrator import connect",
            "range_control/cli/bad.py (interfaces) imports range_control.orchestrator (orchestrator)",
        ),
        (
            "range_control/services/bad.py",
            "import flask",
            "range_control/services/bad.py (services) imports flask",
        ),
        (
            "range_control/scheduler_bad.py",
            "import os",
            "range_control/scheduler_bad.py: in no layer",
        ),
        (
            "range_control/services/bad.py",
            "from range_control.orchestrator.docker import x",
            "range_control/services/bad.py (services) imports a concrete engine",
        ),
        (
            "range_control/domain/bad.py",
            "from ..services import teams",
            "range_control/domain/bad.py (domain) imports range_control.services (services)",
        ),
    ],
)
def test_an_upward_import_added_on_purpose_is_caught(
    tmp_path: Path, where: str, line: str, expected: str
) -> None:
    # A copy of the tree with one bad module added: the checker must name it.
    import shutil

    shutil.copytree(
        ROOT / "range_control",
        tmp_path / "range_control",
        ignore=shutil.ignore_patterns("__pycache__", "migrations"),
    )
    (tmp_path / where).write_text(line + "\n")
    found = violations(tmp_path)
    assert any(v.startswith(expected) for v in found), found


# A web endpoint's name ("api.admin_grade_task", "console.grade_task"): a route's business.
ENDPOINT = re.compile(r"^(api|console|portal|web|sso)\.[a-z_]+$")
MAX_LOOSE = 10  # modules directly in one package (besides its __init__ and __main__)
MAX_LINES = 800


def endpoint_names(root: Path) -> list[str]:
    """Services that name a web endpoint (who may do what is the permission table's)."""
    found = []
    for path in sorted(root.joinpath("range_control", "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and ENDPOINT.match(text):
                found.append(f"{path.relative_to(root)}: names the endpoint {node.value!r}")
    return found


def oversized(root: Path) -> list[str]:
    """Packages with more than MAX_LOOSE modules of their own; modules over MAX_LINES lines."""
    found = []
    for package in sorted(root.joinpath("range_control").rglob("__init__.py")):
        here = package.parent
        if "migrations" in here.parts:
            continue
        loose = sorted(
            p.name for p in here.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
        )
        if len(loose) > MAX_LOOSE:
            found.append(f"{here.relative_to(root)}: {len(loose)} modules ({', '.join(loose)})")
    for path in sorted(root.joinpath("range_control").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


def test_services_name_no_web_endpoint() -> None:
    assert endpoint_names(ROOT) == []


def test_rooms_stay_small() -> None:
    assert oversized(ROOT) == []


def test_a_service_that_names_an_endpoint_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "range_control" / "services" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text('GRADING = frozenset({"api.admin_grade_task"})\n')
    assert endpoint_names(tmp_path) == [
        "range_control/services/bad.py: names the endpoint 'api.admin_grade_task'"
    ]
