"""Settings for the episode metadata service.

Everything an operator changes comes from the environment (see the table in README.md). With
nothing set, the service runs on one machine: SQLite in var/ and an in-process channel layer.
That var/ is the current directory's, whether the service runs from a checkout or installed:
an installed package must never write into its own site-packages.
"""

import ipaddress
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from corsheaders.defaults import default_headers as default_cors_headers
from django.core.exceptions import ImproperlyConfigured

from episode_metadata import secret_key
from episode_metadata.common.env import env_bool, env_float, env_int, env_list, env_str

VAR_DIR = Path(env_str("VAR_DIR") or Path.cwd() / "var")

DEBUG = env_bool("DEBUG", default=False)
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DATABASE_URL and not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DATABASE_URL is set and DEBUG is off."
        )
    SECRET_KEY = secret_key.load_or_create(VAR_DIR / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
# A browser client on another origin sends and reads the headers of conditional writes and
# retried creates too.
CORS_ALLOW_HEADERS = (*default_cors_headers, "if-match", "idempotency-key")
CORS_EXPOSE_HEADERS = ["ETag", "Idempotent-Replayed", "Location"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "corsheaders",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "episode_metadata",
    "episode_metadata.common.idempotency",
    "episodes",
    "jobs",
    "realtime",
    "activity",
]

MIDDLEWARE = [
    "episode_metadata.metrics.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "activity.middleware.ActivityContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: it turns a lockout on the admin's and the browsable API's sign-in forms into a page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "episode_metadata.urls"
ASGI_APPLICATION = "episode_metadata.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # First: the project's own pages over the ones of DRF and the admin (sign-in, favicon).
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# SQLite, embedded or named by DATABASE_URL: WAL lets readers run beside the writer; IMMEDIATE
# takes the write lock up front so concurrent writers wait (up to `timeout`) instead of failing.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}


def _database() -> Mapping[str, Any]:
    if not DATABASE_URL:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": dict(SQLITE_OPTIONS),
            # Tests use a file too: an in-memory database shares one cache between threads
            # and locks whole tables, unlike the WAL file the service runs on.
            "TEST": {"NAME": VAR_DIR / "test.sqlite3"},
        }
    config = dj_database_url.parse(DATABASE_URL)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI each request runs in a fresh thread, so persistent connections pile up
        # until PostgreSQL refuses more; a bounded pool shares a few connections instead.
        config["CONN_MAX_AGE"] = 0
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env_int("DATABASE_POOL_SIZE", 10),
            "timeout": 10,
        }
        # Django's own cursors bind on the client and never prepare; this lets the few
        # statements bound on the server be (`episode_metadata.common.prepared`), as psycopg
        # would by default.
        config["OPTIONS"]["prepare_threshold"] = 5
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Pub/sub channels are global to a Redis server, whatever its database number: deployments
# sharing one Redis keep apart by prefix.
REDIS_PREFIX = env_str("REDIS_PREFIX", "asgi")
CHANNEL_LAYERS: dict[str, dict[str, Any]]
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": REDIS_PREFIX},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/api-auth/login/"

# Every door that checks a password (the API's login, the admin's and the browsable API's
# sign-in forms) goes through django-axes, which counts failures in the database, shared by
# all processes. Five failures within the cool-off from one address, or at one username from
# any addresses, lock that address or username out until a cool-off passes with no attempt.
AUTHENTICATION_BACKENDS = [
    "episode_metadata.auth.lockout.LockoutBackend",
    # Permissions only: staff may do everything (episodes/roles.py has the roles), and are
    # answered without a query.
    "episode_metadata.common.permissions.StaffBackend",
    # Permissions only: everyone else's in one query, before ModelBackend (which signs users
    # in and finds them read).
    "episode_metadata.common.permissions.PermissionsBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "episode_metadata.auth.lockout.LockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "episode_metadata.auth.lockout.client_address"
AXES_CLIENT_STR_CALLABLE = "episode_metadata.auth.lockout.describe_client"
# A record of each successful login would give every API login a session of its own.
AXES_DISABLE_ACCESS_LOG = True
AXES_COOLOFF_MESSAGE = (
    "Too many failed login attempts. "
    f"Try again in {AXES_COOLOFF_TIME.total_seconds() / 60:.0f} minutes."
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every start without it
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# S3 or a compatible store (MinIO, R2, ...) instead of MEDIA_ROOT, through django-storages,
# installed apart: pip install "django-storages[s3]==1.14.6". Credentials come from boto3's
# usual variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Downloads then redirect to
# short-lived signed URLs, and the bytes never pass through the service.
S3_BUCKET = env_str("S3_BUCKET")
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "region_name": env_str("S3_REGION") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env_int("S3_URL_EXPIRE_SECONDS", 300),
            "file_overwrite": False,
        },
    }

