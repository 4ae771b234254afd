"""The only module that imports pysnmp. It speaks SNMP v1/v2c/v3 for the drivers and turns
pysnmp's results and errors into plain Python values and dcpower's own exceptions.

Performance rules (../shared/reference/PERFORMANCE.md): one long-lived ``SnmpEngine`` per event
loop (an engine is bound to its loop: reusing it from another ``asyncio.run()`` hangs), numeric
OIDs with ``lookupMib=False``, many OIDs per request, GETBULK for columns.
"""

from __future__ import annotations

import asyncio
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


def close_engine_for_running_loop() -> None:
    """Close this loop's engine (call before the loop ends, e.g. at worker shutdown)."""
    engine = _engines.pop(asyncio.get_running_loop(), None)
    if engine is not None:
        engine.close_dispatcher()


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

    @property
    def device(self) -> str:
        return self.target.address

    # --- requests ----------------------------------------------------------------------

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, object]:
        """GET many OIDs, batched into requests of up to MAX_OIDS_PER_GET."""
        result: dict[Oid, object] = {}
        for start in range(0, len(oids), MAX_OIDS_PER_GET):
            chunk = oids[start : start + MAX_OIDS_PER_GET]
            engine = engine_for_running_loop()
            var_binds = await self._request(get_cmd, [_resolved(engine, o) for o in chunk])
            for oid, value in zip(chunk, var_binds, strict=True):
                result[oid] = _python(value[1])
        return result

    async def set(self, pairs: Sequence[tuple[Oid, int]]) -> None:
        """SET integer values, all in one request (the caller splits them if the vendor
        refuses multi-varbind SETs). A SET answered with noSuchObject/noSuchInstance in place of
        a value and no error status changed nothing, and is no success: snmpsim answers so for
        an absent row (an rPDU2 outlet of librenms__apc_ap8959eu3, an outlet past the end)."""
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
            requested = [ObjectType(ObjectIdentity(oid_str(cursors[c]))) for c in active]
            if self.target.snmp_version == "v1":
                var_binds = await self._request(next_cmd, requested)
            else:
                var_binds = await self._request(
                    bulk_cmd, requested, bulk=(0, max(1, BULK_REPETITIONS // len(active)))
                )
            finished = set()
            for position, (name, value) in enumerate(var_binds):
                column = active[position % len(active)]
                if column in finished:
                    continue
                oid = tuple(name)
                if oid[: len(column)] != column or _end_of_view(value):
                    finished.add(column)
                    continue
                if oid <= cursors[column]:
                    raise UnexpectedValue(self.device, "OIDs not increasing", obj=oid_str(oid))
                rows[column][oid[len(column) :]] = _python(value)
                cursors[column] = oid
            for column in finished:
                cursors.pop(column, None)
        raise UnexpectedValue(self.device, "table walk did not end", obj=oid_str(columns[0]))

    # --- plumbing ----------------------------------------------------------------------

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
            community = target.write_community if write else target.read_community
            if not community:
                kind = "write" if write else "read"
                raise DriverError(self.device, f"no SNMP {kind} community configured")
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
    return isinstance(value, rfc1905.EndOfMibView | rfc1905.NoSuchObject | rfc1905.NoSuchInstance)


def _failed_oid(requested: Iterable, result, index: int) -> str | None:
    requested = list(requested)
    if 1 <= index <= len(requested):
        return str(requested[index - 1][0])
    return str(requested[0][0]) if requested else None
