"""A small synchronous SNMP v2c client for the simulator tests, on pysnmp's asyncio API.

Each call runs its own event loop with its own engine, closed afterwards. Requests are sent
once (no retries) so that a dropped request shows as a timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    Integer,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    get_cmd,
    set_cmd,
)
from pysnmp.proto import errind

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"


@dataclass(frozen=True)
class Answer:
    error_indication: object  # None, or a pysnmp ErrorIndication (a timeout, ...)
    error_status: str  # "noError", "genErr", ...
    values: tuple  # the varbinds' values, as pysnmp objects
    seconds: float  # how long the request itself took

    @property
    def timed_out(self) -> bool:
        return isinstance(self.error_indication, errind.RequestTimedOut)

    @property
    def ok(self) -> bool:
        return self.error_indication is None and self.error_status == "noError"

    @property
    def value(self):
        assert self.ok, f"no value: {self.error_indication or self.error_status}"
        return self.values[0]


async def _request(
    engine: SnmpEngine,
    target: UdpTransportTarget,
    community: str,
    oid: str,
    value: int | None,
) -> Answer:
    if value is None:
        command, var_bind = get_cmd, ObjectType(ObjectIdentity(oid))
    else:
        command, var_bind = set_cmd, ObjectType(ObjectIdentity(oid), Integer(value))
    started = time.monotonic()
    error_indication, error_status, _, var_binds = await command(
        engine, CommunityData(community), target, ContextData(), var_bind, lookupMib=False
    )
    return Answer(
        error_indication=error_indication,
        error_status=error_status.prettyPrint() if error_status else "noError",
        values=tuple(bound for _, bound in var_binds),
        seconds=time.monotonic() - started,
    )


async def _requests(
    address: tuple[str, int],
    oid: str,
    *,
    value: int | None,
    community: str,
    timeout: float,
    count: int,
) -> list[Answer]:
    engine = SnmpEngine()
    try:
        target = await UdpTransportTarget.create(address, timeout=timeout, retries=0)
        return list(
            await asyncio.gather(
                *(_request(engine, target, community, oid, value) for _ in range(count))
            )
        )
    finally:
        engine.close_dispatcher()


def snmp_get(
    address: tuple[str, int], oid: str, *, community: str = "public", timeout: float = 1.0
) -> Answer:
    return asyncio.run(
        _requests(address, oid, value=None, community=community, timeout=timeout, count=1)
    )[0]


def snmp_gets(
    address: tuple[str, int],
    oid: str,
    count: int,
    *,
    community: str = "public",
    timeout: float = 1.0,
) -> list[Answer]:
    """``count`` GETs of ``oid`` sent at once from one engine."""
    return asyncio.run(
        _requests(address, oid, value=None, community=community, timeout=timeout, count=count)
    )


def snmp_set(
    address: tuple[str, int],
    oid: str,
    value: int,
    *,
    community: str = "private",
    timeout: float = 1.0,
) -> Answer:
    return asyncio.run(
        _requests(address, oid, value=value, community=community, timeout=timeout, count=1)
    )[0]
