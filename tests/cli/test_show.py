"""Reading from the CLI: a host with its supplies and outlets, a rack's measured power (after
a real poll of the simulated PDUs), recent power commands with their filters, one command."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from dcpower.cli.errors import ExitCode
from inventory.models import PowerSupply
from power.choices import CommandStatus, OutletOutcome, OutletStep
from power.models import PowerCommand, PowerCommandOutlet
from telemetry.polling import poll_pdus

pytestmark = [pytest.mark.requires_service("postgres"), pytest.mark.django_db(transaction=True)]


def test_host_show_lists_supplies_outlets_state_and_draw(cli, token, dc):
    poll_pdus([pdu.pk for pdu in dc["pdus"].values()])  # readings from the simulators
    result = cli("host", "show", "web01", token=token)
    assert result.exit_code == ExitCode.OK, result.output
    assert "Host web01" in result.stdout and "maintenance" in result.stdout
    supplies = result.stdout.split("Power supplies", 1)[1].splitlines()
    psu1 = next(line for line in supplies if "PSU1" in line)
    assert "│ A " in psu1 and "│ 1 " in psu1 and " on " in psu1 and " W" in psu1
    as_json = json.loads(cli("host", "show", "db01", "--json", token=token).stdout)
    assert as_json["host"]["protected"] is True
    outlets = {(o["pdu"]["name"], o["number"]): o for o in as_json["outlets"]}
    assert set(outlets) == {("A", 2), ("B", 2)}
    assert all(o["state"] == "on" and o["power_w"] > 0 for o in outlets.values())


def test_rack_power_shows_measured_power_against_capacity(cli, token, fleet, dc):
    poll_pdus([pdu.pk for pdu in dc["pdus"].values()])
    as_json = cli("rack", "power", dc["rack"].name, "--json", token=token)
    assert as_json.exit_code == ExitCode.OK, as_json.output
    summary = json.loads(as_json.stdout)
    truth = sum(fleet.ground_truth(name)["power_w"] for name in ("A", "B"))
    assert summary["power_w"] == pytest.approx(truth, rel=0.05)
    assert summary["capacity_w"] == 5888 and summary["redundant"] is True
    table = cli("rack", "power", dc["rack"].name, token=token)
    assert table.exit_code == ExitCode.OK
    assert f"Rack {dc['rack'].name}: power" in table.stdout
    assert "5,888 W" in table.stdout and f"{summary['power_w']:,.0f} W" in table.stdout


def record(*, user, host, status, outcome, reason, ago=timedelta(0)) -> PowerCommand:
    """A finished command on the host's outlets, as a worker leaves one."""
    command = PowerCommand.objects.create(
        action="cycle",
        status=status,
        site=host.site,
        requested_by=user,
        reason=reason,
        blast_radius={"hosts_losing_all_power": [{"id": host.pk, "name": host.name}]},
        finished_at=timezone.now(),
    )
    for supply in PowerSupply.objects.filter(host=host):
        PowerCommandOutlet.objects.create(
            command=command,
            outlet=supply.outlet,
            active=False,
            step=OutletStep.DONE,
            outcome=outcome,
            state_before="on",
            state_after="on" if outcome == OutletOutcome.SUCCEEDED else "off",
            error="" if outcome == OutletOutcome.SUCCEEDED else "not on after 1.5 s",
        )
    PowerCommand.objects.filter(pk=command.pk).update(created=timezone.now() - ago)
    return command


def test_commands_are_listed_newest_first_and_filtered(
    cli, token, admin_user, django_user_model, dc
):
    other = django_user_model.objects.create_user("otto", password="otto-password-123")
    old = record(
        user=admin_user,
        host=dc["web"],
        status=CommandStatus.SUCCEEDED,
        outcome=OutletOutcome.SUCCEEDED,
        reason="old one",
        ago=timedelta(days=2),
    )
    failed = record(
        user=admin_user,
        host=dc["db"],
        status=CommandStatus.FAILED,
        outcome=OutletOutcome.FAILED,
        reason="[urgent] broke",
        ago=timedelta(hours=1),
    )
    otto = record(
        user=other,
        host=dc["web"],
        status=CommandStatus.SUCCEEDED,
        outcome=OutletOutcome.SUCCEEDED,
        reason="otto's",
    )

    def ids(*args):
        result = cli("commands", "--json", *args, token=token)
        assert result.exit_code == ExitCode.OK, result.output
        return [command["id"] for command in json.loads(result.stdout)]

    assert ids() == [otto.pk, failed.pk, old.pk]
    assert ids("--status", "failed") == [failed.pk]
    assert ids("--status", "failed", "--status", "succeeded") == [otto.pk, failed.pk, old.pk]
    assert ids("--host", "web01") == [otto.pk, old.pk]
    assert ids("--user", "otto") == [otto.pk]
    assert ids("--since", "1d") == [otto.pk, failed.pk]
    assert ids("--limit", "1") == [otto.pk]
    table = cli("commands", token=token)
    line = next(line for line in table.stdout.splitlines() if "[urgent] broke" in line)
    assert "failed" in line and "0/2" in line and "db01" in line and "root" in line
    bad = cli("commands", "--since", "yesterday", token=token)
    assert bad.exit_code == ExitCode.USAGE and "--since" in bad.stderr


def test_command_show_prints_each_outlets_outcome(cli, token, admin_user, dc):
    command = record(
        user=admin_user,
        host=dc["db"],
        status=CommandStatus.FAILED,
        outcome=OutletOutcome.FAILED,
        reason="[urgent] broke",
    )
    result = cli("command", "show", str(command.pk), token=token)
    assert result.exit_code == ExitCode.OK, result.output
    rows = [line for line in result.stdout.splitlines() if "db01" in line]
    assert len(rows) == 2 and all("failed" in r and "not on after 1.5 s" in r for r in rows)
    as_json = json.loads(cli("command", "show", str(command.pk), "--json", token=token).stdout)
    assert as_json["id"] == command.pk and as_json["status"] == "failed"
