from django.db import migrations

CREATE = """
CREATE FUNCTION activity_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('activity.allow_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'activity_activitylog is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER activity_log_append_only
    BEFORE UPDATE OR DELETE ON activity_activitylog
    FOR EACH ROW EXECUTE FUNCTION activity_log_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS activity_log_append_only ON activity_activitylog;
DROP FUNCTION IF EXISTS activity_log_append_only();
"""


def _on_postgresql(sql):
    """SQLite has no such triggers; there the application's discipline is the only guard."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("activity", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
