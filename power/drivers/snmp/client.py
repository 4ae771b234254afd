"""The only module that imports pysnmp. It speaks SNMP v1/v2c/v3 for the drivers and turns
results and errors into plain Python values and dcpower's own exceptions. SNMPv2c, the hot
path of polling and switching, goes through our own codec (ber.py) and one UDP socket per
event loop; v1 and v3 through pysnmp (ADR 0012).

Performance rules (../shared/reference/PERFORMANCE.md): one long-lived ``SnmpEngine`` per event
loop (an engine is bound to its loop: reusing it from another ``asyncio.run()`` hangs), numeric
OIDs with ``lookupMib=False``, many OIDs per request, GETBULK for columns.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import weakref
from collections.abc import Iterable, Sequence

from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    Integer,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    next_cmd,
    set_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth as usm
from pysnmp.hlapi.varbinds import CommandGeneratorVarBinds
from pysnmp.proto import errind, rfc1905

from power.drivers.base import DeviceTarget
from power.drivers.errors import (
    AuthenticationFailed,
    DeviceRejected,
    DeviceTimeout,
    DriverError,
    UnexpectedValue,
)
from power.drivers.snmp import ber

Oid = tuple[int, ...]

AUTH_PROTOCOLS = {
    "none": usm.USM_AUTH_NONE,
    "md5": usm.USM_AUTH_HMAC96_MD5,
    "sha": usm.USM_AUTH_HMAC96_SHA,
    "sha224": usm.USM_AUTH_HMAC128_SHA224,
    "sha256": usm.USM_AUTH_HMAC192_SHA256,
    "sha384": usm.USM_AUTH_HMAC256_SHA384,
    "sha512": usm.USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS = {
    ("none", "blumenthal"): usm.USM_PRIV_NONE,
    ("none", "reeder"): usm.USM_PRIV_NONE,
    ("des", "blumenthal"): usm.USM_PRIV_CBC56_DES,
    ("des", "reeder"): usm.USM_PRIV_CBC56_DES,
    ("aes128", "blumenthal"): usm.USM_PRIV_CFB128_AES,
    ("aes128", "reeder"): usm.USM_PRIV_CFB128_AES,
    ("aes192", "blumenthal"): usm.USM_PRIV_CFB192_AES_BLUMENTHAL,
    ("aes256", "blumenthal"): usm.USM_PRIV_CFB256_AES_BLUMENTHAL,
    ("aes192", "reeder"): usm.USM_PRIV_CFB192_AES,
    ("aes256", "reeder"): usm.USM_PRIV_CFB256_AES,
}
AUTHENTICATION_ERRORS = (
    errind.UnknownUserName,
    errind.WrongDigest,
    errind.DecryptionError,
    errind.AuthenticationFailure,
    errind.AuthenticationError,
    errind.UnknownSecurityName,
    errind.UnsupportedSecurityLevel,
    errind.NotInTimeWindow,
)
MAX_OIDS_PER_GET = 40  # keeps a response well under a typical agent's message size
BULK_REPETITIONS = 25

# One engine per event loop, created on first use. The only module-level state of the drivers:
# an engine is expensive (about 80 ms) and bound to the loop it was first used in.
_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SnmpEngine] = (
    weakref.WeakKeyDictionary()
)


def engine_for_running_loop() -> SnmpEngine:
    loop = asyncio.get_running_loop()
    engine = _engines.get(loop)
    if engine is None:
        engine = _engines[loop] = SnmpEngine()
    return engine


class _V2cChannel(asyncio.DatagramProtocol):
    """The loop's one UDP socket (per address family) for every SNMPv2c request, like its
    one pysnmp engine: answers are matched to requests by request-id and source address;
    anything else (garbage, late or foreign answers) is dropped like a lost packet."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self._waiting: dict[int, tuple[tuple, asyncio.Future]] = {}

    def connection_made(self, transport) -> None:
        self.transport = transport

    def expect(self, request_id: int, address: tuple) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (address, future)
        return future

    def forget(self, request_id: int) -> None:
        self._waiting.pop(request_id, None)

    def datagram_received(self, data: bytes, address) -> None:
        try:
            response = ber.decode_response(data)
        except ber.BerError:
            return
        waiting = self._waiting.get(response.request_id)
        if waiting is None or tuple(address[:2]) != waiting[0]:
            return
        if not waiting[1].done():
            waiting[1].set_result(response)

    def error_received(self, exc) -> None:
        """An ICMP error (port unreachable, say) for some earlier datagram: it names no
        request, so the request it belongs to ends as any unanswered one does, by its
        timeout and retries in SnmpClient._v2c."""


