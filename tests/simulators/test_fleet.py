"""The fleet: its description file, running it in a thread, the Python and HTTP control
interfaces, and the ``python -m simulators`` command."""

from __future__ import annotations

import json
import selectors
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from simulators.fleet import FleetError, FleetSpec, PduSpec, fleet_in_thread
from simulators.snmp.agent import V3User
from tests.simulators.snmpclient import SYS_NAME, snmp_get, snmp_set

REPO = Path(__file__).resolve().parents[2]
TIME_SCALE = 100.0
APC_OUTLET_STATUS = "1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.{}"
APC_OUTLET_CONTROL = "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.{}"
STATUS_OFF, STATUS_ON = 1, 2
IMMEDIATE_OFF = 2

FLEET = {
    "time_scale": 50,
    "control": {"host": "127.0.0.1", "port": 0},
    "defaults": {"profile": "apc_rpdu2", "outlets": 8, "loads_w": 120, "relay_delay_s": 0.2},
    "pdus": [
        {"name": "R01-PDU-A", "host": "127.0.0.1", "port": 0, "seed": 1},
        {
            "name": "R01-PDU-B",
            "protocol": "snmp",
            "profile": "raritan_px",
            "outlets": 4,
            "loads_w": [10, 20, 30, 40],
            "phases": 3,
            "nominal_voltage": 208,
            "initially_on": False,
            "snmp": {
                "read_communities": ["ro"],
                "write_communities": ["rw"],
                "v3_users": [
                    {
                        "name": "ops",
                        "auth": "sha",
                        "auth_key": "authkey-123",
                        "priv": "aes128",
                        "priv_key": "privkey-123",
                        "write": True,
                    }
                ],
            },
        },
    ],
}


# --- the description -------------------------------------------------------------------------


def check_parsed_fleet(spec: FleetSpec) -> None:
    assert spec.time_scale == 50.0
    assert (spec.control_host, spec.control_port) == ("127.0.0.1", 0)
    a, b = spec.pdus
    assert a == PduSpec(
        name="R01-PDU-A",
        protocol="snmp",
        profile="apc_rpdu2",
        outlets=8,
        loads_w=120,
        relay_delay_s=0.2,
        seed=1,
    )
    # The PDU's own keys win over the defaults; the defaults fill the rest.
    assert (b.profile, b.outlets, b.loads_w, b.relay_delay_s) == (
        "raritan_px",
        4,
        [10, 20, 30, 40],
        0.2,
    )
    assert (b.phases, b.nominal_voltage, b.initially_on) == (3, 208, False)
    assert b.snmp.read_communities == ("ro",)
    assert b.snmp.write_communities == ("rw",)
    assert b.snmp.v3_users == (
        V3User(name="ops", auth_key="authkey-123", priv_key="privkey-123", auth="sha", write=True),
    )


def test_load_yaml(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(FLEET))
    check_parsed_fleet(FleetSpec.load(path))


def test_load_json(tmp_path):
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(FLEET))
    check_parsed_fleet(FleetSpec.load(path))


