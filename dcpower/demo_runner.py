"""The demo (``manage.py demo``): set up the demo data center, then run every process it needs
on this machine and stop them all on Ctrl-C or SIGTERM.

Processes, in start order (each in its own process group, its output in ``DATA_DIR/demo/``):

- ``simulators``: ``python -m simulators`` serving the demo site's PDUs on free ports at their
  loopback addresses, with the HTTP control endpoint (ground truth); the PDUs' ports in the
  inventory are set to what it serves.
- ``worker-power``: a Celery worker on the site's power queue (commands, live reads).
- ``worker-telemetry``: a Celery worker on the site's telemetry queue and the default queue
  (beat's periodic tasks), so a poll round never holds up a power cycle (docs/telemetry.md).
- ``beat``: Celery beat (the telemetry polling schedule, due and stale power commands).
- ``web``: Django's development server; its request log goes to the terminal.

Stopping goes the other way: web, beat, the workers (a warm shutdown finishes the command at
hand), simulators; each stage gets SIGTERM to its process group, a bounded wait, then
SIGKILL. On Linux every child also gets SIGTERM if the demo itself dies (PR_SET_PDEATHSIG), so
even a killed demo leaves no orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections

from dcpower.celery import app
from dcpower.models import ApiToken
from dcpower.tokens import api_token_create, api_token_revoke
from inventory.demo import (
    demo_cycle_host,
    demo_fleet_description,
    demo_inventory_load,
    demo_pdu_addresses_set,
)
from inventory.models import Host, Site
from power.services import site_queue
from telemetry.services import telemetry_queue

DEMO_ADMIN_USERNAME = "admin"
DEMO_TOKEN_NAME = "demo"  # noqa: S105 - a label, not a secret
WEB_HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0  # for every child to be ready
STOP_TIMEOUT_S = 15.0  # per stage, then SIGKILL
POLL_S = 0.2
HURRY_AFTER_S = 1.0  # a second Ctrl-C at least this long after the first kills at once
LOG_TAIL_LINES = 15


class DemoError(Exception):
    """The demo cannot run or a process of it failed; the message says which and where its
    log is."""


class StopRequested(Exception):
    """SIGINT, SIGTERM or SIGHUP came while the demo was starting."""


# --- Setting up -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccess:
    site: Site
    password: str
    token: str
    host: Host | None  # the host the example commands cycle


def demo_setup() -> DemoAccess:
    """Migrate, load the demo data center, and give ``admin`` a fresh password and a fresh
    API token (the previous demo token is revoked)."""
    call_command("migrate", interactive=False, verbosity=0)
    summary = demo_inventory_load()
    password = secrets.token_urlsafe(12)
    admin, _ = get_user_model().objects.get_or_create(
        username=DEMO_ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.set_password(password)
    admin.save()
    for old in ApiToken.objects.filter(user=admin, name=DEMO_TOKEN_NAME, revoked_at=None):
        api_token_revoke(token=old)
    _, token = api_token_create(user=admin, name=DEMO_TOKEN_NAME)
    return DemoAccess(
        site=summary.site, password=password, token=token, host=demo_cycle_host(site=summary.site)
    )


def demo_banner(access: DemoAccess, base_url: str) -> list[str]:
    lines = [
        f"dcpower demo: site {access.site.name!r} is loaded.",
        f"  Admin:    {base_url}/admin/",
        f"  API:      {base_url}/api/v1/   (docs: {base_url}/api/v1/docs/)",
        f"  User:     {DEMO_ADMIN_USERNAME}",
        f"  Password: {access.password}",
        f"  Token:    {access.token}",
    ]
    host = access.host
    if host is not None:
        body = json.dumps({"reason": "demo"})
        curl = shlex.join(
            [
                "curl",
                "-s",
                "-X",
                "POST",
                f"{base_url}/api/v1/hosts/{host.pk}/power/cycle/",
                "-H",
                f"Authorization: Token {access.token}",
                "-H",
                "Content-Type: application/json",
                "-H",
                "Prefer: wait=60",
                "-d",
                body,
            ]
        )
        cli = (
            f"DCPOWER_URL={base_url} DCPOWER_TOKEN={access.token} "
            f"{cli_command()} host cycle {shlex.quote(host.name)} --reason demo --yes"
        )
        lines += [
            "",
            f"Power-cycle host {host.name} (id {host.pk}, in maintenance; an active host's "
            "cycle needs force) and wait for every outlet's verified outcome:",
            f"  {curl}",
            "or with the dcpower CLI:",
            f"  {cli}",
        ]
    return lines


def cli_command() -> str:
    """How to call the dcpower CLI from the user's shell: ``dcpower`` when that is this
    installation's console script on PATH, else its full path (a venv not activated)."""
    script = Path(sys.executable).parent / "dcpower"
    on_path = shutil.which("dcpower")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "dcpower"
    return shlex.quote(str(script))


