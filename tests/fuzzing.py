"""The running service the fuzz suite aims Schemathesis at, with records to reach.

Random ids name nothing, so a fuzzer left alone meets mostly 404s. The service is seeded
over its own API, as a client would, with episodes, image files, compositions, a job and
notifications; their ids go into Schemathesis dictionaries bound to the path parameters and
body fields that name them, and the stateful run adds what it creates itself through the
schema's links. Deleting operations get records of their own, so that the records the other
operations work on outlive the deletes.
"""

import hashlib
import io
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
import schemathesis
from PIL import Image
from schemathesis import engine
from schemathesis.engine import Status, events

from episode_metadata.common.idempotency.views import KEY_PATTERN
from tests.service_database import ServiceDatabase
from tests.service_process import Server, create_tokens, manage, start_worker, stop

API = "/api/v1"
# The plain user's, drawn for logins now and then so that some of them succeed.
PASSWORD = "fuzz-correct-horse"
# Cases run per role and operation, and how many of them succeeded: printed at the end.
CASES: Counter[tuple[str, str]] = Counter()
ANSWERED: Counter[tuple[str, str]] = Counter()
# Answers with a 5xx status, per role and operation: the suite's purpose is that there are none.
SERVER_ERRORS: Counter[tuple[str, str]] = Counter()

# Whether a request is valid can depend on what is stored, which no schema can say: a
# referenced episode or file must exist and be live, an episode number must be free, a
# composition's status must allow the step, an upload's bytes must be what it says. These
# answer such a request with a 400 naming the field; every other operation must take what
# its schema allows.
STATEFUL_VALIDITY = [
    ("POST", f"{API}/compositions/"),
    ("PUT|PATCH", f"{API}/compositions/{{id}}/"),
    ("POST", f"{API}/compositions/{{id}}/(revert|approve|publish|render|make-primary)/"),
    ("POST", f"{API}/episodes/"),
    ("PUT|PATCH", f"{API}/episodes/{{id}}/"),
    ("POST", f"{API}/episodes/{{id}}/restore/"),
    ("POST", f"{API}/episodes/{{id}}/files/"),
    ("POST", f"{API}/jobs/"),
    ("POST", f"{API}/notifications/"),
    # A webhook's URL must resolve, to public addresses unless allowed: up to the DNS.
    ("POST", f"{API}/webhooks/"),
    ("PUT|PATCH", f"{API}/webhooks/{{id}}/"),
    # A cursor is valid only as the service handed it out, in a `next` or `previous` link.
    ("GET", f"{API}/(activities|notifications|episodes/{{id}}/activity)/"),
]
# 412: an If-Match the schema allows names a version the record may not be at.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]
# A byte range is satisfiable only within the file's size, which the schema cannot know.
RANGES = [("GET", f"{API}/episodes/{{id}}/files/{{file_id}}/download/")]
IDEMPOTENCY_KEY = "Idempotency-Key"
_VALID_KEY = re.compile(KEY_PATTERN)


@dataclass
class Seeded:
    """Ids of the records the fuzzer works on; the `doomed` ones are for deleting."""

    episodes: list[str] = field(default_factory=list)
    doomed_episodes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    doomed_files: list[str] = field(default_factory=list)
    compositions: list[str] = field(default_factory=list)
    doomed_compositions: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    notifications: dict[str, list[int]] = field(default_factory=dict)
    activities: list[int] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)
    doomed_webhooks: list[str] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (220, 20, 20)).save(buffer, "PNG")
    return buffer.getvalue()


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def send(self, method: str, path: str, expect: int, **kwargs) -> dict | list:
        response = self.session.request(method, f"{self.base}{API}{path}", timeout=30, **kwargs)
        assert response.status_code == expect, (method, path, response.text)
        return response.json()


