"""/healthz and /readyz (dcpower/probes.py, dcpower/health.py) and the worker heartbeats
behind /readyz (dcpower/heartbeat.py).

/healthz touches nothing; /readyz checks the database, the broker and that every site's
power and telemetry queue has a live worker, answers only "ok"/"failing" per check and logs
why. Both answer probes that come over plain HTTP with any Host. At the end, real workers
(solo and prefork) make /readyz ready by starting and unready by stopping.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from prometheus_client import REGISTRY

from dcpower import heartbeat
from dcpower.models import WorkerHeartbeat
from power.choices import CommandStatus
from power.models import PowerCommand
from power.services import site_queue
from telemetry.services import telemetry_queue
from tests import factories
from tests.services import redis_url

ROOT = Path(__file__).resolve().parent.parent
READY = {"database": "ok", "broker": "ok", "workers": "ok"}


def closed_port() -> int:
    """A loopback TCP port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def site_queues(site) -> list[str]:
    return [site_queue(site.pk), telemetry_queue(site.pk)]


def beat(hostname: str, queues: list[str], *, age_s: float = 0) -> WorkerHeartbeat:
    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        hostname=hostname,
        queues=queues,
        pid=4242,
        started_at=now - timedelta(hours=1),
        last_seen=now - timedelta(seconds=age_s),
    )


@pytest.fixture
def embedded_broker(settings, tmp_path):
    """The file-system broker in a folder of this test: the broker check passes anywhere."""
    folders = {}
    for option, folder in (
        ("data_folder_in", "queue"),
        ("data_folder_out", "queue"),
        ("processed_folder", "processed"),
        ("control_folder", "control"),
    ):
        (tmp_path / folder).mkdir(exist_ok=True)
        folders[option] = str(tmp_path / folder)
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {**folders, "store_processed": False}
    settings.WORKER_HEARTBEAT_S = 10
    return tmp_path


def assert_reveals_nothing(response, *secrets_: str) -> None:
    """A 503 says which check fails and nothing else."""
    body = response.json()
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) == {"database", "broker", "workers"}
    assert set(body["checks"].values()) <= {"ok", "failing"}
    text = response.content.decode()
    for secret in secrets_:
        assert secret not in text


# --- /healthz -----------------------------------------------------------------------------


