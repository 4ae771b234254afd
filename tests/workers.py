"""Real Celery workers for end-to-end tests: a Redis database of their own as the broker
(E2E_REDIS_DB, emptied before and after each test) and worker processes started on given
queues, pointed at the test database, stopped at teardown.

The fixtures ``broker`` and ``start_worker`` are in every test (tests/conftest.py); a test
that starts a worker marks itself ``django_db(transaction=True)``: the worker is another
process, so it sees only committed rows."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from django.db import connection

from power import services
from tests.services import redis_url

ROOT = Path(__file__).resolve().parents[1]
E2E_REDIS_DB = int(os.environ.get("DCPOWER_E2E_REDIS_DB", "14"))
# Redis redelivers a dead worker's message after this long (dcpower/settings.py).
VISIBILITY_TIMEOUT_S = 2
# How the workers carry out commands (dcpower/settings.py POWER_EXECUTION), kept short.
FAST = {
    "POWER_VERIFY_TIMEOUT_S": "1.5",
    "POWER_POLL_INTERVAL_S": "0.02",
    "POWER_CYCLE_OFF_PERIOD_S": "0.1",
    "POWER_DEVICE_TIMEOUT_S": "0.5",
}
WORKER_START_TIMEOUT_S = 30


def e2e_broker_url() -> str:
    parsed = urlparse(redis_url())
    return parsed._replace(path=f"/{E2E_REDIS_DB}").geturl()


def _reset_broker_connections(app) -> None:
    """Close and forget the cached connection and producer pools (the app's and kombu's
    registry, keyed by URL): the next publish connects to the broker URL in effect then."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker(monkeypatch, settings):
    """A dedicated Redis database as the broker of this process and of the workers.

    Celery reads CELERY_BROKER_URL from the environment before its configuration (and caches
    its connection pool), so overriding the Django setting alone would not take effect: the
    environment variable and the app's conf are both set and the pools dropped."""
    import redis

    from dcpower.celery import app

    url = e2e_broker_url()
    client = redis.Redis.from_url(url)
    client.flushdb()  # messages or unacknowledged entries left by an aborted run
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(app.conf, "broker_url", url)
    settings.CELERY_BROKER_URL = url
    _reset_broker_connections(app)
    with app.connection_for_write() as conn:
        assert urlparse(conn.as_uri()).path == f"/{E2E_REDIS_DB}"  # what actually takes effect
    yield url
    _reset_broker_connections(app)
    client.flushdb()
    client.close()


def worker_database_url() -> str:
    """The test database (not the configured one) as a URL for the worker process."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{quote(db['NAME'], safe='')}"


@dataclass
class Worker:
    process: subprocess.Popen
    name: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _stop(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.terminate()  # warm shutdown: finishes the task at hand
        try:
            worker.process.wait(15)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(15)


@pytest.fixture
def start_worker(broker, tmp_path):
    """Start a Celery worker on a site's queue (or ``queues``; solo pool, or ``pool``) and
    wait until it answers a ping. Every worker started is stopped at teardown (SIGTERM, then
    SIGKILL)."""
    from dcpower.celery import app

    started: list[Worker] = []

    def start(site, queues=None, pool="solo", **env) -> Worker:
        name = f"e2e-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        log = tmp_path / f"{name.split('@')[0]}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dcpower",
            "worker",
            "--pool",
            pool,
            "-Q",
            ",".join(queues or [services.site_queue(site.pk)]),
            "--concurrency",
            "1",
            "-l",
            "info",
            "-n",
            name,
            # Nothing to synchronise with: start faster.
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dcpower.settings",
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": broker,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S),
            "PYTHONUNBUFFERED": "1",
            **FAST,
            **env,
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT
            )
        worker = Worker(process=process, name=name, log=log)
        started.append(worker)
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not app.control.ping(destination=[name], timeout=0.5):
            if process.poll() is not None:
                pytest.fail(f"worker exited with {process.returncode}:\n{worker.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"worker not ready in {WORKER_START_TIMEOUT_S} s:\n{worker.output()}")
        return worker

    yield start
    for worker in started:
        _stop(worker)
