"""The Modbus TCP PDU simulator on 127.0.0.1, driven by pymodbus's client and by mbpoll.

Every test starts its own server on a free port, in its own event loop (``asyncio.run``), with
a clock 100 times faster than real time: the 0.5 s relay delay takes 5 ms. Readings are checked
against the physics model's ground truth, with noise off so that they are exact.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from simulators.modbus.server import ModbusPduServer
from simulators.model import Clock, SimulatedPdu

NETIO = "netio_switched_pdu"
SDM630 = "sdm630_meter"
TIME_SCALE = 100.0  # device seconds per real second
LOADS_W = [100.0, 150.0, 200.0, 250.0]
TEST_TIMEOUT_S = 10.0  # a whole test, in real seconds
NO_ANSWER_S = 0.2  # how long a client waits before it calls a request unanswered

# libmodbus's texts for the exception codes, as mbpoll prints them.
MBPOLL_EXCEPTIONS = {
    1: "Illegal function",
    2: "Illegal data address",
    3: "Illegal data value",
    4: "Slave device or server failure",
}


def run_async(test: Callable) -> Callable:
    """Run an ``async def`` test in a fresh event loop, bounded in time (the repository has no
    asyncio plugin for pytest)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), TEST_TIMEOUT_S))

    return wrapper


def make_pdu(**overrides) -> SimulatedPdu:
    settings = {
        "name": "mb-pdu",
        "clock": Clock(TIME_SCALE),
        "outlet_count": 4,
        "loads_w": list(LOADS_W),
        "noise_fraction": 0.0,
        "relay_delay_s": 0.5,
        "reboot_off_s": 5.0,
    }
    settings.update(overrides)
    return SimulatedPdu(**settings)


def make_meter(**overrides) -> SimulatedPdu:
    """Six circuits on three phases: outlets 1-2 on L1, 3-4 on L2, 5-6 on L3."""
    settings = {
        "name": "mb-meter",
        "outlet_count": 6,
        "phases": 3,
        "loads_w": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
    }
    settings.update(overrides)
    return make_pdu(**settings)


def client_for(server: ModbusPduServer, timeout: float = 1.0) -> AsyncModbusTcpClient:
    return AsyncModbusTcpClient(server.host, port=server.port, timeout=timeout, retries=0)


@asynccontextmanager
async def serving(
    pdu: SimulatedPdu, profile: str = NETIO, *, timeout: float = 1.0, **kwargs
) -> AsyncIterator[tuple[ModbusPduServer, AsyncModbusTcpClient]]:
    """A started server and a connected pymodbus client."""
    server = ModbusPduServer(pdu, profile, **kwargs)
    await server.start()
    client = client_for(server, timeout)
    try:
        assert await client.connect()
        yield server, client
    finally:
        client.close()
        await server.stop()


async def until(condition: Callable[[], bool], within_s: float = 2.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.001)


def relay(pdu: SimulatedPdu, n: int) -> bool:
    return pdu.ground_truth()["outlets"][n - 1]["on"]


def exception_code(response) -> int | None:
    return response.exception_code if response.isError() else None


async def no_answer(request) -> None:
    """The request gets no answer: the client gives up after its timeout."""
    with pytest.raises(ModbusIOException, match="No response"):
        await request


# --- NETIO-style switched PDU: reading ------------------------------------------------------


@run_async
async def test_start_binds_a_free_port_and_stop_releases_it():
    pdu = make_pdu()
    server = ModbusPduServer(pdu, NETIO)
    assert server.address == ("127.0.0.1", 0)
    await server.start()
    try:
        assert server.port > 0
        assert server.address == ("127.0.0.1", server.port)
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
        busy = ModbusPduServer(pdu, NETIO, port=server.port)
        with pytest.raises(OSError, match="cannot listen"):
            await busy.start()
    finally:
        await server.stop()
    client = client_for(server)
    assert not await client.connect()
    await server.stop()  # a second stop is harmless


