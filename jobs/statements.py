"""The worker's hot path as SQL compiled once, like `activity.inserts`.

A worker claims and answers for every job with a handful of statements; building each with
the ORM cost more CPU than the database spent running it. Values still go through each
field's own `get_db_prep_*`, so they are stored exactly as the ORM would store them. On
PostgreSQL the claim and the updates are prepared (`episode_metadata.common.prepared`): the
server plans each once per connection, not once per job.
"""

from functools import cache
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field

from episode_metadata.common import prepared
from jobs.models import WAITING, Job, JobStatus

_FIELD_NAMES = [f.attname for f in Job._meta.concrete_fields]
# By name and by attname; `get_field` is typed to return reverse relations too.
_FIELDS: dict[str, Field] = {
    key: f for f in Job._meta.concrete_fields for key in (f.name, f.attname)
}


def _column(name: str) -> str:
    # A concrete field always has a column; the stubs allow None for every field.
    return connection.ops.quote_name(cast(str, _FIELDS[name].column))


# Taken while a worker answers for its last job in the same transaction: a failed claim is
# undone to here, and the answer still commits.
_CLAIM_SAVEPOINT = "job_claim"
# A worker's claims and answers commit without waiting for the WAL to reach the disk. Every
# commit that writes activity holds the lock that keeps activity ids in commit order
# (activity migration 0006) until it ends, so with several workers, each waited in turn
# for the others' flushes. Should PostgreSQL crash, the last fraction of a second of claims
# and answers is lost, consistently with their activity rows: those jobs run again, as
# after a worker's crash. Presence is the only other writer that does not wait
# (realtime/presence/services.py).
_WITHOUT_WAITING_FOR_THE_DISK = prepared.WITHOUT_WAITING_FOR_THE_DISK


def running(job: Job, worker_id: str, now) -> dict[str, Any]:
    """What claiming `job` (as loaded) writes to it; `_claim_sql` writes the same in SQL."""
    return {
        "status": JobStatus.RUNNING,
        "attempts": job.attempts + 1,
        "worker_id": worker_id,
        "heartbeat_at": now,
        "started_at": job.started_at or now,
        "progress": 0,
        "progress_message": "",
    }


def claim(queues: list[str], now, worker_id: str, *, savepoint: bool) -> Job | None:
    """Take the next due job of these queues and mark it `running`; the job as it was
    before, for the caller to record the change. With `savepoint`, `undo_claim` can take
    the claim back without the rest of the transaction.

    PostgreSQL takes, marks and returns the row in one statement, after the savepoint in the
    same round trip: a worker claims once a job, and each round trip costs both sides CPU.
    The transaction commits without waiting for the disk (`_WITHOUT_WAITING_FOR_THE_DISK`).
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        if savepoint:
            _execute(f"SAVEPOINT {_CLAIM_SAVEPOINT}", [])
        job = _next_due(queues, now)
        if job is not None:
            update(job, running(job, worker_id, now), {})
        return job
    at = _FIELDS["heartbeat_at"].get_db_prep_value(now, db)
    params = [JobStatus.RUNNING, worker_id, at, at, *queues, at]
    # Set before the savepoint: a claim undone to it leaves the answer's commit as fast.
    first = [_WITHOUT_WAITING_FOR_THE_DISK]
    if savepoint:
        first.append(f"SAVEPOINT {_CLAIM_SAVEPOINT}")
    return _job(prepared.execute(_claim_sql(len(queues)), params, first=first).fetchone())


def undo_claim() -> None:
    """Take back a claim made with `savepoint` that failed before it was recorded; the
    caller's transaction goes on (a failed statement had aborted it on PostgreSQL)."""
    # Django marked the transaction as failed; it is usable again once back at the savepoint.
    transaction.set_rollback(False)
    try:
        _execute(f"ROLLBACK TO SAVEPOINT {_CLAIM_SAVEPOINT}", [])
    except Exception:
        transaction.set_rollback(True)
        raise


