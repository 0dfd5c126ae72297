"""SQL that Django lacks, spelled for both SQLite and PostgreSQL.

`categories` is a JSON list; the JSON functions let the database itself check its shape and
filter by one element, on either backend, instead of trusting only the serializer.
"""

from django.db.models import CharField, Func, IntegerField, JSONField, Lookup


class JSONType(Func):
    function = "json_type"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="jsonb_typeof", **extra)


class JSONArrayLength(Func):
    function = "json_array_length"
    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="jsonb_array_length", **extra)


@JSONField.register_lookup
class HasElement(Lookup):
    """`categories__has_element="news"`: the list holds that string (GIN-indexed on PostgreSQL)."""

    lookup_name = "has_element"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [value]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        # lhs and rhs are compiled SQL with %s placeholders; values travel as params.
        sql = f"EXISTS (SELECT 1 FROM json_each({lhs}) AS element WHERE element.value = {rhs})"  # noqa: S608
        return sql, (*lhs_params, *rhs_params)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} @> jsonb_build_array({rhs}::text)", (*lhs_params, *rhs_params)


class UUIDText(Func):
    """A UUID column as `str(uuid)` spells it (`8-4-4-4-12` lower-case hex), to match ids kept
    as text, such as the activity log's `resource_id`. SQLite stores UUIDs as 32 bare hex
    digits, lower case. Only for a column: the SQLite spelling repeats its argument."""

    output_field = CharField()
    arity = 1

    def as_sqlite(self, compiler, connection, **extra):
        column = "%(expressions)s"
        parts = " || '-' || ".join(
            f"substr({column}, {start}, {length})"
            for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        )
        return super().as_sql(compiler, connection, template=parts, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="(%(expressions)s)::text", **extra)
