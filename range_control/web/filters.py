"""Template filters: safe markdown (``range_control.core.markup``), ISO times, country flags
as vendored SVGs (readable times and numbers are per language: ``range_control.web.i18n``)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, url_for
from markupsafe import Markup

from range_control.core.clock import iso
from range_control.core.markup import markdown

FLAGS = Path(__file__).resolve().parent / "static" / "flags"  # vendored by infra/setup.sh


def country_flag(code: str | None) -> Markup:
    """An ISO 3166 alpha-2 code's flag, an SVG of lipis/flag-icons the range serves itself
    (regional-indicator emoji show as letters or boxes where the system has no emoji font, as
    on Windows and a fresh Debian's Chromium). Decorative: the code is written beside it.
    Nothing for a code without a flag (alpha-3, unknown)."""
    if not code or len(code) != 2 or not code.isalpha():
        return Markup("")
    name = code.lower() + ".svg"
    if not (FLAGS / name).is_file():
        return Markup("")
    src = url_for("web.static", filename=f"flags/{name}")
    return Markup('<img class="flag" src="{}" alt="" width="20" height="15">').format(src)


def install(app: Flask) -> None:
    app.jinja_env.filters["flag"] = country_flag
    app.jinja_env.filters["markdown"] = markdown
    app.jinja_env.filters["iso"] = iso
