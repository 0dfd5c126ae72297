"""Prometheus metrics: what requests, sockets and jobs do to them, who may read them, and a
job worker serving them from a process of its own."""

import asyncio
import gc
import ipaddress
import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from prometheus_client.parser import text_string_to_metric_families

from activity.models import ActivityLog
from episode_metadata.asgi import application
from episode_metadata.common.context import ActivityContext, acting
from episode_metadata.common.http_handler import SyncRequestHandler
from episodes import services as episode_services
from jobs import execution, registry, services
from realtime import broadcast
from realtime.hub import stop_hub
from realtime.subscriber import MAX_QUEUED_FRAMES, Subscriber
from tests.service_database import ServiceDatabase
from tests.service_process import (
    Server,
    free_port,
    manage,
    manage_command,
    start_worker,
    stop,
    wait_until_listening,
)
from tests.test_realtime_ws import give_role
from tests.test_request_cycles import get_over_asgi

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: Client | None = None) -> Samples:
    response = (client or Client()).get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# HTTP requests


@pytest.mark.django_db
def test_a_request_is_counted_under_its_url_pattern_with_its_duration(api):
    episode = api.post("/api/v1/episodes/", {"title": "Pilot"}, format="json").json()
    before = scrape()

    assert api.get(f"/api/v1/episodes/{episode['id']}/").status_code == 200
    assert api.patch(f"/api/v1/episodes/{episode['id']}/", {"status": "x"}).status_code == 400
    after = scrape()

    route = "api/v1/episodes/<pk>/"
    requests = "episodes_http_requests_total"
    assert delta(before, after, requests, route=route, method="GET", status="200") == 1
    assert delta(before, after, requests, route=route, method="PATCH", status="400") == 1
    duration = "episodes_http_request_duration_seconds"
    assert delta(before, after, f"{duration}_count", route=route, method="GET") == 1
    assert delta(before, after, f"{duration}_bucket", route=route, method="GET", le="+Inf") == 1
    assert delta(before, after, f"{duration}_sum", route=route, method="GET") > 0
    # Label values are patterns, never paths: no id makes a series of its own.
    assert not any(episode["id"] in str(labels) for _, labels in after)


@pytest.mark.django_db(transaction=True)
def test_a_requests_time_counts_its_wait_for_a_thread(user, settings):
    """A request received while every thread of the process is busy waits for one: under
    load most of the time a client sees can go there, so the duration includes it, and the
    wait is counted apart too."""
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    _, token = AuthToken.objects.create(user=user)
    before = scrape()

    async def behind_a_busy_thread() -> int:
        threads = ThreadPoolExecutor(max_workers=1)
        asyncio.get_running_loop().set_default_executor(threads)
        try:
            busy = asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.5)
            status, _ = await get_over_asgi(SyncRequestHandler(), "/api/v1/episodes/", token)
            await busy
            return status
        finally:
            threads.shutdown()

    assert async_to_sync(behind_a_busy_thread)() == 200
    after = scrape()

    wait = "episodes_http_request_wait_seconds"
    assert delta(before, after, f"{wait}_count") == 1
    waited = delta(before, after, f"{wait}_sum")
    assert waited >= 0.4
    duration = "episodes_http_request_duration_seconds"
    labels = {"route": "api/v1/episodes/", "method": "GET"}
    assert delta(before, after, f"{duration}_sum", **labels) > waited
    assert delta(before, after, f"{duration}_bucket", **labels, le="0.25") == 0


@pytest.mark.django_db
def test_unknown_paths_and_methods_share_fixed_labels(anon):
    before = scrape()

    assert anon.get("/no/such/page").status_code == 404
    assert anon.get("/another/missing/page").status_code == 404
    assert anon.generic("BREW", "/ping").status_code == 405
    after = scrape()

    requests = "episodes_http_requests_total"
    assert delta(before, after, requests, route="unmatched", method="GET", status="404") == 2
    assert delta(before, after, requests, route="ping", method="other", status="405") == 1


# Who may read them


