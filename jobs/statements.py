"""The worker's hot path as SQL compiled once, like `activity.inserts`.

A worker claims and answers for every job with a handful of statements; building each with
the ORM cost more CPU than the database spent running it. Values still go through each
field's own `get_db_prep_*`, so they are stored exactly as the ORM would store them.
"""

from functools import cache
from typing import Any, cast

from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field

from jobs.models import WAITING, Job

_FIELD_NAMES = [f.attname for f in Job._meta.concrete_fields]
# By name and by attname; `get_field` is typed to return reverse relations too.
_FIELDS: dict[str, Field] = {
    key: f for f in Job._meta.concrete_fields for key in (f.name, f.attname)
}


def _column(name: str) -> str:
    # A concrete field always has a column; the stubs allow None for every field.
    return connection.ops.quote_name(cast(str, _FIELDS[name].column))


@cache
def _next_due_sql(vendor: str, queue_count: int) -> str:
    table = connection.ops.quote_name(Job._meta.db_table)
    columns = ", ".join(_column(f.name) for f in Job._meta.concrete_fields)
    statuses = ", ".join(["%s"] * len(WAITING))
    queues = ", ".join(["%s"] * queue_count)
    # SQLite has no row locks: its IMMEDIATE transactions let one writer claim at a time.
    lock = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
    return (
        f"SELECT {columns} FROM {table} "  # noqa: S608 - identifiers from the model
        f"WHERE {_column('status')} IN ({statuses}) AND {_column('queue_name')} IN ({queues}) "
        f"AND {_column('run_after')} <= %s "
        f"ORDER BY {_column('priority')} DESC, {_column('run_after')} LIMIT 1{lock}"
    )


def next_due(queues: list[str], now) -> Job | None:
    """The next job a worker of these queues should run, locked for this transaction."""
    run_after = Job._meta.get_field("run_after").get_db_prep_value(now, connection)
    params = [*WAITING, *queues, run_after]
    with connection.cursor() as cursor:
        cursor.execute(_next_due_sql(connection.vendor, len(queues)), params)
        row = cursor.fetchone()
    if row is None:
        return None
    # As `Job.objects.raw()` would load it, without working out again for every claim which
    # column is which field and how each converts.
    columns = _columns(connections[connection.alias])
    values = [_from_db(value, column) for value, column in zip(row, columns, strict=True)]
    return Job.from_db(connection.alias, _FIELD_NAMES, values)


@cache
def _columns(db: BaseDatabaseWrapper) -> list[tuple[Any, list]]:
    """Each column's expression and its converters from the database's values; per thread's
    connection, since they are methods of its operations."""
    columns = []
    for field in Job._meta.concrete_fields:
        column = field.get_col(Job._meta.db_table)
        columns.append((column, db.ops.get_db_converters(column) + field.get_db_converters(db)))
    return columns


def _from_db(value: Any, column: tuple[Any, list]) -> Any:
    expression, converters = column
    for converter in converters:
        value = converter(value, expression, connection)
    return value


@cache
def _update_sql(vendor: str, changed: tuple[str, ...], guarded: tuple[str, ...]) -> str:
    table = connection.ops.quote_name(Job._meta.db_table)
    assignments = ", ".join(f"{_column(name)} = %s" for name in changed)
    conditions = " AND ".join(f"{_column(name)} = %s" for name in ("id", *guarded))
    return f"UPDATE {table} SET {assignments} WHERE {conditions}"  # noqa: S608


def update(job: Job, changes: dict[str, Any], guard: dict[str, Any]) -> int:
    """UPDATE the job's row with `changes` where it still matches `guard`; rows changed."""
    fields = Job._meta
    params = [_FIELDS[n].get_db_prep_save(v, connection) for n, v in changes.items()]
    params.append(fields.pk.get_db_prep_value(job.pk, connection))
    params += [_FIELDS[n].get_db_prep_value(v, connection) for n, v in guard.items()]
    sql = _update_sql(connection.vendor, tuple(changes), tuple(guard))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
