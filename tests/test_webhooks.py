"""Outgoing webhooks end to end: endpoints registered over the API, deliveries made from the
activity log and sent by the job worker to a real HTTP receiver on this machine, signed as
the Standard Webhooks specification says."""

import http.server
import re
import signal
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from activity.models import ActivityLog, Notification
from activity.notifications import services as notifications
from jobs import execution, registry
from jobs import services as job_services
from realtime.webhooks import addresses, services, signing
from realtime.webhooks.dispatcher import Dispatcher
from realtime.webhooks.models import (
    DeliveryStatus,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.service_database import ServiceDatabase
from tests.service_process import manage, start_worker, stop
from tests.test_openapi_schema import conforms
from tests.test_periodic import run_declared

pytestmark = pytest.mark.django_db
WEBHOOKS = "/api/v1/webhooks/"
WORKER = "test-host:1:0"
DOC = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"


@dataclass(frozen=True)
class Received:
    at: float
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server on a thread that answers POSTs with the statuses it is given, in turn
    (200 once they run out), and records what it got. "hang" holds the request open until
    `release` is set."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler] | None = None) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int | str] = []
        self.release = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler or _Recording)
        self.server.daemon_threads = True
        self.server.receiver = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks?team=1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class _Recording(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers["Content-Length"]))
        receiver.requests.append(Received(time.monotonic(), dict(self.headers), body))
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        if status == "hang":
            receiver.release.wait(30)
            return
        self.send_response(status)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"broken" if status >= 300 else b"thanks")

    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def allow_private(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture
def fast_backoff(settings, monkeypatch):
    """Retries after 0.1-0.2 s, then 0.2-0.4 s, as the settings would have it at start-up."""
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 0.2
    settings.WEBHOOKS_BACKOFF_CAP_SECONDS = 0.4
    declared = registry.get(services.JOB_TYPE)
    monkeypatch.setitem(
        registry._by_name,
        services.JOB_TYPE,
        replace(declared, backoff_base=0.2, backoff_cap=0.4),
    )


def register(staff_api, url: str, event_types: list[str]) -> dict:
    response = staff_api.post(WEBHOOKS, {"url": url, "event_types": event_types}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def create_episode(staff_api, title: str = "Pilot") -> str:
    response = staff_api.post("/api/v1/episodes/", {"title": title}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def run_jobs_until(done, timeout: float = 15) -> None:
    """The job worker's own loop, on this thread: claim the next due job and run it."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the jobs did not finish in time"
        job = job_services.claim(worker_id=WORKER, queues=["default"])
        if job is None:
            time.sleep(0.02)
            continue
        execution.run_claimed(job)


def delivered(delivery_id):
    return lambda: WebhookDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.DELIVERED


def only_delivery(endpoint_id) -> WebhookDelivery:
    (delivery,) = WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
    return delivery


def doc_receiver() -> dict:
    """The receiver docs/webhooks.md shows, as its reader would run it."""
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    namespace = {"__name__": "webhook_receiver"}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own document
    return namespace


def test_signatures_match_the_specification_test_vector():
    sent_at = datetime.fromtimestamp(1614265330, tz=UTC)
    headers = signing.headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        sent_at,
        b'{"test": 2432232314}',
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(Webhook(secret)._whsecret) == 32


def test_each_matched_event_reaches_the_documented_receiver_once_signed(staff_api, allow_private):
    example = doc_receiver()
    heard: list[dict] = []
    example["handle"] = heard.append
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), example["Receiver"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        endpoint = register(staff_api, url, ["episode_created"])
        example["SECRET"] = endpoint["secret"]
        episode_id = create_episode(staff_api)
        staff_api.patch(f"/api/v1/episodes/{episode_id}/", {"title": "Renamed"}, format="json")
        services.dispatch_pending()
        services.dispatch_pending()  # read again: nothing is dispatched twice
        delivery = only_delivery(endpoint["id"])
        run_jobs_until(delivered(delivery.pk))
    finally:
        server.shutdown()
        server.server_close()

    (event,) = heard  # the update was not asked for
    assert event["type"] == "episode_created"
    assert event["data"]["resource_id"] == episode_id
    assert event["data"]["episode"]["title"] == "Pilot"
    assert example["handled"] == {str(delivery.pk)}
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code, delivery.last_error) == (1, 204, "")
    assert delivery.duration_ms is not None and delivery.delivered_at is not None

    listed = staff_api.get(f"{WEBHOOKS}{endpoint['id']}/deliveries/", {"status": "delivered"})
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [str(delivery.pk)]
    assert (
        staff_api.get(f"{WEBHOOKS}{endpoint['id']}/deliveries/", {"status": "dead"}).json()[
            "results"
        ]
        == []
    )


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_makes_deliveries_as_soon_as_activity_commits(staff_api, allow_private):
    dispatcher = Dispatcher(poll_seconds=60)  # no poll comes round: the commit wakes it
    dispatcher.start()
    try:
        endpoint = register(staff_api, "http://127.0.0.1:9/", ["episode_created"])
        episode_id = create_episode(staff_api)
        deadline = time.monotonic() + 5
        while not WebhookDelivery.objects.exists():
            assert time.monotonic() < deadline, "no delivery was made"
            time.sleep(0.02)
    finally:
        dispatcher.stop()
    delivery = only_delivery(endpoint["id"])
    assert delivery.payload["resource_id"] == episode_id
    assert delivery.job is not None and delivery.job.job_type == services.JOB_TYPE


def test_a_pass_with_no_endpoints_moves_the_cursor_in_a_few_queries(
    staff_api, django_assert_num_queries
):
    create_episode(staff_api)
    services.dispatch_pending()  # the cursor exists from here on
    create_episode(staff_api, "Sequel")

    # Whether there is news after the cursor, and the cursor moved to the newest activity
    # unless an endpoint is active: no transaction, no lock.
    with django_assert_num_queries(2):
        services.dispatch_pending()

    newest = ActivityLog.objects.order_by("-id").values_list("id", flat=True).first()
    assert WebhookCursor.objects.get(pk=1).last_activity_id == newest
    with django_assert_num_queries(1):  # no news: nothing more
        services.dispatch_pending()


def test_a_delivery_s_payload_has_the_shape_the_schema_gives(staff_api, allow_private):
    endpoint = register(staff_api, "http://127.0.0.1:9/", ["episode_updated"])
    episode_id = create_episode(staff_api)
    renamed = staff_api.patch(f"/api/v1/episodes/{episode_id}/", {"title": "Renamed"})
    assert renamed.status_code == 200, renamed.content
    services.dispatch_pending()
    schema = schemathesis.openapi.from_dict(staff_api.get("/api/schema/?format=json").json())

    response = staff_api.get(f"{WEBHOOKS}{endpoint['id']}/deliveries/")

    conforms(schema, response, "/webhooks/{id}/deliveries/")
    (delivery,) = response.json()["results"]
    assert delivery["payload"]["changes"]["title"] == ["Pilot", "Renamed"]
    shape = schema.raw_schema["components"]["schemas"]["WebhookEventData"]
    assert {"action", "resource_type", "actor", "source", "field_changes"} <= set(shape["required"])


def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_try(
    staff_api, receiver, allow_private, fast_backoff
):
    receiver.statuses = [500, 502, 503]
    endpoint = register(staff_api, receiver.url, ["episode_created"])
    create_episode(staff_api)
    services.dispatch_pending()
    delivery = only_delivery(endpoint["id"])

    run_jobs_until(lambda: len(receiver.requests) == 1)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert (delivery.response_code, delivery.last_error) == (500, "HTTP 500: broken")
    run_jobs_until(delivered(delivery.pk))

    assert len(receiver.requests) == 4
    assert {r.headers["webhook-id"] for r in receiver.requests} == {str(delivery.pk)}
    assert len({r.body for r in receiver.requests}) == 1
    waits = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    # Equal jitter: each wait is at least half its step (0.2, 0.4, 0.4 s capped).
    assert waits[0] >= 0.1 and waits[1] >= 0.2 and waits[2] >= 0.2
    for request in receiver.requests:
        Webhook(endpoint["secret"]).verify(request.body, request.headers)
        assert request.headers["User-Agent"].startswith("episode-metadata-webhooks/")
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code, delivery.last_error) == (4, 200, "")


def test_a_dead_delivery_is_completed_by_redelivery(
    staff_api, receiver, allow_private, fast_backoff, settings
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    receiver.statuses = [503, 503]
    endpoint = register(staff_api, receiver.url, ["episode_created"])
    create_episode(staff_api)
    services.dispatch_pending()
    delivery = only_delivery(endpoint["id"])
    run_jobs_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "dead")
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code) == (2, 503)

    path = f"{WEBHOOKS}{endpoint['id']}/deliveries/{delivery.pk}/redeliver/"
    answer = staff_api.post(path)
    assert answer.status_code == 202, answer.content
    assert answer.json()["status"] == "pending"
    assert staff_api.post(path).status_code == 409  # being sent already
    run_jobs_until(delivered(delivery.pk))

    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(delivery.pk)] * 3
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code) == (3, 200)
    assert staff_api.get(f"{WEBHOOKS}{endpoint['id']}/").json()["consecutive_dead"] == 0


def test_a_delivery_whose_job_ended_without_a_word_can_be_redelivered(staff_api, allow_private):
    endpoint = register(staff_api, "http://127.0.0.1:9/", ["episode_created"])
    create_episode(staff_api)
    services.dispatch_pending()
    delivery = only_delivery(endpoint["id"])
    with pytest.raises(services.DeliveryStateError):
        services.redeliver(delivery)
    job_services.cancel(delivery.job)  # or its worker died on the last attempt

    again = services.redeliver(delivery)
    assert again.status == DeliveryStatus.PENDING and again.job_id != delivery.job_id


def test_repeated_dead_deliveries_disable_the_endpoint_and_tell_staff(
    staff_api, staff_user, user, receiver, allow_private, settings
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    settings.WEBHOOKS_DISABLE_AFTER_DEAD = 2
    receiver.statuses = [500] * 10
    endpoint = register(staff_api, receiver.url, ["episode_created"])
    notifications.deliver_pending()  # the registration's own activity is not news
    for title in ("One", "Two"):
        create_episode(staff_api, title)
    services.dispatch_pending()
    run_jobs_until(lambda: not WebhookEndpoint.objects.get(pk=endpoint["id"]).is_active)

    shown = staff_api.get(f"{WEBHOOKS}{endpoint['id']}/").json()
    assert shown["is_active"] is False
    assert shown["disabled_reason"] == "2 deliveries in a row failed"
    notifications.deliver_pending()
    (notice,) = Notification.objects.filter(type="webhook_disabled")
    assert notice.recipient == staff_user and notice.priority == "high"
    assert receiver.url in notice.title

    create_episode(staff_api, "Three")  # a disabled endpoint gets nothing
    services.dispatch_pending()
    assert WebhookDelivery.objects.filter(endpoint_id=endpoint["id"]).count() == 2
    turned_on = staff_api.patch(f"{WEBHOOKS}{endpoint['id']}/", {"is_active": True}, format="json")
    assert turned_on.json()["consecutive_dead"] == 0 and turned_on.json()["disabled_reason"] == ""


def test_private_addresses_are_refused_unless_allowed(staff_api, settings, monkeypatch):
    resolved = {"hooks.example.com": ["93.184.215.14"]}
    monkeypatch.setattr(addresses, "resolve", lambda host, port: resolved[host])

    def refusal(found: list[str]) -> list[str] | None:
        resolved["hooks.example.com"] = found
        body = {"url": "https://hooks.example.com/in", "event_types": ["episode_created"]}
        response = staff_api.post(WEBHOOKS, body, format="json")
        if response.status_code == 201:
            return None
        assert response.status_code == 400, response.content
        return response.json()["url"]

    for inward in (
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["169.254.169.254"],
        ["93.184.215.14", "192.168.0.10"],  # any one of them
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["fe80::1"],
        ["224.0.0.1"],
        ["0.0.0.0"],  # noqa: S104 - an address under test, nothing listens on it
    ):
        assert "not a public address" in refusal(inward)[0], inward
    assert refusal(["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]) is None
    bad_scheme = staff_api.post(
        WEBHOOKS, {"url": "ftp://hooks.example.com/", "event_types": ["episode_created"]}
    )
    assert bad_scheme.status_code == 400 and "url" in bad_scheme.json()
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert refusal(["10.1.2.3"]) is None


def test_a_host_that_later_resolves_inward_is_refused_at_delivery(
    staff_api, receiver, settings, monkeypatch
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    resolved = ["93.184.215.14"]
    monkeypatch.setattr(addresses, "resolve", lambda host, port: resolved)
    port = receiver.url.split(":")[2].split("/")[0]
    endpoint = register(staff_api, f"http://hooks.example.com:{port}/", ["episode_created"])
    resolved[:] = ["127.0.0.1"]  # where the receiver is
    create_episode(staff_api)
    services.dispatch_pending()
    delivery = only_delivery(endpoint["id"])
    run_jobs_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "dead")

    delivery.refresh_from_db()
    assert "resolves to 127.0.0.1, which is not a public address" in delivery.last_error
    assert receiver.requests == []
    # Allowed, the request goes to the address that was checked, naming the host.
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    services.redeliver(delivery)
    run_jobs_until(delivered(delivery.pk))
    assert receiver.requests[0].headers["Host"] == f"hooks.example.com:{port}"


def test_event_types_are_checked_against_the_live_events(staff_api, allow_private):
    body = {"url": "http://127.0.0.1:9/", "event_types": ["episode_created", "episode_eaten"]}
    response = staff_api.post(WEBHOOKS, body, format="json")
    assert response.status_code == 400
    assert response.json()["event_types"] == {"1": ['"episode_eaten" is not a valid choice.']}
    assert staff_api.post(WEBHOOKS, {**body, "event_types": []}, format="json").status_code == 400


def test_only_staff_see_and_change_webhooks(api, anon, staff_api, allow_private):
    endpoint = register(staff_api, "http://127.0.0.1:9/", ["job_failed"])
    body = {"url": "http://127.0.0.1:9/", "event_types": ["job_failed"]}
    assert anon.get(WEBHOOKS).status_code == 401
    assert api.get(WEBHOOKS).status_code == 403
    assert api.post(WEBHOOKS, body, format="json").status_code == 403
    assert api.get(f"{WEBHOOKS}{endpoint['id']}/").status_code == 403
    assert api.get(f"{WEBHOOKS}{endpoint['id']}/deliveries/").status_code == 403
    assert api.post(f"{WEBHOOKS}{endpoint['id']}/rotate-secret/").status_code == 403

    rotated = staff_api.post(f"{WEBHOOKS}{endpoint['id']}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] != endpoint["secret"]
    # The delivery job is the service's own: no client enqueues it, and none is offered it.
    job = api.post(
        "/api/v1/jobs/",
        {"job_type": services.JOB_TYPE, "payload": {"delivery_id": endpoint["id"]}},
        format="json",
    )
    assert job.status_code == 400
    (message,) = job.json()["job_type"]
    assert message.startswith(f'Unknown job type "{services.JOB_TYPE}"')
    assert services.JOB_TYPE not in message.partition("Valid types:")[2]
    offered = staff_api.get("/api/v1/job-types/", {"page_size": 100}).json()["results"]
    assert services.JOB_TYPE not in {row["name"] for row in offered}


def test_old_finished_deliveries_are_purged(staff_api, allow_private, settings):
    endpoint = register(staff_api, "http://127.0.0.1:9/", ["episode_created"])
    create_episode(staff_api)
    create_episode(staff_api, "Second")
    services.dispatch_pending()
    old, recent = WebhookDelivery.objects.filter(endpoint_id=endpoint["id"]).order_by("created_at")
    WebhookDelivery.objects.filter(pk=old.pk).update(
        status="delivered", delivered_at=old.created_at
    )
    later = timezone.now() + timedelta(days=settings.WEBHOOKS_RETENTION_DAYS, seconds=1)
    assert services.purge_old_deliveries(now=later) == 1  # the pending one is kept
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]


@pytest.mark.server
def test_killing_the_worker_mid_delivery_loses_nothing(tmp_path, receiver):
    receiver.statuses = ["hang"]
    service = ServiceDatabase(
        tmp_path / "var",
        JOBS_LEASE_SECONDS="2",
        JOBS_POLL_SECONDS="0.2",
        WEBHOOKS_ALLOW_PRIVATE="1",
        WEBHOOKS_BACKOFF_BASE_SECONDS="0.2",
    )
    code = (
        "from realtime.webhooks import services\n"
        "from episodes.models import Episode\n"
        f"endpoint = services.create_endpoint(url={receiver.url!r}, event_types=['episode_created'])\n"
        "Episode.objects.create(title='Pilot')\n"
        "services.dispatch_pending()\n"
        "print('SECRET', endpoint.secret)\n"
    )
    try:
        output = manage(service.env, "shell", "-c", code)
        secret = next(line.split()[1] for line in output.splitlines() if line.startswith("SECRET"))
        doomed = start_worker(service.env, "--concurrency", "1", quiet=True)
        try:
            service.wait_for(lambda: receiver.requests, what="the first attempt")
        finally:
            stop(doomed, signal.SIGKILL)  # the supervisor and the child sending it, at once
        receiver.release.set()
        rescuer = start_worker(service.env, "--concurrency", "1", quiet=True)
        try:
            service.wait_for(
                lambda: (
                    service.rows("SELECT status FROM realtime_webhookdelivery") == [("delivered",)]
                ),
                timeout=40,
                what="the redelivery",
            )
        finally:
            stop(rescuer)
        (errors,) = service.rows("SELECT errors FROM jobs_job")[0]
    finally:
        service.drop()

    assert "WorkerLost" in str(errors)  # the second attempt is the lost one's recovery
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    Webhook(secret).verify(second.body, second.headers)


def test_staff_register_rotate_and_redeliver_in_the_admin(client, staff_user, allow_private):
    client.force_login(staff_user)
    added = client.post(
        "/admin/realtime/webhookendpoint/add/",
        {"url": "http://127.0.0.1:9/in", "event_types": ["episode_created"], "is_active": "on"},
    )
    assert added.status_code == 302, added.content.decode()[-2000:]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.created_by == staff_user and endpoint.secret.startswith("whsec_")
    page = client.get(f"/admin/realtime/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret in page

    client.post(
        "/admin/realtime/webhookendpoint/",
        {"action": "rotate_secrets", "_selected_action": [str(endpoint.pk)]},
    )
    assert WebhookEndpoint.objects.get().secret != endpoint.secret

    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        activity_id=1,
        event_type="episode_created",
        event_timestamp=timezone.now(),
        status=DeliveryStatus.DEAD,
    )
    assert client.get("/admin/realtime/webhookdelivery/?status__exact=dead").status_code == 200
    client.post(
        "/admin/realtime/webhookdelivery/",
        {"action": "redeliver_selected", "_selected_action": [str(delivery.pk)]},
    )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.job is not None

    refused = client.post(
        "/admin/realtime/webhookendpoint/add/",
        {"url": "http://127.0.0.1:9/in", "event_types": ["episode_eaten"]},
    )
    assert refused.status_code == 200 and "episode_eaten" in refused.content.decode()


def test_the_daily_housekeeping_purges_old_finished_deliveries(staff_api, allow_private):
    endpoint = register(staff_api, "http://127.0.0.1:9/", ["episode_created"])
    create_episode(staff_api)
    create_episode(staff_api, "Second")
    services.dispatch_pending()
    old, recent = WebhookDelivery.objects.filter(endpoint_id=endpoint["id"]).order_by("created_at")
    month_ago = timezone.now() - timedelta(days=31)
    WebhookDelivery.objects.filter(pk=old.pk).update(
        status="delivered", created_at=month_ago, delivered_at=month_ago
    )

    assert run_declared("old_webhook_deliveries").last_count == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]