class FuzzService:
    """One server process (`manage.py serve --no-worker`) on a database of its own, seeded."""

    def __init__(self, var_dir: Path) -> None:
        # Its own Redis keys: the failed logins it makes throttle no other test's logins.
        prefix = f"fuzz-{uuid.uuid4().hex[:8]}"
        # Webhooks to this machine are allowed: the seeded endpoint is on it.
        self.database = ServiceDatabase(
            var_dir, LOG_FORMAT="text", REDIS_PREFIX=prefix, WEBHOOKS_ALLOW_PRIVATE="1"
        )
        try:
            self._start()
        except BaseException:
            self.database.drop()
            raise
        self.seeded = Seeded()

    def _start(self) -> None:
        env = self.database.env
        users = "from django.contrib.auth import get_user_model as users\n"
        users += f"users().objects.create_user('fuzz-editor', password={PASSWORD!r})\n"
        users += "users().objects.create_user('fuzz-producer', is_staff=True)\n"
        users += "users().objects.create_user('fuzz-announcer', is_staff=True)\n"
        manage(env, "shell", "-c", users)
        holders = {
            "user": "fuzz-editor",
            "staff": "fuzz-producer",
            # Logging out revokes the token it is sent with: it gets one nothing else uses.
            "logout": "fuzz-editor",
            # Announcements reach everyone but their sender.
            "announcer": "fuzz-announcer",
        }
        tokens = create_tokens(env, *((name, "approver") for name in holders.values()))
        self.tokens = dict(zip(holders, tokens, strict=True))
        self.server = Server(env).start()

    def client(self, role: str) -> Client:
        return Client(self.server.http, self.tokens[role])

    def seed(self) -> Seeded:
        user, announcer = self.client("user"), self.client("announcer")
        seeded = self.seeded
        # Before the episodes, whose creation the server's dispatcher makes deliveries of.
        self._seed_webhooks()
        for number in range(1, 7):
            episode = user.send(
                "POST",
                "/episodes/",
                201,
                json={"title": f"Episode {number}", "episode_number": number},
            )
            (seeded.episodes if number <= 3 else seeded.doomed_episodes).append(episode["id"])
            for kept in (True, False):
                upload = user.send(
                    "POST",
                    f"/episodes/{episode['id']}/files/",
                    201,
                    files={"file": ("still.png", png(), "image/png")},
                )
                (seeded.files if kept else seeded.doomed_files).append(upload["id"])
        for index, episode_id in enumerate(seeded.episodes * 2):
            composition = user.send(
                "POST",
                "/compositions/",
                201,
                json={
                    "episode": episode_id,
                    "name": f"Thumbnail {index}",
                    "layout": "single",
                    "assets": [seeded.files[index % 3]],
                    "formats": ["youtube"],
                },
            )
            kept = index < 3
            (seeded.compositions if kept else seeded.doomed_compositions).append(composition["id"])
        seeded.jobs = [self._finished_export(user)]
        job = user.send("POST", "/jobs/", 201, json={"job_type": "diagnostic", "payload": {}})
        seeded.jobs.append(job["id"])
        for number in range(4):
            announcer.send("POST", "/notifications/", 201, json={"title": f"Notice {number}"})
        for role in ("user", "staff"):
            listed = self.client(role).send("GET", "/notifications/", 200)
            seeded.notifications[role] = [entry["id"] for entry in listed["results"]]
        seeded.activities = [
            entry["id"] for entry in user.send("GET", "/activities/", 200)["results"]
        ]
        seeded.deliveries = self.database.wait_for(
            lambda: self._deliveries(seeded.webhooks[0]), what="webhook deliveries"
        )
        return seeded

    def _seed_webhooks(self) -> None:
        staff = self.client("staff")
        body = {"url": "http://127.0.0.1:9/hooks", "event_types": ["episode_created"]}
        for kept in (True, False):
            endpoint = staff.send("POST", "/webhooks/", 201, json=body)
            (self.seeded.webhooks if kept else self.seeded.doomed_webhooks).append(endpoint["id"])

    def _deliveries(self, endpoint_id: str) -> list[str]:
        listed = self.client("staff").send("GET", f"/webhooks/{endpoint_id}/deliveries/", 200)
        return [delivery["id"] for delivery in listed["results"]]

    def _finished_export(self, user: Client) -> str:
        """An export job run to the end by a worker, so that its files can be downloaded."""
        job = user.send("POST", "/jobs/", 201, json={"job_type": "episodes_export"})
        worker = start_worker(self.database.env, quiet=True)
        try:
            self.database.wait_for(
                lambda: user.send("GET", f"/jobs/{job['id']}/", 200)["status"] == "completed",
                timeout=60,
                what="the export job",
            )
        finally:
            stop(worker)
        return job["id"]

    def stop(self) -> None:
        self.server.stop()
        self.database.drop()

    def schema(self, role: str, max_examples: int) -> schemathesis.BaseSchema:
        config = schemathesis.Config.from_dict(self.config(role, max_examples))
        schema = schemathesis.openapi.from_url(
            f"{self.server.http}/api/schema/?format=json",
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            config=config,
        )
        schema.hook("map_case")(key_per_request)
        return schema

    def config(self, role: str, max_examples: int) -> dict:
        seeded = self.seeded
        notifications = seeded.notifications[role]
        dictionaries = {
            "episodes": seeded.episodes,
            "doomed_episodes": seeded.doomed_episodes,
            "files": seeded.files,
            "doomed_files": seeded.doomed_files,
            "compositions": seeded.compositions,
            "doomed_compositions": seeded.doomed_compositions,
            "jobs": seeded.jobs,
            "file_formats": ["json", "csv"],
            "usernames": ["fuzz-editor"],
            "passwords": [PASSWORD],
            "notifications": notifications[: len(notifications) // 2],
            "doomed_notifications": notifications[len(notifications) // 2 :],
            "activities": seeded.activities,
            "webhooks": seeded.webhooks,
            "doomed_webhooks": seeded.doomed_webhooks,
            "deliveries": seeded.deliveries,
        }
        return {
            "headers": {"Authorization": f"Bearer {self.tokens[role]}"},
            "dictionaries": {name: {"values": values} for name, values in dictionaries.items()},
            # The same cases on every run, so that a failure in CI can be replayed.
            "seed": 20261206,
            "generation": {
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",
                # The JSON parser refuses a NUL character anywhere in a body, in the keys and
                # values a schema leaves open too, which OpenAPI 3.0 has no way to say; the
                # schema's own strings say it with a pattern.
                "allow-x00": False,
            },
            "workers": 2,
            # Nothing carried over from an earlier run: each run is the same run.
            "cache": {"enabled": False},
            # A failure's curl line carries the (throwaway) token it needs to be replayed.
            "output": {"sanitization": {"enabled": False}},
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
            "operations": [*self._bindings(), *self._logout(), *self._stateful_validity()],
        }

    def _logout(self) -> list[dict]:
        logout = {"Authorization": f"Bearer {self.tokens['logout']}"}
        return [{**only("POST", f"{API}/auth/logout"), "headers": logout}]

    def _stateful_validity(self) -> list[dict]:
        def accepting(status: str, operations: list[tuple[str, str]]) -> list[dict]:
            checks = {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, status]}}
            return [{**only(methods, path), "checks": checks} for methods, path in operations]

        return [*accepting("400", STATEFUL_VALIDITY), *accepting("416", RANGES)]

    def _bindings(self) -> list[dict]:
        """Which dictionary each id-naming parameter draws from, most of the time."""

        def bind(methods: str, path: str, **names: str) -> dict:
            chosen = {
                name: {"dictionary": value, "probability": 0.8} for name, value in names.items()
            }
            return {**only(methods, path), "parameters": chosen}

        keep = "GET|PUT|PATCH|POST"
        return [
            bind(keep, f"{API}/episodes/{{id}}/.*", **{"path.id": "episodes"}),
            bind("DELETE", f"{API}/episodes/{{id}}/", **{"path.id": "doomed_episodes"}),
            bind(
                keep,
                f"{API}/episodes/{{id}}/files/{{file_id}}/.*",
                **{"path.id": "episodes", "path.file_id": "files"},
            ),
            bind(
                "DELETE",
                f"{API}/episodes/{{id}}/files/{{file_id}}/",
                **{"path.id": "episodes", "path.file_id": "doomed_files"},
            ),
            bind("DELETE", f"{API}/episodes/{{id}}/follow/", **{"path.id": "episodes"}),
            bind(keep, f"{API}/compositions/{{id}}/.*", **{"path.id": "compositions"}),
            bind("DELETE", f"{API}/compositions/{{id}}/", **{"path.id": "doomed_compositions"}),
            bind("POST", f"{API}/jobs/", **{"body.episode": "episodes"}),
            bind(
                "POST|PUT|PATCH",
                f"{API}/compositions/({{id}}/)?",
                **{"body.episode": "episodes", "body.assets[*]": "files"},
            ),
            bind(keep, f"{API}/jobs/{{id}}/((cancel|retry)/)?", **{"path.id": "jobs"}),
            bind(
                "GET",
                f"{API}/jobs/{{id}}/files/{{file_format}}/",
                **{"path.id": "jobs", "path.file_format": "file_formats"},
            ),
            bind(keep, f"{API}/notifications/{{id}}/.*", **{"path.id": "notifications"}),
            bind("DELETE", f"{API}/notifications/{{id}}/", **{"path.id": "doomed_notifications"}),
            bind("GET", f"{API}/activities/{{id}}/", **{"path.id": "activities"}),
            bind(keep, f"{API}/webhooks/{{id}}/.*", **{"path.id": "webhooks"}),
            bind("DELETE", f"{API}/webhooks/{{id}}/", **{"path.id": "doomed_webhooks"}),
            bind(
                keep,
                f"{API}/webhooks/{{id}}/deliveries/{{delivery_id}}/.*",
                **{"path.id": "webhooks", "path.delivery_id": "deliveries"},
            ),
            bind(
                "POST",
                f"{API}/auth/login",
                **{"body.username": "usernames", "body.password": "passwords"},
            ),
        ]


