"""The worker's statements prepared by PostgreSQL (`episode_metadata.common.prepared`), which
leans on Django internals: these fail if they change."""

import pytest
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction

from episode_metadata.common import prepared
from jobs import registry, services
from jobs.models import Job, JobStatus

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="DATABASE_URL is not a PostgreSQL database"
    ),
]


# psycopg prepares a statement once it has run it `prepare_threshold` times (settings.py).
RUNS = settings.DATABASES["default"]["OPTIONS"].get("prepare_threshold", 0) + 1


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_claim_and_an_answer_are_prepared_once_and_reused(django_assert_num_queries):
    for _ in range(RUNS):
        services.enqueue(registry.get("diagnostic"), {})
    for _ in range(RUNS):
        job = services.claim(worker_id="w", queues=["default"])
        # Logged as Django's own queries are: the answer's UPDATE and its activity row.
        with django_assert_num_queries(2):
            services.complete(job, {})

    statements = prepared_statements()
    claims = [s for s in statements if "FOR UPDATE SKIP LOCKED" in s]
    answers = [s for s in statements if '"finished_at" = $' in s]
    assert len(claims) == len(answers) == 1
    assert Job.objects.filter(status=JobStatus.COMPLETED).count() == RUNS


def test_errors_come_out_as_djangos_and_roll_back_to_the_savepoint():
    job = services.enqueue(registry.get("diagnostic"), {})
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            prepared.execute(
                'UPDATE "jobs_job" SET "progress" = %s WHERE "id" = %s',
                [101, job.pk],
                first=["SAVEPOINT before_update"],
            )
        transaction.set_rollback(False)
        prepared.execute("ROLLBACK TO SAVEPOINT before_update", [])
        assert prepared.execute('SELECT "progress" FROM "jobs_job"', []).fetchone() == (0,)

    with pytest.raises(DatabaseError, match="no_such_column"):
        prepared.execute('SELECT "no_such_column" FROM "jobs_job"', [])


def test_the_prepared_claim_reads_the_index_of_waiting_jobs_whatever_its_values():
    """After a few executions PostgreSQL may plan a prepared statement once for any values:
    such a plan can use the partial index of waiting jobs only if the statuses are written
    out. Without it, a claim sorts every waiting job."""
    for _ in range(RUNS):
        services.enqueue(registry.get("diagnostic"), {})
        services.claim(worker_id="w", queues=["default"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, parameter_types::text[] FROM pg_prepared_statements"
            " WHERE statement LIKE '%SKIP LOCKED%'"
        )
        statement, types = cursor.fetchone()
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE generic_claim ({', '.join(types)}) AS {statement}")
        values = ["now()" if "timestamp" in kind else "'default'" for kind in types]
        cursor.execute(f"EXPLAIN EXECUTE generic_claim ({', '.join(values)})")
        plan = "\n".join(line for (line,) in cursor.fetchall())
        cursor.execute("DEALLOCATE generic_claim")

    assert "job_claim_idx" in plan
    assert "Sort" not in plan