@pytest.mark.django_db
def test_only_allowed_addresses_or_the_token_may_read_the_metrics(settings):
    settings.METRICS_TOKEN = "scrape-token-7f3a"
    client = Client(REMOTE_ADDR="203.0.113.9")

    denied = client.get("/metrics")
    assert denied.status_code == 403
    assert denied.json() == {"detail": "You do not have permission to perform this action."}
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="scrape-token-7f3a").status_code == 403

    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-7f3a")
    assert allowed.status_code == 200
    assert b"episodes_http_requests_total" in allowed.content
    # Loopback is allowed by default, also as an IPv4 peer of a server listening on `::`.
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::ffff:127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200


@pytest.mark.django_db
def test_scrapes_over_plain_http_are_not_redirected_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True

    assert Client().get("/metrics").status_code == 200
    assert Client().get("/api/v1/episodes/").status_code == 301  # the API is


@pytest.mark.django_db
def test_prometheus_gets_the_openmetrics_format_it_asks_for():
    response = Client().get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.endswith(b"# EOF\n")


@pytest.mark.django_db
def test_without_a_token_configured_no_token_is_accepted(settings):
    settings.METRICS_TOKEN = ""
    client = Client(REMOTE_ADDR="203.0.113.9")

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.django_db
def test_the_allowed_networks_come_from_settings(settings):
    settings.METRICS_ALLOWED_ADDRESSES = [ipaddress.ip_network("10.20.0.0/16")]

    assert Client(REMOTE_ADDR="10.20.30.40").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.21.0.1").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


# The job queue, from the database


@pytest.mark.django_db
def test_the_job_queue_gauges_count_jobs_by_type_status_and_queue():
    diagnostic = registry.get("diagnostic")
    for max_attempts in (1, 2):  # one dies, one waits for its retry
        services.enqueue(diagnostic, {"fail_attempts": 1}, max_attempts=max_attempts)
        execution.run_claimed(services.claim(worker_id="metrics-test:1:0", queues=["default"]))
    services.enqueue(diagnostic, {})
    services.claim(worker_id="metrics-test:1:0", queues=["default"])  # left running
    now = timezone.now()
    services.enqueue(diagnostic, {}, run_after=now - timedelta(seconds=60))
    services.enqueue(diagnostic, {}, run_after=now + timedelta(hours=1))  # not due yet
    services.enqueue(diagnostic, {}, queue_name="exports")

    samples = scrape()

    jobs = "episodes_jobs"
    assert value(samples, jobs, job_type="diagnostic", status="pending") == 3
    assert value(samples, jobs, job_type="diagnostic", status="retry_scheduled") == 1
    assert value(samples, jobs, job_type="diagnostic", status="running") == 1
    assert value(samples, "episodes_jobs_dead", job_type="diagnostic") == 1
    # Registered types without jobs read 0 rather than nothing.
    assert ("episodes_jobs_dead", frozenset({("job_type", "episodes_export")})) in samples
    assert value(samples, "episodes_jobs_queue_depth", queue="default") == 1
    assert value(samples, "episodes_jobs_queue_depth", queue="exports") == 1
    oldest = value(samples, "episodes_jobs_oldest_due_age_seconds", queue="default")
    assert 60 <= oldest < 120


# WebSockets


@pytest.fixture
async def _stop_hub():
    yield
    await stop_hub()


@database_sync_to_async
def make_user(name: str):
    user = give_role(
        get_user_model().objects.create_user(username=name, password="pw-12345-long"), "approver"
    )
    return user, AuthToken.objects.create(user=user)[1]


@database_sync_to_async
def create_episode(user, title: str):
    with acting(ActivityContext(source="api", get_user=lambda: user)):
        return episode_services.create_episode(user=user, data={"title": title})


