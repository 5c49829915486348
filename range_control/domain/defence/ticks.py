"""Which tick it is: the defence phases cut into ticks of the scenario's length, in exercise time
(a pause stops the clock, so it stops the ticks; an extension of a defence phase adds ticks to
it; a skip cuts them). Ticks are numbered from 1 across every defence phase, in order; a phase
holds as many whole ticks as fit in it.

Within a tick, each team's check of each service starts at its own offset in the first half of
the tick, drawn from a keyed hash (unpredictable to teams, stable for a tick): checks are spread
so that a checker cannot be told from a player by its timing, as FAUST and EnoEngine do.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from range_control.domain.timeline import PhaseWindow

SPREAD = 0.5  # checks start within this share of the tick
MARGIN = timedelta(seconds=1)  # a chain ends this long before its tick does


@dataclass(frozen=True, slots=True)
class TickWindow:
    number: int  # from 1, across every defence phase
    phase: str
    start: timedelta  # exercise time
    end: timedelta


def tick_windows(
    phases: Iterable[str], tick: timedelta, windows: Iterable[PhaseWindow]
) -> list[TickWindow]:
    """Every tick of the defence ``phases`` (ids) in the timeline's ``windows``."""
    wanted = set(phases)
    out: list[TickWindow] = []
    for w in windows:
        if w.id not in wanted:
            continue
        count = int((w.end - w.start) / tick)
        for k in range(count):
            start = w.start + k * tick
            out.append(TickWindow(len(out) + 1, w.id, start, start + tick))
    return out


def current(ticks: list[TickWindow], ex_now: timedelta) -> TickWindow | None:
    """The tick running at exercise time ``ex_now`` (None between or outside defence phases)."""
    for t in ticks:
        if t.start <= ex_now < t.end:
            return t
    return None


def started(ticks: list[TickWindow], ex_now: timedelta) -> list[TickWindow]:
    """Every tick that has begun by ``ex_now``."""
    return [t for t in ticks if t.start <= ex_now]


def offset(key: str, event: str, tick: int, team_id: int, service: str, length: timedelta) -> float:
    """Seconds after the tick's start at which this team's check of ``service`` begins."""
    message = f"{event}\x00{tick}\x00{team_id}\x00{service}".encode()
    digest = hmac.new(key.encode(), b"spread\x00" + message, hashlib.sha256).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return fraction * SPREAD * length.total_seconds()