@run_async
async def test_counts_and_relay_states_come_from_the_model_at_request_time():
    pdu = make_pdu()
    async with serving(pdu) as (_, client):
        counts = await client.read_holding_registers(0, count=3, device_id=1)
        assert counts.registers == [0, 4, 4]  # digital inputs, outputs, metered outputs

        pdu.force_relay(2, False)  # someone at the PDU's own web page
        coils = await client.read_coils(101, count=4, device_id=1)
        states = await client.read_holding_registers(101, count=4, device_id=1)

        truth = [o["on"] for o in pdu.ground_truth()["outlets"]]
        assert truth == [True, False, True, True]
        assert coils.bits[:4] == truth  # bits come padded to a multiple of 8
        assert states.registers == [int(on) for on in truth]


@run_async
async def test_input_registers_match_the_ground_truth():
    pdu = make_pdu()
    pdu.force_relay(4, False)
    async with serving(pdu) as (_, client):
        head = await client.read_input_registers(0, count=3, device_id=1)
        currents = await client.read_input_registers(100, count=5, device_id=1)
        powers = await client.read_input_registers(200, count=5, device_id=1)

    snap = pdu.snapshot()
    assert head.registers == [
        round(snap.frequency_hz * 100),  # 5000
        round(snap.voltage_v * 10),  # 2300
        round(1000 * snap.power_w / snap.apparent_power_va),  # true power factor, 950
    ]
    assert head.registers == [5000, 2300, 950]
    outlet_ma = [round(snap.outlets[n].current_a * 1000) for n in (1, 2, 3, 4)]
    assert currents.registers == [round(snap.current_a * 1000), *outlet_ma]
    assert outlet_ma[3] == 0  # outlet 4 is off
    assert powers.registers == [450, 100, 150, 200, 0]
    assert powers.registers[0] == round(snap.power_w)


@run_async
async def test_energy_is_two_registers_upper_word_first():
    pdu = make_pdu()
    energies = {1: 70_000.0, 2: 123_456.6, 3: 5.4, 4: 0.0}
    for n, wh in energies.items():
        pdu.outlet(n).energy_wh = wh
        pdu.force_relay(n, False)  # switched off, the counters stand still
    async with serving(pdu) as (_, client):
        response = await client.read_input_registers(300, count=10, device_id=1)

    words = response.registers
    total = round(sum(energies.values()))  # 193462 Wh
    assert words[0:2] == [total >> 16, total & 0xFFFF] == [2, 62390]
    assert words[2:4] == [1, 4464]  # 70000 = 1 x 65536 + 4464
    assert words[4:6] == [1, 57921]  # 123457 after rounding
    assert words[6:10] == [0, 5, 0, 0]
    assert [(words[2 * n] << 16) + words[2 * n + 1] for n in (1, 2, 3, 4)] == [
        round(o["energy_wh"]) for o in pdu.ground_truth()["outlets"]
    ]


@run_async
async def test_energy_read_while_it_grows_stays_between_two_ground_truths():
    pdu = make_pdu(loads_w=[3000.0] * 4)
    pdu.outlet(1).energy_wh = 65_535.0  # about to carry into the upper word
    async with serving(pdu) as (_, client):
        for _ in range(5):
            before = pdu.ground_truth()["outlets"][0]["energy_wh"]
            response = await client.read_input_registers(302, count=2, device_id=1)
            after = pdu.ground_truth()["outlets"][0]["energy_wh"]
            high, low = response.registers
            assert round(before) <= (high << 16) + low <= round(after)
            await asyncio.sleep(0.01)
    assert after > 65_536


# --- NETIO-style switched PDU: switching ----------------------------------------------------


@run_async
async def test_coil_write_switches_after_the_relay_delay_and_reads_show_the_current_state():
    pdu = make_pdu(relay_delay_s=20.0)  # 0.2 s real: long enough to see the pending move
    async with serving(pdu) as (_, client):
        response = await client.write_coil(101, False, device_id=1)
        assert not response.isError()
        assert response.bits[0] is False  # the echo of the request

        assert pdu.outlet(1).pending is False  # the move is pending...
        coils = await client.read_coils(101, count=1, device_id=1)
        state = await client.read_holding_registers(101, count=1, device_id=1)
        assert coils.bits[0] is True  # ...and reads still show the relay as it is
        assert state.registers == [1]

        await until(lambda: not relay(pdu, 1))
        coils = await client.read_coils(101, count=1, device_id=1)
        assert coils.bits[0] is False


