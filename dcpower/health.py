"""Readiness: can this deployment serve? (/readyz, dcpower/probes.py)

Three checks, each cheap enough for a probe every few seconds: the database answers one
query; the broker answers (Redis: a PING, ~1 s at most; the embedded file-system broker: its
folders are there and writable); and every site's power and telemetry queue has at least one
live worker, from the heartbeats workers write (dcpower/heartbeat.py) rather than a Celery
broadcast, which waits a second for answers. A check's reason is for the log only: the
answer to an unauthenticated probe names no host, queue, site or error.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_S = 1.0
REDIS_SCHEMES = {"redis", "rediss"}
MAX_QUEUES_NAMED = 10  # in a log line


@dataclass(frozen=True)
class Check:
    ok: bool
    reason: str = ""  # why not: logged, never answered


OK = Check(ok=True)


def _failure(exc: Exception) -> Check:
    return Check(ok=False, reason=f"{type(exc).__name__}: {exc}")


def database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return _failure(exc)
    return OK


def broker_check() -> Check:
    url = settings.CELERY_BROKER_URL
    scheme = urlparse(url).scheme
    try:
        if scheme in REDIS_SCHEMES:
            return _redis_check(url)
        if scheme == "filesystem":
            options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
            return _filesystem_broker_check(options)
        return _kombu_check(url)
    except Exception as exc:
        return _failure(exc)


def _redis_check(url: str) -> Check:
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=BROKER_TIMEOUT_S, socket_timeout=BROKER_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()
    return OK


def _filesystem_broker_check(options: dict) -> Check:
    """kombu's file-system transport: messages are files in these folders."""
    names = ["data_folder_in", "data_folder_out", "control_folder"]
    if options.get("store_processed"):
        names.append("processed_folder")
    for name in names:
        folder = options.get(name)
        if not folder:
            return Check(ok=False, reason=f"file-system broker: {name} is not configured")
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
            return Check(ok=False, reason=f"file-system broker: {name} is missing or read-only")
    return OK


def _kombu_check(url: str) -> Check:
    """Any other transport kombu knows (AMQP, ...): connects once, with a short timeout."""
    from kombu import Connection

    with Connection(url, connect_timeout=BROKER_TIMEOUT_S) as conn:
        conn.connect()
    return OK


def site_queues() -> set[str]:
    """Every queue that must have a worker: each site's power and telemetry queue."""
    from inventory.models import Site
    from power.services import site_queue
    from telemetry.services import telemetry_queue

    return {
        queue
        for site_id in Site.objects.values_list("pk", flat=True)
        for queue in (site_queue(site_id), telemetry_queue(site_id))
    }


def workers_check() -> Check:
    from dcpower.models import WorkerHeartbeat

    try:
        needed = site_queues()
        live = list(WorkerHeartbeat.objects.live().values_list("queues", flat=True))
    except Exception as exc:
        return _failure(exc)
    missing = sorted(needed.difference(*live))
    if not missing:
        return OK
    named = ", ".join(missing[:MAX_QUEUES_NAMED])
    more = f" and {len(missing) - MAX_QUEUES_NAMED} more" if len(missing) > MAX_QUEUES_NAMED else ""
    return Check(
        ok=False,
        reason=f"no live worker consumes {named}{more} ({len(live)} live worker(s))",
    )


def readiness() -> dict[str, Check]:
    """Every check by name; why any fails is logged (WARNING). Without a database the workers
    cannot be known: not asked."""
    database = database_check()
    workers = workers_check() if database.ok else Check(ok=False, reason="no database")
    checks = {"database": database, "broker": broker_check(), "workers": workers}
    failing = sorted(name for name, check in checks.items() if not check.ok)
    if failing:
        logger.warning(
            "not ready: %s",
            "; ".join(f"{name}: {checks[name].reason}" for name in failing),
            extra={"failing_checks": failing},
        )
    return checks
