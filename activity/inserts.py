"""Inserting activity rows at close to the database's own cost.

Every tracked write pays for its activity row, so the row is written with a statement
compiled once per database (the ORM spends ~100 us compiling each INSERT), in a way
that leaves the caller's transaction usable when it fails: on PostgreSQL inside a
savepoint that travels with the insert in one round trip; on SQLite, which undoes a
failed statement by itself, as it is. Values still go through each field's own
`get_db_prep_save`, so they are stored exactly as `save()` would.

Only Django's documented API is used: each field's `pre_save` and `get_db_prep_save` (as
custom fields implement them), the transaction functions, and the instance's `_state`.

When the database has thrown the caller's whole transaction away instead (SQLite does
on a full disk or an I/O error), `TransactionLost` says so: the change being recorded is
gone too, and must not be reported as saved.
"""

from functools import cache
from typing import cast

from django.db import DatabaseError, connections, transaction
from django.db.models import Field

from activity.models import ActivityLog

_FIELDS: list[Field] = [f for f in ActivityLog._meta.concrete_fields if not f.primary_key]
_SAVEPOINT = "activity_row"


class TransactionLost(DatabaseError):
    """The insert failed and took the caller's transaction with it."""


@cache
def _insert_sql(alias: str, rows: int) -> str:
    ops = connections[alias].ops
    table = ops.quote_name(ActivityLog._meta.db_table)
    columns = ", ".join(ops.quote_name(_column(f)) for f in _FIELDS)
    values = ", ".join([f"({', '.join(['%s'] * len(_FIELDS))})"] * rows)
    pk = ops.quote_name(_column(ActivityLog._meta.pk))
    return f"INSERT INTO {table} ({columns}) VALUES {values} RETURNING {pk}"  # noqa: S608


def _column(field: Field) -> str:
    # A concrete field always has a column; the stubs allow None for every field.
    return cast(str, field.column)


def insert(entries: list[ActivityLog], using: str = "default") -> None:
    """Write `entries`, in this order, with one statement; on failure raise with the
    caller's transaction intact."""
    connection = connections[using]
    params = [
        f.get_db_prep_save(f.pre_save(entry, True), connection)
        for entry in entries
        for f in _FIELDS
    ]
    sql = _insert_sql(using, len(entries))
    if connection.vendor == "postgresql":
        ids = _insert_postgresql(connection, sql, params, using)
    else:
        ids = _insert_sqlite(connection, sql, params, using)
    # Both databases draw the ids in the order of the rows; RETURNING need not list them so.
    for entry, pk in zip(entries, sorted(ids), strict=True):
        entry.pk = pk
        entry._state.adding = False
        entry._state.db = using


def _insert_postgresql(connection, insert_sql: str, params: list, using: str) -> list[int]:
    """Savepoint and insert in one round trip."""
    if transaction.get_autocommit(using):
        with connection.cursor() as cursor:
            cursor.execute(insert_sql, params)
            return [row[0] for row in cursor.fetchall()]
    with connection.cursor() as cursor:
        try:
            cursor.execute(
                f"SAVEPOINT {_SAVEPOINT}; {insert_sql}; RELEASE SAVEPOINT {_SAVEPOINT}", params
            )
        except DatabaseError:
            _roll_back_savepoint(cursor, using)
            raise
        cursor.nextset()
        return [row[0] for row in cursor.fetchall()]


def _roll_back_savepoint(cursor, using: str) -> None:
    try:
        cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}; RELEASE SAVEPOINT {_SAVEPOINT}")
    except DatabaseError as exc:
        # As Django does when a savepoint cannot be restored: the transaction is lost.
        transaction.set_rollback(True, using)
        raise TransactionLost(str(exc)) from exc


def _insert_sqlite(connection, insert_sql: str, params: list, using: str) -> list[int]:
    with connection.cursor() as cursor:
        try:
            cursor.execute(insert_sql, params)
        except DatabaseError as exc:
            if not transaction.get_autocommit(using) and not connection.connection.in_transaction:
                transaction.set_rollback(True, using)
                raise TransactionLost(str(exc)) from exc
            raise
        return [row[0] for row in cursor.fetchall()]