_channels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict] = weakref.WeakKeyDictionary()


async def _v2c_channel(family: int) -> _V2cChannel:
    loop = asyncio.get_running_loop()
    per_loop = _channels.setdefault(loop, {})
    if "lock" not in per_loop:
        per_loop["lock"] = asyncio.Lock()
    async with per_loop["lock"]:
        channel = per_loop.get(family)
        if channel is None or channel.transport is None or channel.transport.is_closing():
            # Unbound: the first sendto picks an ephemeral port, as any SNMP manager's does.
            _, channel = await loop.create_datagram_endpoint(_V2cChannel, family=family)
            per_loop[family] = channel
    return channel


def close_engine_for_running_loop() -> None:
    """Close this loop's engine and v2c sockets (call before the loop ends, e.g. at worker
    shutdown)."""
    loop = asyncio.get_running_loop()
    engine = _engines.pop(loop, None)
    if engine is not None:
        engine.close_dispatcher()
    for key, channel in _channels.pop(loop, {}).items():
        if key != "lock" and channel.transport is not None:
            channel.transport.close()


# pysnmp's hlapi resolves every var-bind of every request against the engine's MIB view (even
# with lookupMib=False), which cost more than encoding it; an ObjectType already resolved is
# passed through. Resolved var-binds are kept per engine, by OID and value (bounded).
RESOLVED_VARBINDS_MAX = 100_000
_RESOLVED_KEY = "dcpower.resolved_varbinds"


def _resolved(engine: SnmpEngine, oid: Oid, value: int | None = None) -> ObjectType:
    cache = engine.cache.setdefault(_RESOLVED_KEY, {})
    var_bind = cache.get((oid, value))
    if var_bind is None:
        if len(cache) >= RESOLVED_VARBINDS_MAX:
            cache.clear()
        identity = ObjectIdentity(oid_str(oid))
        var_bind = ObjectType(identity) if value is None else ObjectType(identity, Integer(value))
        controller = CommandGeneratorVarBinds.get_mib_view_controller(engine.cache)
        var_bind = cache[(oid, value)] = var_bind.resolve_with_mib(controller)
    return var_bind


def oid_str(oid: Oid) -> str:
    return ".".join(str(part) for part in oid)


class SnmpRejected(DeviceRejected):
    """An SNMP error-status (noAccess, genErr, wrongValue, noCreation, ...), kept by name."""

    def __init__(self, device: str, status: str, *, obj: str | None) -> None:
        self.status = status
        super().__init__(device, f"device answered {status}", obj=obj)


# Error statuses that mean "this instance does not exist" when writing to an outlet's row, and
# the exception values an agent may return in place of one (see SnmpClient.set).
MISSING_INSTANCE_STATUSES = frozenset(
    {"noCreation", "noSuchName", "inconsistentName", "noSuchObject", "noSuchInstance"}
)


