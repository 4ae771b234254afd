"""Every driver failure surfaces as dcpower's own exception, naming the device and the object:
timeouts, wrong community, wrong v3 key, unknown user, a rejected SET, a missing outlet, an
unexpected value. Driven over the wire against the simulators."""

import asyncio

import pytest

from power.drivers.base import DeviceTarget, SnmpV3Credentials, SwitchAction
from power.drivers.errors import (
    AuthenticationFailed,
    DeviceRejected,
    DeviceTimeout,
    NoSuchOutlet,
    UnexpectedValue,
    UnknownDevice,
)
from power.drivers.registry import driver_for, driver_for_vendor
from power.drivers.snmp.client import close_engine_for_running_loop
from simulators.fleet import FleetSpec, fleet_in_thread

V3_USER = {
    "name": "ops",
    "auth": "sha",
    "auth_key": "authpass1",
    "priv": "aes128",
    "priv_key": "privpass1",
    "write": True,
}
FLEET = {
    "time_scale": 100,
    "defaults": {"outlets": 4},
    "pdus": [
        {
            "name": "apc",
            "profile": "apc_rpdu2",
            "port": 0,
            "seed": 1,
            "snmp": {
                "read_communities": ["public"],
                "write_communities": ["private"],
                "v3_users": [V3_USER],
            },
        },
        {"name": "netio", "protocol": "modbus", "profile": "netio_switched_pdu", "port": 0},
    ],
}


@pytest.fixture(scope="module")
def fleet():
    with fleet_in_thread(FleetSpec.parse(FLEET)) as running:
        yield running


@pytest.fixture(autouse=True)
def _clear_faults(fleet):
    yield
    for name in fleet.pdus:
        fleet.clear(name)


def run(coro):
    async def wrapped():
        try:
            return await coro
        finally:
            close_engine_for_running_loop()

    return asyncio.run(wrapped())


def apc_target(fleet, **overrides) -> DeviceTarget:
    host, port = fleet.address("apc")
    values = {
        "host": host,
        "port": port,
        "vendor": "apc_rpdu2",
        "read_community": "public",
        "write_community": "private",
        "timeout_s": 0.3,
        "retries": 0,
    }
    return DeviceTarget(**{**values, **overrides})


def netio_target(fleet) -> DeviceTarget:
    host, port = fleet.address("netio")
    return DeviceTarget(
        host=host,
        port=port,
        protocol="modbus_tcp",
        vendor="modbus_switched_pdu",
        timeout_s=0.3,
        retries=0,
    )


def test_an_unresponsive_device_is_a_timeout_naming_device_and_object(fleet):
    fleet.inject("apc", unresponsive=True)
    target = apc_target(fleet)
    with pytest.raises(DeviceTimeout) as excinfo:
        run(driver_for_vendor(target, "apc_rpdu2").outlet_state(1))
    message = str(excinfo.value)
    assert target.address in message
    assert "1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.1" in message  # the status object asked for
    assert "no answer after 1 tries of 0.3 s" in message


def test_a_wrong_community_is_a_timeout_that_says_so(fleet):
    with pytest.raises(DeviceTimeout, match="wrong community"):
        run(driver_for_vendor(apc_target(fleet, read_community="nope"), "apc_rpdu2").identify())


def test_a_wrong_v3_key_is_an_authentication_failure(fleet):
    v3 = SnmpV3Credentials("ops", "sha", "wrongpass1", "aes128", "privpass1")
    target = apc_target(fleet, snmp_version="v3", v3=v3)
    with pytest.raises(AuthenticationFailed) as excinfo:
        run(driver_for_vendor(target, "apc_rpdu2").identify())
    assert target.address in str(excinfo.value)


def test_an_unknown_v3_user_is_an_authentication_failure(fleet):
    target = apc_target(
        fleet, snmp_version="v3", v3=SnmpV3Credentials("nobody", "sha", "authpass1")
    )
    with pytest.raises(AuthenticationFailed):
        run(driver_for_vendor(target, "apc_rpdu2").identify())


def test_the_right_v3_credentials_work(fleet):
    v3 = SnmpV3Credentials("ops", "sha", "authpass1", "aes128", "privpass1")
    identity = run(
        driver_for_vendor(apc_target(fleet, snmp_version="v3", v3=v3), "apc_rpdu2").identify()
    )
    assert identity.name == "apc"


def test_a_rejected_set_names_the_status_and_object(fleet):
    fleet.inject("apc", reject_commands=True)
    with pytest.raises(DeviceRejected) as excinfo:
        run(driver_for_vendor(apc_target(fleet), "apc_rpdu2").switch([2], SwitchAction.OFF))
    assert "genErr" in str(excinfo.value)
    assert excinfo.value.obj == "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.2"
    assert fleet.ground_truth("apc")["outlets"][1]["on"] is True


def test_a_set_with_the_read_community_is_rejected_with_no_access(fleet):
    target = apc_target(fleet, write_community="public")
    with pytest.raises(DeviceRejected, match="noAccess"):
        run(driver_for_vendor(target, "apc_rpdu2").switch([1], SwitchAction.OFF))


def test_a_missing_outlet_is_no_such_outlet_for_reads_and_writes(fleet):
    driver = driver_for_vendor(apc_target(fleet), "apc_rpdu2")
    with pytest.raises(NoSuchOutlet, match="no outlet 9"):
        run(driver.outlet_state(9))
    with pytest.raises(NoSuchOutlet):
        run(driver.switch([9], SwitchAction.OFF))


def test_auto_detection_of_an_unknown_device(fleet):
    # "auto" asks the device for its sysObjectID and picks the longest matching prefix.
    driver = run(driver_for(apc_target(fleet, vendor="auto")))
    assert driver.vendor == "apc_rpdu2"


def test_an_unknown_sys_object_id_is_reported():
    from power.drivers.snmp.vendors import vendor_for_sys_object_id

    assert vendor_for_sys_object_id((1, 3, 6, 1, 4, 1, 99999, 1)) is None
    assert vendor_for_sys_object_id((1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 6, 9)).name == "apc_rpdu2"
    assert UnknownDevice.kind == "unknown device"


def test_an_unexpected_status_value_is_named(fleet):
    # The status decoding alone: a value outside the vendor's documented enum.
    driver = driver_for_vendor(apc_target(fleet), "apc_rpdu2")
    status_column = driver.profile.status
    tables = {status_column: {(1,): 7}}
    with pytest.raises(UnexpectedValue, match=r"status 7 is not one of \[1, 2\]"):
        driver._state(tables, 1)


def test_modbus_timeouts_rejections_and_missing_outlets(fleet):
    driver = driver_for_vendor(netio_target(fleet), "modbus_switched_pdu")

    async def scenario():
        try:
            fleet.inject("netio", reject_commands=True)
            with pytest.raises(DeviceRejected, match="exception 4"):
                await driver.switch([1], SwitchAction.OFF)
            fleet.clear("netio")
            with pytest.raises(NoSuchOutlet):
                await driver.switch([99], SwitchAction.OFF)
            fleet.inject("netio", unresponsive=True)
            with pytest.raises(DeviceTimeout):
                await driver.readings()
        finally:
            await driver.close()

    run(scenario())


def test_a_closed_modbus_port_is_a_timeout():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = DeviceTarget(
        host="127.0.0.1",
        port=port,
        protocol="modbus_tcp",
        vendor="modbus_switched_pdu",
        timeout_s=0.3,
        retries=0,
    )
    with pytest.raises(DeviceTimeout, match="cannot connect"):
        run(driver_for_vendor(target, "modbus_switched_pdu").outlet_states())