def test_healthz_is_ok_without_a_query_or_a_login(anon, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_healthz_needs_no_broker_either(anon, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    assert anon.get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_take_any_host_over_plain_http(path, client, settings, embedded_broker, db):
    settings.ALLOWED_HOSTS = ["dcpower.example"]
    settings.SECURE_SSL_REDIRECT = True
    # What every other URL gets with these settings: the checks are in force.
    assert client.get("/api/v1/sites/", HTTP_HOST="10.244.1.7").status_code == 400
    redirected = client.get("/api/v1/sites/", HTTP_HOST="dcpower.example")
    assert redirected.status_code == 301 and redirected["Location"].startswith("https://")

    response = client.get(path, HTTP_HOST="10.244.1.7")
    assert response.status_code == 200, response.content


def test_production_settings_answer_a_probe_by_pod_ip_over_http():
    """DEBUG off, DCPOWER_HTTPS on, ALLOWED_HOSTS set: the real settings, not overrides."""
    script = (
        "import django; django.setup(); from django.test import Client; c = Client();"
        " print(c.get('/healthz', HTTP_HOST='10.244.1.7').status_code,"
        " c.get('/api/v1/sites/', HTTP_HOST='dcpower.example').status_code)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DCPOWER_HTTPS"}}
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="dcpower.example",
        DJANGO_SETTINGS_MODULE="dcpower.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "301"]


@pytest.mark.parametrize("value", ["0", "-5", "often"])
def test_a_heartbeat_interval_must_be_a_positive_number(value):
    env = {**os.environ, "WORKER_HEARTBEAT_S": value, "DJANGO_SETTINGS_MODULE": "dcpower.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "WORKER_HEARTBEAT_S must be a positive number of seconds" in result.stderr


def test_probes_take_get_and_head_only(anon):
    assert anon.head("/healthz").status_code == 200
    assert anon.post("/healthz").status_code == 405


def test_probes_are_not_counted_in_request_metrics(anon, db):
    name = "django_http_requests_before_middlewares_total"
    before = REGISTRY.get_sample_value(name) or 0
    anon.get("/healthz")
    assert (REGISTRY.get_sample_value(name) or 0) == before
    anon.get("/api/v1/")
    assert REGISTRY.get_sample_value(name) == before + 1  # counted, where it should be


# --- /readyz ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ready_when_every_site_queue_has_a_live_worker(anon, embedded_broker, caplog):
    paris, lyon = factories.make_site(name="Paris"), factories.make_site(name="Lyon")
    beat("w1@a", site_queues(paris))
    beat("w2@b", [site_queue(lyon.pk)])
    beat("w3@c", [telemetry_queue(lyon.pk), "celery"])
    response = anon.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": READY}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.django_db
def test_readyz_costs_three_queries(anon, embedded_broker, django_assert_num_queries):
    sites = [factories.make_site() for _ in range(5)]
    for number, site in enumerate(sites):
        beat(f"w{number}@h", site_queues(site))
    with django_assert_num_queries(3):  # SELECT 1, the sites, the live heartbeats
        assert anon.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_ready_with_no_site_and_no_worker(anon, embedded_broker):
    assert anon.get("/readyz").json() == {"status": "ready", "checks": READY}


@pytest.mark.django_db
def test_a_site_queue_without_a_worker_makes_it_unavailable(anon, embedded_broker, caplog):
    paris, lyon = factories.make_site(name="Paris"), factories.make_site(name="Lyon")
    beat("w1@a", site_queues(paris))
    beat("w2@b", [site_queue(lyon.pk)])  # nobody polls Lyon's PDUs
    response = anon.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "ok", "workers": "failing"},
    }
    assert_reveals_nothing(
        response, telemetry_queue(lyon.pk), "telemetry", "Lyon", "w2@b", f".{lyon.pk}"
    )
    (warning,) = [r for r in caplog.records if r.name == "dcpower.health"]
    assert warning.levelno == logging.WARNING
    assert f"no live worker consumes {telemetry_queue(lyon.pk)}" in warning.getMessage()
    assert site_queue(lyon.pk) not in warning.getMessage()
    # The reasons are in that WARNING: Django's own ERROR line for a 503 is left out.
    assert not [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.django_db
def test_a_stale_heartbeat_does_not_count(anon, embedded_broker, settings):
    settings.WORKER_HEARTBEAT_S = 10
    site = factories.make_site()
    row = beat("w1@a", site_queues(site), age_s=31)  # three missed beats and a second
    response = anon.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == "failing"
    WorkerHeartbeat.objects.filter(pk=row.pk).update(
        last_seen=timezone.now() - timedelta(seconds=28)
    )
    assert anon.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_an_unreachable_broker_makes_it_unavailable_quickly(anon, settings, caplog):
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{port}/0"
    started = time.monotonic()
    response = anon.get("/readyz")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "failing", "workers": "ok"},
    }
    assert_reveals_nothing(response, "127.0.0.1", str(port), "hunter2", "Error", "refused")
    (warning,) = [r for r in caplog.records if r.name == "dcpower.health"]
    assert "broker: ConnectionError" in warning.getMessage()
    assert "hunter2" not in warning.getMessage()  # the broker URL itself is never logged