@cache
def _claim_sql(queue_count: int) -> str:
    table = connection.ops.quote_name(Job._meta.db_table)
    returned = ", ".join(f"due.{_column(f.name)}" for f in Job._meta.concrete_fields)
    # The row as it was comes back from the subquery, which reads it before the UPDATE.
    return (
        f"UPDATE {table} SET {_column('status')} = %s, "  # noqa: S608 - identifiers
        f"{_column('attempts')} = due.{_column('attempts')} + 1, {_column('worker_id')} = %s, "
        f"{_column('heartbeat_at')} = %s, "
        f"{_column('started_at')} = COALESCE(due.{_column('started_at')}, %s), "
        f"{_column('progress')} = 0, {_column('progress_message')} = '' "
        f"FROM ({_due_sql('postgresql', queue_count, '*')}) AS due "
        f"WHERE {table}.{_column('id')} = due.{_column('id')} RETURNING {returned}"
    )


def _due_sql(vendor: str, queue_count: int, columns: str) -> str:
    table = connection.ops.quote_name(Job._meta.db_table)
    # Written out, not bound: the partial index of waiting jobs serves only a statement that
    # names its statuses, and a prepared one is planned before any value is known.
    statuses = ", ".join(f"'{status}'" for status in WAITING)
    queues = ", ".join(["%s"] * queue_count)
    # SQLite has no row locks: its IMMEDIATE transactions let one writer claim at a time.
    lock = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
    return (
        f"SELECT {columns} FROM {table} "  # noqa: S608 - identifiers from the model
        f"WHERE {_column('status')} IN ({statuses}) AND {_column('queue_name')} IN ({queues}) "
        f"AND {_column('run_after')} <= %s "
        f"ORDER BY {_column('priority')} DESC, {_column('run_after')} LIMIT 1{lock}"
    )


@cache
def _next_due_sql(vendor: str, queue_count: int) -> str:
    columns = ", ".join(_column(f.name) for f in Job._meta.concrete_fields)
    return _due_sql(vendor, queue_count, columns)


def _next_due(queues: list[str], now) -> Job | None:
    run_after = Job._meta.get_field("run_after").get_db_prep_value(now, connection)
    params = [*queues, run_after]
    with connection.cursor() as cursor:
        cursor.execute(_next_due_sql(connection.vendor, len(queues)), params)
        return _job(cursor.fetchone())


def _job(row: tuple | None) -> Job | None:
    if row is None:
        return None
    # As `Job.objects.raw()` would load it, without working out again for every claim which
    # column is which field and how each converts.
    db = connections[DEFAULT_DB_ALIAS]
    columns = _columns(db)
    values = [_from_db(value, column, db) for value, column in zip(row, columns, strict=True)]
    return Job.from_db(db.alias, _FIELD_NAMES, values)


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@cache
def _columns(db: BaseDatabaseWrapper) -> list[tuple[Any, list]]:
    """Each column's expression and its converters from the database's values; per thread's
    connection, since they are methods of its operations."""
    columns = []
    for field in Job._meta.concrete_fields:
        column = field.get_col(Job._meta.db_table)
        columns.append((column, db.ops.get_db_converters(column) + field.get_db_converters(db)))
    return columns


def _from_db(value: Any, column: tuple[Any, list], db: BaseDatabaseWrapper) -> Any:
    expression, converters = column
    for converter in converters:
        value = converter(value, expression, db)
    return value


@cache
def _update_sql(vendor: str, changed: tuple[str, ...], guarded: tuple[str, ...]) -> str:
    table = connection.ops.quote_name(Job._meta.db_table)
    assignments = ", ".join(f"{_column(name)} = %s" for name in changed)
    conditions = " AND ".join(f"{_column(name)} = %s" for name in ("id", *guarded))
    return f"UPDATE {table} SET {assignments} WHERE {conditions}"  # noqa: S608


def update(job: Job, changes: dict[str, Any], guard: dict[str, Any]) -> int:
    """UPDATE the job's row with `changes` where it still matches `guard`; rows changed."""
    db = connections[DEFAULT_DB_ALIAS]
    params = [_FIELDS[n].get_db_prep_save(v, db) for n, v in changes.items()]
    params.append(Job._meta.pk.get_db_prep_value(job.pk, db))
    params += [_FIELDS[n].get_db_prep_value(v, db) for n, v in guard.items()]
    sql = _update_sql(db.vendor, tuple(changes), tuple(guard))
    if db.vendor == "postgresql":
        return prepared.execute(sql, params).rowcount
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