def key_per_request(context, case):
    """The key drawn for a create is mostly the same few characters, whatever the body, and
    the service answers such a reuse with a 422, creating nothing: a valid key gets a suffix
    drawn from the request, so that another request has another key and creates (reuse is
    tests/test_idempotency.py's). An invalid key stays, for the cases that must be refused."""
    key = (case.headers or {}).get(IDEMPOTENCY_KEY)
    if key is not None and _VALID_KEY.fullmatch(key):
        request = repr((case.path_parameters, case.query, case.body)).encode()
        case.headers[IDEMPOTENCY_KEY] = f"{key[:200]}-{hashlib.sha256(request).hexdigest()[:16]}"
    return case


def only(methods: str, path: str) -> dict:
    """The operations of these methods on paths matching this pattern, and no others."""
    return {"include-name-regex": f"^({methods}) {path}$"}


@dataclass
class Outcome:
    """What a run found: every failed check and engine error, with how to reproduce it."""

    failures: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)
    phases: set[str] = field(default_factory=set)

    def record(self, role: str, recorder) -> None:
        for case_id, node in recorder.cases.items():
            operation = node.value.operation.label
            self.operations.add(operation)
            CASES[role, operation] += 1
            response = getattr(recorder.interactions.get(case_id), "response", None)
            if response is not None and response.status_code < 300:
                ANSWERED[role, operation] += 1
            if response is not None and response.status_code >= 500:
                SERVER_ERRORS[role, operation] += 1
        for case_id, checks in recorder.checks.items():
            response = getattr(recorder.interactions.get(case_id), "response", None)
            for check in checks:
                if check.failure_info is not None:
                    self.failures.append(_describe(recorder.label, check, response))