@run_async
async def test_multiple_coils_write_switches_each_output():
    pdu = make_pdu(initially_on=False)
    async with serving(pdu) as (_, client):
        response = await client.write_coils(102, [True, False, True], device_id=1)
        assert not response.isError()
        await until(lambda: relay(pdu, 2) and relay(pdu, 4))
        assert [o["on"] for o in pdu.ground_truth()["outlets"]] == [False, True, False, True]
        assert pdu.commands_received == 3


@run_async
async def test_holding_register_actions_off_on_toggle_and_no_change():
    pdu = make_pdu()
    async with serving(pdu) as (_, client):
        assert (await client.write_register(101, 0, device_id=1)).registers == [0]  # echo
        await until(lambda: not relay(pdu, 1))

        await client.write_register(101, 1, device_id=1)
        await until(lambda: relay(pdu, 1))

        await client.write_register(101, 4, device_id=1)  # toggle: on -> off
        await until(lambda: not relay(pdu, 1))
        await client.write_register(101, 4, device_id=1)  # toggle: off -> on
        await until(lambda: relay(pdu, 1))

        commands = pdu.commands_received
        assert not (await client.write_register(101, 5, device_id=1)).isError()
        assert pdu.commands_received == commands  # "no change" commands nothing

        # FC16: several outputs in one request.
        response = await client.write_registers(102, [0, 5, 0], device_id=1)
        assert not response.isError()
        await until(lambda: not relay(pdu, 2) and not relay(pdu, 4))
        assert relay(pdu, 3)


async def watch_relay(pdu: SimulatedPdu, n: int, changes: int) -> list[tuple[float, bool]]:
    """(device time, state) at the start and at each of the next ``changes`` changes."""
    seen = [(pdu.clock.now(), relay(pdu, n))]
    while len(seen) <= changes:
        await asyncio.sleep(0.0005)
        state = relay(pdu, n)
        if state != seen[-1][1]:
            seen.append((pdu.clock.now(), state))
    return seen


@run_async
async def test_short_off_reboots_off_for_the_outputs_short_delay_then_on():
    pdu = make_pdu(relay_delay_s=5.0)  # 50 ms real: time to look at the pending moves
    async with serving(pdu) as (_, client):
        assert (await client.read_holding_registers(201, count=1, device_id=1)).registers == [50]
        assert not (await client.write_register(201, 30, device_id=1)).isError()  # 3.0 s
        assert (await client.read_holding_registers(201, count=1, device_id=1)).registers == [30]
        assert pdu.off_period_of(pdu.outlet(1)) == 3.0

        watcher = asyncio.create_task(watch_relay(pdu, 1, changes=2))
        await asyncio.sleep(0.002)
        await client.write_register(101, 2, device_id=1)
        moves = [(m.due, m.on) for m in pdu.outlet(1).moves]
        (_, on0), (off_at, off), (on_at, on) = await watcher

    assert [m[1] for m in moves] == [False, True]
    assert moves[1][0] - moves[0][0] == pytest.approx(3.0)  # exactly the short delay
    assert (on0, off, on) == (True, False, True)
    assert on_at - off_at == pytest.approx(3.0, abs=0.3)  # as observed, in device seconds
    assert relay(pdu, 2)  # the other outputs never moved


@run_async
async def test_short_on_switches_on_for_the_short_delay_then_off():
    pdu = make_pdu(initially_on=False)
    async with serving(pdu) as (_, client):
        await client.write_register(202, 20, device_id=1)  # 2.0 s
        watcher = asyncio.create_task(watch_relay(pdu, 2, changes=2))
        await asyncio.sleep(0.002)
        await client.write_register(102, 3, device_id=1)
        (_, off0), (on_at, on), (off_at, off) = await watcher

    assert (off0, on, off) == (False, True, False)
    assert off_at - on_at == pytest.approx(2.0, abs=0.3)


