"""A PDU's SNMP objects as a sorted table, answering pysnmp's management instrumentation calls.

pysnmp's command responders call ``read_variables``, ``read_next_variables`` and
``write_variables`` on the instrumentation of the request's context. Our ``ObjectTable``
implements those three over plain Python callables: a sorted list of OIDs with ``bisect`` for
GETNEXT/GETBULK, and per-object getters and setters that read and drive the physics model. This
is much lighter and faster than one pysnmp ``MibScalarInstance`` per cell, which matters with a
fleet of hundreds of PDUs in one process.

SET follows RFC 3416 4.2.5: every varbind is checked (access, existence, type, value) before
any is applied, and the errors are the ones a real agent gives.
"""

from __future__ import annotations

import bisect
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import error as smi_error

Oid = tuple[int, ...]

# Whether the request being answered came with a write credential *of this agent*. The engine's
# VACM already refuses read-only security names; in a fleet sharing one engine, a community may
# write to one PDU and only read another, which the agent sets here per request.
REQUEST_MAY_WRITE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "REQUEST_MAY_WRITE", default=True
)


class InvalidValue(Exception):
    """A setter refuses a well-typed value (answered as wrongValue)."""


class Refused(Exception):
    """The device refuses the command at commit time (answered as genErr)."""


@dataclass(frozen=True)
class ManagedObject:
    oid: Oid
    syntax: type  # a pysnmp rfc1902 type
    get: Callable[[], object]
    set: Callable[[object], None] | None = None  # takes the decoded Python value
    # Refuses a value with InvalidValue, without side effects. SET runs every varbind's check
    # before any setter: a setter that validated only when applied let an earlier varbind of
    # the same request switch an outlet although the request was answered wrongValue.
    check: Callable[[object], None] | None = None
    # The object (table column or scalar) this instance belongs to; by default the OID without
    # its last sub-identifier. Tables with multi-part indexes (pduId.outlet) say it explicitly.
    column: Oid | None = None

    @property
    def object_oid(self) -> Oid:
        return self.column if self.column is not None else self.oid[:-1]

    def value(self):
        return self.syntax(self.get())


class ObjectTable:
    """One agent's objects (a PDU's system group and vendor MIB), sorted by OID."""

    def __init__(self, objects: list[ManagedObject]) -> None:
        self._by_oid = {obj.oid: obj for obj in objects}
        if len(self._by_oid) != len(objects):
            raise ValueError("duplicate OIDs in the object table")
        self._oids = sorted(self._by_oid)
        # Writable columns (the OID without its index): a SET to a missing row of one of these
        # is noCreation; elsewhere notWritable.
        self._objects = {obj.object_oid for obj in objects}
        self._writable_objects = {obj.object_oid for obj in objects if obj.set is not None}

    def __len__(self) -> int:
        return len(self._oids)

    def oids(self) -> list[Oid]:
        return list(self._oids)

    # --- lookups for the wire path (simulators.snmp.wire) -----------------------------------

    def object_at(self, oid: Oid) -> ManagedObject | None:
        return self._by_oid.get(oid)

    def objects_after(self, oid: Oid) -> Iterator[ManagedObject]:
        """The objects after ``oid`` in OID order (GETNEXT's candidates)."""
        for position in range(bisect.bisect_right(self._oids, oid), len(self._oids)):
            yield self._by_oid[self._oids[position]]

    def is_known_object(self, oid: Oid) -> bool:
        """Whether ``oid`` is an instance of an object (column or scalar) the table has:
        a missing one is then noSuchInstance rather than noSuchObject."""
        return self._object_of(oid, self._objects) is not None

    # --- pysnmp instrumentation interface -------------------------------------------------

    def read_variables(self, *var_binds, **context):
        result = []
        for idx, (name, _) in enumerate(var_binds):
            oid = tuple(name)
            obj = self._by_oid.get(oid)
            if obj is None or not self._readable(name, idx, context):
                result.append((name, self._missing(oid)))
            else:
                result.append((name, obj.value()))
        return result

    def read_next_variables(self, *var_binds, **context):
        result = []
        for idx, (name, _) in enumerate(var_binds):
            for obj in self.objects_after(tuple(name)):
                next_name = rfc1902.ObjectName(obj.oid)
                if self._readable(next_name, idx, context):
                    result.append((next_name, obj.value()))
                    break
            else:
                result.append((name, rfc1905.endOfMibView))
        return result

    def write_variables(self, *var_binds, **context):
        checked = []
        for idx, (name, value) in enumerate(var_binds):
            oid = tuple(name)
            self._check_write_access(name, idx, context)
            obj = self._by_oid.get(oid)
            if obj is None or obj.set is None:
                if obj is None and self._object_of(oid, self._writable_objects) is not None:
                    raise smi_error.NoCreationError(name=name, idx=idx)
                raise smi_error.NotWritableError(name=name, idx=idx)
            if value.tagSet != obj.syntax.tagSet:
                raise smi_error.WrongTypeError(name=name, idx=idx)
            try:
                decoded = _python(obj.syntax(value))  # range/size constraints of the syntax
            except Exception:
                raise smi_error.WrongValueError(name=name, idx=idx) from None
            if obj.check is not None:
                try:
                    obj.check(decoded)
                except InvalidValue:
                    raise smi_error.WrongValueError(name=name, idx=idx) from None
            checked.append((idx, name, obj, decoded))
        # Every varbind is valid: now apply them, in order.
        for idx, name, obj, decoded in checked:
            try:
                obj.set(decoded)
            except InvalidValue:
                raise smi_error.WrongValueError(name=name, idx=idx) from None
            except Refused:
                raise smi_error.GenError(name=name, idx=idx) from None
        return [(name, obj.value()) for _, name, obj, _ in checked]

    # --- helpers --------------------------------------------------------------------------

    def _missing(self, oid: Oid):
        # An object we know (a column) without this instance is noSuchInstance; else noSuchObject.
        if self.is_known_object(oid):
            return rfc1905.noSuchInstance
        return rfc1905.noSuchObject

    @staticmethod
    def _object_of(oid: Oid, objects: set[Oid]) -> Oid | None:
        """The known object whose instance ``oid`` would be, if any."""
        for length in range(len(oid) - 1, 0, -1):
            if oid[:length] in objects:
                return oid[:length]
        return None

    @staticmethod
    def _readable(name, idx: int, context) -> bool:
        access_check = context.get("acFun")
        if access_check is None:
            return True
        # pysnmp's VACM check: raises on an authorization failure, returns True if not in view.
        return not access_check("read", (name, None), idx=idx, **context)

    @staticmethod
    def _check_write_access(name, idx: int, context) -> None:
        access_check = context.get("acFun")
        if access_check is not None and access_check("write", (name, None), idx=idx, **context):
            raise smi_error.NoAccessError(name=name, idx=idx)
        if not REQUEST_MAY_WRITE.get():
            raise smi_error.NoAccessError(name=name, idx=idx)


def _python(value):
    """Decode a pysnmp value into int or bytes for setters."""
    if isinstance(value, rfc1902.OctetString):
        return bytes(value)
    if isinstance(value, rfc1902.ObjectIdentifier):
        return tuple(value)
    return int(value)