def test_minimal_description_gets_the_documented_defaults():
    spec = FleetSpec.parse({"pdus": [{"name": "P", "profile": "apc_rpdu2"}]})
    assert spec.time_scale == 1.0
    assert spec.control_host is None
    (pdu,) = spec.pdus
    assert (pdu.protocol, pdu.host, pdu.port, pdu.outlets) == ("snmp", "127.0.0.1", 0, 24)
    assert pdu.snmp.read_communities == ("public",)
    assert pdu.snmp.write_communities == ("private",)
    assert FleetSpec.parse({}).pdus == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"pdus": [{"profile": "apc_rpdu2"}]}, "every PDU needs a name"),
        ({"pdus": [{"name": "", "profile": "apc_rpdu2"}]}, "every PDU needs a name"),
        (
            {"pdus": [{"name": "P1", "profile": "apc_rpdu2", "colour": "red"}]},
            r"PDU 'P1': unknown keys \['colour'\]",
        ),
        (
            {"defaults": {"colour": "red"}, "pdus": [{"name": "P1", "profile": "apc_rpdu2"}]},
            r"PDU 'P1': unknown keys \['colour'\]",
        ),
        (
            {"pdus": [{"name": "P1", "protocol": "http", "profile": "apc_rpdu2"}]},
            "PDU 'P1': protocol must be snmp or modbus, not 'http'",
        ),
        (
            {"pdus": [{"name": "P1", "profile": "acme_9000"}]},
            "PDU 'P1': unknown snmp profile 'acme_9000'",
        ),
        ({"pdus": [{"name": "P1"}]}, "PDU 'P1': unknown snmp profile None"),
        (
            {"pdus": [{"name": "P1", "profile": "apc_rpdu2", "snmp": {"v3_users": [{}]}}]},
            "PDU 'P1': .*'name'",
        ),
        (
            {
                "pdus": [
                    {
                        "name": "P1",
                        "profile": "apc_rpdu2",
                        "snmp": {"v3_users": [{"name": "u", "auth": "crc32"}]},
                    }
                ]
            },
            "PDU 'P1': unknown auth protocol 'crc32'",
        ),
        (
            {
                "pdus": [
                    {
                        "name": "P1",
                        "profile": "apc_rpdu2",
                        "snmp": {"v3_users": [{"name": "u", "auth_key": "authkey-1"}]},
                    }
                ]
            },
            "PDU 'P1': SNMPv3 user 'u': priv 'aes128' needs a priv_key",
        ),
        (
            {
                "pdus": [
                    {
                        "name": "P1",
                        "profile": "apc_rpdu2",
                        "snmp": {"v3_users": [{"name": "u", "priv": "none"}]},
                    }
                ]
            },
            "PDU 'P1': SNMPv3 user 'u': auth 'sha' needs an auth_key",
        ),
        (
            {
                "defaults": {"profile": "apc_rpdu2"},
                "pdus": [{"name": "P1"}, {"name": "P2"}, {"name": "P1"}],
            },
            r"duplicate PDU names: \['P1'\]",
        ),
        ({"pdus": [], "colour": "red"}, r"unknown top-level keys \['colour'\]"),
        ({"time_scale": 0, "pdus": []}, "time_scale must be a positive number, not 0"),
        ({"time_scale": "fast", "pdus": []}, "time_scale must be a positive number"),
        ([{"name": "P1"}], "a fleet description is a mapping"),
    ],
)
def test_invalid_descriptions_name_the_pdu_and_key(raw, message):
    with pytest.raises(FleetError, match=message):
        FleetSpec.parse(raw)


@pytest.mark.parametrize(
    ("filename", "text", "message"),
    [
        ("fleet.yaml", "pdus: [name: P1\n", "fleet.yaml is not valid YAML"),
        ("fleet.json", '{"pdus": [', "fleet.json is not valid JSON"),
        ("fleet.yaml", "- just\n- a list\n", "mapping"),
    ],
)
def test_a_file_that_does_not_parse_is_a_fleet_error(tmp_path, filename, text, message):
    path = tmp_path / filename
    path.write_text(text)
    with pytest.raises(FleetError, match=message):
        FleetSpec.load(path)


def test_fleet_error_is_a_value_error():
    assert issubclass(FleetError, ValueError)


# --- running ---------------------------------------------------------------------------------


