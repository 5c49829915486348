"""Values read when ``/metrics`` is scraped, from where they are true whichever process changed
them: instances by state and health (the database), the age of the last good backup (the
backup directory)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from range_control.context import Range
from range_control.services.operations import backups
from range_control.store.models import Instance


def instance_counts(ctx: Range) -> list[tuple[str, str, int]]:
    """(state, health, how many) of every team instance; health "none" before a check."""
    with ctx.store.read_conn() as c:
        rows = c.execute(
            select(Instance.state, Instance.health, func.count()).group_by(
                Instance.state, Instance.health
            )
        ).all()
    return [(state, health or "none", n) for state, health, n in rows]


class ScrapeCollector:
    """A prometheus-client collector of the values above, for one scrape."""

    def __init__(self, ctx: Range) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[GaugeMetricFamily]:
        instances = GaugeMetricFamily(
            "range_instances", "Team instances, by state and health", labels=["state", "health"]
        )
        for state, health, n in instance_counts(self.ctx):
            instances.add_metric([state, health], n)
        yield instances
        last = backups.last_good(self.ctx.settings)
        age = GaugeMetricFamily(
            "range_backup_age_seconds",
            "Age of the newest complete backup in the backup directory (absent: none yet)",
        )
        if last is not None:
            age.add_metric([], max(0.0, (self.ctx.clock.now() - last.taken_at).total_seconds()))
        yield age
