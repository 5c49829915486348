"""A live range served on a free port for the browser tests, and what every browser test does on a
page: axe-core (WCAG 2.1 AA), screenshots, a team's login."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import waitress
import yaml
from playwright.sync_api import Page, expect

from range_control.context import Range
from range_control.core.settings import Settings
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.event import controls
from range_control.services.people import teams
from range_control.web import create_app
from tests.support import REPO, TESTS
from tests.support.cli import free_port
from tests.support.env import ADMIN, FLAG_SECRET, TEST, migrated_sqlite

ARTIFACTS = Path(os.environ.get("RANGE_TEST_ARTIFACTS", REPO / "test-artifacts"))


@dataclass
class Live:
    url: str
    ctx: Range
    tokens: dict[str, str]
    tmp: Path


def write_challenge(root: Path, slug: str, **spec: object) -> None:
    d = root / slug
    d.mkdir(parents=True, exist_ok=True)
    data = {
        "name": slug.replace("-", " ").title(),
        "slug": slug,
        "value": 100,
        "flags": [f"ICE{{{slug}}}"],
        **spec,
    }
    (d / "challenge.yml").write_text(yaml.safe_dump(data))


@contextmanager
def live_range(
    tmp_path: Path, event: str, prepare: Callable[[Range], dict[str, str]], **overrides: object
) -> Iterator[Live]:
    """The app on a fresh SQLite range, made ready by ``prepare`` (which returns the teams'
    tokens), served by waitress on a free loopback port until the block ends."""
    url = migrated_sqlite(tmp_path / "range.db")
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=url,
        admin_token=ADMIN,
        flag_secret=FLAG_SECRET,
        secret_key="browser-test-key",
        event_slug=event,
        **overrides,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    ctx: Range = app.extensions["range"]
    tokens = prepare(ctx)
    port = free_port()
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=6)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{port}", ctx, tokens, tmp_path)
    finally:
        server.close()
        thread.join(5)
        ctx.store.dispose()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    def prepare(ctx: Range) -> dict[str, str]:
        pack = tmp_path / "pack"
        write_challenge(
            pack,
            "convoy",
            category="web",
            description="Find the **convoy** orders.",
            hints=[{"title": "Look closer", "content": "It is in the query.", "cost": 10}],
        )
        write_challenge(
            pack,
            "beacon",
            category="network",
            dynamic_flag={"prefix": "ICE"},
            flags=[],
            environment={"services": [{"name": "box", "image": "range/base:bookworm"}]},
        )
        sync(ctx, lint([pack]).challenges, actor=TEST)
        tokens = {
            name: teams.add_team(ctx, name, cc, actor=TEST).token
            for name, cc in (("Estonia", "EE"), ("Latvia", "LV"))
        }
        controls.start(ctx, TEST)
        return tokens

    with live_range(tmp_path, "browser", prepare) as served:
        yield served


def team_login(page: Page, live: Live, team: str) -> None:
    page.goto(f"{live.url}/portal/login")
    page.get_by_label("Team token").fill(live.tokens[team])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(f"Logged in as {team}.")).to_be_visible()
    audit(page)


AXE = TESTS / "a11y" / "node_modules" / "axe-core" / "axe.min.js"


WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def audit(page: Page) -> None:
    """axe-core (WCAG 2.1 A and AA rules) on the page as it stands: no serious or critical
    violation. Pages are opened with bypass_csp so that axe's script may be added."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: infra/setup.sh installs it (npm)", pytrace=False)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"


DOC_IMAGES = REPO / "docs" / "img"


def doc_shot(page: Page, name: str) -> None:
    """A picture of the page for the documentation (``docs/img/<name>.png``): the browser tests
    take them, so the docs show the pages as they are. The view a person first sees (1280 by
    800), not the whole page."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(DOC_IMAGES / f"{name}.png"), animations="disabled")
    assert (DOC_IMAGES / f"{name}.png").stat().st_size > 5_000


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000