def test_several_pdus_run_on_distinct_loopback_addresses():
    spec = FleetSpec.parse(
        {
            "time_scale": TIME_SCALE,
            "defaults": {"profile": "apc_rpdu2", "outlets": 2, "port": 0},
            "pdus": [
                {"name": "LO-1", "host": "127.0.0.1"},
                {"name": "LO-2", "host": "127.0.0.2"},
                {"name": "LO-3", "host": "127.0.0.3", "profile": "eaton_epdu"},
            ],
        }
    )
    with fleet_in_thread(spec) as fleet:
        described = fleet.describe()
        assert [(d["name"], d["host"], d["profile"]) for d in described] == [
            ("LO-1", "127.0.0.1", "apc_rpdu2"),
            ("LO-2", "127.0.0.2", "apc_rpdu2"),
            ("LO-3", "127.0.0.3", "eaton_epdu"),
        ]
        for d in described:
            assert d["port"] > 0
            assert fleet.address(d["name"]) == (d["host"], d["port"])
            # Each address answers for its own PDU.
            answer = snmp_get((d["host"], d["port"]), SYS_NAME)
            assert str(answer.value) == d["name"]


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


V3_USER = {"name": "ops", "auth": "sha", "auth_key": "key-one-123", "priv": "none"}


def test_conflicting_v3_users_fail_the_start_and_release_what_started():
    port = free_udp_port()
    user = V3_USER
    spec = FleetSpec.parse(
        {
            "defaults": {"profile": "apc_rpdu2", "outlets": 2},
            "pdus": [
                {"name": "V3-1", "port": port, "snmp": {"v3_users": [user]}},
                {
                    "name": "V3-2",
                    "snmp": {"v3_users": [{**user, "auth_key": "key-two-456"}]},
                },
            ],
        }
    )
    with (
        pytest.raises(ValueError, match="SNMPv3 user 'ops' is defined twice"),
        fleet_in_thread(spec),
    ):
        pass
    # The first PDU's socket was closed when the start failed: its port can be bound again.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_the_same_v3_user_on_several_pdus_is_fine():
    user = V3_USER
    spec = FleetSpec.parse(
        {
            "defaults": {"profile": "apc_rpdu2", "outlets": 2, "snmp": {"v3_users": [user]}},
            "pdus": [{"name": "V3-1"}, {"name": "V3-2"}],
        }
    )
    with fleet_in_thread(spec) as fleet:
        assert [d["name"] for d in fleet.describe()] == ["V3-1", "V3-2"]


# --- the Python control interface ------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet():
    spec = FleetSpec.parse(
        {
            "time_scale": TIME_SCALE,
            "control": {"host": "127.0.0.1", "port": 0},
            "defaults": {"profile": "apc_rpdu2", "outlets": 4, "loads_w": 100, "seed": 3},
            "pdus": [{"name": "CTL-A"}, {"name": "CTL-B"}, {"name": "HTTP-A"}],
        }
    )
    with fleet_in_thread(spec) as running:
        yield running


@pytest.fixture
def ctl(fleet):
    """The fleet, with every PDU back to a cold, fault-free state after the test."""
    yield fleet
    for name in fleet.pdus:
        fleet.clear(name)
        fleet.restart(name, keep_state=False)
        for number in range(1, 5):
            fleet.set_load(name, number, 100)


def outlet(truth: dict, number: int) -> dict:
    return truth["outlets"][number - 1]


def test_ground_truth_joins_the_address_and_the_model(ctl):
    truth = ctl.ground_truth("CTL-A")
    host, port = ctl.address("CTL-A")
    assert (truth["name"], truth["host"], truth["port"]) == ("CTL-A", host, port)
    assert (truth["protocol"], truth["profile"], truth["outlets"][0]["number"]) == (
        "snmp",
        "apc_rpdu2",
        1,
    )
    assert len(truth["outlets"]) == 4
    assert truth["power_w"] == pytest.approx(400, rel=0.02)
    assert ctl.pdu("CTL-A").name == "CTL-A"
    with pytest.raises(KeyError, match="no simulated PDU named 'NOPE'"):
        ctl.ground_truth("NOPE")