# --- Exceptions --------------------------------------------------------------------------------


@run_async
async def test_unmapped_addresses_get_exception_2():
    pdu = make_pdu()
    async with serving(pdu) as (_, client):
        refused = [
            await client.read_coils(100, count=1, device_id=1),  # "output 0"
            await client.read_coils(101, count=5, device_id=1),  # past the 4th output
            await client.read_discrete_inputs(0, count=1, device_id=1),  # it has none
            await client.read_holding_registers(3, count=1, device_id=1),
            await client.read_holding_registers(204, count=2, device_id=1),
            await client.read_input_registers(3, count=1, device_id=1),
            await client.read_input_registers(308, count=3, device_id=1),
            await client.write_coil(105, True, device_id=1),
            await client.write_register(1, 8, device_id=1),  # read-only
            await client.write_registers(104, [1, 1], device_id=1),
        ]
    assert [exception_code(r) for r in refused] == [2] * len(refused)
    assert pdu.commands_received == 0


@run_async
async def test_illegal_values_get_exception_3_and_change_nothing():
    pdu = make_pdu()
    async with serving(pdu) as (_, client):
        refused = [
            await client.write_register(101, 7, device_id=1),  # no action 7
            await client.write_registers(101, [0, 6], device_id=1),  # 2nd invalid: none done
            await client.write_register(201, 0, device_id=1),  # a zero short delay
        ]
        assert (await client.read_holding_registers(201, count=1, device_id=1)).registers == [50]
    assert [exception_code(r) for r in refused] == [3, 3, 3]
    assert pdu.commands_received == 0


@run_async
async def test_functions_the_device_lacks_get_exception_1():
    pdu = make_pdu()
    async with serving(pdu) as (_, client):
        refused = [
            await client.mask_write_register(address=101, and_mask=0, or_mask=1, device_id=1),
            await client.readwrite_registers(
                read_address=101, read_count=1, write_address=101, values=[0], device_id=1
            ),
            await client.diag_read_diagnostic_register(device_id=1),
        ]
    assert [exception_code(r) for r in refused] == [1, 1, 1]
    assert pdu.commands_received == 0


# --- Faults ------------------------------------------------------------------------------------


@run_async
async def test_reject_fault_answers_exception_4():
    pdu = make_pdu()
    pdu.set_faults(reject_outlets=[2])
    async with serving(pdu) as (_, client):
        assert exception_code(await client.write_coil(102, False, device_id=1)) == 4
        assert exception_code(await client.write_register(102, 2, device_id=1)) == 4
        assert exception_code(await client.write_coil(101, False, device_id=1)) is None

        pdu.clear_faults()
        pdu.set_faults(reject_commands=True)
        assert exception_code(await client.write_register(103, 0, device_id=1)) == 4
        reading = await client.read_holding_registers(101, count=4, device_id=1)
        assert not reading.isError()  # reads are not commands
        await until(lambda: not relay(pdu, 1))
    assert relay(pdu, 2) and relay(pdu, 3)


@run_async
async def test_stuck_relay_accepts_the_command_and_never_moves():
    pdu = make_pdu()
    pdu.set_faults(stuck_outlets=[1])
    async with serving(pdu) as (_, client):
        assert not (await client.write_coil(101, False, device_id=1)).isError()
        assert not (await client.write_register(101, 3, device_id=1)).isError()  # short-on
        assert not (await client.write_coil(102, False, device_id=1)).isError()
        await until(lambda: not relay(pdu, 2))  # outlet 2 moved after the relay delay...
        await asyncio.sleep(0.02)
        coil = await client.read_coils(101, count=1, device_id=1)
    assert coil.bits[0] is True  # ...outlet 1 did not
    assert relay(pdu, 1) and pdu.outlet(1).moves == []


