"""Who may act: the organiser token (for automation and the console's login)."""

from __future__ import annotations

import hmac

from range_control.context import Range
from range_control.settings import secret


def is_organiser_token(ctx: Range, token: str) -> bool:
    """Constant-time comparison with the configured organiser token; empty never matches."""
    expected = secret(ctx.settings.admin_token)
    return bool(token) and hmac.compare_digest(token.encode(), expected.encode())
