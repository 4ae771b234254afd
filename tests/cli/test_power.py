"""Switching power from the CLI, against a live server, simulated PDUs and (where the
command must be carried out) a real Celery worker: the blast radius first, the guardrails,
the confirmation, one command even when the answer to the request is lost, the verified
outcome per outlet and the exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dcpower.cli.errors import ExitCode
from power import services
from power.choices import CommandStatus, OutletOutcome
from power.models import PowerCommand
from tests.cli.proxy import LosingProxy
from tests.simulated_dc import received, relay_on

pytestmark = [
    pytest.mark.requires_service("postgres", "redis"),
    pytest.mark.django_db(transaction=True),
]


# --- Carried out by a real worker ------------------------------------------------------------


def test_a_host_cycle_with_yes_is_carried_out_and_verified(cli, token, fleet, dc, start_worker):
    start_worker(dc["site"])
    before = received(fleet)
    result = cli(
        "host",
        "cycle",
        "web01",
        "--reason",
        "kernel hang",
        "--ticket",
        "INC-1",
        "--yes",
        token=token,
    )
    assert result.exit_code == ExitCode.OK, result.output
    # The blast radius, then the outcome of each outlet, with its host.
    assert "blast radius" in result.stdout and "Hosts losing all power" in result.stdout
    outcome = result.stdout.split("outcome per outlet", 1)[1]
    rows = [line for line in outcome.splitlines() if "web01" in line]
    assert len(rows) == 2 and all("on" in row and "succeeded" in row for row in rows), outcome
    assert "every outlet verified" in result.stderr
    # The simulators' ground truth: one off and one on each, and on again.
    after = received(fleet)
    assert {name: after[name] - before[name] for name in after} == {"A": 2, "B": 2}
    assert relay_on(fleet, "A", 1) and relay_on(fleet, "B", 1)
    command = PowerCommand.objects.get()
    assert command.status == CommandStatus.SUCCEEDED
    assert (command.reason, command.ticket) == ("kernel hang", "INC-1")
    assert command.idempotency_key  # the CLI always sends one
    assert command.request_id.startswith("cli-")


def test_the_console_script_reports_a_stuck_relay_with_a_failure_status(
    live_server, config_dir, token, fleet, dc, start_worker
):
    """The installed entry point, as a real process: a relay that never moves fails its
    outlet, and the exit status says so; --json prints the command with every outcome."""
    script = Path(sys.executable).parent / "dcpower"
    assert script.exists(), "the dcpower console script is not installed (pip install -e .)"
    start_worker(dc["site"])
    fleet.inject("B", stuck_outlets=[1])
    env = {
        **os.environ,
        "DCPOWER_URL": live_server.url,
        "DCPOWER_TOKEN": token,
        "DCPOWER_CONFIG_DIR": str(config_dir),
    }
    done = subprocess.run(
        [str(script), "host", "off", "web01", "--reason", "stuck relay test", "--yes", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == ExitCode.OUTLETS_FAILED, done.stderr
    assert "Traceback" not in done.stderr
    command = json.loads(done.stdout)
    assert command["status"] == CommandStatus.PARTIALLY_FAILED
    rows = {row["outlet"]["name"].split(":")[0]: row for row in command["results"]}
    assert rows["A"]["outcome"] == OutletOutcome.SUCCEEDED and rows["A"]["state_after"] == "off"
    assert rows["B"]["outcome"] == OutletOutcome.FAILED
    assert "not off after" in rows["B"]["error"]
    assert rows["B"]["host"]["name"] == "web01"
    assert not relay_on(fleet, "A", 1) and relay_on(fleet, "B", 1)  # the ground truth
    assert "1 of 2 outlet(s) not verified" in done.stderr


def test_a_lost_answer_is_retried_with_the_same_key_and_switches_once(
    cli, live_server, token, fleet, dc, start_worker
):
    """The server accepts the command but its answer never reaches the CLI: the CLI sends
    the request again with the same Idempotency-Key, gets the same command back and follows
    it. One command; each outlet switched off and on exactly once."""
    start_worker(dc["site"])
    proxy = LosingProxy(live_server.url, drop=lambda seen: "idempotency-key" in seen.headers)
    try:
        before = received(fleet)
        result = cli(
            "host",
            "cycle",
            "web01",
            "-r",
            "lost answer",
            "--yes",
            token=token,
            DCPOWER_URL=proxy.url,
        )
    finally:
        proxy.close()
    assert result.exit_code == ExitCode.OK, result.output
    posts = [seen for seen in proxy.seen if "idempotency-key" in seen.headers]
    assert len(posts) == 2 and proxy.dropped == posts[:1]
    assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
    assert PowerCommand.objects.count() == 1
    after = received(fleet)
    assert {name: after[name] - before[name] for name in after} == {"A": 2, "B": 2}


# --- Stopped before anything is switched ----------------------------------------------------


def test_a_dry_run_shows_the_blast_radius_and_creates_nothing(cli, token, fleet, dc):
    result = cli("host", "cycle", "web01", "-r", "look first", "--dry-run", token=token)
    assert result.exit_code == ExitCode.OK, result.output
    assert "Cycle host web01: blast radius" in result.stdout
    table = result.stdout.split("Impact", 1)[0]
    assert table.count("web01") >= 2 and "A " in table and "B " in table
    assert "Dry run: nothing was switched." in result.stderr
    assert not PowerCommand.objects.exists()
    assert received(fleet) == {"A": 0, "B": 0}


def test_a_declined_confirmation_creates_nothing(cli, token, fleet, dc):
    declined = cli("host", "off", "web01", "-r", "maybe", token=token, input="n\n")
    assert declined.exit_code == ExitCode.ABORTED, declined.output
    assert "nothing was switched" in declined.stderr
    # The question was asked, with what it means.
    assert "Switch off 2 outlet(s) of host web01 (1 host(s) lose all power)?" in declined.stdout
    no_input = cli("host", "off", "web01", "-r", "maybe", token=token)  # end of input
    assert no_input.exit_code == ExitCode.ABORTED, no_input.output
    assert not PowerCommand.objects.exists()
    assert received(fleet) == {"A": 0, "B": 0}


def test_a_protected_host_is_refused_without_force(cli, token, fleet, dc):
    result = cli("host", "cycle", "db01", "-r", "try it", "--yes", token=token)
    assert result.exit_code == ExitCode.REFUSED, result.output
    assert "protected" in result.stderr and "--force" in result.stderr
    assert "Refused by the guardrails" in result.stdout  # the table, beside the blast radius
    as_json = cli("host", "cycle", "db01", "-r", "try it", "--yes", "--json", token=token)
    assert as_json.exit_code == ExitCode.REFUSED
    error = json.loads(as_json.stdout)["error"]
    assert error["kind"] == "refused"
    assert {r["code"] for r in error["refusals"]} >= {"protected_host"}
    assert [h["name"] for h in error["blast_radius"]["protected_hosts_affected"]] == ["db01"]
    # --force (with its reason) gets past the guardrail: the dry run says so.
    forced = cli("host", "cycle", "db01", "-r", "planned", "--force", "--dry-run", token=token)
    assert forced.exit_code == ExitCode.OK, forced.output
    assert not PowerCommand.objects.exists()


def test_json_dry_runs_of_an_outlet_and_a_rack(cli, token, fleet, dc):
    outlet = cli("outlet", "off", "A:3", "-r", "spare", "--dry-run", "--json", token=token)
    assert outlet.exit_code == ExitCode.OK, outlet.output
    answer = json.loads(outlet.stdout)
    assert answer["dry_run"] is True and answer["refusals"] == []
    assert [(o["pdu"], o["number"]) for o in answer["blast_radius"]["outlets"]] == [("A", 3)]
    # A rack takes every outlet of its PDUs, db01's too: refused, as JSON on stdout.
    rack = cli("rack", "cycle", dc["rack"].name, "-r", "all", "--dry-run", "--json", token=token)
    assert rack.exit_code == ExitCode.REFUSED, rack.output
    error = json.loads(rack.stdout)["error"]
    assert len(error["blast_radius"]["outlets"]) == 16
    missing = cli("outlet", "on", "A:9", "--dry-run", token=token)
    assert missing.exit_code == ExitCode.NOT_FOUND and "no outlet 9" in missing.stderr


def test_usage_mistakes_are_caught_before_any_request(cli, token, fleet, dc):
    no_prompt = cli("host", "cycle", "web01", "-r", "x", "--json", token=token)
    assert no_prompt.exit_code == ExitCode.USAGE
    assert json.loads(no_prompt.stdout)["error"]["kind"] == "usage"
    no_reason = cli("host", "off", "web01", "--yes", token=token)
    assert no_reason.exit_code == ExitCode.USAGE and "--reason" in no_reason.stderr
    bad_outlet = cli("outlet", "on", "A-3", "--dry-run", token=token)
    assert bad_outlet.exit_code == ExitCode.USAGE and "PDU:NUMBER" in bad_outlet.stderr
    assert not PowerCommand.objects.exists()


def test_an_outlet_held_by_a_running_command_is_named(cli, token, admin_user, broker, dc):
    """409: another command holds the outlets (queued on the e2e broker, no worker)."""
    held = services.power_command_request(
        user=admin_user, action="off", host_ids=[dc["web"].pk], reason="first"
    ).command
    result = cli("host", "cycle", "web01", "-r", "second", "--yes", token=token)
    assert result.exit_code == ExitCode.CONFLICT, result.output
    assert f"command #{held.pk}" in result.stderr
    assert f"dcpower command show {held.pk}" in result.stderr
    assert PowerCommand.objects.count() == 1


def test_following_stops_after_the_timeout_and_the_command_goes_on(cli, token, broker, dc):
    """No worker takes it (it waits on the e2e broker): the CLI stops following and says
    where to look; the command is still there, pending."""
    result = cli("host", "on", "web01", "--yes", "--timeout", "1", "--json", token=token)
    assert result.exit_code == ExitCode.UNFINISHED, result.output
    error = json.loads(result.stdout)["error"]
    assert error["command"]["status"] == CommandStatus.PENDING
    assert f"dcpower command show {error['command']['id']}" in result.stderr
    assert PowerCommand.objects.get().status == CommandStatus.PENDING