@pytest.mark.requires_service("redis")
@pytest.mark.django_db
def test_a_reachable_redis_broker_is_ok(anon, settings):
    settings.CELERY_BROKER_URL = redis_url()
    assert anon.get("/readyz").json()["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_the_embedded_broker_needs_its_folders(anon, embedded_broker):
    assert anon.get("/readyz").status_code == 200
    (embedded_broker / "control").rmdir()
    response = anon.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "failing"
    assert_reveals_nothing(response, str(embedded_broker), "control")


@pytest.mark.django_db
def test_another_kombu_transport_is_connected_to(anon, settings):
    settings.CELERY_BROKER_URL = "memory://"
    assert anon.get("/readyz").json()["checks"]["broker"] == "ok"
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
    assert anon.get("/readyz").json()["checks"]["broker"] == "failing"


@pytest.mark.django_db
def test_a_failing_database_makes_it_unavailable(anon, embedded_broker, monkeypatch, caplog):
    site = factories.make_site(name="Paris")
    beat("w1@a", site_queues(site))
    message = 'connection to server at "db.internal" (10.0.0.9), port 5432 failed'

    def refuse(*args, **kwargs):
        raise OperationalError(message)

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        response = anon.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "failing", "broker": "ok", "workers": "failing"},
    }
    assert_reveals_nothing(response, "db.internal", "10.0.0.9", "5432", "OperationalError")
    (warning,) = [r for r in caplog.records if r.name == "dcpower.health"]
    assert f"database: OperationalError: {message}" in warning.getMessage()


# --- Heartbeats -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_heartbeat_is_written_then_rewritten_then_deleted():
    started = timezone.now()
    heartbeat.heartbeat_write(hostname="w1@a", queues=["b", "a"], pid=7, started_at=started)
    first = WorkerHeartbeat.objects.get()
    assert (first.hostname, first.queues, first.pid) == ("w1@a", ["a", "b"], 7)
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(minutes=1))
    heartbeat.heartbeat_write(hostname="w1@a", queues=["c"], pid=7, started_at=started)
    again = WorkerHeartbeat.objects.get()
    assert again.queues == ["c"]
    assert again.last_seen > timezone.now() - timedelta(seconds=10)  # rewritten: now again
    heartbeat.heartbeat_delete(hostname="w1@a")
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db
def test_workers_dead_for_a_day_are_forgotten():
    beat("dead@a", ["x"], age_s=heartbeat.FORGET_AFTER.total_seconds() + 60)
    beat("stale@b", ["x"], age_s=3600)  # still shown: someone may want to know
    assert heartbeat.heartbeats_forget_dead() == 1
    assert list(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == ["stale@b"]


@pytest.mark.requires_service("postgres")
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_until_stopped_then_removes_its_row():
    queues = ["power.site.1"]
    thread = heartbeat.HeartbeatThread(hostname="t@h", queues=lambda: queues, interval_s=0.05)
    thread.start()
    try:
        first = wait_for(lambda: WorkerHeartbeat.objects.filter(hostname="t@h").first())
        queues.append("telemetry.site.1")  # consumed from now on: the next beat says so
        later = wait_for(
            lambda: WorkerHeartbeat.objects.filter(
                hostname="t@h", last_seen__gt=first.last_seen, queues__contains=queues
            ).first()
        )
        assert later.started_at == first.started_at
    finally:
        thread.stop()
    assert not thread.is_alive()
    assert not WorkerHeartbeat.objects.filter(hostname="t@h").exists()


def wait_for(predicate, timeout_s: float = 10, what: str = "", output=lambda: ""):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}\n{output()}")
        time.sleep(0.05)