@run_async
async def test_latency_fault_delays_every_answer():
    pdu = make_pdu()
    async with serving(pdu) as (_, client):
        started = time.monotonic()
        await client.read_input_registers(0, count=1, device_id=1)
        quick = time.monotonic() - started

        pdu.set_faults(latency_s=0.15)
        started = time.monotonic()
        reading = await client.read_input_registers(0, count=1, device_id=1)
        slow_read = time.monotonic() - started
        started = time.monotonic()
        refused = await client.read_input_registers(3, count=1, device_id=1)
        slow_refusal = time.monotonic() - started

    assert quick < 0.1
    assert reading.registers == [5000]
    assert 0.15 <= slow_read < 0.5
    assert exception_code(refused) == 2 and 0.15 <= slow_refusal < 0.5


@run_async
async def test_server_stops_while_a_request_sleeps_out_its_latency():
    pdu = make_pdu()
    pdu.set_faults(latency_s=5.0)
    async with serving(pdu, timeout=NO_ANSWER_S) as (server, client):
        await no_answer(client.read_coils(101, count=1, device_id=1))
        started = time.monotonic()
        await server.stop()
    assert time.monotonic() - started < 0.5


@run_async
async def test_dropped_requests_time_out_and_the_next_ones_are_answered():
    pdu = make_pdu()
    async with serving(pdu, timeout=NO_ANSWER_S) as (_, client):
        pdu.set_faults(drop_fraction=1.0)
        started = time.monotonic()
        await no_answer(client.read_coils(101, count=1, device_id=1))
        assert time.monotonic() - started >= NO_ANSWER_S
        await no_answer(client.write_coil(101, False, device_id=1))

        pdu.clear_faults()
        assert (await client.read_coils(101, count=1, device_id=1)).bits[0] is True
        assert pdu.commands_received == 0  # the dropped write never reached the model


@run_async
async def test_some_requests_are_dropped_with_a_partial_drop_fraction():
    pdu = make_pdu(seed=7)
    pdu.set_faults(drop_fraction=0.5)
    outcomes = []
    server = ModbusPduServer(pdu, NETIO)
    await server.start()
    try:
        for _ in range(12):  # a fresh client each time: pymodbus drops a connection that
            client = client_for(server, timeout=0.05)  # times out often
            assert await client.connect()
            try:
                await client.read_input_registers(0, count=1, device_id=1)
                outcomes.append("answered")
            except ModbusIOException:
                outcomes.append("dropped")
            finally:
                client.close()
    finally:
        await server.stop()
    assert {"answered", "dropped"} == set(outcomes)


@run_async
async def test_unresponsive_device_answers_nothing():
    pdu = make_pdu()
    async with serving(pdu, timeout=NO_ANSWER_S) as (_, client):
        pdu.set_faults(unresponsive=True)
        await no_answer(client.read_input_registers(0, count=1, device_id=1))
        await no_answer(client.diag_read_diagnostic_register(device_id=1))  # any function
        pdu.set_faults(unresponsive=False)
        assert not (await client.read_input_registers(0, count=1, device_id=1)).isError()


@run_async
async def test_cold_restart_answers_nothing_while_down_then_shows_reset_state():
    pdu = make_pdu()
    pdu.force_relay(1, False)
    pdu.outlet(2).energy_wh = 5_000.0
    async with serving(pdu, timeout=0.1) as (_, client):
        assert (await client.read_coils(101, count=1, device_id=1)).bits[0] is False

        pdu.restart(keep_state=False, down_for_s=30.0)  # 0.3 s real
        restarted = time.monotonic()
        await no_answer(client.read_coils(101, count=1, device_id=1))
        while True:
            try:
                coils = await client.read_coils(101, count=4, device_id=1)
                break
            except ModbusIOException:
                assert time.monotonic() - restarted < 2.0
        down_for = time.monotonic() - restarted
        energy = await client.read_input_registers(304, count=2, device_id=1)

    assert down_for >= 0.3 - 0.01
    assert coils.bits[:4] == [True] * 4  # relays back at their power-on state
    assert (energy.registers[0] << 16) + energy.registers[1] < 10  # counters started again


