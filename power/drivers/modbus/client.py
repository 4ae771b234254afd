"""The only module that imports pymodbus. Reads and writes coils and registers for the
drivers over one TCP connection per device, and turns pymodbus's results and errors into plain
values and dcpower's own exceptions. Addresses here are protocol ("wire") addresses, 0-based."""

from __future__ import annotations

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from power.drivers.base import DeviceTarget
from power.drivers.errors import DeviceRejected, DeviceTimeout, DriverError

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
}
ILLEGAL_ADDRESS = 2


class ModbusRejected(DeviceRejected):
    def __init__(self, device: str, code: int, *, obj: str) -> None:
        self.code = code
        super().__init__(
            device, f"Modbus exception {code} ({EXCEPTION_NAMES.get(code, '?')})", obj=obj
        )


class ModbusClient:
    def __init__(self, target: DeviceTarget) -> None:
        self.target = target
        self._client: AsyncModbusTcpClient | None = None

    @property
    def device(self) -> str:
        return self.target.address

    async def _connected(self) -> AsyncModbusTcpClient:
        if self._client is None or not self._client.connected:
            client = AsyncModbusTcpClient(
                self.target.host,
                port=self.target.port,
                timeout=self.target.timeout_s,
                retries=self.target.retries,
            )
            if not await client.connect():
                client.close()
                raise DeviceTimeout(self.device, "cannot connect (Modbus TCP)")
            self._client = client
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _call(self, what: str, method: str, *args, **kwargs):
        client = await self._connected()
        try:
            response = await getattr(client, method)(
                *args, device_id=self.target.modbus_unit_id, **kwargs
            )
        except (ModbusIOException, ConnectionException, TimeoutError) as exc:
            await self.close()
            raise DeviceTimeout(self.device, f"no answer ({exc})", obj=what) from exc
        except ModbusException as exc:
            await self.close()
            raise DriverError(self.device, f"Modbus error: {exc}", obj=what) from exc
        if response.isError():
            raise ModbusRejected(self.device, int(getattr(response, "exception_code", 0)), obj=what)
        return response

    async def read_coils(self, address: int, count: int) -> list[bool]:
        response = await self._call(f"coils {address}+{count}", "read_coils", address, count=count)
        return [bool(bit) for bit in response.bits[:count]]  # bits are padded to 8

    async def read_holding(self, address: int, count: int) -> list[int]:
        response = await self._call(
            f"holding {address}+{count}", "read_holding_registers", address, count=count
        )
        return list(response.registers)

    async def read_input(self, address: int, count: int) -> list[int]:
        response = await self._call(
            f"input {address}+{count}", "read_input_registers", address, count=count
        )
        return list(response.registers)

    async def write_coil(self, address: int, on: bool) -> None:
        await self._call(f"coil {address}", "write_coil", address, on)

    async def write_register(self, address: int, value: int) -> None:
        await self._call(f"holding {address}", "write_register", address, value)

    @staticmethod
    def decode(registers: list[int], data_type: str, word_order: str) -> float | int:
        """uint16, uint32 (two registers) or float32 (two registers) in the given word order."""
        if data_type == "uint16":
            return registers[0]
        kind = {
            "uint32": AsyncModbusTcpClient.DATATYPE.UINT32,
            "float32": AsyncModbusTcpClient.DATATYPE.FLOAT32,
        }[data_type]
        return AsyncModbusTcpClient.convert_from_registers(registers, kind, word_order=word_order)