# --- Process supervision --------------------------------------------------------------------


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """For Popen's preexec_fn (Linux): SIGTERM to the child when the demo dies, however. The
    C library is looked up here, in the parent: the child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the demo died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path | None  # None: the demo's own terminal
    ready: Callable[[Child], bool]
    process: subprocess.Popen | None = None
    info: dict = field(default_factory=dict)  # what the ready check learned

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def exit_code(self) -> int | None:
        """None while it runs, else its exit code (negative: killed by that signal). It is
        not reaped here: until it is, no other process can take its process group id."""
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        try:
            result = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped already
            return self.process.wait()
        if result is None:
            return None
        return result.si_status if result.si_code == os.CLD_EXITED else -result.si_status

    def running(self) -> bool:
        return self.process is not None and self.exit_code() is None

    def output(self) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")

    def where(self) -> str:
        return f"its log: {self.log}" if self.log is not None else "its output is above"

    def failure(self, what: str) -> str:
        message = f"{self.name} {what}; {self.where()}"
        tail = self.output().splitlines()[-LOG_TAIL_LINES:]
        return "\n".join([message, *(f"  | {line}" for line in tail)]) if tail else message


class Supervisor:
    """Starts children in their own process groups, waits until they are ready, watches them,
    and stops them in stages. SIGINT, SIGTERM and SIGHUP ask it to stop; another signal a
    second or more later (Ctrl-C again) kills what is left at once. One that comes sooner is
    the same request delivered twice (``timeout`` signals its child, then its process group)."""

    def __init__(self, *, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.children: list[Child] = []
        self.first_signal_at: float | None = None
        self.hurry = False
        self._previous_handlers: dict[int, object] = {}

    # signals

    def _on_signal(self, signum, frame) -> None:
        now = time.monotonic()
        if self.first_signal_at is None:
            self.first_signal_at = now
        elif now - self.first_signal_at >= HURRY_AFTER_S:
            self.hurry = True

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()

    @property
    def stop_requested(self) -> bool:
        return self.first_signal_at is not None

    # running

    def start(self, child: Child) -> Child:
        out = None
        if child.log is not None:
            child.log.parent.mkdir(parents=True, exist_ok=True)
            out = child.log.open("wb")
        try:
            child.process = subprocess.Popen(  # noqa: S603 - our own programs, fixed arguments
                child.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                process_group=0,  # the terminal's Ctrl-C reaches the demo only: it stops them
                # Safe here: the demo starts no threads before its children.
                preexec_fn=_die_with_parent(os.getpid()),
            )
        finally:
            if out is not None:
                out.close()
        self.children.append(child)
        return child

    def wait_ready(self, children: list[Child], timeout_s: float = START_TIMEOUT_S) -> None:
        """Return when every child is ready; DemoError when one exits or is not ready in
        time; StopRequested when the demo is asked to stop meanwhile."""
        pending = list(children)
        deadline = time.monotonic() + timeout_s
        while pending:
            if self.stop_requested:
                raise StopRequested
            for child in list(pending):
                if not child.running():
                    raise DemoError(child.failure(f"exited with code {child.exit_code()} at start"))
                if child.ready(child):
                    pending.remove(child)
            if pending and time.monotonic() > deadline:
                raise DemoError(pending[0].failure(f"was not ready within {timeout_s:g} s"))
            if pending:
                time.sleep(POLL_S)

    def watch(self) -> None:
        """Until asked to stop (returns) or a child exits (DemoError)."""
        while not self.stop_requested:
            for child in self.children:
                if not child.running():
                    raise DemoError(child.failure(f"exited with code {child.exit_code()}"))
            time.sleep(POLL_S)

    def stop(self, order: list[str], timeout_s: float = STOP_TIMEOUT_S) -> list[str]:
        """Stop the children stage by stage (names in ``order``; several names joined by
        commas stop together). Returns what had to be killed."""
        killed: list[str] = []
        stages = [[c for c in self.children if c.name in stage.split(",")] for stage in order]
        rest = [c for c in self.children if not any(c in stage for stage in stages)]
        for stage in [*stages, rest]:
            for child in stage:
                _signal_group(child, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            for child in stage:
                if not _exited_by(child, deadline, hurry=lambda: self.hurry):
                    killed.append(child.name)
                # The leader is a zombie until reaped, so its group id cannot be reused yet:
                # kill whatever it left in its group, then reap it.
                _signal_group(child, signal.SIGKILL)
                if child.process is not None:
                    child.process.wait()
        return killed


def _signal_group(child: Child, signum: int) -> None:
    if child.process is None or child.process.returncode is not None:
        return  # reaped: its group id may belong to someone else now
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, signum)


def _exited_by(child: Child, deadline: float, hurry: Callable[[], bool]) -> bool:
    while child.running():
        if time.monotonic() > deadline or hurry():
            return False
        time.sleep(0.05)
    return True


# --- Readiness checks -----------------------------------------------------------------------


def _fleet_ready(child: Child) -> bool:
    """The fleet prints one JSON line with every PDU's address and the control URL."""
    for line in child.output().splitlines():
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                info = json.loads(line)
                if isinstance(info, dict) and "pdus" in info:
                    child.info = info
                    return True
    return False


