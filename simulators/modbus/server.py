"""A Modbus TCP server in front of one ``SimulatedPdu``, speaking one register map.

Built on pymodbus 3.16's ``ModbusTcpServer`` (the only module here that imports pymodbus):

- Requests are decoded and answered by pymodbus's own request classes for the four tables,
  registered again through ``custom_pdu`` as subclasses whose ``datastore_update`` first
  applies the PDU's latency fault, the profile's function codes and the value checks pymodbus
  skips, then hands pymodbus a ``_Datastore`` of ours instead of a register block. Every other
  function code gets exception 1. pymodbus's datastores cannot serve this map: SimDevice tells
  its action a coil read's size in 16-bit words (so "coils 101-112 of an 8-output PDU" cannot
  be refused) and answers addresses outside its blocks before the action runs; the
  ``ModbusServerContext`` family is deprecated.
- Every value is computed from the model when a request arrives; nothing is cached here.
- Dropped requests (``pdu.should_drop()``: the drop and unresponsive faults, and a restart's
  down window) and requests for another unit id are discarded in the ``trace_pdu`` hook, before
  pymodbus handles them: the client gets no answer and times out, as from a dead device.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
from collections.abc import Callable, Sequence
from typing import ClassVar

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadDiscreteInputsRequest,
    WriteMultipleCoilsRequest,
    WriteSingleCoilRequest,
)
from pymodbus.pdu.register_message import (
    MaskWriteRegisterRequest,
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    ReadWriteMultipleRegistersRequest,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.modbus.profiles import (
    PROFILES,
    TABLE_OF_FUNCTION,
    Encoding,
    OutputAction,
    Profile,
    Quantity,
    Scope,
    Slot,
    Table,
    Write,
)
from simulators.model import Action, CommandRejected, SimulatedPdu, Snapshot

log = logging.getLogger(__name__)


class Refused(Exception):
    """The request is answered with a Modbus exception response."""

    def __init__(self, code: ExcCodes, why: str) -> None:
        super().__init__(why)
        self.code = code


# --- The device behind the map: reads and writes by table and wire address -------------------


def _power_factor(snap: Snapshot) -> float:
    return snap.power_w / snap.apparent_power_va if snap.apparent_power_va else 1.0


# How each (quantity, scope) is read from a snapshot; ``n`` is the output or phase number.
_READERS: dict[tuple[Quantity, Scope], Callable[[PduRegisters, Snapshot, int], float]] = {
    (Quantity.DIGITAL_INPUT_COUNT, Scope.DEVICE): lambda d, s, n: 0,
    (Quantity.OUTPUT_COUNT, Scope.DEVICE): lambda d, s, n: len(s.outlets),
    (Quantity.METERED_OUTPUT_COUNT, Scope.DEVICE): lambda d, s, n: len(s.outlets),
    (Quantity.RELAY_STATE, Scope.OUTPUT): lambda d, s, n: s.outlets[n].on,
    (Quantity.SHORT_DELAY, Scope.OUTPUT): lambda d, s, n: d.pdu.off_period_of(d.pdu.outlet(n)),
    (Quantity.FREQUENCY, Scope.DEVICE): lambda d, s, n: s.frequency_hz,
    (Quantity.VOLTAGE, Scope.DEVICE): lambda d, s, n: s.voltage_v,
    (Quantity.VOLTAGE, Scope.PHASE): lambda d, s, n: s.phases[n - 1].voltage_v,
    (Quantity.CURRENT, Scope.DEVICE): lambda d, s, n: s.current_a,
    (Quantity.CURRENT, Scope.OUTPUT): lambda d, s, n: s.outlets[n].current_a,
    (Quantity.CURRENT, Scope.PHASE): lambda d, s, n: s.phases[n - 1].current_a,
    (Quantity.ACTIVE_POWER, Scope.DEVICE): lambda d, s, n: s.power_w,
    (Quantity.ACTIVE_POWER, Scope.OUTPUT): lambda d, s, n: s.outlets[n].power_w,
    (Quantity.ACTIVE_POWER, Scope.PHASE): lambda d, s, n: s.phases[n - 1].power_w,
    (Quantity.POWER_FACTOR, Scope.DEVICE): lambda d, s, n: _power_factor(s),
    (Quantity.ACTIVE_ENERGY, Scope.DEVICE): lambda d, s, n: s.energy_wh,
    (Quantity.ACTIVE_ENERGY, Scope.OUTPUT): lambda d, s, n: s.outlets[n].energy_wh,
    (Quantity.ACTIVE_ENERGY, Scope.PHASE): lambda d, s, n: s.phases[n - 1].energy_wh,
}


def encode(encoding: Encoding, value: float) -> list[int] | list[bool]:
    """A value as the coils or registers that carry it, first on the wire first. Integers are
    rounded and clamped to what the registers can hold."""
    if encoding is Encoding.BIT:
        return [bool(value)]
    if encoding is Encoding.FLOAT32:
        high, low = struct.unpack(">HH", struct.pack(">f", value))
        return [high, low]
    limit = 0xFFFF if encoding is Encoding.UINT16 else 0xFFFF_FFFF
    number = min(max(round(value), 0), limit) if math.isfinite(value) else 0
    if encoding is Encoding.UINT16:
        return [number]
    return [number >> 16, number & 0xFFFF]


class PduRegisters:
    """A ``SimulatedPdu`` seen through a register map: read and write coils and registers by
    table and wire address. Knows no Modbus framing; raises ``Refused`` for what the device
    answers with an exception, and lets ``CommandRejected`` from the model through."""

    def __init__(self, pdu: SimulatedPdu, profile: Profile) -> None:
        self.pdu = pdu
        self.profile = profile
        self.layout = profile.layout(outputs=sorted(pdu.outlets), phases=pdu.phase_count)
        for slots in self.layout.values():
            for slot in slots.values():
                if (slot.point.quantity, slot.point.scope) not in _READERS:
                    raise ValueError(f"no reading for {slot.point.meaning}")

    def _slots(self, table: Table, address: int, count: int) -> list[Slot]:
        slots = self.layout[table]
        missing = [a for a in range(address, address + count) if a not in slots]
        if missing:
            raise Refused(ExcCodes.ILLEGAL_ADDRESS, f"{table.value} {missing[0]} is not mapped")
        return [slots[a] for a in range(address, address + count)]

    def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        slots = self._slots(table, address, count)
        snap = self.pdu.snapshot()  # one instant for the whole request
        values: dict[tuple, list] = {}
        out = []
        for slot in slots:
            point = slot.point
            key = (point, slot.item)
            if key not in values:
                reading = _READERS[point.quantity, point.scope](self, snap, slot.item)
                values[key] = encode(point.encoding, reading * point.scale)
            out.append(values[key][slot.word])
        return out

    def write(self, table: Table, address: int, values: Sequence[int] | Sequence[bool]) -> None:
        """Check every value first (exceptions 2 and 3 change nothing), then carry them out in
        address order. A command the model rejects stops there: earlier ones stand."""
        slots = self._slots(table, address, len(values))
        steps = [self._step(slot, value) for slot, value in zip(slots, values, strict=True)]
        for step in steps:
            step()

    def _step(self, slot: Slot, value: int | bool) -> Callable[[], None]:
        point, n = slot.point, slot.item
        if point.write is Write.RELAY:
            action = Action.ON if value else Action.OFF
            return lambda: self.pdu.command(n, action)
        if point.write is Write.OUTPUT_ACTION:
            try:
                output_action = OutputAction(value)
            except ValueError:
                raise Refused(ExcCodes.ILLEGAL_VALUE, f"no output action {value}") from None
            return lambda: self._take(n, output_action)
        if point.write is Write.SHORT_DELAY:
            if not 1 <= value <= 0xFFFF:
                raise Refused(ExcCodes.ILLEGAL_VALUE, f"short delay {value} out of range")
            outlet, seconds = self.pdu.outlet(n), value / point.scale
            return lambda: setattr(outlet, "off_period_s", seconds)
        raise Refused(ExcCodes.ILLEGAL_ADDRESS, f"{point.meaning} is read-only")

    def _take(self, n: int, action: OutputAction) -> None:
        if action is OutputAction.OFF:
            self.pdu.command(n, Action.OFF)
        elif action is OutputAction.ON:
            self.pdu.command(n, Action.ON)
        elif action is OutputAction.SHORT_OFF:
            self.pdu.command(n, Action.REBOOT)  # off, the outlet's off period, on
        elif action is OutputAction.SHORT_ON:
            self._short_on(n)
        elif action is OutputAction.TOGGLE:
            self.pdu.advance()
            self.pdu.command(n, Action.OFF if self.pdu.outlet(n).relay_on else Action.ON)
        # OutputAction.NO_CHANGE: accepted, nothing to do.

    def _short_on(self, n: int) -> None:
        """On, wait the short delay (the outlet's off period), off."""
        self.pdu.command(n, Action.SHORT_ON)


# --- pymodbus glue ---------------------------------------------------------------------------


class _Datastore:
    """What pymodbus's request classes call to read and write values (the interface of
    ``ModbusServerContext``), answered from a ``PduRegisters``."""

    def __init__(self, registers: PduRegisters) -> None:
        self.registers = registers
        self._written: list[int] | list[bool] = []

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        if func_code in (5, 6):
            # pymodbus builds the echo of a single write by reading the address back; a
            # device echoes the request, which here need not equal the (pending) relay state.
            return self._written
        try:
            return self.registers.read(TABLE_OF_FUNCTION[func_code], address, count)
        except Refused as exc:
            log.debug("FC%02d %d+%d refused: %s", func_code, address, count, exc)
            return exc.code

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        try:
            self.registers.write(TABLE_OF_FUNCTION[func_code], address, values)
        except Refused as exc:
            log.debug("FC%02d %d=%s refused: %s", func_code, address, values, exc)
            return exc.code
        except CommandRejected as exc:
            log.debug("FC%02d %d=%s rejected: %s", func_code, address, values, exc)
            return ExcCodes.DEVICE_FAILURE
        self._written = list(values)
        return None


# pymodbus's request classes that read or write the data tables.
_DATA_REQUESTS: tuple[type[ModbusPDU], ...] = (
    ReadCoilsRequest,
    ReadDiscreteInputsRequest,
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteSingleCoilRequest,
    WriteSingleRegisterRequest,
    WriteMultipleCoilsRequest,
    WriteMultipleRegistersRequest,
    MaskWriteRegisterRequest,
    ReadWriteMultipleRegistersRequest,
)


class _ServedRequest(ModbusPDU):
    """Mixed into a pymodbus request class: the request is decoded, checked and answered by
    pymodbus's class, against this server's datastore, once ``ModbusPduServer._vet`` let it
    through (latency fault, function codes of the profile, values pymodbus lets pass)."""

    server: ClassVar[ModbusPduServer]
    illegal_value = False

    def decode(self, data: bytes) -> None:
        try:
            super().decode(data)
        except ValueError:
            # A count out of range. pymodbus would answer "function 0, exception 1"; the
            # Modbus specification asks for exception 3.
            self.illegal_value = True
            return
        if self.function_code == 5 and data[2:4] not in (b"\xff\x00", b"\x00\x00"):
            self.illegal_value = True  # pymodbus would take any non-zero value as ON

    async def datastore_update(self, context, device_id: int) -> ModbusPDU:
        refusal = await self.server._vet(self)
        if refusal is not None:
            return ExceptionResponse(self.function_code, refusal)
        return await super().datastore_update(self.server._datastore, device_id)


class _UnsupportedRequest(ModbusPDU):
    """A function code that reads or writes none of the four tables (diagnostics, device
    identification, file records...) or that pymodbus does not know: no simulated device
    implements one, so the answer is exception 1 (pymodbus would answer those it knows
    itself, and an unknown one with "function 0, exception 1")."""

    def decode(self, data: bytes) -> None:
        """The MBAP header gave the length; nothing in the body matters."""

    async def datastore_update(self, context, device_id: int) -> ModbusPDU:
        return ExceptionResponse(self.function_code, ExcCodes.ILLEGAL_FUNCTION)


_UNSUPPORTED_REQUESTS: tuple[type[ModbusPDU], ...] = tuple(
    type(f"UnsupportedFunction{code}", (_UnsupportedRequest,), {"function_code": code})
    for code in range(1, 0x80)
    if code not in {cls.function_code for cls in _DATA_REQUESTS}
)


class ModbusPduServer:
    """A simulated PDU on Modbus TCP. ``profile`` names a register map in ``PROFILES``.

    Only ``unit_id`` answers; requests for another unit id are never answered (the client
    times out, as behind a gateway that has no such device)."""

    def __init__(
        self,
        pdu: SimulatedPdu,
        profile: str,
        host: str = "127.0.0.1",
        port: int = 0,
        unit_id: int = 1,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; known: {', '.join(sorted(PROFILES))}")
        if not 0 <= unit_id <= 255:
            raise ValueError("unit_id must be 0..255")
        self.pdu = pdu
        self.profile = PROFILES[profile]
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self.registers = PduRegisters(pdu, self.profile)
        self._datastore = _Datastore(self.registers)
        self._server: ModbusTcpServer | None = None
        self._waiting: set[asyncio.Task] = set()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    async def start(self) -> None:
        """Listen on (host, port); with port 0 the OS picks a free port, then in ``port``."""
        if self._server is not None:
            raise RuntimeError("server already started")
        server = ModbusTcpServer(
            # pymodbus wants a device; every data request is answered from _Datastore instead.
            SimDevice(self.unit_id, simdata=SimData(0, datatype=DataType.INVALID)),
            address=(self.host, self.port),
            trace_pdu=self._admit,
            custom_pdu=self._request_classes(),
        )
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:
            await server.shutdown()
            raise OSError(f"cannot listen on {self.host}:{self.port}") from exc
        self._server = server
        self.port = server.transport.sockets[0].getsockname()[1]
        log.info("%s: %s on modbus://%s:%d", self.pdu.name, self.profile.name, *self.address)

    async def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        await server.shutdown()
        for task in list(self._waiting):  # requests still sleeping out their latency
            task.cancel()
        self._waiting.clear()

    async def __aenter__(self) -> ModbusPduServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    def _request_classes(self) -> list[type[ModbusPDU]]:
        """pymodbus's request classes for the four tables, bound to this server, and a
        refusal for every other function code."""
        served = [
            type(f"{cls.__name__}Served", (_ServedRequest, cls), {"server": self})
            for cls in _DATA_REQUESTS
        ]
        return [*served, *_UNSUPPORTED_REQUESTS]

    def _admit(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU | None:
        """pymodbus's ``trace_pdu`` hook. An incoming request turned into None is not handled:
        no answer is sent."""
        if sending:
            return pdu
        if pdu.dev_id != self.unit_id:
            log.debug("%s: no unit %d here, not answering", self.pdu.name, pdu.dev_id)
            return None
        if self.pdu.should_drop():
            log.debug("%s: dropping FC%02d", self.pdu.name, pdu.function_code)
            return None
        return pdu

    async def _vet(self, request: _ServedRequest) -> ExcCodes | None:
        """Sleep out the latency fault, then refuse what this device would refuse before
        looking at the address."""
        latency = self.pdu.faults.latency_s
        if latency > 0:
            task = asyncio.current_task()
            if task is not None:
                self._waiting.add(task)
            try:
                await asyncio.sleep(latency)
            finally:
                self._waiting.discard(task)
        if request.function_code not in self.profile.function_codes:
            return ExcCodes.ILLEGAL_FUNCTION
        if request.illegal_value:
            return ExcCodes.ILLEGAL_VALUE
        return None
