"""Durations as the files write them: ``90s``, ``15m``, ``2h``, ``1h30m``, ``1d`` (or ISO 8601,
or seconds)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_DURATION = re.compile(
    r"^(?:([0-9]{1,4})d)?(?:([0-9]{1,6})h)?(?:([0-9]{1,7})m)?(?:([0-9]{1,9})s)?$"
)
MAX_DURATION = timedelta(days=366)


def parse_duration(value: Any) -> timedelta:
    """``1h30m`` -> timedelta; also accepts a timedelta or a number of seconds. Never negative,
    never more than a year (a ValueError says so)."""
    try:
        parsed = _parse_duration(value)
    except OverflowError:
        raise ValueError(f"{str(value)[:40]!r} is longer than {MAX_DURATION.days} days") from None
    if parsed < timedelta(0):
        raise ValueError(f"{str(value)[:40]!r} is negative")
    if parsed > MAX_DURATION:
        raise ValueError(f"{str(value)[:40]!r} is longer than {MAX_DURATION.days} days")
    return parsed


def _parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value:  # NaN
            raise ValueError("a duration is a number of seconds, not NaN")
        return timedelta(seconds=value)
    text = str(value).strip().replace(" ", "")
    if text[:1] == "P":  # ISO 8601 (PT15M), which is also how a stored scenario serialises
        from pydantic import TypeAdapter, ValidationError

        try:
            parsed = TypeAdapter(timedelta).validate_python(text)
        except ValidationError:
            raise ValueError(f"{value!r} is not an ISO 8601 duration") from None
        return parsed
    m = _DURATION.fullmatch(text)
    if not text or not m or not any(m.groups()):
        raise ValueError(f"{text[:40]!r} is not a duration such as 90s, 15m, 2h, 1h30m or 1d")
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


class Duration(timedelta):
    """A timedelta field that reads ``1h30m``-style strings."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(
            parse_duration, core_schema.timedelta_schema()
        )
