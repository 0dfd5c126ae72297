"""What the job runtime reports reaches the event stream only through the listener realtime
plugs in, and a worker child's events go to its supervisor through the relay."""

import pytest

from episode_metadata.common import relay
from jobs import events
from realtime import broadcast


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, str, dict]]:
    sent = []
    monkeypatch.setattr(
        broadcast,
        "publish_ephemeral",
        lambda topic, event, data, about=None: sent.append((topic, event, data)),
    )
    return sent


def test_progress_goes_out_on_the_jobs_topic_and_on_the_collection(published):
    events.progress(events.Progress("abc", "diagnostic", 40, "four of ten"))
    data = {"job_id": "abc", "job_type": "diagnostic", "progress": 40, "message": "four of ten"}
    assert published == [("job:abc", "job_progress", data), ("jobs", "job_progress", data)]


def test_progress_says_whose_job_it_is_and_its_episode(monkeypatch):
    about = []
    monkeypatch.setattr(
        broadcast, "publish_ephemeral", lambda topic, event, data, told: about.append(told)
    )
    events.progress(events.Progress("abc", "diagnostic", 40, "", created_by_id=7, episode_id="e"))
    expected = {"resource_type": "job", "episode_id": "e", "summary": {"created_by_id": 7}}
    assert about == [expected, expected]


def test_a_relayed_event_is_published_as_the_child_published_it(published):
    events.event_relayed({"topic": "jobs", "event": "job_progress", "data": {"progress": 5}})
    assert published == [("jobs", "job_progress", {"progress": 5})]


def test_a_childs_committed_activity_is_announced(monkeypatch):
    announced = []
    monkeypatch.setattr(broadcast, "announce_activity", lambda: announced.append(True))
    events.activity_committed()
    assert announced == [True]


def test_with_no_listener_plugged_in_a_report_goes_nowhere(monkeypatch, published):
    monkeypatch.setattr(events, "_listeners", [])
    events.progress(events.Progress("abc", "diagnostic", 40, ""))
    events.activity_committed()
    events.event_relayed({"topic": "jobs", "event": "job_progress", "data": {}})
    assert published == []


def test_a_process_with_a_relay_sender_hands_its_events_over_instead_of_publishing():
    handed = []
    relay.set_sender(lambda kind, message: handed.append((kind, message)))
    try:
        broadcast.announce_activity()
        broadcast.publish_ephemeral("jobs", "job_progress", {"progress": 5})
    finally:
        relay.set_sender(None)
    assert handed == [
        (relay.ACTIVITY, None),
        (relay.EPHEMERAL, {"topic": "jobs", "event": "job_progress", "data": {"progress": 5}}),
    ]