# Uploads are written to disk as they arrive, next to MEDIA_ROOT so that storing one is a
# rename, never a copy; nothing but the current chunk is held in memory.
FILE_UPLOAD_TEMP_DIR = Path(env_str("FILE_UPLOAD_TEMP_DIR") or VAR_DIR / "uploads")
FILE_UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_PERMISSIONS = 0o640
_MB = 1024 * 1024
FILES_MAX_BYTES = {
    "video": env_int("FILES_MAX_VIDEO_MB", 10 * 1024) * _MB,
    "image": env_int("FILES_MAX_IMAGE_MB", 25) * _MB,
    "script": env_int("FILES_MAX_SCRIPT_MB", 5) * _MB,
    "other": env_int("FILES_MAX_OTHER_MB", 100) * _MB,
}
# A deleted file's bytes stay this long before the cleanup job removes them.
FILES_PURGE_AFTER_HOURS = env_float("FILES_PURGE_AFTER_HOURS", 24.0)
FFPROBE = env_str("FFPROBE", "ffprobe")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# The proxies (nginx) whose X-Forwarded-For and X-Forwarded-Proto the server (uvicorn, under
# `manage.py serve`) believes. None unless set: with no proxy in front, believing even
# loopback's would let any local client name itself any address and dodge the login lockout.
FORWARDED_ALLOW_IPS = env_list("FORWARDED_ALLOW_IPS")
# Behind a proxy that ends TLS, the server (uvicorn) takes requests for HTTPS from the proxy's
# X-Forwarded-Proto when the proxy's address is in FORWARDED_ALLOW_IPS.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
# Probes and scrapes come straight to the service over plain HTTP, past the proxy.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^ping$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Bearer first: its 'WWW-Authenticate' header is what makes DRF answer 401, not 403.
        "episode_metadata.common.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "episode_metadata.common.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["episode_metadata.common.filters.FilterBackend"],
    # DRF's JSON parser overflows Python's stack on deep nesting; ours refuses it first.
    # JSON only: a form cannot say null, nor nest, so the schema's bodies are JSON; the
    # upload endpoint names its multipart parser itself.
    "DEFAULT_PARSER_CLASSES": ["episode_metadata.common.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "episode_metadata.common.errors.api_exception_handler",
    # Per address for the login; per user for WebSocket tickets (a client mints one a connect).
    "DEFAULT_THROTTLE_RATES": {"login": "30/min", "websocket_ticket": "60/min"},
    # Throttles key on REMOTE_ADDR, the address the server trusts, never on X-Forwarded-For.
    "NUM_PROXIES": 0,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# How long a WebSocket ticket (POST /api/v1/realtime/ticket/) may wait for its socket.
WEBSOCKET_TICKET_SECONDS = env_int("WEBSOCKET_TICKET_SECONDS", 30)
if WEBSOCKET_TICKET_SECONDS < 1:
    raise ImproperlyConfigured("WEBSOCKET_TICKET_SECONDS must be at least 1.")

# Writes to versioned resources (episodes, compositions, notification preferences) must carry
# If-Match, or are refused with 428: no client can overwrite a change it has not seen.
REQUIRE_IF_MATCH = env_bool("REQUIRE_IF_MATCH", default=False)

REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_TTL": timedelta(days=env_int("TOKEN_TTL_DAYS", 30)),
    "AUTO_REFRESH": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Episode Metadata API",
    "DESCRIPTION": "Episodes and their production work, for a show's production team.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": f"/{STATIC_URL}episode_metadata/favicon.svg",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for a choice set used by several fields.
    "ENUM_NAME_OVERRIDES": {
        "EpisodeStatusEnum": "episodes.models.EpisodeStatus",
        "NotificationTypeEnum": "activity.models.NotificationType",
        "FieldValueKindEnum": "activity.formatting.KIND_CHOICES",
        "KindEnum": "episodes.models.FileKind",
    },
    # The schema describes the API, not its data: generators fetch it by URL, signed in or not.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "episode_metadata.openapi.add_error_responses",
    ],
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# One JSON object a line for log collectors; text for a person at a terminal.
LOG_FORMAT = env_str("LOG_FORMAT") or ("text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {
            "()": "episode_metadata.common.log_format.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {"()": "episode_metadata.common.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "filters": {
        "client_mistake": {"()": "episode_metadata.common.log_filters.ClientMistake"},
        "redis_outage": {"()": "episode_metadata.common.outages.ConnectionErrorsAsOutage"},
        "readiness_answers": {"()": "episode_metadata.common.outages.ReadinessAnswers"},
    },
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # One line per failed login (and one at a lockout); its INFO lines are bookkeeping.
        "axes": {"level": "WARNING"},
        # channels-redis logs a traceback a second while Redis is down, for errors its
        # reader retries by itself; they go to the outage of Redis (episode_metadata/common/outages.py).
        "channels_redis.pubsub": {"filters": ["redis_outage"]},
        "django.request": {"filters": ["readiness_answers"]},
        **{
            f"django.security.{name}": {"filters": ["client_mistake"]}
            for name in ("RequestDataTooBig", "TooManyFieldsSent", "TooManyFilesSent")
        },
    },
}

