"""Power commands (issue #5): how long one outlet takes from the HTTP request to its verified
outcome, next to the sum of its parts measured alone, and how long 1,000 outlets on 50 PDUs
take as one command; all against simulated PDUs with no relay delay.

    .venv/bin/python bench/power_commands.py             # about three minutes
    .venv/bin/python bench/power_commands.py --help      # samples, rounds, server, pool...

What it does, all on loopback:

1. Creates a fresh PostgreSQL database (``dcpower_bench``), migrates it (``manage.py migrate``
   with DATABASE_URL set) and empties a Redis database of its own (13) for the broker and the
   result backend; both are dropped / emptied again at the end.
2. Starts ``python -m simulators`` on a fleet of 50 apc_rpdu2 PDUs x 20 outlets with
   ``relay_delay_s: 0``, each on its own 127.0.X.Y address, and creates the inventory for them
   (one site, 25 racks of two PDUs, a superuser with an API token) with a Django helper run
   as a subprocess (this file, ``--django-helper setup``).
3. Starts gunicorn (dcpower's production web server, deploy/systemd/dcpower-web.service)
   with gthread workers, which keep HTTP connections alive, and a Celery worker
   (solo pool by default) on the site's queue, with POWER_POLL_INTERVAL_S=0.005 and
   POWER_POWER_ON_STAGGER_S=0.
4. In interleaved rounds, side by side: one outlet switched end to end (POST
   /api/v1/outlets/{id}/power/{off|on}/ with a reason, force and ``Prefer: wait``, whose
   answer carries the verified outcome; ``--completion poll`` GETs the command until it has
   finished instead); a no-op DRF request (a view answering {} to the same token, served
   beside dcpower's URLs); a
   no-op Celery task round trip (a task that returns None, from a module the worker imports,
   its result read from Redis); one SNMP SET and its verifying GET with our driver against one
   simulated PDU in one long-lived event loop. Then 1,000 outlets (every outlet of the 50
   PDUs) switched off or on by one POST /api/v1/power/commands/, timed to the answer that
   shows them verified.
5. Breaks the end-to-end time down from the commands' own timestamps (created, started,
   finished); stops the server and the worker, and profiles the same work in-process
   (``--django-helper profile``: the views through Django's test client and
   ``execute_command`` called directly, with every SQL query and every SNMP request counted
   and timed, then once more under cProfile for the shares of pysnmp, the ORM and waiting).
   Exits 1 when a target is missed.
6. Prints a table and writes it into docs/performance.md under "Power commands (issue #5)".
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import dataclasses
import datetime
import http.client
import json
import os
import platform
import pstats
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (  # bench/_common.py, beside this script
    postgres,
    read_json_line,
    stop,
    write_docs_section,
)

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable

# Targets of issue #5.
E2E_P50_MS = 10.0
E2E_P99_MS = 25.0
PARTS_FACTOR = 1.5
BULK_S = 1.0
E2E_P50_S, E2E_P99_S = E2E_P50_MS / 1000, E2E_P99_MS / 1000

FINISHED = {"succeeded", "failed", "partially_failed", "cancelled"}
NOOP_TASK = "bench_power_noop.noop"
NOOP_MODULE = '''"""The benchmark's no-op task (bench/power_commands.py)."""
from celery import shared_task


@shared_task(name="bench_power_noop.noop")
def noop():
    return None
'''
# The no-op DRF request: an APIView that answers {} to an authenticated user, served by the
# benchmark's gunicorn beside dcpower's own URLs, so that it passes through the same
# middleware, token authentication, content negotiation and JSON rendering as the POST.
NOOP_PATH = "/api/v1/bench-noop/"
# For reference: the smallest read of dcpower's own (a token, a count, one row serialised).
LIST_PATH = "/api/v1/sites/?limit=1"
NOOP_URLS_MODULE = '''"""dcpower's URLs and the no-op DRF request (bench/power_commands.py)."""
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from dcpower.urls import handler404, handler500, urlpatterns as dcpower_urlpatterns


class Noop(APIView):
    """Authenticated as every API request is (DRF's default classes: the token); does nothing."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({})


urlpatterns = [path("api/v1/bench-noop/", Noop.as_view()), *dcpower_urlpatterns]
'''
NOOP_SETTINGS_MODULE = '''"""dcpower's settings, the benchmark's URLs (bench/power_commands.py)."""
from dcpower.settings import *  # noqa: F403

ROOT_URLCONF = "bench_power_urls"
'''


# --- statistics -----------------------------------------------------------------------------


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1..99), interpolated between the closest ranks."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


# --- processes ------------------------------------------------------------------------------


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- setup ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Bench:
    """Everything the run started, for the measurements and for the cleanup."""

    tmp: Path
    env: dict[str, str]
    database: str
    redis_url: str
    processes: dict[str, subprocess.Popen] = dataclasses.field(default_factory=dict)
    logs: dict[str, Path] = dataclasses.field(default_factory=dict)
    database_created: bool = False
    redis_used: bool = False
    pdus: list[dict] = dataclasses.field(default_factory=list)
    inventory: dict = dataclasses.field(default_factory=dict)
    port: int = 0
    worker_name: str = ""

    @property
    def queue(self) -> str:
        return f"power.site.{self.inventory['site']}"


def bench_env(args, tmp: Path) -> dict[str, str]:
    """The environment of every dcpower process of the run (server, worker, helpers)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("POWER_", "CELERY_"))}
    (tmp / "bench_power_urls.py").write_text(NOOP_URLS_MODULE)
    (tmp / "bench_power_settings.py").write_text(NOOP_SETTINGS_MODULE)
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "bench_power_settings",  # dcpower's, with the no-op's URL
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.database}",
        "CELERY_BROKER_URL": args.redis_url,
        "CELERY_RESULT_BACKEND": args.redis_url,
        # A real secret key turns DEBUG off: no query log, production code paths.
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DCPOWER_HTTPS": "0",  # plain HTTP on loopback
        "POWER_RATE_LIMIT": "1000000/min",  # the benchmark is the load
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DCPOWER_DATA_DIR": str(tmp / "var"),
        "LOG_LEVEL": "WARNING",
        "POWER_POLL_INTERVAL_S": str(args.device_poll_interval),
        "POWER_POWER_ON_STAGGER_S": "0",
        "POWER_VERIFY_TIMEOUT_S": "10",
        "POWER_DEVICE_TIMEOUT_S": "2",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp)]),
        "PYTHONUNBUFFERED": "1",
    }


def create_database(bench: Bench) -> None:
    with postgres() as conn:
        # Left over from an aborted run of this benchmark: it is ours to drop.
        conn.execute(f'DROP DATABASE IF EXISTS "{bench.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{bench.database}"')
    bench.database_created = True


def drop_database(bench: Bench) -> None:
    if not bench.database_created:
        return
    with postgres() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench.database}" WITH (FORCE)')


