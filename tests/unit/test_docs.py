"""The documentation's reference against the code: every setting of ``Settings`` has its line
in ``docs/reference/settings.md`` (and every ``RANGE_*`` there is read by the code), every
``rangectl`` command is in the generated command-line reference, and every page the site's
navigation names exists. The role matrix has its own test (tests/integration/web)."""

from __future__ import annotations

import re
import sys

import click
import yaml

from range_control.cli import main
from range_control.core.settings import Settings
from tests.support import REPO

DOCS = REPO / "docs"
sys.path.insert(0, str(REPO / "infra" / "docs"))
import hooks  # noqa: E402  (the site's build hooks: infra/docs/hooks.py)


def test_every_setting_is_in_the_reference_and_every_variable_there_is_read() -> None:
    text = (DOCS / "reference" / "settings.md").read_text()
    named = set(re.findall(r"`(RANGE_[A-Z0-9_]+)`", text))
    fields = {f"RANGE_{name.upper()}" for name in Settings.model_fields}
    assert sorted(fields - named) == [], "settings without their line in the reference"
    code = "\n".join(
        p.read_text(errors="replace")
        for root in (REPO / "range_control", REPO / "infra")
        for p in root.rglob("*")
        if p.is_file() and p.suffix in {".py", ".sh", ".service", ".in", ".conf"}
    )
    unread = sorted(n for n in named - fields if n not in code)
    assert unread == [], "variables in the reference that nothing reads"


def _commands(group: click.Group, path: list[str]) -> list[str]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        out.append(" ".join([*path, name]))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, [*path, name])
    return out


def test_every_command_and_option_is_in_the_command_line_reference() -> None:
    ref = hooks.cli_reference()
    commands = _commands(main, ["rangectl"])
    assert len(commands) > 50
    missing = [c for c in commands if f"### `{c}`" not in ref]
    assert missing == []
    # Each command's options, with their help.
    ctx = click.Context(main)
    env_up = main.get_command(ctx, "env").get_command(ctx, "up")  # type: ignore[union-attr]
    for p in env_up.params:
        for opt in p.opts:
            assert f"`{opt}`" in ref or p.human_readable_name in ref, opt


def test_the_navigation_names_only_pages_that_exist_and_every_page_is_in_it() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text().replace("!!python", "#"))

    def pages(nav: list) -> list[str]:
        out = []
        for item in nav:
            for value in item.values() if isinstance(item, dict) else [item]:
                out += pages(value) if isinstance(value, list) else [value]
        return out

    listed = set(pages(config["nav"]))
    assert all((DOCS / p).is_file() for p in listed), sorted(
        p for p in listed if not (DOCS / p).is_file()
    )
    present = {
        str(p.relative_to(DOCS))
        for p in DOCS.rglob("*.md")
        if not re.search(r"\.[a-z]{2}\.md$", p.name)  # translations follow their page
    }
    assert sorted(present - listed) == []


def test_the_french_team_guide_follows_the_english_one() -> None:
    """Same sections, same paths and commands: a step added to one guide shows in the other."""
    en = (DOCS / "team" / "index.md").read_text()
    fr = (DOCS / "team" / "index.fr.md").read_text()
    assert len(re.findall(r"^## ", en, re.M)) == len(re.findall(r"^## ", fr, re.M))
    code = re.compile(r"`(/[^`]*|[A-Z]+ /api[^`]*)`")
    assert set(code.findall(en)) == set(code.findall(fr))


def test_the_french_guide_names_the_pages_as_the_french_pages_do() -> None:
    """Every part of the pages the English guide names in bold or italics (a button, a menu, a
    page) that the French catalog translates appears in the French guide as the catalog says:
    a francophone reader finds on the page the words the guide uses."""
    po = (REPO / "range_control/web/translations/fr/LC_MESSAGES/messages.po").read_text()
    catalog = dict(re.findall(r'^msgid "(.+)"\nmsgstr "(.+)"$', po, re.M))
    en = (DOCS / "team" / "index.md").read_text()
    fr = " ".join((DOCS / "team" / "index.fr.md").read_text().split())
    en = " ".join(en.split())
    named = set(re.findall(r"\*\*([^*]+)\*\*|(?<!\*)\*([^*]+)\*(?!\*)", en))
    terms = {t for pair in named for t in pair if t}
    checked = [t for t in sorted(terms) if t in catalog]
    assert len(checked) >= 15, checked
    missing = [f"{t} -> {catalog[t]}" for t in checked if catalog[t] not in fr]
    assert missing == []


def test_the_author_guide_s_example_loads(tmp_path) -> None:
    from range_control.services.catalog.lint import lint

    text = (DOCS / "author" / "index.md").read_text()
    example = re.search(r"```yaml\n(name: .*?)```", text, re.S)
    assert example is not None
    directory = tmp_path / "logistics-portal"
    (directory / "src").mkdir(parents=True)
    (directory / "src" / "Dockerfile").write_text("FROM range/base:bookworm\n")
    (directory / "challenge.yml").write_text(example.group(1))
    result = lint([tmp_path])
    assert result.problems == [] and result.warnings == []
    assert [c.slug for c in result.challenges] == ["logistics-portal"]
