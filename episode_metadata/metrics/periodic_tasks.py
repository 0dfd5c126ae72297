"""The periodic housekeeping (`jobs.periodic`) as the database records it, read at each scrape.

Runs happen on whichever worker claimed the period, so their figures live in the tasks' rows,
not in one process's counters: every process that serves metrics reports the same
deployment-wide ones. One query a scrape, of a handful of rows.
"""

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from jobs import periodic, selectors
from jobs.models import PeriodicTask

logger = logging.getLogger(__name__)

_Families = tuple[
    GaugeMetricFamily,
    GaugeMetricFamily,
    GaugeMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
]


def _families() -> _Families:
    labels = ["task"]
    return (
        GaugeMetricFamily(
            "episodes_periodic_task_period_seconds",
            "How often each periodic task runs, across all workers.",
            labels=labels,
        ),
        GaugeMetricFamily(
            "episodes_periodic_task_last_success_timestamp_seconds",
            "When each periodic task last succeeded (Unix time; 0 if it never has).",
            labels=labels,
        ),
        GaugeMetricFamily(
            "episodes_periodic_task_last_duration_seconds",
            "How long each periodic task's latest run took, whatever its outcome.",
            labels=labels,
        ),
        CounterMetricFamily(
            "episodes_periodic_task_runs",
            "Runs of each periodic task, failed ones included.",
            labels=labels,
        ),
        CounterMetricFamily(
            "episodes_periodic_task_failures",
            "Runs of each periodic task that raised (logged; it runs again next period).",
            labels=labels,
        ),
        CounterMetricFamily(
            "episodes_periodic_task_cleaned",
            "What each periodic task cleaned (deleted rows, departures announced), summed.",
            labels=labels,
        ),
    )


class PeriodicTaskCollector:
    def describe(self) -> Iterator[Metric]:
        """The names, for the registry to check against others' without a query."""
        return iter(_families())

    def collect(self) -> Iterator[Metric]:
        declared = periodic.tasks()
        try:
            rows = {
                row.name: row for row in selectors.periodic_tasks(names=[t.name for t in declared])
            }
        except DatabaseError as exc:
            logger.warning("could not read the periodic tasks for metrics (%s)", exc)
            return
        families = _families()
        for task in declared:
            # A task no worker has started yet shows at 0, so alerts see a value.
            _add(families, task, rows.get(task.name) or PeriodicTask(name=task.name))
        yield from families


def _add(families: _Families, task: periodic.Task, row: PeriodicTask) -> None:
    period, last_success, last_duration, runs, failures, cleaned = families
    labels = [task.name]
    period.add_metric(labels, task.every.total_seconds())
    success_at = row.last_success_at.timestamp() if row.last_success_at else 0.0
    last_success.add_metric(labels, success_at)
    last_duration.add_metric(labels, row.last_duration_seconds or 0.0)
    runs.add_metric(labels, row.runs)
    failures.add_metric(labels, row.failures)
    cleaned.add_metric(labels, row.cleaned)
