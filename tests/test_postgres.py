"""What only PostgreSQL has. Runs when DATABASE_URL points at PostgreSQL."""

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="DATABASE_URL is not a PostgreSQL database"
    ),
]


def test_category_filter_has_a_gin_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'episode_categories_gin'")
        row = cursor.fetchone()

    assert row is not None
    assert "gin" in row[0].lower()


def test_connections_come_from_a_pool():
    assert connection.pool is not None