def test_inject_and_clear(ctl):
    ctl.inject("CTL-A", latency_s=0.05, reject_commands=True, stuck_outlets=[2])
    truth = ctl.ground_truth("CTL-A")
    assert truth["faults"]["latency_s"] == 0.05
    assert truth["faults"]["reject_commands"] is True
    assert [o["stuck"] for o in truth["outlets"]] == [False, True, False, False]
    assert ctl.ground_truth("CTL-B")["faults"]["reject_commands"] is False  # one PDU only
    with pytest.raises(ValueError, match="unknown fault"):
        ctl.inject("CTL-A", gremlins=True)
    ctl.clear("CTL-A")
    truth = ctl.ground_truth("CTL-A")
    assert truth["faults"] == {
        "latency_s": 0.0,
        "drop_fraction": 0.0,
        "unresponsive": False,
        "reject_commands": False,
    }
    assert not any(o["stuck"] for o in truth["outlets"])


def test_switch_is_immediate_and_seen_over_snmp(ctl):
    ctl.switch("CTL-A", 3, False)
    assert outlet(ctl.ground_truth("CTL-A"), 3)["on"] is False
    address = ctl.address("CTL-A")
    assert int(snmp_get(address, APC_OUTLET_STATUS.format(3)).value) == STATUS_OFF
    ctl.switch("CTL-A", 3, True)
    assert int(snmp_get(address, APC_OUTLET_STATUS.format(3)).value) == STATUS_ON


def test_set_load(ctl):
    ctl.set_load("CTL-A", 2, 480)
    second = outlet(ctl.ground_truth("CTL-A"), 2)
    assert second["load_w"] == 480
    assert second["power_w"] == pytest.approx(480, rel=0.02)


def test_restart(ctl):
    ctl.switch("CTL-B", 1, False)
    ctl.restart("CTL-B", keep_state=True)
    assert outlet(ctl.ground_truth("CTL-B"), 1)["on"] is False
    ctl.restart("CTL-B", keep_state=False, down_for_s=1000)
    truth = ctl.ground_truth("CTL-B")
    assert outlet(truth, 1)["on"] is True
    assert truth["energy_wh"] < 0.01  # reset; the outlets stay powered while the agent is down
    assert truth["uptime_s"] == 0.0
    assert snmp_get(ctl.address("CTL-B"), SYS_NAME, timeout=0.3).timed_out


# --- the HTTP control endpoint ---------------------------------------------------------------


def http(
    fleet, method: str, path: str, body: object = None, *, raw: bytes | None = None
) -> tuple[int, object]:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the fleet's own http:// URL
        fleet.control.url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the fleet's own http:// URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def test_http_lists_pdus_with_their_real_ports(ctl):
    assert ctl.control.url.startswith("http://127.0.0.1:")
    assert ctl.control.port > 0
    status, pdus = http(ctl, "GET", "/pdus")
    assert status == 200
    assert pdus == ctl.describe()
    assert all(p["port"] > 0 for p in pdus)


def test_http_ground_truth(ctl):
    status, truth = http(ctl, "GET", "/pdus/HTTP-A")
    assert status == 200
    assert truth["name"] == "HTTP-A"
    assert truth["port"] == ctl.address("HTTP-A")[1]
    assert [o["on"] for o in truth["outlets"]] == [True] * 4
    assert http(ctl, "GET", "/pdus/HTTP-A/")[0] == 200  # a trailing slash is fine


def test_http_faults_take_effect_on_the_wire_and_delete_clears_them(ctl):
    status, truth = http(ctl, "POST", "/pdus/HTTP-A/faults", {"reject_outlets": [3]})
    assert status == 200
    assert outlet(truth, 3)["reject"] is True
    address = ctl.address("HTTP-A")
    answer = snmp_set(address, APC_OUTLET_CONTROL.format(3), IMMEDIATE_OFF)
    assert answer.error_status == "genErr"

    status, truth = http(ctl, "POST", "/pdus/HTTP-A/faults", {"unresponsive": True})
    assert (status, truth["faults"]["unresponsive"]) == (200, True)
    assert snmp_get(address, SYS_NAME, timeout=0.3).timed_out

    status, truth = http(ctl, "DELETE", "/pdus/HTTP-A/faults")
    assert status == 200
    assert truth["faults"]["unresponsive"] is False
    assert outlet(truth, 3)["reject"] is False
    assert str(snmp_get(address, SYS_NAME).value) == "HTTP-A"


