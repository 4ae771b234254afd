"""The production files in deploy/ and docs/deploy.md stay true: systemd accepts the units,
nginx the proxy configuration, the units consume the queues dcpower sends to, the web unit's
own gunicorn command serves, and every setting dcpower reads is documented."""

from __future__ import annotations

import datetime
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from power.services import site_queue
from telemetry.services import telemetry_queue

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
VENV_BIN = Path(sys.executable).parent


def unit_directives(path: Path) -> dict[str, str]:
    """A unit file's directives (continuation lines joined; a later one wins)."""
    text = path.read_text().replace("\\\n", " ")
    directives = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, value = line.split("=", 1)
            directives[key.strip()] = value.strip()
    return directives


def exec_start(path: Path, instance: str = "7") -> list[str]:
    command = unit_directives(path)["ExecStart"].replace("%i", instance).replace("%H", "host")
    return shlex.split(command)


def installed_here(text: str, env_file: Path) -> str:
    """A unit as installed on this machine: this checkout and venv, the given environment."""
    return (
        text.replace("/opt/dcpower/.venv/bin", str(VENV_BIN))
        .replace("/opt/dcpower", str(ROOT))
        .replace("/etc/dcpower/dcpower.env", str(env_file))
        .replace("User=dcpower", "User=root")
        .replace("Group=dcpower", "Group=root")
    )


def test_every_unit_is_documented():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert UNITS
    for unit in UNITS:
        assert f"deploy/systemd/{unit.name}" in guide, unit.name


@pytest.mark.requires_service("systemd-analyze")
def test_systemd_accepts_the_units(tmp_path):
    env_file = tmp_path / "dcpower.env"
    env_file.write_text((DEPLOY / "systemd" / "dcpower.env.example").read_text())
    to_verify = []
    for unit in UNITS:
        name = unit.name.replace("@.", "@1.")  # a template is verified as an instance
        (tmp_path / name).write_text(installed_here(unit.read_text(), env_file))
        to_verify.append(str(tmp_path / name))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *to_verify],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # systemd-analyze reports most problems as warnings: there must be none about our units.
    ours = [line for line in result.stderr.splitlines() if "dcpower" in line]
    assert ours == []


def test_the_site_units_consume_the_queues_dcpower_sends_to():
    def queues(unit: str) -> list[str]:
        argv = exec_start(DEPLOY / "systemd" / unit, instance="7")
        return argv[argv.index("--queues") + 1].split(",")

    assert queues("dcpower-power@.service") == [site_queue(7)]
    assert queues("dcpower-telemetry@.service") == [telemetry_queue(7)]
    # Beat's tasks and webhook deliveries are sent without a queue: Celery's default.
    assert queues("dcpower-worker.service") == ["celery"]
    beat = exec_start(DEPLOY / "systemd" / "dcpower-beat.service")
    assert beat[1:4] == ["-A", "dcpower", "beat"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_web_units_gunicorn_command_serves_with_production_settings(tmp_path):
    argv = exec_start(DEPLOY / "systemd" / "dcpower-web.service")
    assert argv[0] == "/opt/dcpower/.venv/bin/gunicorn"
    port = _free_port()
    argv[0] = str(VENV_BIN / "gunicorn")
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    argv[argv.index("--workers") + 1] = "1"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "CELERY_", "EVENTS_", "PROMETHEUS_"))
    }
    env.update(
        SECRET_KEY="deploy-test-" + "k" * 60,
        ALLOWED_HOSTS="dcpower.example.net",
        DCPOWER_DATA_DIR=str(tmp_path),
        LOG_FORMAT="json",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # Plain HTTP and an unknown Host, as a load balancer's probe comes.
                probe = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Host": "10.1.2.3"})
                break
            except httpx.TransportError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert probe.status_code == 200, probe.text
        assert probe.json() == {"status": "ok"}
        # Everything else: production's HTTPS redirect, for an allowed host only.
        api = httpx.get(f"http://127.0.0.1:{port}/api/v1/", headers={"Host": "dcpower.example.net"})
        assert api.status_code == 301
        assert api.headers["Location"].startswith("https://dcpower.example.net/")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dcpower.example.net")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.requires_service("nginx")
def test_nginx_accepts_the_proxy_configuration(tmp_path):
    cert, key = _self_signed(tmp_path)
    site = (DEPLOY / "nginx" / "dcpower.conf").read_text()
    site = site.replace("/etc/ssl/dcpower/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/dcpower/privkey.pem", str(key))
    (tmp_path / "dcpower.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; include {tmp_path}/dcpower.conf; }}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def settings_read_from_the_environment() -> set[str]:
    source = (ROOT / "dcpower" / "settings.py").read_text()
    names = set(re.findall(r'env(?:iron\.get|_bool|_list|iron)?\(\s*"([A-Z][A-Z0-9_]+)"', source))
    names |= set(re.findall(r'os\.environ\["([A-Z][A-Z0-9_]+)"\]', source))
    # POWER_EXECUTION reads POWER_<key> for each of its keys.
    execution = re.search(r"POWER_EXECUTION = \{.*?for key in \((.*?)\)", source, re.S)
    names |= {f"POWER_{key.upper()}" for key in re.findall(r'"(\w+)"', execution.group(1))}
    names.discard("DJANGO_SETTINGS_MODULE")
    # Read by prometheus_client itself (and telemetry/metrics.py), in every process.
    assert "PROMETHEUS_MULTIPROC_DIR" in (ROOT / "telemetry" / "metrics.py").read_text()
    return names | {"PROMETHEUS_MULTIPROC_DIR"}


def test_every_setting_is_in_the_deploy_guides_table():
    names = settings_read_from_the_environment()
    assert {"DATABASE_URL", "SECRET_KEY", "POWER_VERIFY_TIMEOUT_S"} <= names
    table = (ROOT / "docs" / "deploy.md").read_text().split("## Every setting", 1)[1]
    first_cells = re.findall(r"^\| ([^|]+) \|", table, re.M)
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z0-9_]+)`", cell)}
    assert names - documented == set(), "settings missing from docs/deploy.md"
    assert documented - names == set(), "documented settings dcpower never reads"


def test_the_example_environment_sets_only_real_settings():
    example = (DEPLOY / "systemd" / "dcpower.env.example").read_text()
    assigned = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, re.M))
    assert assigned <= settings_read_from_the_environment()
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "CREDENTIALS_KEYS"} <= assigned


def test_the_runbook_names_every_alert_and_only_real_ones():
    import yaml

    rules = yaml.safe_load((DEPLOY / "prometheus" / "dcpower-alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    named = set(re.findall(r"`(Dcpower[A-Za-z0-9]+)`", runbook))
    assert alerts <= named, "alerts the runbook does not explain"
    assert named <= alerts, "the runbook names alerts that do not exist"