@run_async
async def test_readings_follow_load_changes():
    pdu = make_pdu()
    async with serving(pdu) as (_, client):
        assert (await client.read_input_registers(202, count=1, device_id=1)).registers == [150]
        pdu.set_load(2, 1234.0)
        assert (await client.read_input_registers(202, count=1, device_id=1)).registers == [1234]


# --- Unit ids ----------------------------------------------------------------------------------


@run_async
async def test_only_the_configured_unit_id_answers():
    pdu = make_pdu()
    other = make_pdu(name="mb-other", outlet_count=2, loads_w=[10.0, 20.0])
    async with (
        serving(pdu, unit_id=7, timeout=NO_ANSWER_S) as (server, client),
        serving(other) as (other_server, other_client),
    ):
        assert server.port != other_server.port
        counts = await client.read_holding_registers(0, count=3, device_id=7)
        assert counts.registers == [0, 4, 4]
        await no_answer(client.read_holding_registers(0, count=3, device_id=1))
        await no_answer(client.write_coil(101, False, device_id=0))

        other_counts = await other_client.read_holding_registers(0, count=3, device_id=1)
        assert other_counts.registers == [0, 2, 2]
    assert pdu.commands_received == 0


# --- SDM630-style meter ------------------------------------------------------------------------


@run_async
async def test_meter_floats_match_the_ground_truth():
    pdu = make_meter()
    pdu.outlet(1).energy_wh = 1_500.0
    pdu.outlet(6).energy_wh = 2_250.0
    pdu.force_relay(3, False)
    async with serving(pdu, SDM630) as (_, client):
        phases = await client.read_input_registers(0x0000, count=18, device_id=1)
        total = await client.read_input_registers(0x0034, count=2, device_id=1)
        tail = await client.read_input_registers(0x0046, count=4, device_id=1)
        total_energy = await client.read_input_registers(0x0156, count=2, device_id=1)
        snap = pdu.snapshot()

    def floats(response):
        return client.convert_from_registers(
            response.registers, client.DATATYPE.FLOAT32, word_order="big"
        )

    values = floats(phases)
    # 230, 300, 400, 1100, 1800 and 50 are exact in float32; currents keep about 7 digits.
    assert values[0:3] == [p.voltage_v for p in snap.phases] == [230.0] * 3
    assert values[3:6] == pytest.approx([p.current_a for p in snap.phases], rel=1e-6)
    assert values[6:9] == [p.power_w for p in snap.phases] == [300.0, 400.0, 1100.0]
    assert floats(total) == snap.power_w == 1800.0
    frequency, import_kwh = floats(tail)
    assert frequency == 50.0
    # The counters keep counting between the reads and the snapshot.
    assert import_kwh == pytest.approx(snap.energy_wh / 1000, abs=0.01)
    assert floats(total_energy) == pytest.approx(snap.energy_wh / 1000, abs=0.01)
    assert import_kwh >= 3.75


@run_async
async def test_meter_float_is_big_endian_high_word_first():
    pdu = make_meter()
    async with serving(pdu, SDM630) as (_, client):
        frequency = await client.read_input_registers(0x0046, count=2, device_id=1)
    assert frequency.registers == list(struct.unpack(">HH", struct.pack(">f", 50.0)))
    assert frequency.registers == [0x4248, 0x0000]


@run_async
async def test_meter_refuses_writes_and_unmapped_addresses():
    pdu = make_meter()
    async with serving(pdu, SDM630) as (_, client):
        codes = [
            exception_code(await client.write_register(0x0000, 1, device_id=1)),  # FC06
            exception_code(await client.write_registers(0x0000, [1, 2], device_id=1)),  # FC16
            exception_code(await client.write_coil(0, True, device_id=1)),  # FC05
            exception_code(await client.read_coils(0, count=1, device_id=1)),  # FC01
            exception_code(await client.read_holding_registers(0, count=2, device_id=1)),
            exception_code(await client.read_input_registers(0x0012, count=2, device_id=1)),
            exception_code(await client.read_input_registers(0x0156, count=4, device_id=1)),
        ]
    assert codes == [1, 2, 1, 1, 2, 2, 2]
    assert pdu.commands_received == 0


