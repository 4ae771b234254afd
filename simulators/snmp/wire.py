"""SNMPv2c answered at the wire: GET, GETNEXT, GETBULK and SET decoded and answered from a
PDU's ``ObjectTable`` without going through pysnmp's engine.

Why: pysnmp's engine builds every response through pyasn1's generic object model. That caps
the whole fleet at about 5,000 varbinds a second (ADR 0007), slower than the code under test,
so benchmarks of the drivers, the executor and telemetry measured the simulator. This path
reads a request's bytes directly and writes the response's bytes directly (ADR 0017).

Scope: well-formed SNMPv2c requests with a community the PDU knows. Everything else (SNMPv1,
SNMPv3, a community the PDU does not know, malformed bytes, a GETBULK that asks for nothing,
an answer too big for a datagram) is declined (``answer`` returns None) and goes to pysnmp's
engine, which stays the reference: tests send the same requests both ways and compare the
answers.

The answers are those of pysnmp's responders with dcpower's agent classes (simulators.snmp
.agent), with two deliberate differences, both where RFC 3416 4.2.5 (and net-snmp) say
otherwise: a failed SET's error-index names the failing varbind (pysnmp 7 answers 1 whenever
more varbinds follow it), and a SET's response carries the varbinds as sent (pysnmp reads the
objects back, and a relay that has not moved yet reads as before).

The module's BER is written from X.690 and RFC 3416 for the agent's side (decode requests,
encode responses); it shares nothing with the drivers' codec, so that a mistake in one is
caught by the other (ADR 0007: the simulators share no code with what they test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pysnmp.proto import rfc1902
from pysnmp.smi import error as smi_error

from simulators.snmp.mib import REQUEST_MAY_WRITE, ManagedObject, ObjectTable

Oid = tuple[int, ...]

VERSION_2C = 1
GET, GETNEXT, RESPONSE, SET, GETBULK = 0xA0, 0xA1, 0xA2, 0xA3, 0xA5
INTEGER, OCTET_STRING, NULL, OBJECT_IDENTIFIER, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82

# RFC 3416 error-status values, by pysnmp's exception for them.
ERROR_STATUS = {
    smi_error.TooBigError: 1,
    smi_error.NoSuchNameError: 2,
    smi_error.BadValueError: 3,
    smi_error.ReadOnlyError: 4,
    smi_error.GenError: 5,
    smi_error.NoAccessError: 6,
    smi_error.WrongTypeError: 7,
    smi_error.WrongLengthError: 8,
    smi_error.WrongEncodingError: 9,
    smi_error.WrongValueError: 10,
    smi_error.NoCreationError: 11,
    smi_error.InconsistentValueError: 12,
    smi_error.ResourceUnavailableError: 13,
    smi_error.CommitFailedError: 14,
    smi_error.UndoFailedError: 15,
    smi_error.AuthorizationError: 16,
    smi_error.NotWritableError: 17,
    smi_error.InconsistentNameError: 18,
}
GEN_ERR = 5

# The tag each syntax is sent with (pysnmp's types: subclasses share their parent's tag).
TAG_OF_SYNTAX: dict[type, int] = {
    rfc1902.Integer: INTEGER,
    rfc1902.Integer32: INTEGER,
    rfc1902.OctetString: OCTET_STRING,
    rfc1902.Bits: OCTET_STRING,
    rfc1902.ObjectIdentifier: OBJECT_IDENTIFIER,
    rfc1902.IpAddress: IP_ADDRESS,
    rfc1902.Counter32: COUNTER32,
    rfc1902.Gauge32: GAUGE32,
    rfc1902.Unsigned32: GAUGE32,
    rfc1902.TimeTicks: TIMETICKS,
    rfc1902.Opaque: OPAQUE,
    rfc1902.Counter64: COUNTER64,
}
# What a SET's value is decoded into for the table's checks (which compare pysnmp tags).
SYNTAX_OF_TAG: dict[int, type] = {
    INTEGER: rfc1902.Integer32,
    OCTET_STRING: rfc1902.OctetString,
    OBJECT_IDENTIFIER: rfc1902.ObjectIdentifier,
    IP_ADDRESS: rfc1902.IpAddress,
    COUNTER32: rfc1902.Counter32,
    GAUGE32: rfc1902.Gauge32,
    TIMETICKS: rfc1902.TimeTicks,
    OPAQUE: rfc1902.Opaque,
    COUNTER64: rfc1902.Counter64,
}

# A GETBULK answer carries at most this many varbinds (as simulators.snmp.agent's responder).
MAX_BULK_VARBINDS = 128
MAX_DATAGRAM = 65507


class Declined(Exception):
    """Not a request this path answers: pysnmp's engine gets it."""


