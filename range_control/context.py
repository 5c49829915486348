"""What every use case needs: the store, the settings and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from range_control.core.clock import Clock, SystemClock
from range_control.core.settings import Settings
from range_control.store.session import Store


@dataclass
class Range:
    store: Store
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    # Per-process caches (the scoreboard); each entry is keyed by what invalidates it.
    cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Range:
        store = Store.from_url(
            settings.resolved_database_url,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            pool_size=settings.db_pool_size,
            durability=settings.durability,
        )
        return cls(store=store, settings=settings, clock=clock or SystemClock())

    @property
    def event_slug(self) -> str:
        return self.settings.event_slug