async def connect(token: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/events/?token={token}")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def receive(communicator: WebsocketCommunicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=3))


async def async_scrape() -> Samples:
    return await database_sync_to_async(scrape)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_stop_hub")
async def test_sockets_and_the_events_sent_to_them_are_counted():
    user, token = await make_user("watcher")
    before = await async_scrape()

    ws = await connect(token)
    await ws.send_json_to({"type": "subscribe", "topics": ["episodes"]})
    assert (await receive(ws))["event"] == "subscribed"
    await create_episode(user, "Live")
    assert (await receive(ws))["event"] == "episode_created"
    connected = await async_scrape()
    await ws.disconnect()
    after = await async_scrape()

    gauge = "episodes_websocket_connections"
    assert delta(before, connected, gauge) == 1
    assert delta(before, after, gauge) == 0
    sent = "episodes_websocket_events_sent_total"
    assert delta(before, connected, sent, family="episodes") == 1
    assert delta(before, connected, sent, family="control") == 1  # the subscribe ack


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_stop_hub")
async def test_replays_and_resyncs_are_counted():
    user, token = await make_user("resumer")
    for title in ("One", "Two", "Three"):
        await create_episode(user, title)
    first_id = await database_sync_to_async(
        lambda: ActivityLog.objects.order_by("id").values_list("id", flat=True)[0]
    )()
    before = await async_scrape()
    ws = await connect(token)

    await ws.send_json_to({"type": "subscribe", "topics": ["episodes"], "after": first_id})
    replayed = [await receive(ws), await receive(ws)]
    assert [frame["event"] for frame in replayed] == ["episode_created"] * 2
    assert (await receive(ws))["event"] == "subscribed"
    await ws.send_json_to({"type": "subscribe", "topics": ["jobs"], "after": 10**9})
    assert (await receive(ws))["event"] == "resync_required"
    assert (await receive(ws))["event"] == "subscribed"
    await ws.disconnect()
    after = await async_scrape()

    assert delta(before, after, "episodes_websocket_events_replayed_total") == 2
    assert delta(before, after, "episodes_websocket_resyncs_total") == 1


DROPPED = "episodes_websocket_events_dropped_total"


@pytest.mark.django_db
async def test_frames_for_a_client_too_slow_to_keep_up_are_counted_as_dropped():
    stuck = asyncio.Event()  # the client reads nothing: every write waits forever
    cut_off = asyncio.Event()

    async def send(frame: str) -> None:
        await stuck.wait()

    async def on_overflow() -> None:
        cut_off.set()

    before = await async_scrape()
    subscriber = Subscriber(send, on_overflow)
    for number in range(MAX_QUEUED_FRAMES + 2):
        subscriber.offer(f"frame {number}", "episodes")
    await asyncio.wait_for(cut_off.wait(), 3)
    await subscriber.close()
    after = await async_scrape()

    # Every frame but the one the stuck write held when the connection closed.
    assert delta(before, after, DROPPED, reason="overflow") == MAX_QUEUED_FRAMES + 1
    assert delta(before, after, "episodes_websocket_events_sent_total", family="episodes") == 0


@pytest.mark.django_db
async def test_frames_after_a_failed_write_are_counted_as_dropped():
    async def send(frame: str) -> None:
        raise ConnectionResetError("the peer went away")

    async def on_overflow() -> None:
        raise AssertionError("not an overflow")

    before = await async_scrape()
    subscriber = Subscriber(send, on_overflow)
    subscriber.offer("first", "jobs")
    await asyncio.sleep(0.05)  # the writer tries, and fails
    subscriber.offer("second", "jobs")
    await subscriber.close()
    after = await async_scrape()

    assert delta(before, after, DROPPED, reason="send_failed") == 2


UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }
}


@pytest.mark.django_db
def test_ephemeral_events_the_channel_layer_cannot_carry_are_counted_as_dropped(settings):
    settings.CHANNEL_LAYERS = UNREACHABLE_REDIS
    before = scrape()

    broadcast.publish_ephemeral("jobs", "job_progress", {"progress": 10})
    deadline = time.monotonic() + 5
    while not delta(before, scrape(), DROPPED, reason="publish_failed"):
        assert time.monotonic() < deadline, "the failed publish was not counted"
        time.sleep(0.05)
    broadcast.publish_ephemeral("jobs", "job_progress", {"progress": 20})  # paused: not sent
    after = scrape()

    assert delta(before, after, DROPPED, reason="publish_failed") == 2
    assert delta(before, after, "episodes_broadcast_failures_total") == 2