# /metrics answers scrapers that send this token (Authorization: Bearer ...) or that connect
# from one of these addresses or networks.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_ADDRESSES = [
    ipaddress.ip_network(network, strict=False)
    for network in env_list("METRICS_ALLOWED_ADDRESSES", ["127.0.0.1/32", "::1/128"])
]

# Jobs: Django tasks stored as `jobs.Job` rows and run by `manage.py run_jobs` (or `serve`).
TASKS = {"default": {"BACKEND": "jobs.backend.DatabaseBackend", "QUEUES": []}}
# A running job whose worker has not renewed its lease for this long is taken back.
JOBS_LEASE_SECONDS = env_float("JOBS_LEASE_SECONDS", 30.0)
# How often idle workers look for due jobs that no wake-up announced.
JOBS_POLL_SECONDS = env_float("JOBS_POLL_SECONDS", 1.0)
# /ready fails once the job due longest has waited this long for a worker.
READY_MAX_QUEUE_AGE_SECONDS = env_float("READY_MAX_QUEUE_AGE_SECONDS", 300.0)

# Retention of the periodic housekeeping (docs/jobs.md#housekeeping), in days; 0 turns the
# task off. The defaults are docs/runbook.md's.
ACTIVITY_RETENTION_DAYS = env_int("ACTIVITY_RETENTION_DAYS", 365)
# Read notifications older than this go (expired ones go whatever it says, unless it is 0).
NOTIFICATIONS_RETENTION_DAYS = env_int("NOTIFICATIONS_RETENTION_DAYS", 90)
DEAD_JOBS_RETENTION_DAYS = env_int("DEAD_JOBS_RETENTION_DAYS", 30)

# Webhooks (docs/webhooks.md): endpoints on private, loopback or link-local addresses are
# refused unless this is on (local setups and tests); sending is retried with backoff.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE")
WEBHOOKS_MAX_ATTEMPTS = env_int("WEBHOOKS_MAX_ATTEMPTS", 15)
if not 1 <= WEBHOOKS_MAX_ATTEMPTS <= 20:  # a job's limit (jobs.models.MAX_ATTEMPTS_LIMIT)
    raise ImproperlyConfigured(
        f"WEBHOOKS_MAX_ATTEMPTS must be from 1 to 20, got {WEBHOOKS_MAX_ATTEMPTS}."
    )
WEBHOOKS_BACKOFF_BASE_SECONDS = env_float("WEBHOOKS_BACKOFF_BASE_SECONDS", 10.0)
WEBHOOKS_BACKOFF_CAP_SECONDS = env_float("WEBHOOKS_BACKOFF_CAP_SECONDS", 6 * 3600.0)
# An endpoint is disabled after this many deliveries in a row gave up (none got through).
WEBHOOKS_DISABLE_AFTER_DEAD = env_int("WEBHOOKS_DISABLE_AFTER_DEAD", 5)
WEBHOOKS_RETENTION_DAYS = env_int("WEBHOOKS_RETENTION_DAYS", 30)
