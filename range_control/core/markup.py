"""Markdown as the range shows it anywhere (pages, the after-action report): CommonMark with
raw HTML off, then sanitised (nh3, ammonia's rules) as a second wall. One function, so the
console, the portal and the report render a team's text exactly alike."""

from __future__ import annotations

from functools import cache
from typing import Any

from markupsafe import Markup

_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
MAX_MARKDOWN = 100_000


@cache
def _renderer() -> Any:
    """CommonMark with raw HTML off (made once, on the first text a process renders)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str | None) -> Markup:
    import nh3

    html = _renderer().render((text or "")[:MAX_MARKDOWN])
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return Markup(clean)  # noqa: S704 - sanitised just above
