"""The README's first command, end to end: ``manage.py demo`` on the embedded defaults (SQLite
and the file-system broker, whatever this test run is configured with) starts the simulated
PDUs, real Celery workers, beat and the web server; the host in its printed example command is
power-cycled through the REST API with every outlet verified, the simulated PDUs confirm that
their relays went off and on, and Ctrl-C stops every process it started. A process that dies
stops the demo with an error naming its log; a busy port is refused before anything starts.

The demo runs as a subprocess in its own session; whatever happens, the test kills it and the
children it reported."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# The demo must run on the embedded defaults: nothing that points elsewhere reaches it.
NOT_FOR_THE_DEMO = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "CELERY_VISIBILITY_TIMEOUT",
    "EVENTS_REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
}
START_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 90  # the request waits up to 60 s for the command (Prefer: wait=60)
STOP_TIMEOUT_S = 45  # the demo's own bound is 15 s per stage


def demo_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_FOR_THE_DEMO}
    env.update(DCPOWER_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Output:
    """The demo's terminal output, read in a thread so that the pipe never fills."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, marker: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while marker not in self.text:
            assert self.process.poll() is None, f"the demo exited early:\n{self.text}"
            assert time.monotonic() < deadline, f"no {marker!r} in {timeout_s} s:\n{self.text}"
            time.sleep(0.2)
        return self.text

    def finish(self) -> str:
        self._thread.join(10)
        return self.text


def field(text: str, pattern: str) -> str:
    match = re.search(pattern, text, re.M)
    assert match, f"no {pattern!r} in the demo's output:\n{text}"
    return match.group(1)