# Job workers, as real processes


@pytest.fixture
def service(tmp_path):
    database = ServiceDatabase(tmp_path / "var", JOBS_POLL_SECONDS="0.2")
    yield database
    database.drop()


ENQUEUE = """
from jobs import registry, services
diagnostic = registry.get("diagnostic")
dead = services.enqueue(diagnostic, {"fail_attempts": 1}, max_attempts=1)
retried = services.enqueue(diagnostic, {"fail_attempts": 1}, max_attempts=2)
print("JOBS", dead.pk, retried.pk)
"""


def fetch(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=5) as response:
        return parse(response.read().decode())


def wait_for_samples(url: str, check, timeout: float = 30) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        samples = fetch(url)
        if check(samples):
            return samples
        assert time.monotonic() < deadline, f"gave up waiting on {url}"
        time.sleep(0.1)


@pytest.mark.server
def test_a_worker_serves_its_attempts_and_the_queue_on_its_metrics_port(service):
    manage(service.env, "shell", "-c", ENQUEUE)
    port = free_port()
    worker = start_worker(service.env, "--concurrency", "1", "--metrics-port", str(port))
    url = f"http://127.0.0.1:{port}/metrics"
    diagnostic = {"job_type": "diagnostic"}
    try:
        wait_until_listening(port, worker)
        # The first attempt of the second job failed; its retry waits out a backoff of 2.5 s
        # at least, so the job waits for it, as the queue's gauge shows. One scrape reads the
        # database before the counters, so a retry that lands between the two shows in the
        # counter first: the gauge is waited for, not read once.
        wait_for_samples(
            url,
            lambda s: (
                value(s, "episodes_worker_job_retries_total", **diagnostic) == 1
                and value(s, "episodes_jobs", job_type="diagnostic", status="retry_scheduled") == 1
            ),
        )
        done = wait_for_samples(
            url, lambda s: value(s, "episodes_worker_job_completions_total", **diagnostic) == 1
        )
    finally:
        stop(worker)

    assert value(done, "episodes_jobs", job_type="diagnostic", status="retry_scheduled") == 0
    assert value(done, "episodes_worker_job_failures_total", **diagnostic) == 2
    assert value(done, "episodes_worker_job_retries_total", **diagnostic) == 1
    assert value(done, "episodes_worker_job_dead_letters_total", **diagnostic) == 1
    assert value(done, "episodes_worker_job_run_seconds_count", **diagnostic) == 3
    assert value(done, "episodes_jobs_dead", **diagnostic) == 1
    assert value(done, "episodes_jobs_queue_depth", queue="default") == 0


@pytest.mark.server
def test_the_worker_inside_the_server_reports_on_the_servers_metrics(service):
    server = Server(service.env, command=manage_command("serve", "--concurrency", "1")).start()
    try:
        manage(service.env, "shell", "-c", ENQUEUE)
        samples = wait_for_samples(
            f"{server.http}/metrics",
            lambda s: value(s, "episodes_worker_job_dead_letters_total", job_type="diagnostic"),
        )
    finally:
        server.stop()

    assert value(samples, "episodes_worker_job_dead_letters_total", job_type="diagnostic") == 1
    assert value(samples, "episodes_jobs_dead", job_type="diagnostic") == 1


@pytest.mark.django_db
def test_each_garbage_collection_is_timed_by_generation():
    before = _gc_runs()
    gc.collect(1)
    gc.collect(2)
    after = _gc_runs()

    assert after["1"] >= before["1"] + 1
    assert after["2"] >= before["2"] + 1


def _gc_runs() -> dict[str, float]:
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    (family,) = [
        f for f in text_string_to_metric_families(text) if f.name == "episodes_gc_pause_seconds"
    ]
    return {s.labels["generation"]: s.value for s in family.samples if s.name.endswith("_count")}