def _log_says(text: str) -> Callable[[Child], bool]:
    """Celery logs "<node name> ready." (a worker) and "beat: Starting..." once it serves."""
    return lambda child: text in child.output()


def _listening(port: int) -> Callable[[Child], bool]:
    """runserver loads the application before it listens: a connection means it serves."""

    def ready(child: Child) -> bool:
        try:
            socket.create_connection((WEB_HOST, port), timeout=1).close()
        except OSError:
            return False
        return True

    return ready


# --- The demo -------------------------------------------------------------------------------


def port_free(port: int) -> bool:
    """Whether the web server can listen on this port (it sets SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((WEB_HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((WEB_HOST, 0))
        return probe.getsockname()[1]


def _loopback_usable(host: str) -> bool:
    """127.0.10.N answers on Linux; elsewhere (macOS) only 127.0.0.1 may."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, 0))
        except OSError:
            return False
    return True


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "dcpower", *args]


def _worker(name: str, queues: list[str], log_dir: Path) -> Child:
    node = f"demo-{name}@{socket.gethostname()}"
    return Child(
        name=f"worker-{name}",
        argv=_celery(
            "worker",
            "--pool",
            "solo",
            "-Q",
            ",".join(queues),
            "-n",
            node,
            "-l",
            "info",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ),
        log=log_dir / f"worker-{name}.log",
        ready=_log_says(f"{node} ready."),
    )


def demo_web_port(port: int) -> int:
    """The port the web server will listen on: ``port`` if it is free, a free one for 0."""
    if port == 0:
        return free_port()
    if not port_free(port):
        raise DemoError(
            f"port {port} on {WEB_HOST} is in use; stop what listens there or choose another "
            "with --port N (--port 0 picks a free one)"
        )
    return port


