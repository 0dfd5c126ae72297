"""A GIN index for the `category` filter on PostgreSQL; SQLite has no such index type."""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS episode_categories_gin "
            "ON episodes_episode USING gin (categories)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS episode_categories_gin")


class Migration(migrations.Migration):
    dependencies = [("episodes", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
