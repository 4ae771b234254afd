"""The CLI against a live server: pytest-django's ``live_server`` (a real HTTP server in a
thread of this process, on the test database), simulated PDUs in a thread, and, for commands
that must be carried out, a real Celery worker process (tests/workers.py).

The CLI runs in-process through typer's CliRunner, with its configuration directory in the
test's tmp_path and the live server as DCPOWER_URL; tests/cli/test_power.py also runs it as
the installed console script."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from dcpower.cli import app
from dcpower.tokens import api_token_create
from inventory.choices import HostStatus
from inventory.models import Outlet
from simulators.fleet import FleetSpec, fleet_in_thread
from tests import factories

PASSWORD = "pw-root-123"  # the admin_user fixture's (tests/conftest.py)


@pytest.fixture
def config_dir(tmp_path):
    return tmp_path / "config" / "dcpower"


@pytest.fixture
def cli_env(live_server, config_dir) -> dict[str, str | None]:
    return {
        "DCPOWER_URL": live_server.url,
        "DCPOWER_CONFIG_DIR": str(config_dir),
        "DCPOWER_TOKEN": None,  # unset: the caller's own must not leak in
        "COLUMNS": "200",  # wide tables: no wrapped names
    }


@pytest.fixture
def cli(cli_env) -> Callable:
    """``cli("host", "show", "web01", token=…, input=…)``: the result of the CLI in-process."""

    def run(*args: str, token: str | None = None, input: str | None = None, **env):
        environment = {**cli_env, **env}
        if token is not None:
            environment["DCPOWER_TOKEN"] = token
        return CliRunner().invoke(app, list(args), env=environment, input=input)

    return run


@pytest.fixture
def token(admin_user) -> str:
    """An API token of the superuser (tests/conftest.py's admin_user)."""
    return api_token_create(user=admin_user, name="cli tests")[1]


@pytest.fixture
def fleet():
    spec = FleetSpec.parse(
        {
            "time_scale": 100,
            "defaults": {"outlets": 8, "relay_delay_s": 2},
            "pdus": [
                {"name": "A", "profile": "apc_rpdu2", "host": "127.0.0.1", "port": 0},
                {"name": "B", "profile": "eaton_epdu", "host": "127.0.0.1", "port": 0},
            ],
        }
    )
    with fleet_in_thread(spec) as running:
        yield running


@pytest.fixture
def dc(fleet, site, rack, feeds):
    """PDUs A (APC) and B (Eaton) at the fleet's addresses, in ``rack``; web01, in
    maintenance, on outlet 1 of both; db01, active and protected, on outlet 2 of both."""
    pdus = {}
    for name, feed, vendor in (("A", feeds[0], "apc_rpdu2"), ("B", feeds[1], "eaton_epdu")):
        host, port = fleet.address(name)
        pdus[name] = factories.make_pdu(
            rack=rack,
            name=name,
            feed=feed,
            vendor_profile=vendor,
            management_host=host,
            management_port=port,
            snmp_write_community="private",
            outlet_count=8,
        )
    web = factories.make_dual_psu_host(
        rack=rack,
        pdu_a=pdus["A"],
        pdu_b=pdus["B"],
        outlet=1,
        name="web01",
        status=HostStatus.MAINTENANCE,
    )
    db = factories.make_dual_psu_host(
        rack=rack,
        pdu_a=pdus["A"],
        pdu_b=pdus["B"],
        outlet=2,
        name="db01",
        status=HostStatus.ACTIVE,
        protected=True,
    )
    Outlet.objects.update(state="on")
    return {"site": site, "rack": rack, "pdus": pdus, "web": web, "db": db}


def received(fleet) -> dict[str, int]:
    """Switching commands each simulated PDU has received (its ground truth)."""
    return {name: fleet.ground_truth(name)["commands_received"] for name in ("A", "B")}


def relay_on(fleet, name: str, number: int) -> bool:
    return fleet.ground_truth(name)["outlets"][number - 1]["on"]
