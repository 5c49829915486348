"""Template filters: safe markdown, ISO times, country flags (readable times and numbers are
per language: ``scoreboard_web.i18n``)."""

from __future__ import annotations

import nh3
from flask import Flask
from markdown_it import MarkdownIt
from markupsafe import Markup

from range_control.clock import iso

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h1", "h2",
    "h3", "h4", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
MAX_MARKDOWN = 100_000


def markdown(text: str | None) -> Markup:
    """CommonMark with raw HTML off, then sanitised (nh3/ammonia) as a second wall."""
    html = _md.render((text or "")[:MAX_MARKDOWN])
    clean = nh3.clean(
        html, tags=_TAGS, attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer",
    )  # fmt: skip
    return Markup(clean)  # noqa: S704 - sanitised just above


def country_flag(code: str | None) -> str:
    """ISO 3166 alpha-2 to its flag (two regional-indicator letters): no image set to vendor;
    where the system has no flag glyphs, the letters show instead."""
    if not code or len(code) != 2 or not code.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


def install(app: Flask) -> None:
    app.jinja_env.filters["flag"] = country_flag
    app.jinja_env.filters["markdown"] = markdown
    app.jinja_env.filters["iso"] = iso