def demo_run(
    access: DemoAccess,
    *,
    port: int,
    time_scale: float,
    say: Callable[[str], None],
) -> None:
    """Run the demo's processes until a signal asks to stop (then return), or until one
    fails (DemoError); everything started is stopped either way."""
    log_dir = Path(settings.DATA_DIR) / "demo"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "dcpower.settings"),
        "DCPOWER_DATA_DIR": str(settings.DATA_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    supervisor = Supervisor(env=env, cwd=Path(settings.BASE_DIR))
    supervisor.install_signal_handlers()
    try:
        # Ctrl-C, SIGTERM or SIGHUP (StopRequested) is the normal way out: the children stop
        # below.
        with contextlib.suppress(StopRequested):
            _start_all(
                supervisor, access, port=port, time_scale=time_scale, log_dir=log_dir, say=say
            )
            fleet = supervisor.children[0]
            say("\n".join(demo_banner(access, f"http://{WEB_HOST}:{port}")))
            say("")
            say(f"Simulated PDUs (ground truth): {fleet.info['control']}/pdus")
            say(f"Processes (logs in {log_dir}):")
            for child in supervisor.children:
                say(f"  {child.name:<17} pid {child.pid:<8} {child.log or 'this terminal'}")
            say("Stop with Ctrl-C.")
            supervisor.watch()
    except DemoError as exc:
        say(f"error: {str(exc).splitlines()[0]}")
        raise
    finally:
        with contextlib.suppress(OSError):  # a terminal or pipe gone must not stop the stop
            say("Stopping ...")
        _stop_all(supervisor, say)


def _start_all(
    supervisor: Supervisor,
    access: DemoAccess,
    *,
    port: int,
    time_scale: float,
    log_dir: Path,
    say: Callable[[str], None],
) -> None:
    site = access.site
    description, skipped = demo_fleet_description(site=site, time_scale=time_scale)
    for reason in skipped:
        say(f"not simulated: {reason}")
    if not all(_loopback_usable(entry["host"]) for entry in description["pdus"]):
        for entry in description["pdus"]:  # one address, a port each
            entry["host"] = "127.0.0.1"
    fleet_file = log_dir / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(description, sort_keys=False))
    say(f"Starting the simulated PDUs ({len(description['pdus'])}) ...")
    fleet = supervisor.start(
        Child(
            name="simulators",
            argv=[sys.executable, "-m", "simulators", str(fleet_file)],
            log=log_dir / "simulators.log",
            ready=_fleet_ready,
        )
    )
    supervisor.wait_ready([fleet])
    addresses = {pdu["name"]: (pdu["host"], pdu["port"]) for pdu in fleet.info["pdus"]}
    demo_pdu_addresses_set(site=site, addresses=addresses)
    connections.close_all()  # the children write to the database from now on

    say("Starting the Celery workers and beat, and the web server ...")
    children = [
        _worker("power", [site_queue(site.pk)], log_dir),
        _worker("telemetry", [telemetry_queue(site.pk), app.conf.task_default_queue], log_dir),
        Child(
            name="beat",
            argv=_celery("beat", "-l", "info", "-s", str(log_dir / "celerybeat-schedule")),
            log=log_dir / "beat.log",
            ready=_log_says("beat: Starting..."),
        ),
        Child(
            name="web",
            argv=[
                sys.executable,
                "-m",
                "django",
                "runserver",
                f"{WEB_HOST}:{port}",
                "--noreload",
            ],
            log=None,
            ready=_listening(port),
        ),
    ]
    for child in children:
        supervisor.start(child)
    supervisor.wait_ready(children)


STOP_ORDER = ["web", "beat", "worker-power,worker-telemetry", "simulators"]


def _stop_all(supervisor: Supervisor, say: Callable[[str], None]) -> None:
    try:
        killed = supervisor.stop(STOP_ORDER)
    finally:
        supervisor.restore_signal_handlers()
    with contextlib.suppress(OSError):
        if killed:
            say(f"Killed (did not stop in time): {', '.join(killed)}")
        say("Stopped.")
