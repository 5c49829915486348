"""MkDocs hooks: the parts of the reference that are generated from the code at build time, so
that they cannot drift from it.

* ``<!-- generated: cli -->``: every ``rangectl`` command with its options and help, read from
  the click tree;
* the checklists' boxes are drawn, not filled in: hidden from assistive technology (an
  unlabelled form control otherwise, WCAG 4.1.2), the item's text reads as it is;
* the OpenAPI document of ``/api/v1`` (``infra/docs/build/openapi.json`` is written before the
  pages are read; the API operations page renders it with neoteroi's OpenAPI plugin).
"""

from __future__ import annotations

import inspect
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "infra" / "docs" / "build" / "openapi.json"


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document as the range serves it, from an app on a scratch data dir
    (no engine, no event)."""
    from range_control.context import Range
    from range_control.core.settings import Settings
    from range_control.services.operations import schema
    from range_control.web import create_app
    from range_control.web.api.public import document

    logging.getLogger("alembic").setLevel(logging.WARNING)  # the scratch schema's steps
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), environments="off").ensure_secrets()
        scratch = Range.from_settings(settings)
        schema.upgrade(scratch)
        scratch.store.dispose()
        app = create_app(settings)
        with app.app_context():
            doc = document()
        app.extensions["range"].store.dispose()
    return doc


def on_config(config: Any) -> Any:
    OPENAPI.parent.mkdir(parents=True, exist_ok=True)
    OPENAPI.write_text(json.dumps(openapi_document(), indent=1, sort_keys=True))
    return config


def _option(p: click.Parameter) -> str:
    if isinstance(p, click.Argument):
        return f"`{p.human_readable_name}`"
    names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
    return names


def _command(path: list[str], cmd: click.Command, out: list[str]) -> None:
    name = " ".join(path)
    ctx = click.Context(cmd, info_name=name)
    out.append(f"### `{name}`")
    out.append("")
    usage = cmd.collect_usage_pieces(ctx)
    out.append(f"```text\n{name} {' '.join(usage)}\n```")
    out.append("")
    if cmd.help:
        out.append(inspect.cleandoc(cmd.help.split("\f")[0]))
        out.append("")
    rows = []
    for p in cmd.params:
        if isinstance(p, click.Option) and p.hidden:
            continue
        text = (getattr(p, "help", None) or "").replace("|", "\\|").replace("\n", " ")
        if isinstance(p.type, click.Choice):
            text += " (one of " + ", ".join(f"`{c}`" for c in p.type.choices) + ")"
        if isinstance(p, click.Option) and p.show_default and p.default not in (None, False, ()):
            text += f" (default: `{p.default}`)"
        rows.append(f"| {_option(p)} | {text} |")
    if rows:
        out += ["| argument or option | meaning |", "|---|---|", *rows, ""]
    if isinstance(cmd, click.Group):
        for sub in sorted(cmd.list_commands(ctx)):
            child = cmd.get_command(ctx, sub)
            if child is not None and not child.hidden:
                _command([*path, sub], child, out)


def cli_reference() -> str:
    from range_control.cli import main

    out: list[str] = []
    _command(["rangectl"], main, out)
    return "\n".join(out)


def on_page_markdown(markdown: str, **_: Any) -> str:
    if "<!-- generated: cli -->" in markdown:
        markdown = markdown.replace("<!-- generated: cli -->", cli_reference())
    return markdown


def on_page_content(html: str, **_: Any) -> str:
    return html.replace(
        '<input type="checkbox" disabled/>', '<input type="checkbox" disabled aria-hidden="true"/>'
    )
