"""What goes wrong is one line on stderr and a documented exit status, never a traceback:
bad credentials (401), a role that may not (403), no such thing (404), refused input (400),
too many requests (429), a server that cannot be reached, an ambiguous name."""

from __future__ import annotations

import json
import socket

import pytest

from dcpower.cli.errors import ExitCode
from dcpower.tokens import api_token_create
from power.models import PowerCommand
from tests import factories

pytestmark = [pytest.mark.requires_service("postgres"), pytest.mark.django_db(transaction=True)]


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_a_bad_token_is_a_401_that_says_what_to_do(cli, dc):
    result = cli("host", "show", "web01", token="dcp_0123456789ab_not-a-real-secret")
    assert result.exit_code == ExitCode.AUTH
    line = one_line(result)
    assert "Authentication failed" in line and "DCPOWER_TOKEN" in line


def test_a_viewer_may_read_and_not_switch(cli, django_user_model, roles, dc):
    viewer = django_user_model.objects.create_user("vera", password="vera-password-123")
    factories.grant(viewer, "viewer")
    token = api_token_create(user=viewer, name="viewer's")[1]
    assert cli("host", "show", "web01", token=token).exit_code == ExitCode.OK
    result = cli("host", "cycle", "web01", "-r", "x", "--dry-run", token=token)
    assert result.exit_code == ExitCode.PERMISSION
    line = one_line(result)
    assert "Permission denied" in line and "roles" in line
    assert not PowerCommand.objects.exists()


def test_a_closed_port_is_a_network_error(cli, token):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = cli("commands", token=token, DCPOWER_URL=f"http://127.0.0.1:{port}")
    assert result.exit_code == ExitCode.NETWORK
    line = one_line(result)
    assert f"Cannot connect to http://127.0.0.1:{port}" in line and "refused" in line


def test_unknown_names_and_ids_are_not_found(cli, token, dc):
    host = cli("host", "show", "nope", token=token)
    assert host.exit_code == ExitCode.NOT_FOUND and "No host named 'nope'" in one_line(host)
    command = cli("command", "show", "999999", token=token)
    assert command.exit_code == ExitCode.NOT_FOUND
    one_line(command)
    site = cli("rack", "power", dc["rack"].name, "--site", "atlantis", token=token)
    assert site.exit_code == ExitCode.NOT_FOUND
    assert f"No rack named '{dc['rack'].name}' at site 'atlantis'" in one_line(site)


def test_a_name_at_several_sites_needs_site(cli, token, dc):
    other = factories.make_site(name="Elsewhere", slug="elsewhere")
    factories.make_host(site=other, name="web01")
    ambiguous = cli("host", "show", "web01", token=token)
    assert ambiguous.exit_code == ExitCode.USAGE
    line = one_line(ambiguous)
    assert "--site SLUG" in line and "elsewhere" in line and dc["site"].slug in line
    as_json = cli("host", "show", "web01", "--json", token=token)
    assert json.loads(as_json.stdout)["error"]["sites"] == sorted(["elsewhere", dc["site"].slug])
    chosen = cli("host", "show", "web01", "--site", dc["site"].slug, "--json", token=token)
    assert chosen.exit_code == ExitCode.OK, chosen.output
    assert json.loads(chosen.stdout)["host"]["id"] == dc["web"].pk
    power = cli("host", "on", "web01", "--dry-run", token=token)
    assert power.exit_code == ExitCode.USAGE and "--site" in power.stderr


def test_input_the_server_refuses_is_a_400_with_its_fields(cli, token, dc):
    result = cli("host", "on", "web01", "--ticket", "T" * 101, "--dry-run", token=token)
    assert result.exit_code == ExitCode.USAGE
    line = one_line(result)
    assert "ticket:" in line and "100 characters" in line


def test_too_many_power_requests_is_a_429_with_retry_after(cli, token, dc, settings):
    settings.POWER_RATE_LIMIT = "1/min"
    assert cli("host", "on", "web01", "--dry-run", token=token).exit_code == ExitCode.OK
    result = cli("host", "on", "web01", "--dry-run", token=token)
    assert result.exit_code == ExitCode.RATE_LIMITED
    assert "try again in" in one_line(result)
