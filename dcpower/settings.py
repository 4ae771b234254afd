"""Settings for dcpower, read from the environment (12-factor).

With no configuration at all dcpower runs in development mode on embedded defaults: an SQLite
file and a Celery broker that needs no server, both under ``var/``. Setting ``SECRET_KEY``
switches the default of ``DEBUG`` to off; with ``DEBUG`` off dcpower refuses to start without a
real secret key. Every variable is documented in README.md.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DCPOWER_DATA_DIR", BASE_DIR / "var"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}"
    )


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- Core -----------------------------------------------------------------------------------

_secret_key = os.environ.get("SECRET_KEY", "")
# No configuration at all means a developer's machine; any production-like setup sets a key.
DEBUG = env_bool("DEBUG", default=not _secret_key)

INSECURE_KEY_PREFIX = "django-insecure-"
if DEBUG and not _secret_key:
    _secret_key = INSECURE_KEY_PREFIX + "dcpower-development-only"
if not DEBUG and (len(_secret_key) < 32 or _secret_key.startswith(INSECURE_KEY_PREFIX)):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 32 characters when DEBUG is off "
        "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
SECRET_KEY = _secret_key

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "dcpower",
    "inventory",
    "power",
    "telemetry",
]

MIDDLEWARE = [
    # /healthz and /readyz, answered before anything else: no host check (probes use the
    # pod's IP), no HTTPS redirect, not counted in request metrics (dcpower/probes.py).
    "dcpower.probes.HealthProbeMiddleware",
    # Request counts and latencies per view (django-prometheus), first and last.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "dcpower.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dcpower.audit.AuditUserMiddleware",
    "dcpower.logs.LogContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Times rendered in the browser's time zone, from the admin's dcpower_tz cookie.
    "dcpower.timezones.TimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Django's permissions everywhere, and roles granted per site (dcpower/access.py).
AUTHENTICATION_BACKENDS = ["dcpower.access.RoleBackend"]

ROOT_URLCONF = "dcpower.urls"
WSGI_APPLICATION = "dcpower.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Before the apps' directories: dcpower's admin/base_site.html overrides the admin's.
        "DIRS": [BASE_DIR / "dcpower" / "templates"],
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

# --- Database -------------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # Connections live for a minute, in web processes and workers alike (dcpower/celery.py),
    # and are checked before reuse (cheaply: dcpower/postgresql, ADR 0027), so one broken by
    # a database restart costs a reconnect, not a failed request or power command.
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
    # The statements dcpower writes in SQL (dcpower.db.cursor: the power path's) are
    # prepared on a connection once it has run them this many times, and planned once
    # instead of at every run (ADR 0024); Django's own cursors never prepare. Off
    # (DATABASE_PREPARED_STATEMENTS=0) behind a pooler in transaction mode that does not
    # keep prepared statements apart (PgBouncer before 1.21, or max_prepared_statements 0).
    # A prepare_threshold in the URL's query string wins.
    _postgresql = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if _postgresql:
        # Django's, with a health check that makes a round trip only now and then (ADR 0027).
        DATABASES["default"]["ENGINE"] = "dcpower.postgresql"
    if _postgresql and env_bool("DATABASE_PREPARED_STATEMENTS", True):
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "dcpower.sqlite3",
            # The demo's web server, workers and beat share this file. SQLite serialises
            # writers: wait up to 20 s for the lock instead of failing at once, take it when a
            # transaction begins (one that reads, then writes, would otherwise fail at once
            # with "database is locked" when another wrote meanwhile), and let readers go on
            # while one writes (WAL).
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", DATA_DIR / "static"))

# --- REST API -------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header turns "not logged in" into 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dcpower.api.authentication.ApiTokenAuthentication",
        "dcpower.api.authentication.JwtAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["dcpower.api.permissions.RolePermissions"],
    # JSON in; anything else is a 415 (and the schema documents JSON bodies only).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "dcpower.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "dcpower.api.schema.ResourceAutoSchema",
    "DEFAULT_THROTTLE_RATES": {"power": None},  # set from POWER_RATE_LIMIT below
    "EXCEPTION_HANDLER": "dcpower.api.exceptions.exception_handler",
    "SEARCH_PARAM": "q",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dcpower.api.schema.document_error_responses",
    ],
    "TITLE": "dcpower API",
    "DESCRIPTION": "Inventory and power control for data centers.",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Separate request and response components: related objects are written as ids and
    # read back in brief form ({id, url, name}).
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RackStatusEnum": "inventory.choices.RackStatus",
        "HostStatusEnum": "inventory.choices.HostStatus",
        "PowerFeedStatusEnum": "inventory.choices.PowerFeedStatus",
        "OutletStateEnum": "inventory.choices.OutletState",
        "EventKindEnum": "telemetry.choices.EventKind",
        "ReadingsStateEnum": "telemetry.choices.ReadingsState",
        "SlotKindEnum": "telemetry.choices.SlotKind",
        "PowerActionEnum": "power.choices.CommandAction",
        "AuditActionEnum": "dcpower.models.AuditEntry.Action",
    },
}

# HTTPS: with DEBUG off, cookies are secure-only, plain HTTP is redirected and browsers are
# told to use HTTPS for a year (HSTS). DCPOWER_HTTPS=0 turns this off for a deployment served
# over plain HTTP on a trusted network (and the benchmarks on loopback). Behind a proxy that
# terminates TLS, SECURE_PROXY_HEADER=1 trusts its X-Forwarded-Proto (docs/security.md).
_https = not DEBUG and env_bool("DCPOWER_HTTPS", True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = _https
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000")) if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
if env_bool("SECURE_PROXY_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS preload lists the domain in browsers for good: the domain owner's decision, not ours.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Keys that encrypt device credentials at rest (dcpower/crypto.py): comma-separated Fernet
# keys, the first encrypts, all decrypt. Unset: one key derived from SECRET_KEY.
CREDENTIALS_KEYS = env_list("CREDENTIALS_KEYS", [])
for _key in CREDENTIALS_KEYS:
    try:
        if len(base64.urlsafe_b64decode(_key.encode())) != 32:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            "CREDENTIALS_KEYS: each key is 32 url-safe base64-encoded bytes, as made by "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())'`."
        ) from None

# --- Celery ---------------------------------------------------------------------------------

_broker_dir = DATA_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    # The embedded default: messages are files under var/broker, so a real worker runs with
    # no broker server. Fine for one machine; production uses Redis.
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # else "control/" in the working dir
        "store_processed": False,
    }
# Redis gives the message of a worker that died mid-command (acks_late, see power/tasks.py) to
# another worker once it has gone unacknowledged for the visibility timeout: an hour by
# default, found by a sweep every ~100 s. CELERY_VISIBILITY_TIMEOUT (seconds) shortens it and
# sweeps every half timeout; the worker end-to-end tests (tests/power/test_worker_e2e.py) use
# a few seconds to see a killed worker's command resumed. Keep it well above the longest power
# command: a message still being worked on is otherwise handed out again, with the same task
# id, which the executor's claim check takes for a redelivery and resumes alongside the
# live run.
_visibility_timeout = os.environ.get("CELERY_VISIBILITY_TIMEOUT", "")
if _visibility_timeout and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(_visibility_timeout),
        "unacked_restore_interval": max(1, int(_visibility_timeout) // 2),
        "unacked_restore_throttle": 1,  # sweep at every interval, not every tenth one
    }
# Results are needed only by requests that wait for a worker's answer (live reads of a PDU):
# the broker's Redis by default, a directory under var/ with the embedded broker.
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "")
if not CELERY_RESULT_BACKEND:
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        CELERY_RESULT_BACKEND = CELERY_BROKER_URL
    else:
        (DATA_DIR / "results").mkdir(parents=True, exist_ok=True)
        CELERY_RESULT_BACKEND = f"file://{DATA_DIR / 'results'}"
CELERY_RESULT_EXPIRES = 3600
# Announcements between processes (a power command finished: requests waiting on it answer at
# once): Redis pub/sub, the broker's Redis by default; empty means none (waiting requests read
# the database instead, as with the embedded defaults).
EVENTS_REDIS_URL = os.environ.get("EVENTS_REDIS_URL", "")
if not EVENTS_REDIS_URL and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    EVENTS_REDIS_URL = CELERY_BROKER_URL
# The longest a request may ask to wait for a power command (Prefer: wait=N, ?wait=N).
POWER_MAX_WAIT_S = float(os.environ.get("POWER_MAX_WAIT_S", "60"))
POWER_LIVE_READ_TIMEOUT_S = float(os.environ.get("POWER_LIVE_READ_TIMEOUT_S", "15"))
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Power commands last seconds to minutes: a worker takes one at a time, and a redelivered one
# (acks_late, see power/tasks.py) resumes from its recorded progress.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    "enqueue-due-power-commands": {
        "task": "power.tasks.enqueue_due_power_commands",
        "schedule": 5.0,
    },
    "recover-stale-power-commands": {
        "task": "power.tasks.recover_stale_power_commands",
        "schedule": 60.0,
    },
    "schedule-telemetry-polls": {
        "task": "telemetry.tasks.schedule_polls",
        "schedule": 5.0,
    },
}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Every worker writes a heartbeat row this often; /readyz counts a worker live for three
# intervals after its last (dcpower/heartbeat.py). Web processes and workers must agree on it.
_heartbeat = os.environ.get("WORKER_HEARTBEAT_S", "10")
try:
    WORKER_HEARTBEAT_S = float(_heartbeat)
except ValueError:
    WORKER_HEARTBEAT_S = 0.0
if not WORKER_HEARTBEAT_S > 0:
    raise ImproperlyConfigured(
        f"WORKER_HEARTBEAT_S must be a positive number of seconds; got {_heartbeat!r}"
    )

# How power commands are carried out (power/execution.py ExecutionSettings): verify timeout,
# poll interval, cycle off period, device timeout, power-on stagger per feed.
POWER_EXECUTION = {
    key: float(os.environ[f"POWER_{key.upper()}"])
    for key in (
        "verify_timeout_s",
        "poll_interval_s",
        "cycle_off_period_s",
        "device_timeout_s",
        "power_on_stagger_s",
    )
    if os.environ.get(f"POWER_{key.upper()}")
}

# Telemetry (telemetry/): how often every PDU is polled (sites and PDUs may override it),
# each PDU's time budget within a poll round, and the per-request device timeout.
TELEMETRY_POLL_INTERVAL_S = int(os.environ.get("TELEMETRY_POLL_INTERVAL_S", "30"))
TELEMETRY_POLL_BUDGET_S = float(os.environ.get("TELEMETRY_POLL_BUDGET_S", "10"))
TELEMETRY_DEVICE_TIMEOUT_S = float(os.environ.get("TELEMETRY_DEVICE_TIMEOUT_S", "2"))

# The cache that rate limits count in: shared by every web process through Redis when there
# is one (EVENTS_REDIS_URL, the broker's), else this process's memory.
if EVENTS_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": EVENTS_REDIS_URL,
            "KEY_PREFIX": "dcpower",
        }
    }
# JWT for interactive clients (the CLI): a short-lived access token and a refresh token that
# is replaced at each refresh (docs/security.md).
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "5"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=int(os.environ.get("JWT_REFRESH_HOURS", "12"))),
    "ROTATE_REFRESH_TOKENS": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# Rate limits (dcpower/throttling.py): power commands per user, failed logins per account.
POWER_RATE_LIMIT = os.environ.get("POWER_RATE_LIMIT", "30/min")
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["power"] = POWER_RATE_LIMIT
LOGIN_FAILURES_MAX = int(os.environ.get("LOGIN_FAILURES_MAX", "5"))
LOGIN_LOCKOUT_S = int(os.environ.get("LOGIN_LOCKOUT_S", "900"))

# --- Logging --------------------------------------------------------------------------------

# LOG_FORMAT: "text" (one readable line) or "json" (one object a line, for a log collector).
# Every line carries the request id, the authenticated user and the power command being run
# (dcpower/logs.py); every handler masks secrets. Celery workers and beat log through this too
# (dcpower/celery.py), with their -l level.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json; got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "dcpower.request_id.RequestIdLogFilter"},
        "context": {"()": "dcpower.logs.LogContextFilter"},
        "redact_secrets": {"()": "dcpower.logs.RedactSecretsFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "dcpower.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "context", "redact_secrets"],
        }
    },
    "loggers": {
        # Django's defaults give these handlers of their own (an unformatted, unmasked copy of
        # each line with DEBUG on, runserver's access lines): everything goes through ours.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