# --- The same through mbpoll (libmodbus), an independent client ------------------------------


async def mbpoll(
    server: ModbusPduServer, *options: str, values: tuple[str, ...] = (), timeout: float = 1.0
) -> tuple[int, dict[int, str], str]:
    """Run mbpoll once: (exit status, {reference: value} read, error text)."""
    command = [
        shutil.which("mbpoll") or "mbpoll",
        *("-m", "tcp", "-p", str(server.port), "-o", f"{timeout:.2f}", "-1"),
        *options,
        server.host,
        *values,
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout + 5)
    readings = {}
    for line in stdout.decode().splitlines():
        if line.startswith("[") and "]:" in line:
            reference, value = line[1:].split("]:", 1)
            readings[int(reference)] = value.strip()
    return process.returncode, readings, stderr.decode().strip()


@pytest.mark.requires_service("mbpoll")
@run_async
async def test_mbpoll_reads_every_netio_group():
    pdu = make_pdu()
    pdu.force_relay(3, False)
    pdu.outlet(1).energy_wh = 70_000.0
    async with serving(pdu) as (server, _):
        # Without -0, mbpoll counts references from 1, as the NETIO manual numbers them.
        coils = await mbpoll(server, "-a", "1", "-t", "0", "-r", "102", "-c", "4")
        counts = await mbpoll(server, "-t", "4", "-0", "-r", "0", "-c", "3")
        states = await mbpoll(server, "-t", "4", "-0", "-r", "101", "-c", "4")
        delays = await mbpoll(server, "-t", "4", "-0", "-r", "201", "-c", "4")
        head = await mbpoll(server, "-t", "3", "-0", "-r", "0", "-c", "3")
        currents = await mbpoll(server, "-t", "3", "-0", "-r", "100", "-c", "5")
        powers = await mbpoll(server, "-t", "3", "-0", "-r", "200", "-c", "5")
        # -B: 32-bit values with the upper word first; -t 3:int reads pairs of registers.
        energy = await mbpoll(server, "-t", "3:int", "-B", "-0", "-r", "302", "-c", "1")
        truth = pdu.ground_truth()

    assert coils == (0, {102: "1", 103: "1", 104: "0", 105: "1"}, "")
    assert counts[1] == {0: "0", 1: "4", 2: "4"}
    assert states[1] == {101: "1", 102: "1", 103: "0", 104: "1"}
    assert delays[1] == {201: "50", 202: "50", 203: "50", 204: "50"}
    assert head[1] == {0: "5000", 1: "2300", 2: "950"}
    assert currents[1][100] == str(round(truth["current_a"] * 1000))
    assert [currents[1][100 + n] for n in (1, 2, 3, 4)] == [
        str(round(o["current_a"] * 1000)) for o in truth["outlets"]
    ]
    assert powers[1] == {200: "500", 201: "100", 202: "150", 203: "0", 204: "250"}
    assert 70_000 <= int(energy[1][302]) <= round(truth["outlets"][0]["energy_wh"])


@pytest.mark.requires_service("mbpoll")
@run_async
async def test_mbpoll_switches_with_coils_and_registers():
    pdu = make_pdu()
    async with serving(pdu) as (server, _):
        status, _, error = await mbpoll(server, "-t", "0", "-r", "102", values=("0",))  # FC05
        assert (status, error) == (0, "")
        await until(lambda: not relay(pdu, 1))

        status, *_ = await mbpoll(server, "-t", "0", "-0", "-r", "101", values=("1", "0"))
        assert status == 0  # FC15
        await until(lambda: relay(pdu, 1) and not relay(pdu, 2))

        await mbpoll(server, "-t", "4", "-0", "-r", "203", values=("20",))  # 2.0 s
        watcher = asyncio.create_task(watch_relay(pdu, 3, changes=2))
        await asyncio.sleep(0.002)
        status, *_ = await mbpoll(server, "-t", "4", "-0", "-r", "103", values=("2",))  # FC06
        assert status == 0
        (_, on0), (off_at, off), (on_at, on) = await watcher
        assert (on0, off, on) == (True, False, True)
        assert on_at - off_at == pytest.approx(2.0, abs=0.3)

        status, *_ = await mbpoll(server, "-t", "4", "-0", "-r", "101", values=("0", "0"))
        assert status == 0  # FC16
        await until(lambda: not relay(pdu, 1) and not relay(pdu, 2))


