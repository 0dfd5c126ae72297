"""Notifications made by the service's own processes, as deployed."""

import pytest

from tests.service_database import ServiceDatabase
from tests.service_process import Server, create_tokens
from tests.test_realtime_e2e import http

pytestmark = pytest.mark.server


def test_a_server_without_a_job_worker_makes_notifications(tmp_path):
    database = ServiceDatabase(tmp_path / "var")
    server = Server(database.env).start()  # `serve --no-worker`, and no worker anywhere
    try:
        writer, editor = create_tokens(database.env, ("writer", "approver"), ("editor", "approver"))
        database.wait_for(
            lambda: database.rows("SELECT 1 FROM activity_notificationcursor"),
            what="the server's notifier to start from the log as it stands",
        )
        episode = http(server, "POST", "/api/v1/episodes/", writer, {"title": "Pilot"})
        http(server, "PATCH", f"/api/v1/episodes/{episode['id']}/", editor, {"title": "Recut"})

        inbox = database.wait_for(
            lambda: http(server, "GET", "/api/v1/notifications/", writer)["results"],
            timeout=10,
            what="the creator's notification",
        )
        editors_inbox = http(server, "GET", "/api/v1/notifications/", editor)["results"]
    finally:
        server.stop()
        database.drop()

    assert [(n["type"], n["title"], n["message"]) for n in inbox] == [
        ("episode_updated", "Recut was updated", "editor changed title.")
    ]
    assert editors_inbox == []