class SnmpClient:
    """SNMP requests to one device, with its credentials. Values come back as Python values:
    int for integer types, bytes for strings, a tuple for OIDs, None for "no such object or
    instance"."""

    def __init__(self, target: DeviceTarget) -> None:
        self.target = target
        self._transport: UdpTransportTarget | None = None
        self._resolved_address: tuple[int, tuple] | None = None

    @property
    def device(self) -> str:
        return self.target.address

    # --- requests ----------------------------------------------------------------------

    @property
    def _fast(self) -> bool:
        """SNMPv2c goes through our own codec (ber.py, ADR 0012); v1 and v3 through pysnmp."""
        return self.target.snmp_version == "v2c"

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, object]:
        """GET many OIDs, batched into requests of up to MAX_OIDS_PER_GET."""
        result: dict[Oid, object] = {}
        for start in range(0, len(oids), MAX_OIDS_PER_GET):
            chunk = oids[start : start + MAX_OIDS_PER_GET]
            if self._fast:
                response = await self._v2c(ber.GET, [(oid, None) for oid in chunk])
                values = [_plain(value) for _, value in response.var_binds]
            else:
                engine = engine_for_running_loop()
                var_binds = await self._request(get_cmd, [_resolved(engine, o) for o in chunk])
                values = [_python(value) for _, value in var_binds]
            result.update(zip(chunk, values, strict=True))
        return result

    async def set(self, pairs: Sequence[tuple[Oid, int]]) -> None:
        """SET integer values, all in one request (the caller splits them if the vendor
        refuses multi-varbind SETs). A SET answered with noSuchObject/noSuchInstance in place of
        a value and no error status changed nothing, and is no success: snmpsim answers so for
        an absent row (an rPDU2 outlet of librenms__apc_ap8959eu3, an outlet past the end)."""
        if self._fast:
            response = await self._v2c(ber.SET, list(pairs), write=True)
            for name, value in response.var_binds:
                if isinstance(value, ber.ExceptionValue):
                    raise SnmpRejected(self.device, value.name, obj=oid_str(name))
            return
        engine = engine_for_running_loop()
        result = await self._request(
            set_cmd, [_resolved(engine, oid, value) for oid, value in pairs], write=True
        )
        for name, value in result:
            if _end_of_view(value):
                kind = type(value).__name__
                raise SnmpRejected(self.device, kind[0].lower() + kind[1:], obj=str(name))

    async def walk(self, columns: Sequence[Oid]) -> dict[Oid, dict[Oid, object]]:
        """Read whole table columns: for each column, {index: value}. Several columns are
        walked side by side in each GETBULK (GETNEXT for SNMPv1)."""
        rows: dict[Oid, dict[Oid, object]] = {column: {} for column in columns}
        cursors = {column: column for column in columns}
        for _ in range(10_000):  # bounded: a table longer than 250,000 rows is a device bug
            if not cursors:
                return rows
            active = list(cursors)
            repetitions = max(1, BULK_REPETITIONS // len(active))
            if self._fast:
                response = await self._v2c(
                    ber.GETBULK, [(cursors[c], None) for c in active], max_repetitions=repetitions
                )
                var_binds = response.var_binds
            else:
                requested = [ObjectType(ObjectIdentity(oid_str(cursors[c]))) for c in active]
                if self.target.snmp_version == "v1":
                    var_binds = await self._request(next_cmd, requested)
                else:
                    var_binds = await self._request(bulk_cmd, requested, bulk=(0, repetitions))
                var_binds = [(tuple(name), value) for name, value in var_binds]
            finished = set()
            for position, (oid, value) in enumerate(var_binds):
                column = active[position % len(active)]
                if column in finished:
                    continue
                if oid[: len(column)] != column or _end_of_view(value):
                    finished.add(column)
                    continue
                if oid <= cursors[column]:
                    raise UnexpectedValue(self.device, "OIDs not increasing", obj=oid_str(oid))
                rows[column][oid[len(column) :]] = _plain(value)
                cursors[column] = oid
            for column in finished:
                cursors.pop(column, None)
        raise UnexpectedValue(self.device, "table walk did not end", obj=oid_str(columns[0]))

    # --- plumbing ----------------------------------------------------------------------

    async def _v2c(
        self, pdu_type: int, var_binds: list, *, write: bool = False, max_repetitions: int = 0
    ) -> ber.Response:
        """One SNMPv2c request through the loop's shared socket, with the target's timeout
        and retries (the same message again, as net-snmp does)."""
        community = self._community(write=write).encode()
        family, address = await self._address()
        channel = await _v2c_channel(family)
        # Unpredictable, so that a forged answer is hard to slip in.
        request_id = secrets.randbelow(2**31 - 1) + 1
        message = ber.encode_request(
            pdu_type, community, request_id, var_binds, max_repetitions=max_repetitions
        )
        for _ in range(self.target.retries + 1):
            answer = channel.expect(request_id, address)
            channel.transport.sendto(message, address)
            try:
                response = await asyncio.wait_for(answer, self.target.timeout_s)
            except TimeoutError:
                continue
            finally:
                channel.forget(request_id)
            if response.error_status:
                index = response.error_index
                failed = var_binds[index - 1][0] if 1 <= index <= len(var_binds) else None
                failed = failed or (var_binds[0][0] if var_binds else None)
                raise SnmpRejected(
                    self.device, response.error_name, obj=oid_str(failed) if failed else None
                )
            return response
        raise DeviceTimeout(
            self.device,
            f"no answer after {self.target.retries + 1} tries of {self.target.timeout_s:g} s "
            "(or a wrong community)",
            obj=oid_str(var_binds[0][0]) if var_binds else None,
        )

    async def _address(self) -> tuple[int, tuple]:
        if self._resolved_address is None:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(
                    self.target.host, self.target.port, type=socket.SOCK_DGRAM
                )
            except OSError as exc:
                raise DriverError(self.device, f"cannot resolve {self.target.host}: {exc}") from exc
            family, _, _, _, sockaddr = infos[0]
            self._resolved_address = (family, sockaddr[:2])
        return self._resolved_address

    def _community(self, *, write: bool) -> str:
        community = self.target.write_community if write else self.target.read_community
        if not community:
            kind = "write" if write else "read"
            raise DriverError(self.device, f"no SNMP {kind} community configured")
        return community

    async def _request(self, command, var_binds: list, *, write: bool = False, bulk=None):
        engine = engine_for_running_loop()
        if self._transport is None:
            self._transport = await UdpTransportTarget.create(
                (self.target.host, self.target.port),
                timeout=self.target.timeout_s,
                retries=self.target.retries,
            )
        auth = self._auth(write=write)
        args = (engine, auth, self._transport, ContextData())
        if bulk is not None:
            args += bulk
        try:
            error, status, index, result = await command(*args, *var_binds, lookupMib=False)
        except DriverError:
            raise
        except Exception as exc:  # pysnmp raises plain errors for bad parameters
            raise DriverError(self.device, f"SNMP request failed: {exc}") from exc
        if error is not None:
            raise self._indication_error(error, var_binds)
        if status:
            failed = _failed_oid(var_binds, result, int(index))
            raise SnmpRejected(self.device, status.prettyPrint(), obj=failed)
        return result

    def _indication_error(self, error, var_binds) -> DriverError:
        first = str(var_binds[0][0]) if var_binds else None
        if isinstance(error, errind.RequestTimedOut):
            hint = " (or a wrong community)" if self.target.snmp_version != "v3" else ""
            return DeviceTimeout(
                self.device,
                f"no answer after {self.target.retries + 1} tries of "
                f"{self.target.timeout_s:g} s{hint}",
                obj=first,
            )
        if isinstance(error, AUTHENTICATION_ERRORS):
            return AuthenticationFailed(self.device, f"SNMPv3: {error}", obj=first)
        return DriverError(self.device, f"SNMP error: {error}", obj=first)

    def _auth(self, *, write: bool):
        target = self.target
        if target.snmp_version in ("v1", "v2c"):
            community = self._community(write=write)
            return CommunityData(community, mpModel=0 if target.snmp_version == "v1" else 1)
        v3 = target.v3
        if v3 is None:
            raise DriverError(self.device, "SNMPv3 without a user")
        try:
            auth_protocol = AUTH_PROTOCOLS[v3.auth_protocol]
            priv_protocol = PRIV_PROTOCOLS[(v3.priv_protocol, v3.key_extension)]
        except KeyError as exc:
            raise DriverError(self.device, f"unsupported SNMPv3 setting {exc}") from None
        return UsmUserData(
            v3.username,
            authKey=v3.auth_key or None,
            privKey=v3.priv_key or None,
            authProtocol=auth_protocol,
            privProtocol=priv_protocol,
        )


def _plain(value):
    """A value from either path as the drivers see it (None for the exception values)."""
    if isinstance(value, ber.ExceptionValue):
        return None
    if isinstance(value, int | bytes | tuple) or value is None:
        return value
    return _python(value)


def _python(value):
    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return None
    # pyasn1's base classes cover every SNMP application type (Gauge32, TimeTicks, ...).
    if isinstance(value, univ.ObjectIdentifier):
        return tuple(value)
    if isinstance(value, univ.OctetString):
        return bytes(value)
    if isinstance(value, univ.Integer):
        return int(value)
    return value


def _end_of_view(value) -> bool:
    return isinstance(
        value,
        ber.ExceptionValue | rfc1905.EndOfMibView | rfc1905.NoSuchObject | rfc1905.NoSuchInstance,
    )


def _failed_oid(requested: Iterable, result, index: int) -> str | None:
    requested = list(requested)
    if 1 <= index <= len(requested):
        return str(requested[index - 1][0])
    return str(requested[0][0]) if requested else None
