"""The documentation site, served by the range itself at ``/docs/`` (public: the team guide in
English and French, the API reference for teams scripting against the range), so that a venue
with no internet has it.

The site is what ``mkdocs build`` made from ``docs/`` (``infra/setup.sh`` builds it into
``range_control/web/site``). Its pages carry a few inline scripts of MkDocs Material's: each
HTML page is answered with a Content-Security-Policy that allows exactly those scripts by their
hashes (computed once per file), and nothing else inline.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, redirect, request, send_from_directory

from range_control.web.common import public

SITE = Path(__file__).resolve().parent.parent / "site"
bp = Blueprint("docs", __name__)

# An inline script that runs (no src, JavaScript or no type): its body, for the hash.
_INLINE = re.compile(
    rb"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"(?!text/javascript|module)[^\"]*\")[^>]*>(.*?)</script>",
    re.S,
)
_POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@lru_cache(maxsize=512)
def _policy(path: str, mtime_ns: int) -> str:
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE.findall(Path(path).read_bytes())
    )
    return _POLICY.format(hashes=hashes)


def team_guide(language: str) -> str:
    """Where the team guide is in ``language`` (the English one where the site has none)."""
    if language != "en" and (SITE / language / "team" / "index.html").is_file():
        return f"/docs/{language}/team/"
    return "/docs/team/"


@bp.get("/docs")
@public
def docs_root() -> Response:
    return redirect("/docs/", 301)


@bp.get("/docs/", defaults={"path": ""})
@bp.get("/docs/<path:path>")
@public
def docs_page(path: str) -> Response:
    """A file of the site; a directory's ``index.html``. 404 for anything else, and when the
    site was not built (``infra/setup.sh`` builds it)."""
    if not (SITE / "index.html").is_file():
        abort(404, "the documentation site is not built here: infra/setup.sh builds it")
    if path == "" or path.endswith("/"):
        path += "index.html"
    target = (SITE / path).resolve()
    if not target.is_relative_to(SITE.resolve()):
        abort(404)
    if target.is_dir() and (target / "index.html").is_file():
        return redirect(request.path + "/", 301)  # its relative links need the slash
    if not target.is_file():
        abort(404)
    resp = send_from_directory(SITE, path, max_age=300)
    if target.suffix == ".html":
        resp.headers["Content-Security-Policy"] = _policy(str(target), target.stat().st_mtime_ns)
    return resp
