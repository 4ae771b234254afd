"""The Celery app's broker works as configured: with no configuration, the embedded
file-system broker carries messages between processes with no server; with
CELERY_BROKER_URL=redis://..., Redis does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import redis_url

ROOT = Path(__file__).resolve().parent.parent

ROUND_TRIP = """
import sys
from dcpower.celery import app
with app.connection_for_write() as conn:
    queue = conn.SimpleQueue("dcpower-test-" + sys.argv[1])
    if sys.argv[2] == "put":
        queue.put({"hello": "broker"})
    else:
        message = queue.get(timeout=10)
        message.ack()
        print(conn.transport_cls, message.payload["hello"])
    queue.close()
"""


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, *args],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "dcpower.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_broker_needs_no_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env["DCPOWER_DATA_DIR"] = str(tmp_path)
    # One process sends, another receives: the queue lives in files, not in a process.
    sent = _run(env, "embedded", "put")
    assert sent.returncode == 0, sent.stderr
    received = _run(env, "embedded", "get")
    assert received.returncode == 0, received.stderr
    assert received.stdout.split() == ["filesystem", "broker"]
    assert not any((tmp_path / "broker" / "queue").iterdir())  # consumed
    assert not (ROOT / "control").exists()  # nothing written outside the data directory


@pytest.mark.requires_service("redis")
def test_redis_broker_round_trip():
    env = dict(os.environ, CELERY_BROKER_URL=redis_url())
    assert _run(env, "redis", "put").returncode == 0
    received = _run(env, "redis", "get")
    assert received.returncode == 0, received.stderr
    assert received.stdout.split() == ["redis", "broker"]