def _describe(label: str, check, response) -> str:
    failure = check.failure_info.failure
    answer = f"[{response.status_code}] {response.content[:500]!r}" if response else ""
    return (
        f"{label}: {failure.title} ({check.name})\n{failure.message}\n"
        f"{check.failure_info.code_sample}\n{answer}"
    )


def operations(schema: schemathesis.BaseSchema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def run(role: str, schema: schemathesis.BaseSchema) -> Outcome:
    """Every phase Schemathesis has (examples, coverage, fuzzing, stateful), as its CLI runs
    them, with every check."""
    outcome = Outcome()
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            outcome.record(role, event.recorder)
        elif isinstance(event, events.PhaseFinished) and event.status != Status.SKIP:
            outcome.phases.add(event.phase.name.value)
        elif isinstance(event, events.NonFatalError):
            outcome.failures.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return outcome


def summary_lines() -> list[str]:
    """Cases run per operation and role, and how many got a success, for the session's end."""
    if not CASES:
        return []
    lines = [
        f"API fuzzing: {sum(CASES.values())} cases, {sum(SERVER_ERRORS.values())} server errors;"
        " per operation and role, cases and 2xx answers:"
    ]
    for (role, operation), count in sorted(CASES.items(), key=lambda item: item[0][::-1]):
        errors = SERVER_ERRORS[role, operation]
        flagged = f"  ({errors} server errors)" if errors else ""
        lines.append(
            f"  {count:5d} {ANSWERED[role, operation]:5d}  {role:5s}  {operation}{flagged}"
        )
    return lines