@pytest.mark.requires_service("mbpoll")
@run_async
async def test_mbpoll_sees_exceptions_and_silence():
    pdu = make_pdu()
    pdu.set_faults(reject_outlets=[4])
    async with serving(pdu, unit_id=3) as (server, _):
        unmapped = await mbpoll(server, "-a", "3", "-t", "3", "-0", "-r", "5")
        bad_value = await mbpoll(server, "-a", "3", "-t", "4", "-0", "-r", "101", values=("9",))
        rejected = await mbpoll(server, "-a", "3", "-t", "0", "-0", "-r", "104", values=("0",))
        read_only = await mbpoll(server, "-a", "3", "-t", "4", "-0", "-r", "1", values=("1",))
        other_unit = await mbpoll(server, "-a", "1", "-t", "3", "-0", "-r", "0", timeout=0.2)
        answered = await mbpoll(server, "-a", "3", "-t", "3", "-0", "-r", "0")
        pdu.set_faults(unresponsive=True)
        silent = await mbpoll(server, "-a", "3", "-t", "3", "-0", "-r", "0", timeout=0.2)

    assert unmapped[0] == 1 and unmapped[2].endswith(MBPOLL_EXCEPTIONS[2])
    assert bad_value[0] == 1 and bad_value[2].endswith(MBPOLL_EXCEPTIONS[3])
    assert rejected[0] == 1 and rejected[2].endswith(MBPOLL_EXCEPTIONS[4])
    assert read_only[0] == 1 and read_only[2].endswith(MBPOLL_EXCEPTIONS[2])
    assert other_unit[0] == 1 and other_unit[2].endswith("Connection timed out")
    assert answered[:2] == (0, {0: "5000"})
    assert silent[0] == 1 and silent[2].endswith("Connection timed out")
    assert pdu.commands_received == 1  # the rejected one


@pytest.mark.requires_service("mbpoll")
@run_async
async def test_mbpoll_reads_meter_floats():
    pdu = make_meter()
    async with serving(pdu, SDM630) as (server, _):
        phases = await mbpoll(server, "-t", "3:float", "-B", "-0", "-r", "0", "-c", "9")
        totals = await mbpoll(server, "-t", "3:float", "-B", "-0", "-r", "52", "-c", "1")
        frequency = await mbpoll(server, "-t", "3:float", "-B", "-0", "-r", "70", "-c", "1")
        # Without -B mbpoll takes the low word first: the bytes no longer make 50.0.
        swapped = await mbpoll(server, "-t", "3:float", "-0", "-r", "70", "-c", "1")
        refused = await mbpoll(server, "-t", "4", "-0", "-r", "0", values=("1",))
        snap = pdu.snapshot()

    assert phases[0] == 0
    values = [float(phases[1][a]) for a in range(0, 18, 2)]
    assert values[0:3] == [230.0] * 3
    assert values[3:6] == pytest.approx([p.current_a for p in snap.phases], rel=1e-5)
    assert values[6:9] == [300.0, 700.0, 1100.0] == [p.power_w for p in snap.phases]
    assert float(totals[1][52]) == snap.power_w == 2100.0
    assert float(frequency[1][70]) == 50.0
    assert float(swapped[1][70]) != 50.0
    assert refused[0] == 1 and refused[2].endswith(MBPOLL_EXCEPTIONS[1])  # FC06 on a meter
