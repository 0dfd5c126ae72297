"""Settings come from the environment; each case runs in a fresh interpreter with its own env."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

DUMP = """
import json, django
from django.conf import settings
django.setup()
from channels.layers import get_channel_layer
db = settings.DATABASES["default"]
print(json.dumps({
    "debug": settings.DEBUG,
    "engine": db["ENGINE"],
    "name": str(db["NAME"]),
    "options": {k: v for k, v in db.get("OPTIONS", {}).items()},
    "conn_max_age": db.get("CONN_MAX_AGE"),
    "layer": type(get_channel_layer()).__name__,
    "cache": settings.CACHES["default"]["BACKEND"],
    "prefixes": [
        settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix"),
        settings.CACHES["default"].get("KEY_PREFIX"),
    ],
    "secret_key": settings.SECRET_KEY,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "cors": settings.CORS_ALLOWED_ORIGINS,
    "media_root": str(settings.MEDIA_ROOT),
    "storage": settings.STORAGES["default"],
}, default=str))
"""

CONFIG_NAMES = [
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_PREFIX",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CORS_ALLOWED_ORIGINS",
    "MEDIA_ROOT",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
]


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_NAMES}
    clean.update(VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="episode_metadata.settings")
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def load(tmp_path: Path, **env: str) -> dict:
    result = run_python(DUMP, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_embedded_default(tmp_path):
    config = load(tmp_path)

    assert config["debug"] is False
    assert config["engine"] == "django.db.backends.sqlite3"
    assert config["name"] == str(tmp_path / "var" / "db.sqlite3")
    assert "journal_mode=WAL" in config["options"]["init_command"]
    assert config["options"]["timeout"] > 0
    assert config["layer"] == "InMemoryChannelLayer"
    assert config["media_root"] == str(tmp_path / "var" / "media")
    assert config["allowed_hosts"] == ["localhost", "127.0.0.1", "[::1]"]


def test_sqlite_really_runs_in_wal_mode(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])\n"
        "    c.execute('PRAGMA busy_timeout'); print(c.fetchone()[0])\n"
    )
    result = run_python(code, tmp_path)

    assert result.returncode == 0, result.stderr
    mode, timeout_ms = result.stdout.split()
    assert mode == "wal"
    assert int(timeout_ms) >= 1000


def test_development_secret_key_is_generated_once_and_kept(tmp_path):
    first = load(tmp_path)["secret_key"]
    second = load(tmp_path)["secret_key"]

    assert len(first) >= 50
    assert first == second
    assert (tmp_path / "var" / "secret_key").read_text() == first
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_key_is_required_with_a_real_database_and_debug_off(tmp_path):
    result = run_python(DUMP, tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_postgres_url_uses_a_connection_pool(tmp_path):
    config = load(
        tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test", SECRET_KEY="k" * 50
    )

    assert config["engine"] == "django.db.backends.postgresql"
    assert config["options"]["pool"]["max_size"] >= 1
    assert config["conn_max_age"] == 0


def test_redis_url_selects_channels_redis(tmp_path):
    config = load(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")

    assert config["layer"] == "RedisPubSubChannelLayer"
    assert config["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert config["prefixes"] == ["asgi", "asgi"]


def test_redis_prefix_separates_deployments_on_one_redis(tmp_path):
    config = load(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0", REDIS_PREFIX="staging")

    assert config["prefixes"] == ["staging", "staging"]


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("off", False)])
def test_debug_only_when_asked(tmp_path, raw, expected):
    assert load(tmp_path, DEBUG=raw)["debug"] is expected


def test_debug_rejects_nonsense(tmp_path):
    result = run_python(DUMP, tmp_path, DEBUG="maybe")

    assert result.returncode != 0
    assert "DEBUG must be one of" in result.stderr


def test_lists_and_paths_from_environment(tmp_path):
    config = load(
        tmp_path,
        ALLOWED_HOSTS="episodes.example.com, api.example.com",
        CORS_ALLOWED_ORIGINS="https://app.example.com",
        MEDIA_ROOT=str(tmp_path / "media"),
        SECRET_KEY="from-env",
    )

    assert config["allowed_hosts"] == ["episodes.example.com", "api.example.com"]
    assert config["cors"] == ["https://app.example.com"]
    assert config["media_root"] == str(tmp_path / "media")
    assert config["secret_key"] == "from-env"


def test_files_go_to_media_root_unless_a_bucket_is_named(tmp_path):
    local = load(tmp_path)
    remote = load(tmp_path, S3_BUCKET="rushes", S3_ENDPOINT_URL="https://s3.example.com")

    assert local["storage"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert remote["storage"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert remote["storage"]["OPTIONS"]["bucket_name"] == "rushes"
    assert remote["storage"]["OPTIONS"]["endpoint_url"] == "https://s3.example.com"
    assert remote["storage"]["OPTIONS"]["querystring_auth"] is True
    assert remote["storage"]["OPTIONS"]["default_acl"] == "private"


@pytest.mark.django_db
def test_cors_allows_configured_origins_only(settings, anon):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    allowed = anon.options(
        "/api/v1/episodes/",
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    refused = anon.options(
        "/api/v1/episodes/",
        HTTP_ORIGIN="https://evil.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )

    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in refused


def test_a_browser_on_an_allowed_origin_may_send_and_read_the_concurrency_headers(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    origin = {"HTTP_ORIGIN": "https://app.example.com"}

    preflight = client.options(
        "/api/v1/episodes/",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-match, idempotency-key",
        **origin,
    )
    answer = client.get("/api/v1/episodes/", **origin)

    allowed = preflight.headers["Access-Control-Allow-Headers"].split(", ")
    assert {"if-match", "idempotency-key", "authorization"} <= set(allowed)
    exposed = answer.headers["Access-Control-Expose-Headers"].split(", ")
    assert {"ETag", "Idempotent-Replayed", "Location"} <= set(exposed)
