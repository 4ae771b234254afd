"""Logs (dcpower/logs.py): LOG_FORMAT=json writes one object a line with the request id, the
authenticated user (session, API token or JWT) and the power command a worker executes;
text stays as it was; and no secret reaches the output in either format: API tokens, JWTs,
Authorization headers, Fernet ciphertext, and values named like secrets.

The log lines are read as the configured console handler writes them: settings.LOGGING with
its stream swapped for a buffer, in the format under test.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from dcpower import crypto
from dcpower.tokens import api_token_create
from power import tasks
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JWT_PASSWORD = "vera-Pa55word-never-logged"
careless = logging.getLogger("tests.careless")


class Output:
    def __init__(self, stream: io.StringIO, fmt: str) -> None:
        self.stream, self.fmt = stream, fmt

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        """Every line, parsed: each one must be a JSON object."""
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]

    def line(self, message_start: str) -> dict:
        found = [line for line in self.lines() if line["message"].startswith(message_start)]
        assert len(found) == 1, self.text
        return found[0]


@pytest.fixture
def log_output(settings):
    """Configure logging from settings.LOGGING in ``fmt``, into a buffer; restored after."""

    def configure(fmt: str) -> Output:
        stream = io.StringIO()
        config = copy.deepcopy(settings.LOGGING)
        config["handlers"]["console"]["formatter"] = fmt
        config["handlers"]["console"]["stream"] = stream
        logging.config.dictConfig(config)
        return Output(stream, fmt)

    yield configure
    logging.config.dictConfig(settings.LOGGING)


@pytest.fixture
def vera(django_user_model):
    person = django_user_model.objects.create_user("vera", password=JWT_PASSWORD)
    factories.grant(person, "viewer")
    return person


# --- JSON lines and their context ---------------------------------------------------------------


def test_a_json_line_has_every_field(log_output):
    output = log_output("json")
    try:
        1 / 0  # noqa: B018 - an exception to log
    except ZeroDivisionError:
        careless.exception("sum failed for %s", "rack 7", extra={"rack_id": 7, "tags": ["a"]})
    (line,) = output.lines()
    assert TIME.match(line["time"]), line["time"]
    assert line["level"] == "ERROR" and line["logger"] == "tests.careless"
    assert line["message"] == "sum failed for rack 7"
    assert (line["request_id"], line["user"], line["command_id"], line["worker"]) == (
        None,
        None,
        None,
        None,
    )
    assert line["process"] == "MainProcess" and line["pid"] == os.getpid()
    assert line["exception"].startswith("Traceback") and "ZeroDivisionError" in line["exception"]
    assert (line["rack_id"], line["tags"]) == (7, ["a"])


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["token", "jwt", "session"])
def test_json_lines_of_a_request_carry_its_id_and_user(how, log_output, vera):
    client = APIClient()
    if how == "token":
        _, plaintext = api_token_create(user=vera, name="script")
        client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
    elif how == "jwt":
        login = client.post(
            "/api/v1/auth/jwt/", {"username": "vera", "password": JWT_PASSWORD}, format="json"
        )
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.data['access']}")
    else:
        client.force_login(vera)
    output = log_output("json")
    response = client.get("/api/v1/sites/424242/", headers={"X-Request-ID": f"req-{how}"})
    assert response.status_code == 404
    line = output.line("Not Found: /api/v1/sites/424242/")
    assert (line["request_id"], line["user"]) == (f"req-{how}", "vera")
    assert (line["logger"], line["level"], line["status_code"]) == (
        "django.request",
        "WARNING",
        404,
    )
    # Bound for the request only: a line after it names nobody.
    careless.warning("after")
    assert output.line("after")["user"] is None and output.line("after")["request_id"] is None


@pytest.mark.django_db
def test_an_anonymous_request_names_no_user(log_output):
    output = log_output("json")
    APIClient().get("/api/v1/sites/", headers={"X-Request-ID": "req-anon"})
    line = output.line("Unauthorized: /api/v1/sites/")
    assert (line["request_id"], line["user"]) == ("req-anon", None)


@pytest.mark.django_db
def test_the_admins_lines_name_the_session_user(log_output, client, admin_user):
    client.force_login(admin_user)
    output = log_output("json")
    response = client.get("/admin/no-such-page/", headers={"X-Request-ID": "req-admin"})
    assert response.status_code == 404
    line = output.line("Not Found: /admin/no-such-page/")
    assert (line["request_id"], line["user"]) == ("req-admin", "root")


@pytest.mark.django_db
def test_a_worker_executing_a_command_logs_its_id(log_output, api, pdus, monkeypatch):
    outlet = pdus[0].outlets.get(number=3)
    answer = api.post(
        f"/api/v1/outlets/{outlet.pk}/power/on/", {}, headers={"X-Request-ID": "inc-4711"}
    )
    command_id = answer.data["id"]

    def execute(command_id, *, claim):
        logging.getLogger("power.execution").info("executing %s", command_id)
        return "succeeded"

    monkeypatch.setattr(tasks, "execute_command", execute)
    output = log_output("json")
    tasks.execute_power_command.apply(args=[command_id])  # in this process, as a worker would
    line = output.line("executing")
    assert (line["command_id"], line["request_id"]) == (command_id, "inc-4711")
    careless.warning("after")
    assert output.line("after")["command_id"] is None  # unbound once the task returned


@pytest.mark.django_db
def test_a_queued_command_carries_its_request_id(
    api, pdus, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.execute_power_command, "apply_async", lambda **kw: sent.append(kw))
    outlet = pdus[0].outlets.get(number=3)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(
            f"/api/v1/outlets/{outlet.pk}/power/on/", {}, headers={"X-Request-ID": "inc-77"}
        )
    assert [(m["args"], m["kwargs"]) for m in sent] == [
        ([answer.data["id"]], {"request_id": "inc-77"})
    ]


@pytest.mark.django_db
def test_a_command_sent_with_its_request_id_is_not_read_for_it(
    log_output, monkeypatch, django_assert_num_queries
):
    def execute(command_id, *, claim):
        logging.getLogger("power.execution").info("executing %s", command_id)
        return "succeeded"

    monkeypatch.setattr(tasks, "execute_command", execute)
    output = log_output("json")
    with django_assert_num_queries(0):
        tasks.execute_power_command.apply(args=[41], kwargs={"request_id": "inc-5"})
    line = output.line("executing")
    assert (line["command_id"], line["request_id"]) == (41, "inc-5")


@pytest.mark.django_db
def test_text_lines_keep_todays_format(log_output, anon):
    output = log_output("text")
    anon.get("/api/v1/sites/", headers={"X-Request-ID": "req-text"})
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING django\.request \[req-text\] "
        r"Unauthorized: /api/v1/sites/$",
        output.text,
        re.M,
    ), output.text


# --- Settings -----------------------------------------------------------------------------------


def _log_in_subprocess(**env) -> subprocess.CompletedProcess:
    script = (
        "import django, logging; django.setup();"
        " logging.getLogger('x').warning('token %s', 'dcp_0123456789ab_SECRETSECRET')"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "dcpower.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("fmt", ["json", "JSON"])
def test_log_format_json_is_read_from_the_environment(fmt):
    result = _log_in_subprocess(LOG_FORMAT=fmt)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "token dcp_0123456789ab_***"


def test_text_is_the_default():
    env = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, logging; django.setup(); logging.getLogger('x').warning('hi')",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "dcpower.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("WARNING x [-] hi")


def test_an_unknown_log_format_refuses_to_start():
    result = _log_in_subprocess(LOG_FORMAT="yaml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be text or json" in result.stderr


# --- Secrets ------------------------------------------------------------------------------------

TOKEN = "dcp_0123456789ab_s3cr3t-Th3-W4y-D0wn-abcdefghijklmnopq"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJlLW5vdC1yZWFsbHk"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_masked_wherever_they_are(fmt, log_output, settings):
    settings.CREDENTIALS_KEYS = []
    ciphertext = crypto.encrypt("private-community")
    bare_fernet = ciphertext.removeprefix("fernet:")
    secrets_ = [
        TOKEN.split("_", 2)[2],
        JWT,
        ciphertext,
        bare_fernet,
        "hunter2",
        "Zm9vOmJhcg",
        "sekrit-community",
        "k3y-material",
        "inner-pass",
    ]
    output = log_output(fmt)
    careless.warning(
        "user vera sent %s with Authorization: Basic Zm9vOmJhcg and password=hunter2",
        TOKEN,
        extra={
            "snmp_write_community": "sekrit-community",
            "pdu": {"name": "PDU-A", "credentials": {"auth_key": "k3y-material"}},
            "stored": ciphertext,
            "attempts": [{"password": "inner-pass"}],
        },
    )
    careless.warning("headers %s", {"Authorization": f"Bearer {JWT}", "Accept": "json"})
    try:
        raise ValueError(f"refused {TOKEN} and {bare_fernet}")
    except ValueError:
        careless.exception("while checking")

    for secret in secrets_:
        assert secret not in output.text, (secret, output.text)
    # What is not secret stays readable.
    assert "user vera sent dcp_0123456789ab_*** with Authorization: ***" in output.text
    assert (
        "password=***" in output.text and "ValueError: refused dcp_0123456789ab_***" in output.text
    )
    if fmt == "json":
        first = output.lines()[0]
        assert first["snmp_write_community"] == "***"
        assert first["pdu"] == {"name": "PDU-A", "credentials": "***"}
        assert first["stored"] == "fernet:***" and first["attempts"] == [{"password": "***"}]


class CarelessLoggingMiddleware:
    """A careless debugging aid: logs every request's headers and body and every answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        body = request.body.decode()
        response = self.get_response(request)
        careless.warning(
            "%s %s headers=%s body=%s answered %s",
            request.method,
            request.path,
            dict(request.headers),
            body,
            response.content.decode(errors="replace"),
            extra={"headers": dict(request.headers), "body": json.loads(body) if body else None},
        )
        return response


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_token_request_and_a_jwt_login_leave_no_secret_in_the_logs(
    fmt, log_output, settings, vera
):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.test_logging.CarelessLoggingMiddleware"]
    output = log_output(fmt)
    _, plaintext = api_token_create(user=vera, name="script")
    by_token = APIClient().get("/api/v1/sites/", HTTP_AUTHORIZATION=f"Token {plaintext}")
    assert by_token.status_code == 200
    forged = APIClient().get("/api/v1/sites/", HTTP_AUTHORIZATION=f"Token {plaintext}x")
    assert forged.status_code == 401
    login = APIClient().post(
        "/api/v1/auth/jwt/", {"username": "vera", "password": JWT_PASSWORD}, format="json"
    )
    assert login.status_code == 200
    access, refresh = login.data["access"], login.data["refresh"]
    by_jwt = APIClient().get("/api/v1/sites/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert by_jwt.status_code == 200

    assert output.text.count("tests.careless" if fmt == "text" else '"tests.careless"') == 4
    for secret in (plaintext.split("_", 2)[2], JWT_PASSWORD, access, refresh):
        assert secret not in output.text, output.text
    assert output.text.count("'Authorization': '***'") == 3  # the token, forged one, JWT
    if fmt == "json":
        lines = [line for line in output.lines() if line["logger"] == "tests.careless"]
        assert lines[0]["user"] == "vera" and lines[0]["headers"]["Authorization"] == "***"
        assert lines[2]["body"] == {"username": "vera", "password": "***"}
        assert lines[3]["user"] == "vera"
