from django.db import migrations

# Each row is numbered when its transaction commits, under a lock held only for the
# commit itself (inside the server, never across a round trip to the client), so ids
# follow commit order. The number the INSERT drew is a placeholder nobody else sees.
CREATE = """
CREATE FUNCTION activity_log_number_at_commit() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7233001);
    PERFORM set_config('activity.renumbering', 'on', true);
    UPDATE activity_activitylog
        SET id = nextval(pg_get_serial_sequence('activity_activitylog', 'id'))
        WHERE id = NEW.id;
    PERFORM set_config('activity.renumbering', 'off', true);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER activity_log_number_at_commit
    AFTER INSERT ON activity_activitylog
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION activity_log_number_at_commit();

CREATE OR REPLACE FUNCTION activity_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('activity.allow_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND current_setting('activity.renumbering', true) = 'on'
            AND (to_jsonb(NEW) - 'id') = (to_jsonb(OLD) - 'id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'activity_activitylog is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""

DROP = """
DROP TRIGGER IF EXISTS activity_log_number_at_commit ON activity_activitylog;
DROP FUNCTION IF EXISTS activity_log_number_at_commit();

CREATE OR REPLACE FUNCTION activity_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('activity.allow_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'activity_activitylog is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("activity", "0005_job_actions"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