# --- BER -------------------------------------------------------------------------------------


def _read(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The TLV at ``pos``: (tag, content start, content end)."""
    if pos + 2 > end:
        raise Declined("truncated")
    tag, length = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise Declined("multi-byte tag")
    pos += 2
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4 or pos + size > end:
            raise Declined("bad length")
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    if pos + length > end:
        raise Declined("truncated")
    return tag, pos, pos + length


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    found, start, stop = _read(data, pos, end)
    if found != tag:
        raise Declined(f"tag {found:#x} where {tag:#x} belongs")
    return start, stop


def _integer(data: bytes, start: int, stop: int) -> int:
    if stop == start:
        raise Declined("empty INTEGER")
    return int.from_bytes(data[start:stop], "big", signed=True)


def _oid(data: bytes, start: int, stop: int) -> Oid:
    if stop == start:
        raise Declined("empty OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in data[start:stop]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if data[stop - 1] & 0x80:
        raise Declined("unterminated sub-identifier")
    first = arcs[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return head + tuple(arcs[1:])


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    size = (n.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + n.to_bytes(size, "big")


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _signed(value: int) -> bytes:
    return value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)


def _unsigned(value: int) -> bytes:
    # A leading zero octet keeps a value with its top bit set positive.
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def encode_oid(oid: Oid) -> bytes:
    arcs = (oid[0] * 40 + oid[1], *oid[2:]) if len(oid) > 1 else (oid[0] * 40,)
    content = bytearray()
    for arc in arcs:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        content.extend(reversed(chunk))
    return _tlv(OBJECT_IDENTIFIER, bytes(content))


def encode_value(syntax: type, raw) -> bytes:
    """``raw`` (what a ManagedObject's getter returns) as ``syntax`` on the wire."""
    tag = _tag_of(syntax)
    if tag == INTEGER:
        return _tlv(INTEGER, _signed(int(raw)))
    if tag in (COUNTER32, GAUGE32, TIMETICKS, COUNTER64):
        return _tlv(tag, _unsigned(int(raw)))
    if tag == OBJECT_IDENTIFIER:
        return encode_oid(tuple(rfc1902.ObjectIdentifier(raw)))
    # OCTET STRING and its kin: pysnmp's own conversion, so text encodes as it does there.
    return _tlv(tag, bytes(syntax(raw)))


def _tag_of(syntax: type) -> int:
    for cls in syntax.__mro__:
        if cls in TAG_OF_SYNTAX:
            return TAG_OF_SYNTAX[cls]
    raise Declined(f"no tag known for {syntax.__name__}")


def _decode_value(tag: int, data: bytes, start: int, stop: int):
    """A SET's value as the pysnmp object the table checks; None for a tag with no syntax."""
    syntax = SYNTAX_OF_TAG.get(tag)
    if syntax is None:
        return None
    if tag == INTEGER:
        return syntax(_integer(data, start, stop))
    if tag in (COUNTER32, GAUGE32, TIMETICKS, COUNTER64):
        return syntax(int.from_bytes(data[start:stop], "big"))
    if tag == OBJECT_IDENTIFIER:
        return syntax(_oid(data, start, stop))
    return syntax(bytes(data[start:stop]))


# --- requests and responses ------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    community: bytes
    pdu_type: int
    request_id: bytes  # the request-id TLV as sent: echoed as it is
    second: int  # error-status (non-repeaters for GETBULK)
    third: int  # error-index (max-repetitions for GETBULK)
    names: list[Oid]
    # For a SET: each varbind's value (tag, content start, content end) in ``data``.
    values: list[tuple[int, int, int]]
    binds: list[tuple[int, int]]  # each varbind's bytes in ``data``: echoed after an error
    data: bytes


def decode_request(data: bytes) -> Request:
    """An SNMPv2c request message; Declined for anything else."""
    end = len(data)
    start, stop = _expect(data, 0, end, SEQUENCE)
    if stop != end:
        raise Declined("trailing bytes")
    pos_start, pos_end = _expect(data, start, stop, INTEGER)
    if _integer(data, pos_start, pos_end) != VERSION_2C:
        raise Declined("not SNMPv2c")
    community_start, community_end = _expect(data, pos_end, stop, OCTET_STRING)
    pdu_type, pdu_start, pdu_end = _read(data, community_end, stop)
    if pdu_type not in (GET, GETNEXT, SET, GETBULK) or pdu_end != stop:
        raise Declined(f"PDU type {pdu_type:#x}")
    id_start, id_end = _expect(data, pdu_start, pdu_end, INTEGER)
    request_id_tlv = data[pdu_start:id_end]
    _integer(data, id_start, id_end)
    second_start, second_end = _expect(data, id_end, pdu_end, INTEGER)
    third_start, third_end = _expect(data, second_end, pdu_end, INTEGER)
    list_start, list_end = _expect(data, third_end, pdu_end, SEQUENCE)
    if list_end != pdu_end:
        raise Declined("trailing bytes in the PDU")
    names: list[Oid] = []
    values: list[tuple[int, int, int]] = []
    binds: list[tuple[int, int]] = []
    pos = list_start
    while pos < list_end:
        bind_start, bind_end = _expect(data, pos, list_end, SEQUENCE)
        name_start, name_end = _expect(data, bind_start, bind_end, OBJECT_IDENTIFIER)
        value = _read(data, name_end, bind_end)
        if value[2] != bind_end:
            raise Declined("trailing bytes in a varbind")
        names.append(_oid(data, name_start, name_end))
        values.append(value)
        binds.append((pos, bind_end))
        pos = bind_end
    return Request(
        community=bytes(data[community_start:community_end]),
        pdu_type=pdu_type,
        request_id=bytes(request_id_tlv),
        second=_integer(data, second_start, second_end),
        third=_integer(data, third_start, third_end),
        names=names,
        values=values,
        binds=binds,
        data=data,
    )


def encode_response(
    request: Request, varbinds: list[bytes], error_status: int = 0, error_index: int = 0
) -> bytes:
    pdu = _tlv(
        RESPONSE,
        request.request_id
        + _tlv(INTEGER, _signed(error_status))
        + _tlv(INTEGER, _signed(error_index))
        + _tlv(SEQUENCE, b"".join(varbinds)),
    )
    return _tlv(
        SEQUENCE,
        _tlv(INTEGER, _signed(VERSION_2C)) + _tlv(OCTET_STRING, request.community) + pdu,
    )


# --- the responder ---------------------------------------------------------------------------


class WireResponder:
    """Answers one PDU's SNMPv2c requests from its object table.

    ``access_for(community)`` says "write", "read" or None (not this PDU's: declined, so the
    engine drops it as a real agent would); ``read_view()`` gives the OID prefixes the fleet's
    VACM lets be read (the system group and the fleet's vendor subtrees) and ``write_view()``
    those a write credential may set; ``one_instant`` makes one request read one instant of
    the PDU's model."""

    def __init__(
        self,
        table: ObjectTable,
        *,
        access_for: Callable[[str], str | None],
        read_view: Callable[[], tuple[Oid, ...]],
        write_view: Callable[[], tuple[Oid, ...]],
        one_instant: Callable,
    ) -> None:
        self.table = table
        self.access_for = access_for
        self.read_view = read_view
        self.write_view = write_view
        self.one_instant = one_instant
        self._names: dict[Oid, bytes] = {}  # encoded OIDs of the table's objects
        self._readable: set[Oid] = set()  # views only widen: a readable OID stays readable
        self.answered = 0
        self.declined = 0

    def answer(self, data: bytes) -> bytes | None:
        """The response's bytes, or None to leave the request to pysnmp's engine."""
        try:
            request = decode_request(data)
            access = self.access_for(request.community.decode("latin-1"))
            if access is None:
                raise Declined("not a community of this PDU")
            with self.one_instant():
                response = self._respond(request, access)
            if len(response) > MAX_DATAGRAM:
                raise Declined("too big for a datagram")  # the engine answers tooBig
        except Declined:
            self.declined += 1
            return None
        self.answered += 1
        return response

    def _respond(self, request: Request, access: str) -> bytes:
        if request.pdu_type == GET:
            return encode_response(request, [self._get(name) for name in request.names])
        if request.pdu_type == GETNEXT:
            return encode_response(request, [self._next(name)[0] for name in request.names])
        if request.pdu_type == GETBULK:
            return encode_response(request, self._bulk(request))
        return self._set(request, access)

    # --- reads ----------------------------------------------------------------------------

    def _is_readable(self, oid: Oid) -> bool:
        if oid in self._readable:
            return True
        if _in_view(oid, self.read_view()):
            self._readable.add(oid)
            return True
        return False

    def _varbind(self, obj: ManagedObject) -> bytes:
        name = self._names.get(obj.oid)
        if name is None:
            name = self._names[obj.oid] = encode_oid(obj.oid)
        return _tlv(SEQUENCE, name + encode_value(obj.syntax, obj.get()))

    def _get(self, oid: Oid) -> bytes:
        obj = self.table.object_at(oid)
        if obj is not None and self._is_readable(oid):
            return self._varbind(obj)
        missing = NO_SUCH_INSTANCE if self.table.is_known_object(oid) else NO_SUCH_OBJECT
        return _tlv(SEQUENCE, encode_oid(oid) + bytes((missing, 0)))

    def _next(self, oid: Oid) -> tuple[bytes, Oid | None]:
        """The varbind after ``oid`` and its name (None at the end of the view)."""
        for obj in self.table.objects_after(oid):
            if self._is_readable(obj.oid):
                return self._varbind(obj), obj.oid
        return _tlv(SEQUENCE, encode_oid(oid) + bytes((END_OF_MIB_VIEW, 0))), None

    def _bulk(self, request: Request) -> list[bytes]:
        names = request.names
        n = min(max(0, request.second), len(names))
        r = len(names) - n
        m = min(max(0, request.third), MAX_BULK_VARBINDS // r) if r else 0
        if not n and not m:
            raise Declined("a GETBULK that asks for nothing")  # pysnmp's answer: genErr
        varbinds = [self._next(name)[0] for name in names[:n]]
        repeated: list[Oid] = list(names[n:])
        while m and r:
            ended = True
            for position, name in enumerate(repeated):
                varbind, found = self._next(name)
                varbinds.append(varbind)
                if found is not None:
                    repeated[position] = found
                    ended = False
            if ended:
                break
            m -= 1
        return varbinds

    # --- SET ------------------------------------------------------------------------------

    def _set(self, request: Request, access: str) -> bytes:
        var_binds = []
        for name, (tag, start, stop) in zip(request.names, request.values, strict=True):
            value = _decode_value(tag, request.data, start, stop)
            if value is None:
                raise Declined(f"a SET value of tag {tag:#x}")
            var_binds.append((rfc1902.ObjectName(name), value))
        # The response carries the request's varbinds as received, after success and after
        # an error alike (RFC 3416 4.2.5).
        echoed = [request.data[start:stop] for start, stop in request.binds]
        token = REQUEST_MAY_WRITE.set(access == "write")
        try:
            self.table.write_variables(*var_binds, acFun=self._not_in_view)
        except smi_error.SmiError as exc:
            status = ERROR_STATUS.get(type(exc), GEN_ERR)
            try:
                index = exc["idx"] + 1
            except KeyError:
                index = 1
            return encode_response(request, echoed, status, index)
        finally:
            REQUEST_MAY_WRITE.reset(token)
        return encode_response(request, echoed)

    def _not_in_view(self, view_type, var_bind, **context) -> bool:
        """The table's access check (``acFun``), answered as pysnmp's VACM answers it."""
        view = self.read_view() if view_type == "read" else self.write_view()
        return not _in_view(tuple(var_bind[0]), view)


def _in_view(oid: Oid, view: tuple[Oid, ...]) -> bool:
    return any(oid[: len(prefix)] == prefix for prefix in view)