def flush_redis(bench: Bench) -> None:
    import redis

    client = redis.Redis.from_url(bench.redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def run_checked(command: list[str], bench: Bench, name: str, timeout_s: float) -> str:
    log = bench.tmp / f"{name}.log"
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=bench.env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    log.write_text(result.stdout + result.stderr)
    if result.returncode:
        raise RuntimeError(f"{name} failed ({result.returncode}):\n{tail(log)}")
    return result.stdout


def start_simulator(args, bench: Bench) -> None:
    fleet = {
        "time_scale": 1.0,
        "defaults": {"outlets": args.outlets, "relay_delay_s": 0},
        "pdus": [
            {
                "name": f"BENCH-PDU-{i:03d}",
                "protocol": "snmp",
                "profile": "apc_rpdu2",
                "host": f"127.0.{150 + i // 250}.{1 + i % 250}",
                "port": 0,
            }
            for i in range(args.pdus)
        ],
    }
    path = bench.tmp / "fleet.json"
    path.write_text(json.dumps(fleet, indent=1))
    bench.logs["simulator"] = bench.tmp / "simulator.log"
    bench.processes["simulator"] = subprocess.Popen(
        [PYTHON, "-m", "simulators", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=bench.logs["simulator"].open("w"),
        text=True,
    )
    bench.pdus = read_json_line(bench.processes["simulator"], timeout_s=60)["pdus"]


def start_server(args, bench: Bench) -> None:
    bench.port = free_tcp_port()
    bench.logs["gunicorn"] = bench.tmp / "gunicorn.log"
    command = [PYTHON, "-m", "gunicorn", "dcpower.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{bench.port}", "--worker-class", "gthread"]
    command += ["--workers", str(args.web_workers), "--threads", str(args.web_threads)]
    command += ["--keep-alive", "120", "--graceful-timeout", "5", "--timeout", "60"]
    command += ["--error-logfile", str(bench.logs["gunicorn"])]
    bench.processes["gunicorn"] = subprocess.Popen(
        command, cwd=ROOT, env=bench.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    api = Api(bench.port, bench.inventory["token"])
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = api.request("GET", NOOP_PATH)
            if status == 200:
                api.close()
                return
        if bench.processes["gunicorn"].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not come up:\n{tail(bench.logs['gunicorn'])}")
        time.sleep(0.2)


def start_worker(args, bench: Bench, celery_app) -> None:
    (bench.tmp / "bench_power_noop.py").write_text(NOOP_MODULE)
    bench.worker_name = f"bench-power-{secrets.token_hex(4)}@{socket.gethostname()}"
    bench.logs["worker"] = bench.tmp / "worker.log"
    command = [PYTHON, "-m", "celery", "-A", "dcpower", "worker", "--pool", args.pool]
    if args.pool == "prefork":
        command += ["--concurrency", str(args.concurrency)]
    command += ["-Q", bench.queue, "-n", bench.worker_name, "--include", "bench_power_noop"]
    command += ["-l", "warning", "--without-mingle", "--without-gossip", "--without-heartbeat"]
    with bench.logs["worker"].open("wb") as out:
        bench.processes["worker"] = subprocess.Popen(
            command, cwd=ROOT, env=bench.env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while True:
        result = celery_app.send_task(NOOP_TASK, queue=bench.queue)
        with contextlib.suppress(Exception):
            result.get(timeout=2)
            return
        if bench.processes["worker"].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Celery worker did not come up:\n{tail(bench.logs['worker'])}")


def django_helper(bench: Bench, mode: str, params: dict, timeout_s: float) -> dict:
    """Run this file as a Django program in the bench environment; its last stdout line is
    its answer, as JSON."""
    path = bench.tmp / f"{mode}-params.json"
    path.write_text(json.dumps(params))
    out = run_checked(
        [PYTHON, __file__, "--django-helper", mode, "--params", str(path)],
        bench,
        f"helper-{mode}",
        timeout_s,
    )
    return json.loads(out.strip().splitlines()[-1])


def celery_client(redis_url: str):
    from celery import Celery

    app = Celery("bench-power-client", broker=redis_url, backend=redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=600,
    )
    return app


# --- the HTTP client ------------------------------------------------------------------------


class Api:
    """One keep-alive HTTP/1.1 connection to the server, with the bench user's token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {
            "Authorization": f"Token {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def request(
        self, method: str, path: str, body: dict | None = None, headers: dict | None = None
    ) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.reconnects += 1
        try:
            self.conn.request(method, path, body=data, headers={**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, json.loads(payload) if payload else {}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- measurements ---------------------------------------------------------------------------


@dataclasses.dataclass
class CommandSample:
    """One command from its POST to the first GET that shows it finished."""

    command: int
    total_s: float
    post_s: float
    polls: int
    verified: bool
    start_wall: float  # time.time() when the POST was sent
    status: str = ""


def switch_and_wait(
    api: Api, path: str, body: dict, wanted: str, poll_s: float, timeout_s: float, *, wait: bool
) -> CommandSample:
    """POST the command and read its outcome: with ``wait``, in the POST's own answer
    (``Prefer: wait``, 201 once finished); else (or if the wait expired) by GETs."""
    start_wall = time.time()
    t0 = time.perf_counter()
    headers = {"Prefer": f"wait={int(timeout_s)}"} if wait else None
    status, answer = api.request("POST", path, body, headers)
    post_s = time.perf_counter() - t0
    if status not in (201, 202):
        raise RuntimeError(f"POST {path} answered {status}: {str(answer)[:500]}")
    command = answer["id"]
    deadline = t0 + timeout_s
    polls = 0
    while status != 201:
        status, answer = api.request("GET", f"/api/v1/power/commands/{command}/")
        polls += 1
        if status != 200:
            raise RuntimeError(f"GET command {command} answered {status}: {str(answer)[:500]}")
        if answer["status"] in FINISHED:
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"command {command} not finished after {timeout_s} s: {answer}")
        if poll_s:
            time.sleep(poll_s)
    total_s = time.perf_counter() - t0
    verified = answer["status"] == "succeeded" and all(
        r["outcome"] == "succeeded" and r["state_after"] == wanted for r in answer["results"]
    )
    return CommandSample(command, total_s, post_s, polls, verified, start_wall, answer["status"])


def e2e_once(api: Api, outlet: int, action: str, args) -> CommandSample:
    return switch_and_wait(
        api,
        f"/api/v1/outlets/{outlet}/power/{action}/",
        {"reason": "bench: power_commands.py", "force": True},
        action,
        args.client_poll_interval,
        timeout_s=15,
        wait=args.completion == "wait",
    )


def bulk_once(api: Api, outlets: list[int], action: str, args) -> CommandSample:
    return switch_and_wait(
        api,
        "/api/v1/power/commands/",
        {"action": action, "outlets": outlets, "reason": "bench: power_commands.py", "force": True},
        action,
        args.bulk_poll_interval,
        timeout_s=60,
        wait=args.completion == "wait",
    )


def get_once(api: Api, path: str) -> float:
    t0 = time.perf_counter()
    status, _ = api.request("GET", path)
    elapsed = time.perf_counter() - t0
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}")
    return elapsed


def celery_once(celery_app, queue: str) -> float:
    t0 = time.perf_counter()
    result = celery_app.send_task(NOOP_TASK, queue=queue)
    result.get(timeout=10, interval=0.001)
    return time.perf_counter() - t0


class SnmpPart:
    """Our SNMP driver against one simulated PDU, in one long-lived event loop (one engine)."""

    def __init__(self, pdu: dict) -> None:
        from power.drivers.base import DeviceTarget
        from power.drivers.registry import driver_for_vendor

        self.loop = asyncio.new_event_loop()
        target = DeviceTarget(
            host=pdu["host"],
            port=pdu["port"],
            vendor="apc_rpdu2",
            read_community="public",
            write_community="private",
        )
        self.driver = driver_for_vendor(target, "apc_rpdu2")
        # SNMP requests per kind ("set_cmd", "get_cmd", "bulk_cmd") for each measurement.
        self.requests: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self._counting: collections.Counter = collections.Counter()
        original, original_v2c = self.driver.client._request, self.driver.client._v2c

        async def counted(command, var_binds, **kwargs):
            self._counting[command.__name__] += 1
            return await original(command, var_binds, **kwargs)

        async def counted_v2c(pdu_type, var_binds, **kwargs):
            self._counting[V2C_REQUEST_NAMES[pdu_type]] += 1
            return await original_v2c(pdu_type, var_binds, **kwargs)

        self.driver.client._request = counted
        self.driver.client._v2c = counted_v2c
        # The driver learns which outlet table the PDU switches through from a state read (as
        # the executor's driver does), so that a switch is one SET.
        self.loop.run_until_complete(self.driver.outlet_states())

    def set_and_get(self, number: int, action: str) -> float:
        """One SET and the GET of the outlet's status objects that verifies it."""
        self._counting = self.requests["set_and_get"]
        t0 = time.perf_counter()
        self.loop.run_until_complete(self._set_and_get(number, action))
        return time.perf_counter() - t0

    async def _set_and_get(self, number: int, action: str) -> None:
        from power.drivers.base import SwitchAction

        await self.driver.switch([number], SwitchAction(action))
        status = await self.driver.outlet_state(number)
        if status.state != action:
            raise RuntimeError(f"outlet {number} is {status.state} after {action}")

    def executor_style(self, number: int, action: str) -> float:
        """What the executor asks of a PDU for one outlet: read the state columns (the state
        before), SET, read the state columns again (verify)."""
        self._counting = self.requests["executor_style"]
        t0 = time.perf_counter()
        self.loop.run_until_complete(self._executor_style(number, action))
        return time.perf_counter() - t0

    async def _executor_style(self, number: int, action: str) -> None:
        from power.drivers.base import SwitchAction

        await self.driver.outlet_states()
        await self.driver.switch([number], SwitchAction(action))
        states = {s.number: s.state for s in await self.driver.outlet_states()}
        if states.get(number) != action:
            raise RuntimeError(f"outlet {number} is {states.get(number)} after {action}")

    def close(self) -> None:
        from power.drivers.snmp.client import close_engine_for_running_loop

        async def closing():
            await self.driver.close()
            close_engine_for_running_loop()

        self.loop.run_until_complete(closing())
        self.loop.close()


def command_timestamps(bench: Bench, ids: list[int]) -> dict[int, tuple[float, float, float]]:
    """created, started_at, finished_at of commands, as POSIX times."""
    with postgres(bench.database) as conn:
        rows = conn.execute(
            "SELECT id, created, started_at, finished_at FROM power_powercommand "
            "WHERE id = ANY(%s)",
            (ids,),
        ).fetchall()
    return {row[0]: tuple(t.timestamp() for t in row[1:]) for row in rows}


# --- the Django helper (a subprocess in the bench environment) ------------------------------


def helper_main(mode: str, params_path: Path) -> int:
    import django

    django.setup()
    params = json.loads(params_path.read_text())
    answer = helper_setup(params) if mode == "setup" else helper_profile(params)
    print(json.dumps(answer), flush=True)
    return 0


def helper_setup(params: dict) -> dict:
    """Inventory for the simulated PDUs: one site, racks of two PDUs, a superuser and token."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from dcpower.tokens import api_token_create
    from inventory import services
    from inventory.choices import PduMounting
    from inventory.models import PDU, Outlet, Rack, Site

    with transaction.atomic():
        site = Site.objects.create(name="Bench", slug="bench")
        racks: dict[int, Rack] = {}
        outlets = []
        for i, pdu in enumerate(params["pdus"]):
            if i // 2 not in racks:
                rack = Rack(site=site, name=f"B{i // 2 + 1:02d}", u_height=42)
                rack.full_clean()
                rack.save()
                racks[i // 2] = rack
            row = PDU(
                rack=racks[i // 2],
                name=pdu["name"],
                vendor_profile="apc_rpdu2",
                management_host=pdu["host"],
                management_port=pdu["port"],
                snmp_read_community="public",
                snmp_write_community="private",
                outlet_count=pdu["outlets"],
                mounting=PduMounting.ZERO_U_LEFT if i % 2 == 0 else PduMounting.ZERO_U_RIGHT,
            )
            row.full_clean()
            row.save()
            services.pdu_sync_outlets(pdu=row)
            outlets.append(list(row.outlets.order_by("number").values_list("pk", flat=True)))
        Outlet.objects.update(state="on")  # the simulated outlets start on
        user = get_user_model().objects.create_superuser("bench", "bench@example.invalid", None)
        _, token = api_token_create(user=user, name="bench")
    return {"site": site.pk, "token": token, "outlets": outlets}


def helper_profile(params: dict) -> dict:
    """The same work as the benchmark, in one process and with nothing queued: the request
    through Django's test client, ``execute_command`` called directly, the detail GET; every
    SQL query and SNMP request counted and timed."""
    from collections import Counter

    from django.db import connection
    from django.test import Client

    from power import completion, execution, services
    from power.drivers.snmp import client as snmp_client

    services.power_command_enqueue = lambda **_: None  # executed below instead
    stats: Counter = Counter()
    # Statements after the finished command's announcement (telemetry's receivers) are
    # counted apart too: they are not on the path to a waiting request's answer.
    announced = {"yet": False}
    original_announce = completion.announce_finished

    def announce(*args, **kwargs):
        announced["yet"] = True
        return original_announce(*args, **kwargs)

    completion.announce_finished = announce

    def sql(execute, query, query_params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(query, query_params, many, context)
        finally:
            elapsed = time.perf_counter() - t0
            stats["sql_s"] += elapsed
            stats["sql"] += 1
            verb = query.lstrip().split(None, 1)[0].upper()
            stats[f"sql_{verb.lower()}"] += 1
            if announced["yet"]:
                stats["sql_after_announcement_s"] += elapsed
                stats["sql_after_announcement"] += 1

    original_request = snmp_client.SnmpClient._request
    original_v2c = snmp_client.SnmpClient._v2c

    async def snmp_request(self, command, var_binds, **kwargs):
        stats[f"snmp_{command.__name__}"] += 1
        return await original_request(self, command, var_binds, **kwargs)

    async def snmp_v2c(self, pdu_type, var_binds, **kwargs):
        stats[f"snmp_{V2C_REQUEST_NAMES[pdu_type]}"] += 1
        return await original_v2c(self, pdu_type, var_binds, **kwargs)

    snmp_client.SnmpClient._request = snmp_request
    snmp_client.SnmpClient._v2c = snmp_v2c

    def timed_async(name, function):
        async def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return await function(*a, **kw)
            finally:
                stats[f"{name}_s"] += time.perf_counter() - t0

        return wrapper

    execution._read_states = timed_async("read_before", execution._read_states)
    execution._phase = timed_async("phase", execution._phase)
    original_loop_run = execution.device_loop().run_until_complete

    def loop_run(future):
        t0 = time.perf_counter()
        try:
            return original_loop_run(future)
        finally:
            stats["device_s"] += time.perf_counter() - t0

    execution.device_loop().run_until_complete = loop_run

    client = Client(HTTP_AUTHORIZATION=f"Token {params['token']}")

    def measure(name: str, function):
        announced["yet"] = False
        before = stats.copy()
        t0 = time.perf_counter()
        with connection.execute_wrapper(sql):
            value = function()
        elapsed = time.perf_counter() - t0
        delta = {k: stats[k] - before.get(k, 0) for k in stats}
        return value, {"total_s": elapsed, **{k: v for k, v in delta.items() if v}}

    def profiled(profiler, function):
        if profiler is None:
            return function
        return lambda: profiler.runcall(function)

    def one(path: str, body: dict, action: str, profiler=None, profilers=None) -> dict:
        """One command: POST, execute_command, detail GET. ``profiler`` profiles the execution;
        ``profilers`` ({"post", "run", "get"}) each stage."""
        profilers = profilers or {"run": profiler}
        response, post = measure(
            "post",
            profiled(
                profilers.get("post"),
                lambda: client.post(path, body, content_type="application/json"),
            ),
        )
        if response.status_code != 202:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.content[:300]}")
        command = response.json()["id"]
        execute = profiled(profilers.get("run"), lambda: execution.execute_command(command))
        status, run = measure("run", execute)
        response, get = measure(
            "get",
            profiled(
                profilers.get("get"), lambda: client.get(f"/api/v1/power/commands/{command}/")
            ),
        )
        results = response.json()["results"]
        if status != "succeeded" or any(r["state_after"] != action for r in results):
            raise RuntimeError(f"profiled command {command} ended {status}")
        return {"post": post, "run": run, "get": get}

    single = []
    outlet = params["single_outlet"]
    for i in range(params["single_runs"]):
        action = "off" if i % 2 == 0 else "on"
        body = {"reason": "bench profile", "force": True}
        single.append(one(f"/api/v1/outlets/{outlet}/power/{action}/", body, action))
    # The no-op DRF request part, in the same process: its own statement (the token), which
    # the parts already contain; and the small list, for reference.
    noop = [measure("noop", lambda: client.get(NOOP_PATH))[1] for _ in range(params["single_runs"])]
    listing = [
        measure("list", lambda: client.get(LIST_PATH))[1] for _ in range(params["single_runs"])
    ]
    bulk = []
    for i in range(params["bulk_runs"]):
        action = "off" if i % 2 == 0 else "on"
        body = {"action": action, "outlets": params["bulk_outlets"], "reason": "bench profile"}
        bulk.append(one("/api/v1/power/commands/", {**body, "force": True}, action))

    # Where execute_command spends its time, under cProfile (which slows Python code more
    # than waiting, so the shares are approximate): separate runs, not in the figures above.
    shares = {}
    for kind, runs in (("single", params["single_runs"]), ("bulk", 1)):
        profiler = cProfile.Profile()
        for i in range(runs):
            action = "off" if i % 2 == 0 else "on"
            if kind == "single":
                path, body = f"/api/v1/outlets/{outlet}/power/{action}/", {}
            else:
                path, body = "/api/v1/power/commands/", {"action": action}
                body["outlets"] = params["bulk_outlets"]
            body |= {"reason": "bench profile", "force": True}
            one(path, body, action, profiler)
        shares[kind] = profile_shares(pstats.Stats(profiler))
    if params.get("pstats_dir"):
        write_stage_pstats(Path(params["pstats_dir"]), outlet, params["single_runs"], one)
    return {"single": single, "bulk": bulk, "noop": noop, "list": listing, "shares": shares}


def write_stage_pstats(directory: Path, outlet: int, runs: int, one) -> None:
    """cProfile stats of each one-outlet stage, summed over ``runs`` commands, as
    DIR/{post,run,get}.pstats (``--pstats``)."""
    profilers = {stage: cProfile.Profile() for stage in ("post", "run", "get")}
    for i in range(runs):
        action = "off" if i % 2 == 0 else "on"
        body = {"reason": "bench profile", "force": True}
        one(f"/api/v1/outlets/{outlet}/power/{action}/", body, action, profilers=profilers)
    directory.mkdir(parents=True, exist_ok=True)
    for stage, profiler in profilers.items():
        profiler.dump_stats(directory / f"{stage}.pstats")


# Functions whose cumulative time tells where execute_command goes: (file ending, function).
PROFILED = {
    "decode": [
        ("pysnmp/proto/mpmod/rfc2576.py", "prepare_data_elements"),  # v1, v3: pysnmp
        ("power/drivers/snmp/ber.py", "decode_response"),  # v2c: our codec (ADR 0012)
    ],
    "make_varbinds": [
        ("pysnmp/hlapi/varbinds.py", "make_varbinds"),
        ("power/drivers/snmp/ber.py", "encode_request"),
    ],
    "sql": [("psycopg/cursor.py", "execute")],
    "save": [("django/db/models/base.py", "save")],
    "wait": [("~", "<method 'poll' of 'select.epoll' objects>")],
}
# The names the counters give the v2c requests of our codec, as pysnmp's commands are named.
V2C_REQUEST_NAMES = {0xA0: "get_cmd", 0xA3: "set_cmd", 0xA5: "bulk_cmd"}


def profile_shares(stats) -> dict[str, float]:
    """Each PROFILED function's cumulative time as a share of execute_command's."""
    found = dict.fromkeys(PROFILED, 0.0)
    total = 0.0
    for (file, _, function), (_, _, _, cumulative, _) in stats.stats.items():
        if file.endswith("power/execution.py") and function == "execute_command":
            total += cumulative
        for name, places in PROFILED.items():
            if any(file.endswith(end) and function == wanted for end, wanted in places):
                found[name] += cumulative
    return {name: value / total for name, value in found.items()} if total else found


# --- report ---------------------------------------------------------------------------------

DOCS_HEADING = "## Power commands (issue #5)"


@dataclasses.dataclass
class Check:
    name: str
    value: float
    limit: float
    unit: str  # "ms", "x" or "s"

    @property
    def ok(self) -> bool:
        return self.value <= self.limit

    def text(self, value: float | None = None) -> str:
        value = self.value if value is None else value
        return f"{value:.2f} {self.unit}" if self.unit != "x" else f"{value:.2f}x"

    def verdict(self) -> str:
        if self.ok:
            return f"PASS ({self.text()} against ≤ {self.text(self.limit)})"
        times = f"{self.value / self.limit:.1f}x the target"
        if self.unit == "x":
            return f"FAIL ({self.text()} against ≤ {self.text(self.limit)}, {times})"
        over = self.text(self.value - self.limit)
        return f"FAIL ({self.text()} against ≤ {self.text(self.limit)}: {over} over, {times})"


def machine_description() -> str:
    """The cores and CPU the numbers were measured on."""
    model = platform.processor() or "an unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores of {model}"


@dataclasses.dataclass
class Report:
    command: str
    args: argparse.Namespace
    e2e: list[CommandSample]
    e2e_times: dict[int, tuple[float, float, float]]
    drf: list[float]
    listing: list[float]  # for reference: a small list of dcpower's (LIST_PATH)
    celery: list[float]
    snmp: list[float]
    executor_snmp: list[float]
    snmp_requests: dict[str, dict[str, float]]  # measurement -> SNMP requests per sample
    bulk: list[CommandSample]
    bulk_times: dict[int, tuple[float, float, float]]
    profile: dict
    reconnects: int
    date: str = dataclasses.field(default_factory=lambda: datetime.date.today().isoformat())
    machine: str = dataclasses.field(default_factory=lambda: machine_description())

    # --- figures ---

    @property
    def e2e_s(self) -> list[float]:
        return [s.total_s for s in self.e2e]

    @property
    def parts_p50_s(self) -> float:
        return sum(statistics.median(x) for x in (self.drf, self.celery, self.snmp))

    @property
    def bulk_s(self) -> float:
        return statistics.median(s.total_s for s in self.bulk)

    def checks(self) -> list[Check]:
        p50, p99 = statistics.median(self.e2e_s), percentile(self.e2e_s, 99)
        ratio = p50 / self.parts_p50_s
        return [
            Check("one outlet end to end, p50", p50 * 1000, E2E_P50_MS, "ms"),
            Check("one outlet end to end, p99", p99 * 1000, E2E_P99_MS, "ms"),
            Check("end-to-end p50 / sum of the parts' p50", ratio, PARTS_FACTOR, "x"),
            Check("1,000 outlets on 50 PDUs, one command", self.bulk_s, BULK_S, "s"),
        ]

    @property
    def passed(self) -> bool:
        return all(check.ok for check in self.checks())

    def breakdown(self, samples, times) -> dict[str, float]:
        """Medians of where a command's time went, from its own timestamps (one clock)."""
        parts: dict[str, list[float]] = {
            k: [] for k in ("request", "queue", "run", "seen", "post", "polls", "server")
        }
        for s in samples:
            created, started, finished = times[s.command]
            parts["request"].append(created - s.start_wall)
            parts["queue"].append(started - created)
            parts["run"].append(finished - started)
            parts["seen"].append(s.start_wall + s.total_s - finished)
            parts["post"].append(s.post_s)
            parts["polls"].append(s.polls)
            parts["server"].append(finished - created)
        return {k: statistics.median(v) for k, v in parts.items()}

    def profile_medians(self, kind: str) -> dict[str, dict[str, float]]:
        runs = self.profile[kind]
        out = {}
        for stage in ("post", "run", "get"):
            keys = set().union(*(r[stage] for r in runs))
            out[stage] = {k: statistics.median(r[stage].get(k, 0) for r in runs) for k in keys}
        return out

    # --- text ---

    def table(self) -> list[str]:
        def row(name, values, target="", result=""):
            return (
                f"| {name} | {len(values)} | {ms(statistics.median(values))} | "
                f"{ms(percentile(values, 99))} | {target} | {result} |"
            )

        p50, p99, ratio, bulk_check = self.checks()
        word = {True: "PASS", False: "FAIL"}
        bulk = [s.total_s for s in self.bulk]
        bulk_b = self.breakdown(self.bulk, self.bulk_times)
        return [
            "| measurement | samples | p50 (ms) | p99 (ms) | target | result |",
            "| --- | --- | --- | --- | --- | --- |",
            row(
                "one outlet end to end: POST → answer showing it verified",
                self.e2e_s,
                f"p50 ≤ {E2E_P50_MS:g} ms, p99 ≤ {E2E_P99_MS:g} ms",
                f"p50 {word[p50.ok]}, p99 {word[p99.ok]}",
            ),
            row(f"part: no-op DRF request (GET {NOOP_PATH})", self.drf),
            row("part: no-op Celery task round trip (Redis)", self.celery),
            row("part: SNMP SET + verifying GET (our driver, one PDU)", self.snmp),
            f"| sum of the parts' p50 | | {ms(self.parts_p50_s)} | | end-to-end p50 ≤ "
            f"{PARTS_FACTOR:g}x the sum | {ratio.value:.2f}x {word[ratio.ok]} |",
            row(
                "for reference: the executor's device work for one outlet "
                "(state walk + SET + state walk)",
                self.executor_snmp,
            ),
            row(f"for reference: a small list of dcpower's (GET {LIST_PATH})", self.listing),
            f"| 1,000 outlets on 50 PDUs, one command: POST → answer showing all verified | "
            f"{len(bulk)} | {ms(statistics.median(bulk))} (min {ms(min(bulk))}, max "
            f"{ms(max(bulk))}) | | ≤ {BULK_S * 1000:g} ms | {word[bulk_check.ok]} |",
            f"| same, from the command's `created` to its `finished_at` | {len(bulk)} | "
            f"{ms(bulk_b['server'])} | | | |",
        ]

    def markdown(self) -> str:
        a = self.args
        e2e_b = self.breakdown(self.e2e, self.e2e_times)
        bulk_b = self.breakdown(self.bulk, self.bulk_times)
        single = self.profile_medians("single")
        bulk = self.profile_medians("bulk")
        requests = {
            kind: ", ".join(f"{n:g} {k.removesuffix('_cmd').upper()}" for k, n in sorted(c.items()))
            for kind, c in self.snmp_requests.items()
        }
        lines = [
            f"Measured {self.date} on {self.machine} with `{self.command}`. Numbers from "
            "different machines are not comparable (the parts are measured in the same run "
            "for that reason).",
            "",
            *self.table(),
            "",
        ]
        lines += [f"- {check.name}: {check.verdict()}" for check in self.checks()]
        lines += [
            "",
            "Method:",
            "",
            f"- Fleet: one `python -m simulators` process, {a.pdus} apc_rpdu2 PDUs x "
            f"{a.outlets} outlets, `relay_delay_s: 0`, each PDU on its own 127.0.X.Y address. "
            "A PostgreSQL database created for the run and dropped after it; Redis database "
            f"{a.redis_url.rsplit('/', 1)[-1]} as broker and result backend, emptied before and "
            "after.",
            f"- Web: gunicorn, gthread worker class ({a.web_workers} workers x {a.web_threads} "
            "threads), `DEBUG` off, token authentication. gunicorn rather than `runserver`: it is "
            "how a WSGI application is served in production, and its gthread workers keep the "
            "client's connection alive (its sync workers close it after each response). The "
            "client is `http.client` on one keep-alive connection"
            + (f" ({self.reconnects - 1} reconnections)." if self.reconnects > 1 else "."),
            f"- Worker: `celery -A dcpower worker --pool {a.pool}` on the site's queue, "
            f"POWER_POLL_INTERVAL_S={a.device_poll_interval:g}, POWER_POWER_ON_STAGGER_S=0.",
            "- End to end: POST /api/v1/outlets/{id}/power/{off|on}/ (alternating, a reason and "
            "force), "
            + (
                "with `Prefer: wait=15`: the POST's own answer (201) carries the finished "
                "command with its verified outcome"
                if a.completion == "wait"
                else "then GET /api/v1/power/commands/{id}/ every "
                f"{a.client_poll_interval * 1000:g} ms until the command is finished"
            )
            + "; a sample counts only when that answer shows it succeeded with the outlet's "
            "`state_after` as asked (the command and result rows are written as always). "
            f"{a.warmup} warm-up "
            f"commands, then {len(self.e2e)} measured in {a.rounds} rounds, each sample "
            "followed by one sample of each part (interleaved, so they share the machine's "
            "noise).",
            f"- Parts alone: GET {NOOP_PATH} on the same connection and token: a DRF view "
            "that answers `{}` to an authenticated user, served beside dcpower's URLs by the "
            "same gunicorn (the benchmark's settings module adds it), so it passes through "
            "the same middleware, token authentication (one statement), content negotiation "
            f"and rendering as the POST (for reference, GET {LIST_PATH}: the token, a count "
            "and a one-row select); a task returning None from a module "
            "the worker imports (`--include`), sent to the site's queue, its result read from "
            "Redis; `driver.switch([n])` then `driver.outlet_state(n)` against one simulated PDU "
            "in the benchmark's own long-lived event loop, whose driver read the PDU's states "
            "once at start as the executor's does (requests per sample: "
            f"{requests.get('set_and_get', '')}). The executor-style reference is "
            "`outlet_states()`, `switch([n])`, `outlet_states()` (requests per sample: "
            f"{requests.get('executor_style', '')}).",
            f"- 1,000 outlets: POST /api/v1/power/commands/ with every outlet of the {a.pdus} "
            f"PDUs, off and on in turn, {len(self.bulk)} commands (one at the end of each "
            "round, after two warm-up commands), "
            + (
                "with `Prefer: wait=60`, until the answer shows every outlet verified."
                if a.completion == "wait"
                else f"GET of the command every {a.bulk_poll_interval * 1000:g} ms until it is "
                "finished with every outlet verified."
            ),
            "- p99 is interpolated between the closest ranks of the pooled samples.",
            "",
            "Where the time goes (medians; stages from each command's `created`, `started_at` "
            "and `finished_at` against the client's clock):",
            "",
            "| stage | one outlet (ms) | 1,000 outlets (ms) |",
            "| --- | --- | --- |",
            f"| POST sent → command row inserted (auth, validation, targets, blast radius) "
            f"| {ms(e2e_b['request'])} | {ms(bulk_b['request'])} |",
            f"| inserted → worker starts it (result rows, commit, publish, Redis, Celery, "
            f"the executor's claim) | {ms(e2e_b['queue'])} | {ms(bulk_b['queue'])} |",
            f"| worker: started → finished (device work and its DB writes) | "
            f"{ms(e2e_b['run'])} | {ms(bulk_b['run'])} |",
            f"| finished → the client has the outcome | {ms(e2e_b['seen'])} "
            f"| {ms(bulk_b['seen'])} |",
            f"| for reference: the POST's round trip; GETs per command | {ms(e2e_b['post'])}; "
            f"{e2e_b['polls']:g} | {ms(bulk_b['post'])}; {bulk_b['polls']:g} |",
            "",
            "The same work profiled in one process (`--django-helper profile`: the views through "
            "Django's test client, `execute_command` called directly, every SQL statement and "
            f"SNMP request counted; medians of {len(self.profile['single'])} one-outlet and "
            f"{len(self.profile['bulk'])} 1,000-outlet commands):",
            "",
            "| stage | one outlet | 1,000 outlets |",
            "| --- | --- | --- |",
            *self._profile_rows(single, bulk),
            *self._noop_rows(),
            "",
            self._shares_text(),
        ]
        if not self.passed:
            lines += ["", "What would close the gap:", "", *self._suggestions(e2e_b, bulk_b)]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _profile_rows(single, bulk) -> list[str]:
        def cell(stage, d):
            p = d[stage]
            text = f"{ms(p['total_s'])} ms; {p.get('sql', 0):g} SQL ({ms(p.get('sql_s', 0))} ms)"
            if stage == "run":
                snmp = {k[5:]: v for k, v in p.items() if k.startswith("snmp_")}
                text += (
                    f"; device work {ms(p.get('device_s', 0))} ms (state before "
                    f"{ms(p.get('read_before_s', 0))}, switch + verify {ms(p.get('phase_s', 0))})"
                    "; SNMP requests: "
                    + ", ".join(
                        f"{n:g} {k.removesuffix('_cmd').upper()}" for k, n in sorted(snmp.items())
                    )
                )
            return text

        return [
            f"| request (POST, the view) | {cell('post', single)} | {cell('post', bulk)} |",
            f"| execute_command | {cell('run', single)} | {cell('run', bulk)} |",
            f"| for reference: detail GET (the view; a waiting POST no longer reads the command "
            f"back) | {cell('get', single)} | {cell('get', bulk)} |",
        ]

    def _noop_rows(self) -> list[str]:
        rows = []
        for key, name in (("noop", "the no-op DRF request"), ("list", f"GET {LIST_PATH}")):
            runs = self.profile[key]
            total, sql_s, sql = (
                statistics.median(r.get(k, 0) for r in runs) for k in ("total_s", "sql_s", "sql")
            )
            rows.append(
                f"| for reference: {name} (the view) | {ms(total)} ms; {sql:g} SQL "
                f"({ms(sql_s)} ms) | |"
            )
        return rows

    def _shares_text(self) -> str:
        s, b = self.profile["shares"]["single"], self.profile["shares"]["bulk"]

        def both(key):
            return f"{s[key]:.0%} / {b[key]:.0%}"

        return (
            "Under cProfile (which slows Python code more than waiting: approximate), shares of "
            "`execute_command`'s time for one outlet / 1,000 outlets: decoding SNMP responses "
            f"(SNMPv2c: dcpower's codec, `snmp/ber.py`) {both('decode')}; building SNMP "
            f"requests {both('make_varbinds')}; `Model.save()` with its SQL "
            f"{both('save')}; all SQL in psycopg {both('sql')}; waiting in epoll (the PDUs' "
            f"answers, poll sleeps) {both('wait')}."
        )

    def _suggestions(self, e2e_b, bulk_b) -> list[str]:
        s, b = self.profile_medians("single"), self.profile_medians("bulk")
        shares = self.profile["shares"]
        parts = self.parts_p50_s * 1000
        out = []
        if parts > E2E_P50_MS:
            out.append(
                f"- The parts alone add up to {parts:.1f} ms at p50 on this machine, above the "
                f"{E2E_P50_MS:g} ms end-to-end target by themselves: reaching it needs the parts "
                "cheaper too (below), not only the glue between them."
            )
        # On the one-outlet path: the request and the worker. The waiting request answers from
        # the worker's announcement; its one status read runs while the worker works.
        after = s["run"].get("sql_after_announcement", 0)
        statements = sum(s[stage].get("sql", 0) for stage in ("post", "run")) - after
        statement_ms = (
            sum(s[stage].get("sql_s", 0) for stage in ("post", "run"))
            - s["run"].get("sql_after_announcement_s", 0)
        ) * 1000
        django_ms = sum(s[stage]["total_s"] for stage in ("post", "run")) * 1000
        noop = {
            key: statistics.median(run.get(key, 0) for run in self.profile["noop"])
            for key in ("sql", "sql_s")
        }
        floor = parts + statement_ms - noop["sql_s"] * 1000
        out.append(
            f"- What the parts leave out. One outlet's command is {statements:g} SQL statements "
            "(the request: token, the targets with the hosts they feed, the command with its "
            'result rows; the worker: the claim with the "sent" mark of the rows and '
            "their read with their outlets and PDUs, the end; the power path's statements "
            "prepared on each connection after five runs (ADR 0024); "
            "not counted: telemetry's "
            f"{after:g} after the announcement; a reused connection's health check makes no "
            "round trip within 5 s of its last, ADR 0027), "
            f"{statement_ms:.1f} ms in the database driver "
            f"(commits not counted) and {django_ms:.1f} ms in all with the views' and the "
            "executor's Python in one process; "
            f"the no-op request makes {noop['sql']:g} ({ms(noop['sql_s'])} ms) and the no-op "
            "task none. Recording who asked, each outlet's state before and after and every "
            "step before the next is what the issue asks for."
        )
        out.append(
            f"- A floor. Were everything but these statements free (Django, DRF, Celery and the "
            "executor beyond what the parts cost; the statements timed in the database driver), "
            f"the parts plus them (less the no-op request's own) would still take {floor:.1f} ms: "
            f"{floor / parts:.2f}x the parts, against {PARTS_FACTOR:g}x"
            + (f", and over the {E2E_P50_MS:g} ms target" if floor > E2E_P50_MS else "")
            + ". With these statements the ratio target is out of reach whatever the code "
            "around them costs, and none of them can be merged with the next: what lies "
            "between decides it (the blast radius and the guardrails between the targets and "
            "the INSERT, Celery between the INSERT and the claim, the device between the "
            "claim and the end)."
            if floor > parts * PARTS_FACTOR
            else f"- A floor. Were everything but these statements free, the parts plus them "
            f"(less the no-op request's own) would take {floor:.1f} ms: "
            f"{floor / parts:.2f}x the parts, within {PARTS_FACTOR:g}x; the rest of the gap is "
            "the Python of Django, DRF, Celery and the executor."
        )
        snmp_single = {k[5:]: v for k, v in s["run"].items() if k.startswith("snmp_")}
        bulk_requests = sum(v for k, v in b["run"].items() if k.startswith("snmp_"))
        out.append(
            "- Device work. For one outlet `execute_command` made "
            + ", ".join(
                f"{n:g} {k.removesuffix('_cmd').upper()}" for k, n in sorted(snmp_single.items())
            )
            + " requests (the state before, the switch, the verifying read; each worker keeps "
            "one driver per PDU, so table discovery happens once per PDU and process): "
            f"{ms(s['run'].get('device_s', 0))} ms in the profile, against "
            f"{ms(statistics.median(self.snmp))} ms for the SET + GET part alone."
        )
        out.append(
            f"- Worker database work. One outlet: {s['run'].get('sql', 0):g} statements "
            f"({ms(s['run'].get('sql_s', 0))} ms in the database driver); 1,000 outlets: "
            f"{b['run'].get('sql', 0):g} ({ms(b['run'].get('sql_s', 0))} ms); each including "
            f"{s['run'].get('sql_after_announcement', 0):g} of telemetry's after the command "
            "is announced (its event, the webhooks that want it). Progress is "
            "written with one statement per distinct set of values (chosen by the command when "
            "it covers every row; ADR 0022), the end (rows, outlets' states, the command) in "
            'one statement on PostgreSQL (ADR 0023), the claim with the "sent" mark and the '
            "command's rows with their outlets and PDUs one statement on PostgreSQL (ADR 0020, "
            "ADR 0023, ADR 0025); workers keep "
            "their database connections between tasks. What remains is a round trip per "
            "statement, each waking a waiting process: most of a statement's cost on a busy "
            "machine."
        )
        out.append(
            f"- SNMP CPU. The 1,000 outlets' device work took {ms(b['run'].get('device_s', 0))} "
            f"ms for {bulk_requests:g} requests in the worker's one event loop: waiting for "
            f"the PDUs is {shares['bulk']['wait']:.0%} of the profile, decoding "
            f"responses {shares['bulk']['decode']:.0%} and building requests "
            f"{shares['bulk']['make_varbinds']:.0%} (SNMPv2c goes through dcpower's own codec, "
            "ADR 0012). The simulated PDUs answer SNMPv2c at the wire (ADR 0017; before it, "
            "pysnmp's engine spent about a second on such a command's varbinds). Left: a "
            "command's PDUs spread over a prefork pool's processes where cores are free."
        )
        out.append(
            f"- API. In-process, the POST view takes {ms(s['post']['total_s'])} ms for one "
            f"outlet and {ms(b['post']['total_s'])} ms for 1,000 ({b['post'].get('sql', 0):g} "
            f"SQL statements, {ms(b['post'].get('sql_s', 0))} ms: the rest is resolving the "
            "targets, the blast radius and writing the command with its per-outlet results); "
            f"for reference, the detail GET {ms(s['get']['total_s'])} ms / "
            f"{ms(b['get']['total_s'])} ms, which a waiting POST no longer pays: it answers "
            "from the outcome the worker announces. The command and its per-outlet results are "
            "written out from plain values (one query, one reverse() for all outlet URLs; "
            "the declared serializer fields are the schema and the tests' reference), the "
            "token with its user read by one statement written in SQL, the command and its "
            "result rows written by one statement on PostgreSQL (ADR 0023), the targets with "
            "the hosts they feed read by one statement written in SQL (ADR 0020); for one "
            "outlet what remains is Django's and DRF's per-request machinery."
        )
        out.append(
            f"- Completion. Between `finished_at` and the client holding the outcome: "
            f"{ms(e2e_b['seen'])} ms (one outlet) and {ms(bulk_b['seen'])} ms (1,000 outlets), "
            "median: the outcome's statements and commit, the announcement on Redis pub/sub "
            "carrying the committed outcome, received by the web process's one subscription "
            "(ADR 0026), the waiting request applying it to the command it "
            "created (reading nothing back) and serialising it, while the worker, after the "
            "announcement, records the finished command's event and asks telemetry to re-poll "
            "its PDUs, on the same two cores."
        )
        queue_ms = e2e_b["queue"] * 1000
        out.append(
            f"- Dispatch. {queue_ms:.1f} ms from the command's INSERT to the worker's start "
            f"against a {ms(statistics.median(self.celery))} ms no-op task round trip: on top "
            "of Celery's own round trip come the request's commit, the publish in `on_commit` "
            "and the executor's claim (workers no longer open a database connection per "
            "task, and the request id travels with the message)."
        )
        return out


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdus", type=int, default=50)
    parser.add_argument("--outlets", type=int, default=20, help="per PDU")
    parser.add_argument(
        "--samples", type=int, default=200, help="end-to-end samples (default: %(default)s)"
    )
    parser.add_argument("--warmup", type=int, default=20, help="(default: %(default)s)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="interleaved rounds; each ends with one 1,000-outlet command (default: %(default)s)",
    )
    parser.add_argument(
        "--client-poll-interval",
        type=float,
        default=0.001,
        help="seconds between the client's GETs of a one-outlet command (default: %(default)s)",
    )
    parser.add_argument(
        "--bulk-poll-interval",
        type=float,
        default=0.02,
        help="seconds between GETs of the 1,000-outlet command (default: %(default)s)",
    )
    parser.add_argument(
        "--device-poll-interval",
        type=float,
        default=0.005,
        help="the worker's POWER_POLL_INTERVAL_S (default: %(default)s)",
    )
    parser.add_argument(
        "--completion",
        choices=("wait", "poll"),
        default="wait",
        help="learn the outcome from the POST's answer (Prefer: wait) or by GET polling "
        "(default: %(default)s)",
    )
    parser.add_argument("--pool", choices=("solo", "prefork"), default="solo")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork processes")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=2)
    parser.add_argument("--profile-runs", type=int, default=20, help="one-outlet commands")
    parser.add_argument("--profile-bulk-runs", type=int, default=2, help="1,000-outlet commands")
    parser.add_argument("--database", default="dcpower_bench", help="created and dropped")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="a Redis database of the benchmark's own: emptied before and after",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=ROOT / "docs" / "performance.md",
        help="Markdown file to write the results into (default: %(default)s)",
    )
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument(
        "--pstats",
        type=Path,
        metavar="DIR",
        help="also write cProfile stats of the one-outlet stages (post, run, get) into DIR, "
        "for `python -m pstats`",
    )
    parser.add_argument("--django-helper", choices=("setup", "profile"), help=argparse.SUPPRESS)
    parser.add_argument("--params", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = argv
    if not 1 <= args.pdus <= 250 * 50 or not 1 <= args.outlets <= 48:
        parser.error("--pdus must be 1..12,500 and --outlets 1..48")
    if args.samples < args.rounds or args.rounds < 1 or args.warmup < 0:
        parser.error("--samples must be at least --rounds, which must be positive")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database: lower-case letters, digits and underscores")
    if not re.fullmatch(r"redis://(127\.\d+\.\d+\.\d+|localhost)(:\d+)?/\d+", args.redis_url):
        parser.error("--redis-url: a loopback Redis with a database number")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.django_helper:
        return helper_main(args.django_helper, args.params)
    # A SIGTERM to the benchmark unwinds through the finally below, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="power-commands-") as tmp:
        bench = Bench(Path(tmp), bench_env(args, Path(tmp)), args.database, args.redis_url)
        try:
            report = run(args, bench)
        finally:
            for name in ("gunicorn", "worker", "simulator"):
                stop(bench.processes.get(name))
            with contextlib.suppress(Exception):
                drop_database(bench)
            if bench.redis_used:
                with contextlib.suppress(Exception):
                    flush_redis(bench)
    body = report.markdown()
    print()
    print(body)
    if not args.no_docs:
        write_docs_section(args.docs, DOCS_HEADING, body)
        print(f"written to {args.docs} under {DOCS_HEADING!r}")
    for check in report.checks():
        print(f"{check.name}: {check.verdict()}")
    return 0 if report.passed else 1


def run(args, bench: Bench) -> Report:
    bench.redis_used = True
    flush_redis(bench)
    create_database(bench)
    run_checked([PYTHON, "manage.py", "migrate", "--noinput"], bench, "migrate", 300)
    start_simulator(args, bench)
    print(f"fleet: {len(bench.pdus)} PDUs x {args.outlets} outlets", flush=True)
    bench.inventory = django_helper(bench, "setup", {"pdus": bench.pdus}, 300)
    celery_app = celery_client(args.redis_url)
    start_worker(args, bench, celery_app)
    start_server(args, bench)
    print(f"gunicorn on 127.0.0.1:{bench.port}, worker {bench.worker_name}", flush=True)

    outlets = bench.inventory["outlets"]
    e2e_outlet = outlets[0][0]  # PDU 0, outlet 1
    every_outlet = [o for pdu in outlets for o in pdu]
    snmp = SnmpPart(bench.pdus[-1])
    snmp_outlet = args.outlets  # the last PDU's last outlet
    api = Api(bench.port, bench.inventory["token"])
    try:
        turn = {"e2e": 0, "snmp": 0, "bulk": 0}

        def action(kind: str) -> str:
            turn[kind] += 1
            return "off" if turn[kind] % 2 else "on"

        for _ in range(args.warmup):
            e2e_once(api, e2e_outlet, action("e2e"), args)
            get_once(api, NOOP_PATH)
            get_once(api, LIST_PATH)
            celery_once(celery_app, bench.queue)
            snmp.set_and_get(snmp_outlet, action("snmp"))
        bulk_once(api, every_outlet, action("bulk"), args)
        bulk_once(api, every_outlet, action("bulk"), args)
        snmp.requests.clear()

        e2e, drf, listing, celery, snmp_s, executor_snmp, bulk = [], [], [], [], [], [], []
        per_round = [args.samples // args.rounds] * args.rounds
        per_round[-1] += args.samples - sum(per_round)
        for number, n in enumerate(per_round, 1):
            for _ in range(n):
                e2e.append(e2e_once(api, e2e_outlet, action("e2e"), args))
                drf.append(get_once(api, NOOP_PATH))
                listing.append(get_once(api, LIST_PATH))
                celery.append(celery_once(celery_app, bench.queue))
                snmp_s.append(snmp.set_and_get(snmp_outlet, action("snmp")))
                executor_snmp.append(snmp.executor_style(snmp_outlet, action("snmp")))
            bulk.append(bulk_once(api, every_outlet, action("bulk"), args))
            recent = [s.total_s for s in e2e[-n:]]
            print(
                f"round {number}: end to end p50 {ms(statistics.median(recent))} ms; parts p50 "
                f"{ms(statistics.median(drf[-n:]))} + {ms(statistics.median(celery[-n:]))} + "
                f"{ms(statistics.median(snmp_s[-n:]))} ms; 1,000 outlets "
                f"{ms(bulk[-1].total_s)} ms",
                flush=True,
            )
        failed = [s for s in e2e + bulk if not s.verified]
        if failed:
            raise RuntimeError(
                f"{len(failed)} commands were not verified, e.g. #{failed[0].command} "
                f"({failed[0].status})"
            )
        e2e_times = command_timestamps(bench, [s.command for s in e2e])
        bulk_times = command_timestamps(bench, [s.command for s in bulk])
        reconnects = api.reconnects
        snmp_requests = {
            kind: {k: n / args.samples for k, n in counts.items()}
            for kind, counts in snmp.requests.items()
        }
    finally:
        api.close()
        snmp.close()

    # Nothing else may run the profiled commands, nor share the cores with them.
    for name in ("gunicorn", "worker"):
        stop(bench.processes.get(name))
    print("profiling the same work in one process", flush=True)
    profile = django_helper(
        bench,
        "profile",
        {
            "token": bench.inventory["token"],
            "single_outlet": outlets[1][0],
            "single_runs": args.profile_runs,
            "bulk_outlets": every_outlet,
            "bulk_runs": args.profile_bulk_runs,
            "pstats_dir": str(args.pstats.resolve()) if args.pstats else None,
        },
        600,
    )
    return Report(
        command=" ".join([".venv/bin/python bench/power_commands.py", *args.argv]),
        args=args,
        e2e=e2e,
        e2e_times=e2e_times,
        drf=drf,
        listing=listing,
        celery=celery,
        snmp=snmp_s,
        executor_snmp=executor_snmp,
        snmp_requests=snmp_requests,
        bulk=bulk,
        bulk_times=bulk_times,
        profile=profile,
        reconnects=reconnects,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
