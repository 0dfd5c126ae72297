"""Logs: one JSON object a line naming the request, user and job, or text when asked."""

import io
import json
import logging
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from episode_metadata.common.log_format import JsonFormatter, TextFormatter
from jobs import execution, registry, services
from tests.service_database import ServiceDatabase
from tests.service_process import free_port, manage, stop, wait_until_listening

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_lines():
    """Every record logged meanwhile, through the formatter, read back line by line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def lines_of(lines: list[dict], logger: str) -> list[dict]:
    return [line for line in lines if line["logger"] == logger]


@pytest.mark.django_db
def test_a_request_s_lines_carry_its_request_id_and_user_id(api, user, json_lines):
    missing = api.get("/api/v1/episodes/00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404

    (line,) = lines_of(json_lines(), "django.request")
    assert line["level"] == "WARNING"
    assert line["message"] == "Not Found: /api/v1/episodes/00000000-0000-0000-0000-000000000000/"
    assert line["request_id"] == missing["X-Request-ID"]
    assert line["user_id"] == user.pk
    assert "job_id" not in line
    assert line["timestamp"].endswith("+00:00")


@pytest.mark.django_db
def test_lines_logged_inside_the_view_carry_the_request_id(anon, json_lines):
    refused = anon.post(
        "/api/v1/auth/login",
        {"username": "nobody", "password": "wrong"},
        format="json",
        HTTP_X_REQUEST_ID="trace-4242",
    )
    assert refused.status_code == 401

    (line,) = lines_of(json_lines(), "axes.handlers.database")
    assert line["message"] == (
        "AXES: New login failure by 'nobody' from 127.0.0.1 at /api/v1/auth/login. "
        "Created new record in the database."
    )
    assert line["request_id"] == "trace-4242"
    assert "user_id" not in line  # nobody is logged in


@pytest.mark.django_db
def test_the_user_is_never_loaded_for_a_log_line(client, user, json_lines):
    """A session user loads lazily; a line about a request that never needed its user must
    not load it (a query logging inside that load would recurse)."""
    client.force_login(user)

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/no/such/page").status_code == 404

    (line,) = lines_of(json_lines(), "django.request")
    assert line["message"] == "Not Found: /no/such/page"
    assert "user_id" not in line
    assert queries.captured_queries == []

    # Once the request has loaded its user, the line names them.
    assert client.get("/api/v1/episodes/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert lines_of(json_lines(), "django.request")[-1]["user_id"] == user.pk


@pytest.mark.django_db
def test_a_job_s_lines_carry_its_job_id(user, json_lines):
    job = services.enqueue(registry.get("diagnostic"), {"fail_attempts": 1}, user=user)
    claimed = services.claim(worker_id="log-test:1:0", queues=["default"])
    execution.run_claimed(claimed)

    (line,) = lines_of(json_lines(), "jobs.services")
    assert line["level"] == "WARNING"
    assert f"job {job.pk} (diagnostic) attempt 1/4 failed" in line["message"]
    assert line["job_id"] == str(job.pk)
    assert line["request_id"] == f"job:{job.pk}"


def test_an_exception_stays_on_its_line(json_lines):
    try:
        raise ValueError("the source file is unreadable")
    except ValueError:
        logging.getLogger("tests.logging").exception("could not read it")

    (line,) = lines_of(json_lines(), "tests.logging")
    assert line["level"] == "ERROR"
    assert line["message"] == "could not read it"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("ValueError: the source file is unreadable")


def test_tokens_and_tickets_in_urls_are_redacted_in_both_formats_tracebacks_included():
    try:
        raise ValueError("could not open /ws/events/?ticket=SECRET-TICKET&x=1")
    except ValueError as error:
        record = logging.LogRecord(
            "uvicorn.error",
            logging.INFO,
            __file__,
            1,
            '%s - "WebSocket %s" [accepted]',
            ("127.0.0.1:5000", "/ws/events/?%74oken=SECRET-TOKEN"),
            (ValueError, error, None),
        )
    text = TextFormatter("%(message)s").format(record)
    entry = json.loads(JsonFormatter().format(record))

    assert text.startswith('127.0.0.1:5000 - "WebSocket /ws/events/?%74oken=[redacted]" [accepted]')
    assert text.endswith("ValueError: could not open /ws/events/?ticket=[redacted]&x=1")
    assert (
        entry["message"] == '127.0.0.1:5000 - "WebSocket /ws/events/?%74oken=[redacted]" [accepted]'
    )
    assert entry["exception"].endswith("/ws/events/?ticket=[redacted]&x=1")


def test_the_nginx_access_log_never_writes_a_raw_query(capsys):
    call_command(
        "nginx_config",
        "--server",
        "10.0.0.11:8000",
        "--server-name",
        "e.example",
        "--certificate",
        "/etc/tls/chain.pem",
        "--certificate-key",
        "/etc/tls/key.pem",
    )
    config = capsys.readouterr().out
    log_format = re.search(r"^log_format episode_metadata\n(.*?);$", config, re.M | re.S).group(1)
    (redacting,) = re.findall(r'^ +"~\*(.+)" "\?\[redacted\]";$', config, re.M)

    # Neither the request line nor the query as the client sent them.
    assert not re.search(r"\$(request|request_uri|args|query_string|arg_\w+)\b", log_format)
    assert "$uri$episode_metadata_logged_query" in log_format
    for query in ["token=SECRET", "page=2&ticket=SECRET", "%74oken=SECRET", "Token=S&page=1"]:
        assert re.search(redacting, query, re.I), query
    assert not re.search(redacting, "status=draft&ordering=-air_date&page=2", re.I)


# The format, as a process configured by its environment writes it

LOG_ONE_LINE = (
    "import django, logging; django.setup(); "
    "logging.getLogger('tests.probe').warning('hello %s', 'there')"
)


def log_one_line(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "DEBUG", "DATABASE_URL"}
    }
    clean.update(
        VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="episode_metadata.settings", **env
    )
    return subprocess.run(
        [sys.executable, "-c", LOG_ONE_LINE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_is_the_default(tmp_path):
    result = log_one_line(tmp_path)

    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr)
    assert {k: line[k] for k in ("level", "logger", "message")} == {
        "level": "WARNING",
        "logger": "tests.probe",
        "message": "hello there",
    }


@pytest.mark.parametrize("env", [{"LOG_FORMAT": "text"}, {"DEBUG": "1"}])
def test_text_when_asked_or_in_debug(tmp_path, env):
    result = log_one_line(tmp_path, **env)

    assert result.returncode == 0, result.stderr
    assert result.stderr.rstrip("\n").endswith(" WARNING tests.probe: hello there")
    assert not result.stderr.startswith("{")


def test_json_also_in_debug_when_asked(tmp_path):
    result = log_one_line(tmp_path, DEBUG="1", LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stderr)["message"] == "hello there"


def test_an_unknown_format_is_refused(tmp_path):
    result = log_one_line(tmp_path, LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text, got 'xml'" in result.stderr


@pytest.fixture
def service(tmp_path):
    database = ServiceDatabase(tmp_path / "var", JOBS_POLL_SECONDS="0.2")
    yield database
    database.drop()


@pytest.mark.server
def test_a_worker_process_writes_json_lines_naming_the_job(service):
    code = (
        "from jobs import registry, services\n"
        "job = services.enqueue(registry.get('diagnostic'), {'fail_attempts': 1}, max_attempts=1)\n"
        "print('JOB', job.pk)\n"
    )
    job_id = manage(service.env, "shell", "-c", code).split()[-1]
    worker = start_with_stderr(service.env, "run_jobs", "--concurrency", "1")
    try:
        service.wait_for(
            lambda: service.rows("SELECT count(*) FROM jobs_job WHERE status = 'failed'")[0][0],
            what="the job to fail",
        )
    finally:
        stop(worker)
    output = worker.stderr.read()

    lines = [json.loads(line) for line in output.splitlines()]  # every line is JSON
    dead = [line for line in lines if line.get("job_id") == job_id]
    assert dead and dead[0]["level"] == "ERROR"
    assert "failed for good after 1 attempts" in dead[0]["message"]
    assert any(line["message"].startswith("job worker") for line in lines)


@pytest.mark.server
def test_the_server_writes_json_lines_uvicorn_s_included(service):
    port = free_port()
    server = start_with_stderr(service.env, "serve", "--port", str(port), "--concurrency", "1")
    try:
        wait_until_listening(port, server)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing/here", timeout=5)
    finally:
        stop(server)
    output = server.stderr.read()

    lines = [json.loads(line) for line in output.splitlines()]  # every line is JSON
    assert any(line["message"].startswith("Uvicorn running on") for line in lines)
    (not_found,) = lines_of(lines, "django.request")
    assert not_found["message"] == "Not Found: /nothing/here"
    assert not_found["request_id"] == missing.value.headers["X-Request-ID"]
    assert not lines_of(lines, "uvicorn.access")  # nginx keeps the access log


def start_with_stderr(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={k: v for k, v in env.items() if k != "LOG_FORMAT"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
