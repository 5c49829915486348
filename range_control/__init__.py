"""Range Control: exercise range orchestrator for the CIOR International Cyber Event."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def create_app(**kwargs: Any):
    """Application factory (``gunicorn 'range_control:create_app()'``)."""
    from range_control.web import create_app as _create_app

    return _create_app(**kwargs)
