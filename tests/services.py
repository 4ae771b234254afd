"""Outside servers and tools that some tests need (PostgreSQL, Redis, net-snmp, Chromium, ...).

A test marked ``@pytest.mark.requires_service("postgres")`` runs wherever the service is
present and is skipped where it is not, so the README's test command passes on a bare machine.
CI sets ``DCPOWER_REQUIRE_SERVICES`` (comma-separated names, or "all"); a required service that
is missing then fails the test instead of skipping it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection


def _postgres() -> str | None:
    if connection.vendor == "postgresql":
        return None
    return "the test database is not PostgreSQL (set DATABASE_URL=postgres://...)"


def redis_url() -> str:
    """The Redis that Redis-backed tests use: the configured broker when it is Redis, else the
    conventional local one, so the tests run wherever a Redis is present."""
    configured = settings.CELERY_BROKER_URL
    if configured.startswith("redis://"):
        return configured
    return os.environ.get("DCPOWER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis() -> str | None:
    parsed = urlparse(redis_url())
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1):
            return None
    except OSError as exc:
        return f"Redis at {parsed.hostname}:{parsed.port or 6379} is not reachable: {exc}"


def _tools(*names: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        missing = [name for name in names if shutil.which(name) is None]
        return f"not installed: {', '.join(missing)}" if missing else None

    return probe


SNMPSIM_AGENT = "snmpsim-command-responder"
SNMPSIM_VENV = Path(__file__).resolve().parents[1] / ".venv-snmpsim"


def snmpsim_command() -> str | None:
    """snmpsim's agent, which serves the real-device recordings: $DCPOWER_SNMPSIM if set, else
    the one in .venv-snmpsim/ beside the project (CI installs it there, apart from the project's
    pinned pysnmp), else one beside this interpreter or on PATH."""
    explicit = os.environ.get("DCPOWER_SNMPSIM")
    candidates = (
        [explicit]
        if explicit
        else [
            str(SNMPSIM_VENV / "bin" / SNMPSIM_AGENT),
            str(Path(sys.executable).parent / SNMPSIM_AGENT),
            shutil.which(SNMPSIM_AGENT),
        ]
    )
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _snmpsim() -> str | None:
    if snmpsim_command() is not None:
        return None
    where = os.environ.get("DCPOWER_SNMPSIM") or f"{SNMPSIM_VENV}/bin, beside python, or PATH"
    return f"{SNMPSIM_AGENT} not found ({where})"


RECORDINGS_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "device-recordings"


def _recordings() -> str | None:
    """The real-device SNMP walks, read from ../shared (never copied into the project)."""
    if RECORDINGS_DIR.is_dir() and any(RECORDINGS_DIR.glob("*.snmprec")):
        return None
    return f"no device recordings at {RECORDINGS_DIR}"


CHROMIUM = os.environ.get("DCPOWER_CHROMIUM", "/usr/bin/chromium")


def _chromium() -> str | None:
    """Debian's headless Chromium (packages "chromium" and "chromium-driver"), driven by
    Playwright's Python package (the dev extra); Playwright's own browser downloads are never
    used (tests/browser/)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


PROBES: dict[str, Callable[[], str | None]] = {
    "recordings": _recordings,
    "postgres": _postgres,
    "redis": _redis,
    # net-snmp's command-line tools (Debian package "snmp") and agent ("snmpd").
    "net-snmp": _tools("snmpget", "snmpset", "snmpwalk", "snmpbulkwalk"),
    "snmpd": _tools("snmpd"),
    "mbpoll": _tools("mbpoll"),
    # Prometheus's promtool (Debian package "prometheus"): checks the alert rules and metrics.
    "promtool": _tools("promtool"),
    # The deployment files' checkers (tests/test_deploy.py): systemd's unit verifier and nginx.
    "systemd-analyze": _tools("systemd-analyze"),
    "nginx": _tools("nginx"),
    # snmpsim (PyPI) serving the real-device walks in ../shared/reference/device-recordings.
    "snmpsim": _snmpsim,
    # Headless Chromium for the browser tests (tests/browser/).
    "chromium": _chromium,
}


def required_services() -> set[str]:
    raw = os.environ.get("DCPOWER_REQUIRE_SERVICES", "")
    names = {name.strip() for name in raw.split(",") if name.strip()}
    return set(PROBES) if "all" in names else names


def missing_reason(name: str) -> str | None:
    """None when the service is usable, else why not."""
    if name not in PROBES:
        raise ValueError(f"unknown service {name!r}; known: {', '.join(sorted(PROBES))}")
    return PROBES[name]()
