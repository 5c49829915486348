"""Markdown as the range shows it anywhere (pages, the after-action report): CommonMark with
raw HTML off, then sanitised (nh3, ammonia's rules) as a second wall. One function, so the
console, the portal and the report render a team's text exactly alike."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
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


def markdown(text: str | None) -> Markup:
    html = _md.render((text or "")[:MAX_MARKDOWN])
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return Markup(clean)  # noqa: S704 - sanitised just above
