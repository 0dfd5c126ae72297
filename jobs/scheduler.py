"""Running the tasks declared in `jobs.periodic`: each period once, across every worker.

Every job supervisor runs a `Scheduler` thread. Every few seconds it reads which declared
tasks are due; for each, it claims the period with one conditional UPDATE (moving
`next_due_at` a period past now, only if it has come), and runs the task only if that
UPDATE changed the row. PostgreSQL makes a second UPDATE of the row wait for the first and
then re-check its condition; SQLite lets one writer at a time: either way exactly one
worker wins each period, however many run, on however many machines.

A thread of the supervisor, not a job slot: housekeeping waits on the database, not on the
interpreter, so it never takes a slot from jobs nor holds up the supervisor's loop, and it
needs none of a job's machinery (payload, retries, leases): a run that fails is logged,
recorded on its row, and simply runs again next period. The thread runs one task at a time,
so a worker never runs two; a task that outlasts its period may be claimed meanwhile by
another worker, which is harmless for deletions that each take what is left.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable

from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from episode_metadata.common import context
from episode_metadata.common.context import Source
from jobs import periodic, selectors
from jobs.models import PeriodicTask

logger = logging.getLogger(__name__)

# The longest an admin's "run now" waits for a worker to notice.
CHECK_SECONDS = 5.0


def sync(declared: Iterable[periodic.Task]) -> None:
    """Create the rows of new tasks, due at once, and apply changed periods: a shortened
    one is due within its new period."""
    now = timezone.now()
    tasks = list(declared)
    PeriodicTask.objects.bulk_create(
        [PeriodicTask(name=task.name, every=task.every, next_due_at=now) for task in tasks],
        ignore_conflicts=True,
    )
    for task in tasks:
        rows = PeriodicTask.objects.filter(name=task.name)
        rows.exclude(every=task.every).update(every=task.every)
        rows.filter(next_due_at__gt=now + task.every).update(next_due_at=now + task.every)


def claim(task: periodic.Task, *, worker: str) -> bool:
    """Take the current period of `task` for `worker`; False when another took it."""
    now = timezone.now()
    claimed = PeriodicTask.objects.filter(name=task.name, next_due_at__lte=now).update(
        next_due_at=now + task.every, claimed_by=worker, last_started_at=now
    )
    return claimed == 1


def mark_due(names: Iterable[str]) -> int:
    """Make tasks due now (the admin's "run now"): a worker runs each within seconds."""
    return PeriodicTask.objects.filter(name__in=list(names)).update(next_due_at=timezone.now())


def run_due(*, worker: str, keep_going: Callable[[], bool] = lambda: True) -> int:
    """Claim and run, one after the other, the declared tasks that are due. Returns how many
    this worker ran."""
    declared = {task.name: task for task in periodic.tasks()}
    ran = 0
    for name in selectors.due_periodic_tasks(names=declared, now=timezone.now()):
        if not keep_going():
            break
        if claim(declared[name], worker=worker):
            run(declared[name])
            ran += 1
    return ran


def run(task: periodic.Task) -> None:
    """Run a claimed task and record how it went; its failure is the row's, not the caller's."""
    started = time.monotonic()
    actor = context.ActivityContext(source=Source.SYSTEM, actor_label=f"periodic task {task.name}")
    try:
        with context.acting(actor):
            count = task.run()
    except Exception as exc:
        seconds = time.monotonic() - started
        logger.exception(
            "periodic task %s failed after %.1f s (%s: %s); it runs again next period, in %s",
            task.name,
            seconds,
            type(exc).__name__,
            exc,
            task.every,
        )
        _record(task.name, seconds, error=f"{type(exc).__name__}: {exc}")
        return
    seconds = time.monotonic() - started
    # A run that found nothing to do is routine (lost_jobs runs every few seconds): not news.
    logger.log(
        logging.INFO if count else logging.DEBUG,
        "periodic task %s done in %.1f s: %s",
        task.name,
        seconds,
        "nothing to count" if count is None else f"{count} cleaned",
    )
    _record(task.name, seconds, count=count)


def _record(name: str, seconds: float, *, count: int | None = None, error: str = "") -> None:
    now = timezone.now()
    changes = {"runs": F("runs") + 1, "last_finished_at": now, "last_duration_seconds": seconds}
    if error:
        changes |= {"failures": F("failures") + 1, "last_failure_at": now, "last_error": error}
    else:
        changes |= {
            "last_success_at": now,
            "last_count": count,
            "cleaned": F("cleaned") + (count or 0),
        }
    PeriodicTask.objects.filter(name=name).update(**changes)


class Scheduler:
    """A job supervisor's thread running the declared tasks as they come due.

    Nothing here may stop the supervisor: with the database away, it logs and tries again
    on the next check.
    """

    def __init__(self, *, worker: str) -> None:
        self.worker = worker
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="periodic-tasks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Run no further task; one running goes on (see `join`)."""
        self._stopping.set()

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` for a running task; past that it dies with the process, its
        open transaction rolled back, and runs again next period."""
        self._thread.join(max(timeout, 0.0))

    def _run(self) -> None:
        declared = periodic.tasks()
        # Short periods (a test's) are checked as often as they come due.
        interval = min([CHECK_SECONDS, *(task.every.total_seconds() for task in declared)])
        synced = False
        try:
            while not self._stopping.is_set():
                close_old_connections()
                try:
                    if not synced:
                        sync(declared)
                        synced = True
                    run_due(worker=self.worker, keep_going=lambda: not self._stopping.is_set())
                except Exception as exc:
                    logger.warning("could not run periodic tasks (%s); trying again later", exc)
                self._stopping.wait(interval)
        finally:
            connection.close()
