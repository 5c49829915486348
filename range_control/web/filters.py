"""Template filters: safe markdown (``range_control.core.markup``), ISO times, country flags
(readable times and numbers are per language: ``range_control.web.i18n``)."""

from __future__ import annotations

from flask import Flask

from range_control.core.clock import iso
from range_control.core.markup import markdown


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