def test_http_switches_outlets_and_sets_loads(ctl):
    status, truth = http(ctl, "POST", "/pdus/HTTP-A/outlets/2", {"on": False})
    assert status == 200
    assert outlet(truth, 2)["on"] is False
    assert int(snmp_get(ctl.address("HTTP-A"), APC_OUTLET_STATUS.format(2)).value) == STATUS_OFF

    status, truth = http(ctl, "POST", "/pdus/HTTP-A/outlets/4", {"load_w": 10})
    assert status == 200
    assert outlet(truth, 4)["load_w"] == 10.0
    assert outlet(truth, 4)["power_w"] == pytest.approx(10, rel=0.02)

    status, truth = http(ctl, "POST", "/pdus/HTTP-A/outlets/2", {"on": True, "load_w": 55})
    assert status == 200
    assert (outlet(truth, 2)["on"], outlet(truth, 2)["load_w"]) == (True, 55.0)


def test_http_restart(ctl):
    http(ctl, "POST", "/pdus/HTTP-A/outlets/1", {"on": False})
    status, truth = http(ctl, "POST", "/pdus/HTTP-A/restart", {"keep_state": True})
    assert status == 200
    assert outlet(truth, 1)["on"] is False
    assert truth["uptime_s"] < 10.0

    status, truth = http(
        ctl, "POST", "/pdus/HTTP-A/restart", {"keep_state": False, "down_for_s": 1000}
    )
    assert status == 200
    assert outlet(truth, 1)["on"] is True
    assert truth["uptime_s"] == 0.0
    assert snmp_get(ctl.address("HTTP-A"), SYS_NAME, timeout=0.3).timed_out


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", "/pdus/NOPE", None, 404, "no simulated PDU named 'NOPE'"),
        ("POST", "/pdus/NOPE/faults", {"unresponsive": True}, 404, "NOPE"),
        ("GET", "/nothing", None, 404, "no route for GET /nothing"),
        ("GET", "/pdus/HTTP-A/outlets", None, 404, "no route"),
        ("POST", "/pdus/HTTP-A/faults", b"{not json", 400, "malformed JSON"),
        ("POST", "/pdus/HTTP-A/faults", b"[1, 2]", 400, "must be a JSON object"),
        ("POST", "/pdus/HTTP-A/faults", {"gremlins": True}, 400, "unknown fault 'gremlins'"),
        ("POST", "/pdus/HTTP-A/faults", {"drop_fraction": 2}, 400, "between 0 and 1"),
        ("POST", "/pdus/HTTP-A/faults", {"unresponsive": "no"}, 400, "true or false"),
        ("POST", "/pdus/HTTP-A/faults", {"stuck_outlets": [99]}, 400, "no outlet 99"),
        ("PUT", "/pdus/HTTP-A/faults", {}, 405, "PUT not allowed"),
        ("DELETE", "/pdus/HTTP-A", None, 405, "DELETE not allowed"),
        ("GET", "/pdus/HTTP-A/restart", None, 405, "GET not allowed"),
        ("GET", "/pdus/HTTP-A/outlets/1", None, 405, "GET not allowed"),
        ("POST", "/pdus/HTTP-A/outlets/1", {}, 400, '"on"'),
        ("POST", "/pdus/HTTP-A/outlets/1", {"on": "off"}, 400, "true or false"),
        ("POST", "/pdus/HTTP-A/outlets/1", {"colour": "red"}, 400, '"on"'),
        ("POST", "/pdus/HTTP-A/outlets/1", {"load_w": -5}, 400, "negative"),
        ("POST", "/pdus/HTTP-A/outlets/1", {"load_w": "lots"}, 400, "float"),
        ("POST", "/pdus/HTTP-A/outlets/99", {"on": False}, 404, "no outlet 99"),
        ("POST", "/pdus/HTTP-A/restart", {"down_for_s": "soon"}, 400, "float"),
    ],
)
def test_http_errors(ctl, method, path, body, status, message):
    before = ctl.ground_truth("HTTP-A")
    got, payload = http(
        ctl,
        method,
        path,
        None if isinstance(body, bytes) else body,
        raw=body if isinstance(body, bytes) else None,
    )
    assert got == status
    assert message in payload["error"]
    after = ctl.ground_truth("HTTP-A")
    # A refused request changes nothing.
    assert after["faults"] == before["faults"]
    assert [(o["on"], o["load_w"], o["stuck"]) for o in after["outlets"]] == [
        (o["on"], o["load_w"], o["stuck"]) for o in before["outlets"]
    ]


