"""Every page template parses with the app's filters and extensions (a template broken by an
edit fails here at once, not only on the page a browser test happens to open)."""

from __future__ import annotations

from pathlib import Path

from tests.support import REPO
from tests.support.env import make_env, migrated_sqlite

TEMPLATES = REPO / "range_control" / "web" / "templates"


def test_every_template_parses(tmp_path: Path) -> None:
    env = make_env(migrated_sqlite(tmp_path / "range.db"), tmp_path)
    try:
        names = sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))
        assert len(names) >= 20
        for name in names:
            env.app.jinja_env.get_template(name)  # raises TemplateSyntaxError, with the line
    finally:
        env.ctx.store.dispose()
