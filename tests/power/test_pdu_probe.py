"""``manage.py pdu_probe``: the first thing a technician runs when adding a PDU. Driven against
simulated PDUs over the wire; the JSON shape is the documented one."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from inventory.choices import SnmpKeyExtension
from power.targets import device_target_for_pdu
from simulators.fleet import FleetSpec, fleet_in_thread
from tests import factories

FLEET = {
    "time_scale": 50,
    "defaults": {"outlets": 4, "loads_w": [100, 200, 0, 400]},
    "pdus": [
        {"name": "apc", "profile": "apc_rpdu2", "port": 0},
        {
            "name": "eaton",
            "profile": "eaton_epdu",
            "host": "127.0.0.2",
            "port": 0,
            "snmp": {
                "v3_users": [
                    {
                        "name": "ops",
                        "auth": "sha256",
                        "auth_key": "authpass1",
                        "priv": "aes256",
                        "priv_key": "privpass1",
                    }
                ]
            },
        },
        {"name": "netio", "protocol": "modbus", "profile": "netio_switched_pdu", "port": 0},
    ],
}


@pytest.fixture(scope="module")
def fleet():
    with fleet_in_thread(FleetSpec.parse(FLEET)) as running:
        yield running


def run_probe(*args) -> str:
    out = io.StringIO()
    call_command("pdu_probe", *args, stdout=out)
    return out.getvalue()


def test_json_output_identifies_the_device_and_reads_every_outlet(fleet):
    fleet.switch("apc", 3, on=False)
    host, port = fleet.address("apc")
    result = json.loads(run_probe(f"{host}:{port}", "--json"))
    assert set(result) == {"vendor", "sys_object_id", "description", "name", "outlets", "totals"}
    assert result["vendor"] == "apc_rpdu2"  # found by sysObjectID
    assert result["sys_object_id"] == "1.3.6.1.4.1.318.1.3.4.6"
    assert [o["number"] for o in result["outlets"]] == [1, 2, 3, 4]
    assert [o["state"] for o in result["outlets"]] == ["on", "on", "off", "on"]
    outlet = result["outlets"][1]
    assert set(outlet) == {"number", "name", "state", "current_a", "power_w", "energy_kwh"}
    assert outlet["power_w"] == pytest.approx(200, rel=0.02)
    assert outlet["current_a"] == pytest.approx(200 / 0.95 / 230, abs=0.06)
    totals = result["totals"]
    assert totals["power_w"] == pytest.approx(700, abs=15)  # outlet 3 is off
    assert totals["phases"][0]["voltage_v"] == pytest.approx(230, abs=3)


def test_snmpv3_probe(fleet):
    host, port = fleet.address("eaton")
    result = json.loads(
        run_probe(
            f"{host}:{port}",
            "--snmp-version",
            "v3",
            "--v3-user",
            "ops",
            "--v3-auth",
            "sha256",
            "--v3-auth-key",
            "authpass1",
            "--v3-priv",
            "aes256",
            "--v3-priv-key",
            "privpass1",
            "--json",
        )
    )
    assert result["vendor"] == "eaton_epdu"
    assert result["outlets"][3]["power_w"] == pytest.approx(400, rel=0.02)
    assert result["totals"]["voltage_v"] == pytest.approx(230, abs=3)


def test_modbus_probe_needs_the_profile_and_reads_registers(fleet):
    host, port = fleet.address("netio")
    with pytest.raises(CommandError, match="auto-detection needs SNMP"):
        run_probe(f"{host}:{port}", "--protocol", "modbus_tcp")
    result = json.loads(
        run_probe(
            f"{host}:{port}",
            "--protocol",
            "modbus_tcp",
            "--vendor",
            "modbus_switched_pdu",
            "--json",
        )
    )
    assert result["vendor"] == "modbus_switched_pdu"
    assert result["sys_object_id"] is None
    assert [o["power_w"] for o in result["outlets"]] == pytest.approx([100, 200, 0, 400], abs=6)


def test_text_output(fleet):
    host, port = fleet.address("apc")
    text = run_probe(f"{host}:{port}")
    assert "Vendor:      apc_rpdu2" in text
    assert "Totals:" in text and "phase 1:" in text


def test_a_wrong_community_is_a_clear_timeout(fleet):
    host, port = fleet.address("apc")
    with pytest.raises(CommandError, match=r"timeout: .*no answer.*wrong community"):
        run_probe(f"{host}:{port}", "--community", "wrong", "--timeout", "0.3", "--retries", "0")


def test_a_wrong_v3_key_is_an_authentication_failure(fleet):
    host, port = fleet.address("eaton")
    with pytest.raises(CommandError, match="authentication failed"):
        run_probe(
            f"{host}:{port}",
            "--snmp-version",
            "v3",
            "--v3-user",
            "ops",
            "--v3-auth",
            "sha256",
            "--v3-auth-key",
            "wrongpass1",
            "--v3-priv",
            "aes256",
            "--v3-priv-key",
            "privpass1",
            "--timeout",
            "0.5",
            "--retries",
            "0",
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["10.0.0.1:http"], "is not a number"),
        (["10.0.0.1:70000"], "is not 1..65535"),
        (["10.0.0.1", "--snmp-version", "v3"], "needs --v3-user"),
    ],
)
def test_bad_arguments_are_named(args, message):
    with pytest.raises(CommandError, match=message):
        run_probe(*args)


@pytest.mark.django_db
def test_an_inventory_pdu_becomes_a_device_target(rack):
    pdu = factories.make_pdu(
        rack=rack,
        management_host="192.0.2.7",
        snmp_version="v3",
        snmp_v3_username="ops",
        snmp_v3_auth_protocol="sha",
        snmp_v3_auth_key="authpass1",
        snmp_v3_priv_protocol="aes256",
        snmp_v3_priv_key="privpass1",
        snmp_v3_priv_key_extension=SnmpKeyExtension.REEDER,
        vendor_profile="eaton_epdu",
    )
    target = device_target_for_pdu(pdu)
    assert (target.host, target.port, target.vendor) == ("192.0.2.7", 161, "eaton_epdu")
    assert target.v3.username == "ops" and target.v3.key_extension == "reeder"
    assert "privpass1" not in repr(target)  # credentials never appear in logs