# --- The admin ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_admins_see_the_heartbeats_read_only(client, django_user_model):
    beat("w1@rack-a", ["power.site.1", "telemetry.site.1"])
    viewer = django_user_model.objects.create_user("vic", password="x", is_staff=True)
    factories.grant(viewer, "viewer")
    admin = django_user_model.objects.create_user("ada", password="x", is_staff=True)
    factories.grant(admin, "admin")
    url = "/admin/dcpower/workerheartbeat/"

    client.force_login(viewer)
    assert client.get(url).status_code == 403

    client.force_login(admin)
    page = client.get(url)
    assert page.status_code == 200
    assert "w1@rack-a" in page.text and "power.site.1, telemetry.site.1" in page.text
    assert client.get(f"{url}add/").status_code == 403
    row = WorkerHeartbeat.objects.get()
    detail = client.get(f"{url}{row.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.text
    assert client.post(f"{url}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert WorkerHeartbeat.objects.exists()


# --- Real workers ---------------------------------------------------------------------------


@pytest.mark.requires_service("postgres", "redis")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_readyz_follows_a_real_worker(pool, anon, start_worker):
    site = factories.make_site(name="Paris")
    before = anon.get("/readyz")
    assert before.status_code == 503, before.json()
    assert before.json()["checks"] == {"database": "ok", "broker": "ok", "workers": "failing"}

    worker = start_worker(
        site, queues=site_queues(site), pool=pool, WORKER_HEARTBEAT_S="0.3", LOG_FORMAT="json"
    )
    wait_for(
        lambda: anon.get("/readyz").status_code == 200, what="readyz 200", output=worker.output
    )
    row = WorkerHeartbeat.objects.get(hostname=worker.name)
    assert row.queues == sorted(site_queues(site))
    assert row.pid == worker.process.pid  # the main process, with either pool
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(pk=row.pk, last_seen__gt=row.last_seen).exists(),
        what="a second beat",
        output=worker.output,
    )
    # The worker logs as configured: JSON, with its name.
    ready_line = next(line for line in worker.output().splitlines() if " ready." in line)
    logged = json.loads(ready_line)
    assert (logged["worker"], logged["process"]) == (worker.name, "MainProcess")

    worker.process.send_signal(signal.SIGTERM)  # a clean (warm) shutdown
    assert worker.process.wait(30) == 0, worker.output()
    assert not WorkerHeartbeat.objects.filter(hostname=worker.name).exists(), worker.output()
    assert anon.get("/readyz").status_code == 503


@pytest.mark.requires_service("postgres", "redis")
@pytest.mark.django_db(transaction=True)
def test_a_solo_worker_beats_while_it_runs_a_long_command(api, start_worker, rack):
    """The solo pool runs a command in the worker's main thread; the heartbeat goes on. The
    command's PDU swallows every request (a UDP socket that never answers), so the command
    lasts as long as the device timeouts; the worker logs it with its command id."""
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blackhole.bind(("127.0.0.1", 0))
    try:
        pdu = factories.make_pdu(
            rack=rack,
            management_host="127.0.0.1",
            management_port=blackhole.getsockname()[1],
            snmp_write_community="private",
            outlet_count=4,
        )
        worker = start_worker(
            rack.site,
            WORKER_HEARTBEAT_S="0.2",
            LOG_FORMAT="json",
            POWER_DEVICE_TIMEOUT_S="1",
        )
        outlet = pdu.outlets.get(number=1)
        response = api.post(
            f"/api/v1/outlets/{outlet.pk}/power/on/", {}, headers={"X-Request-ID": "inc-77"}
        )
        assert response.status_code == 202, response.data
        command_id = response.data["id"]
        beats_while_running: set = set()
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                running = PowerCommand.objects.filter(
                    pk=command_id, status=CommandStatus.RUNNING
                ).exists()
                seen = WorkerHeartbeat.objects.filter(hostname=worker.name).first()
                if running and seen is not None:
                    beats_while_running.add(seen.last_seen)
                time.sleep(0.05)
            connection.close()

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            wait_for(
                lambda: PowerCommand.objects.filter(
                    pk=command_id, finished_at__isnull=False
                ).exists(),
                timeout_s=60,
                what="the command to finish",
                output=worker.output,
            )
        finally:
            stop.set()
            watcher.join()
        assert len(beats_while_running) >= 3, (beats_while_running, worker.output())
    finally:
        blackhole.close()

    lines = [json.loads(line) for line in worker.output().splitlines() if line.startswith("{")]
    finished = [line for line in lines if line["message"].startswith(f"power command {command_id}")]
    assert finished, worker.output()
    for line in finished:
        assert line["command_id"] == command_id
        assert line["request_id"] == "inc-77"
        assert line["worker"] == worker.name