def get_json(url: str, token: str | None = None):
    headers = {"Authorization": f"Token {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, (url, response.text)
    return response.json()


def curl_request(line: str) -> httpx.Request:
    """The printed curl command as the request curl would make: URL, headers and body."""
    argv = shlex.split(line)
    assert argv[:4] == ["curl", "-s", "-X", "POST"], line
    headers = [tuple(argv[i + 1].split(": ", 1)) for i, arg in enumerate(argv) if arg == "-H"]
    body = argv[argv.index("-d") + 1].encode()
    return httpx.Request("POST", argv[4], headers=headers, content=body)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


CHILDREN = {"simulators", "worker-power", "worker-telemetry", "beat", "web"}


@dataclass
class Demo:
    process: subprocess.Popen
    output: Output
    port: int
    children: dict[str, int] = dataclass_field(default_factory=dict)  # name -> pid

    def wait(self, timeout_s: float) -> int:
        try:
            return self.process.wait(timeout_s)
        finally:
            self.output.finish()


@contextlib.contextmanager
def running_demo(data_dir: Path) -> Iterator[Demo]:
    """``manage.py demo`` on a free port, once it says it is ready; whatever the test does,
    the demo and every child it reported are killed afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port)],
        cwd=ROOT,
        env=demo_env(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    demo = Demo(process=process, output=Output(process), port=port)
    try:
        text = demo.output.wait_for("Stop with Ctrl-C.", START_TIMEOUT_S)
        demo.children = {
            name: int(pid) for name, pid in re.findall(r"^  ([\w-]+)\s+pid (\d+)", text, re.M)
        }
        assert set(demo.children) == CHILDREN, text
        yield demo
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        for pid in demo.children.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def test_the_demo_cycles_a_host_end_to_end_and_stops_on_ctrl_c(tmp_path):
    started = time.monotonic()
    with running_demo(tmp_path) as demo:
        text = demo.output.text
        logs = re.findall(r"pid \d+\s+(/\S+\.log)$", text, re.M)
        assert len(logs) == 4, text  # the web server's goes to the terminal
        for log in logs:
            assert Path(log).parent == tmp_path / "demo" and Path(log).exists(), log
        # The embedded database, in the data directory, shared in WAL mode.
        with contextlib.closing(sqlite3.connect(tmp_path / "dcpower.sqlite3")) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        base_url = field(text, r"Admin:\s+(http://\S+)/admin/$")
        assert base_url == f"http://127.0.0.1:{demo.port}"
        token = field(text, r"Token:\s+(\S+)$")
        control = field(text, r"ground truth\): (http://\S+)/pdus$")
        curl_line = field(text, r"^\s+(curl .+)$")
        host_name = field(text, r"dcpower host cycle (\S+) --reason demo --yes$")
        # The venv's console script: by name when it is on PATH, else (the venv not
        # activated) by its full path, so that the line runs as pasted (below).
        script = Path(sys.executable).parent / "dcpower"
        on_path = shutil.which("dcpower")
        named = on_path and Path(on_path).resolve() == script.resolve()
        assert f" {'dcpower' if named else script} host cycle" in text
        assert f"DCPOWER_URL={base_url} DCPOWER_TOKEN={token} " in text

        # Ready: the database, the embedded broker, and both workers' heartbeats.
        deadline = time.monotonic() + 15
        while (ready := httpx.get(f"{base_url}/readyz")).status_code != 200:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.5)
        assert ready.json()["status"] == "ready"

        pdu_names = [pdu["name"] for pdu in get_json(f"{control}/pdus")]
        assert len(pdu_names) == 8
        before = {name: get_json(f"{control}/pdus/{name}") for name in pdu_names}

        request = curl_request(curl_line)
        assert request.headers["Authorization"] == f"Token {token}"
        assert request.headers["Prefer"] == "wait=60"
        assert json.loads(request.content)["reason"]
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
            response = client.send(request)
        assert response.status_code == 201, response.text  # finished within the wait
        command = response.json()
        assert response.headers["Location"] == command["url"]
        assert command["status"] == "succeeded", command
        assert command["action"] == "cycle"
        assert len(command["results"]) == 2  # the host's two supplies
        assert {(r["outcome"], r["state_after"]) for r in command["results"]} == {
            ("succeeded", "on")
        }, command["results"]
        host_id = field(curl_line, r"/api/v1/hosts/(\d+)/power/cycle/")
        assert get_json(f"{base_url}/api/v1/hosts/{host_id}/", token)["name"] == host_name

        # The devices' own truth: each outlet of the host got its off and its on, and is on.
        cycled = {}
        for row in command["results"]:
            outlet = get_json(row["outlet"]["url"], token)
            cycled[outlet["pdu"]["name"]] = outlet["number"]
        assert len(cycled) == 2  # one outlet on the A PDU, one on the B PDU
        for name in pdu_names:
            truth = get_json(f"{control}/pdus/{name}")
            sent = truth["commands_received"] - before[name]["commands_received"]
            if name in cycled:
                assert sent >= 2, (name, truth)  # off, then on
                (outlet,) = [o for o in truth["outlets"] if o["number"] == cycled[name]]
                assert outlet["on"] and not outlet["pending"], outlet
            else:
                assert sent == 0, (name, truth)  # nothing else was touched

        # The printed CLI line works as pasted (with this venv's console script).
        cli_line = field(text, r"^\s+(DCPOWER_URL=\S+ DCPOWER_TOKEN=\S+ \S*dcpower .+)$")
        words = shlex.split(cli_line)
        assignments = dict(word.split("=", 1) for word in words[:2])
        argv = words[2:]
        cli = subprocess.run(
            argv,
            env={**os.environ, **assignments, "DCPOWER_CONFIG_DIR": str(tmp_path / "cli")},
            capture_output=True,
            text=True,
            timeout=REQUEST_TIMEOUT_S,
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr  # every outlet verified
        assert cli.stdout.count("succeeded") >= 2, cli.stdout

        demo.process.send_signal(signal.SIGINT)
        assert demo.wait(STOP_TIMEOUT_S) == 0, demo.output.text
        text = demo.output.text
        assert "Stopped." in text
        assert "Killed" not in text, text  # every process stopped on SIGTERM in time
        survivors = [name for name, pid in demo.children.items() if alive(pid)]
        assert not survivors, text
    assert time.monotonic() - started < 90


def test_a_process_that_dies_stops_the_demo_with_its_log_named(tmp_path):
    with running_demo(tmp_path) as demo:
        os.kill(demo.children["worker-power"], signal.SIGKILL)
        assert demo.wait(STOP_TIMEOUT_S) == 1, demo.output.text
        text = demo.output.text
        log = tmp_path / "demo" / "worker-power.log"
        assert f"worker-power exited with code -9; its log: {log}" in text
        assert "Stopped." in text
        survivors = [name for name, pid in demo.children.items() if alive(pid)]
        assert not survivors, text


def test_a_busy_port_is_a_clear_error_before_anything_is_set_up(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "demo", "--port", str(port)],
            cwd=ROOT,
            env=demo_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "--port 0" in result.stderr
    assert not (tmp_path / "dcpower.sqlite3").exists()  # it failed before migrating
