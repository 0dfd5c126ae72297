from django.db import migrations

# Ids must follow commit order. As each transaction commits, under a lock held only for
# the commit itself (inside the server, never across a round trip to the client), its
# rows keep the id their INSERT drew if that is above every id committed so far (the mark),
# and otherwise take a fresh one. Either way no reader ever saw the id before.
CREATE = """
CREATE SEQUENCE activity_log_committed_mark MINVALUE 0 START 0;

CREATE FUNCTION activity_log_number_at_commit() RETURNS trigger AS $$
DECLARE
    final_id bigint := NEW.id;
BEGIN
    PERFORM pg_advisory_xact_lock(7233001);
    IF NEW.id <= (SELECT last_value FROM activity_log_committed_mark) THEN
        final_id := nextval(pg_get_serial_sequence('activity_activitylog', 'id'));
        PERFORM set_config('activity.renumbering', 'on', true);
        UPDATE activity_activitylog SET id = final_id WHERE id = NEW.id;
        PERFORM set_config('activity.renumbering', 'off', true);
    END IF;
    PERFORM setval('activity_log_committed_mark', final_id);
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
DROP SEQUENCE IF EXISTS activity_log_committed_mark;

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