# --- python -m simulators --------------------------------------------------------------------


CLI_FLEET = {
    "time_scale": TIME_SCALE,
    "defaults": {"profile": "apc_rpdu2", "outlets": 2, "port": 0},
    "pdus": [
        {"name": "CLI-1", "host": "127.0.0.1"},
        {"name": "CLI-2", "host": "127.0.0.2"},
    ],
}


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "simulators", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(process: subprocess.Popen, timeout: float = 15.0) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no output within {timeout} s")
    line = process.stdout.readline()
    if not line:  # it exited before announcing anything
        process.wait(timeout=10)
        raise AssertionError(f"exited with {process.returncode}: {process.stderr.read()}")
    return line


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_serves_the_fleet_and_stops_cleanly(tmp_path, stop_signal):
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(CLI_FLEET))
    # The file has no control section: --control-port adds one.
    process = start_cli(str(path), "--control-port", "0")
    try:
        announced = json.loads(first_line(process))
        pdus = announced["pdus"]
        assert [(p["name"], p["host"]) for p in pdus] == [
            ("CLI-1", "127.0.0.1"),
            ("CLI-2", "127.0.0.2"),
        ]
        for p in pdus:
            assert p["port"] > 0
            assert str(snmp_get((p["host"], p["port"]), SYS_NAME).value) == p["name"]
        assert announced["control"].startswith("http://127.0.0.1:")
        with urllib.request.urlopen(announced["control"] + "/pdus", timeout=5) as response:  # noqa: S310
            assert json.loads(response.read()) == pdus

        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_cli_announces_no_control_url_without_control(tmp_path):
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({**CLI_FLEET, "pdus": CLI_FLEET["pdus"][:1]}))
    process = start_cli(str(path), "--time-scale", "10")
    try:
        announced = json.loads(first_line(process))
        assert announced["control"] is None
        assert [p["name"] for p in announced["pdus"]] == ["CLI-1"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"pdus": [{"name": "BAD-1", "profile": "apc_rpdu2", "colour": "red"}]},
            "PDU 'BAD-1': unknown keys ['colour']",
        ),
        ({"pdus": [{"name": "BAD-2", "profile": "acme"}]}, "PDU 'BAD-2': unknown snmp profile"),
        ("pdus: [name: oops\n", "is not valid YAML"),
        (None, "No such file"),
        (
            {
                "defaults": {"profile": "apc_rpdu2", "outlets": 1},
                "pdus": [
                    {"name": "BAD-3", "snmp": {"v3_users": [{**V3_USER, "auth_key": "a" * 9}]}},
                    {"name": "BAD-4", "snmp": {"v3_users": [{**V3_USER, "auth_key": "b" * 9}]}},
                ],
            },
            "SNMPv3 user 'ops' is defined twice",
        ),
    ],
)
def test_cli_rejects_a_bad_fleet_file_with_exit_code_2(tmp_path, content, message):
    path = tmp_path / "fleet.yaml"
    if isinstance(content, dict):
        path.write_text(yaml.safe_dump(content))
    elif isinstance(content, str):
        path.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "simulators", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
