"""BER encoding and decoding of SNMPv2c messages (RFC 3416, RFC 2578): exactly what the
drivers send (GET, GETBULK, SET of integers) and receive (a Response), nothing more.

Why our own (ADR 0012): pysnmp builds and parses every message through pyasn1's generic
object model, which costs about a hundred microseconds per varbind here and made a poll round
CPU-bound. This codec turns bytes into plain Python values directly. SNMPv3 (and v1) still go
through pysnmp; its encoding is the reference the tests compare this one with, byte for byte.

Values decode to what the rest of the drivers use: int for INTEGER, Counter32, Gauge32,
TimeTicks and Counter64; bytes for OCTET STRING, IpAddress and Opaque; a tuple for an OBJECT
IDENTIFIER; None for NULL; and the NO_SUCH_OBJECT, NO_SUCH_INSTANCE and END_OF_MIB_VIEW
markers for the exception values.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

Oid = tuple[int, ...]

# PDU types (context-specific, constructed).
GET, GETNEXT, RESPONSE, SET, GETBULK = 0xA0, 0xA1, 0xA2, 0xA3, 0xA5
# Universal and application types.
INTEGER, OCTET_STRING, NULL, OBJECT_IDENTIFIER, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
VERSION_2C = 1

# error-status values by number (RFC 3416 section 3).
ERROR_STATUS = (
    "noError",
    "tooBig",
    "noSuchName",
    "badValue",
    "readOnly",
    "genErr",
    "noAccess",
    "wrongType",
    "wrongLength",
    "wrongEncoding",
    "wrongValue",
    "noCreation",
    "inconsistentValue",
    "resourceUnavailable",
    "commitFailed",
    "undoFailed",
    "authorizationError",
    "notWritable",
    "inconsistentName",
)


class BerError(ValueError):
    """Bytes that are not a well-formed SNMPv2c response."""


class ExceptionValue:
    """noSuchObject, noSuchInstance or endOfMibView in place of a value."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_SUCH_OBJECT = ExceptionValue("noSuchObject")
NO_SUCH_INSTANCE = ExceptionValue("noSuchInstance")
END_OF_MIB_VIEW = ExceptionValue("endOfMibView")
EXCEPTIONS = {0x80: NO_SUCH_OBJECT, 0x81: NO_SUCH_INSTANCE, 0x82: END_OF_MIB_VIEW}
UNSIGNED = {COUNTER32, GAUGE32, TIMETICKS, COUNTER64}
OCTETS = {OCTET_STRING, IP_ADDRESS, OPAQUE}


@dataclass(frozen=True)
class Response:
    request_id: int
    error_status: int
    error_index: int
    var_binds: list[tuple[Oid, object]]

    @property
    def error_name(self) -> str:
        if 0 <= self.error_status < len(ERROR_STATUS):
            return ERROR_STATUS[self.error_status]
        return f"error-status {self.error_status}"


# --- encoding -------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _integer(value: int) -> bytes:
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return _tlv(INTEGER, value.to_bytes(size, "big", signed=True))


# A driver asks for the same few hundred OIDs (its PDUs' outlet columns) again and again.
@functools.lru_cache(maxsize=16384)
def encode_oid(oid: Oid) -> bytes:
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] >= 40):
        raise BerError(f"not an OID: {oid}")
    content = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if arc < 0:
            raise BerError(f"not an OID: {oid}")
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        content.extend(reversed(chunk))
    return _tlv(OBJECT_IDENTIFIER, bytes(content))


def encode_request(
    pdu_type: int,
    community: bytes,
    request_id: int,
    var_binds: list[tuple[Oid, int | None]],
    *,
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """A v2c GET, GETNEXT or GETBULK (values None) or SET (integer values) message."""
    bindings = b"".join(
        _tlv(SEQUENCE, encode_oid(oid) + (_tlv(NULL, b"") if value is None else _integer(value)))
        for oid, value in var_binds
    )
    if pdu_type == GETBULK:
        second, third = non_repeaters, max_repetitions
    else:
        second = third = 0
    pdu = _tlv(
        pdu_type,
        _integer(request_id) + _integer(second) + _integer(third) + _tlv(SEQUENCE, bindings),
    )
    return _tlv(SEQUENCE, _integer(VERSION_2C) + _tlv(OCTET_STRING, community) + pdu)


# --- decoding -------------------------------------------------------------------------------


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The tag at ``pos`` and its content's [start, stop) within ``end``."""
    if pos + 2 > end:
        raise BerError("truncated")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4 or pos + size > end:
            raise BerError("bad length")
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    stop = pos + length
    if stop > end:
        raise BerError("truncated")
    return tag, pos, stop


def decode_oid(content: bytes) -> Oid:
    if not content:
        raise BerError("empty OID")
    arcs = []
    value = 0
    for octet in content:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if content[-1] & 0x80:
        raise BerError("OID ends inside an arc")
    first = arcs[0]
    head = divmod(first, 40) if first < 80 else (2, first - 80)
    return (*head, *arcs[1:])


def _value(tag: int, content: bytes):
    if tag == INTEGER:
        return int.from_bytes(content, "big", signed=True)
    if tag in UNSIGNED:
        return int.from_bytes(content, "big")
    if tag in OCTETS:
        return bytes(content)
    if tag == OBJECT_IDENTIFIER:
        return decode_oid(content)
    if tag == NULL:
        return None
    if tag in EXCEPTIONS:
        return EXCEPTIONS[tag]
    raise BerError(f"unknown value type 0x{tag:02x}")


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    found, start, stop = _header(data, pos, end)
    if found != tag:
        raise BerError(f"{what}: tag 0x{found:02x}, expected 0x{tag:02x}")
    return start, stop


def _read_integer(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    start, stop = _expect(data, pos, end, INTEGER, what)
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def decode_response(data: bytes, community: bytes | None = None) -> Response:
    """A v2c Response message. ``community``, if given, must match (else BerError)."""
    start, end = _expect(data, 0, len(data), SEQUENCE, "message")
    version, pos = _read_integer(data, start, end, "version")
    if version != VERSION_2C:
        raise BerError(f"version {version}, not v2c")
    c_start, pos = _expect(data, pos, end, OCTET_STRING, "community")
    if community is not None and data[c_start:pos] != community:
        raise BerError("another community")
    p_start, p_end = _expect(data, pos, end, RESPONSE, "PDU")
    request_id, pos = _read_integer(data, p_start, p_end, "request-id")
    error_status, pos = _read_integer(data, pos, p_end, "error-status")
    error_index, pos = _read_integer(data, pos, p_end, "error-index")
    pos, list_end = _expect(data, pos, p_end, SEQUENCE, "varbind list")
    var_binds = []
    while pos < list_end:
        b_start, b_end = _expect(data, pos, list_end, SEQUENCE, "varbind")
        o_start, o_end = _expect(data, b_start, b_end, OBJECT_IDENTIFIER, "name")
        tag, v_start, v_end = _header(data, o_end, b_end)
        var_binds.append((decode_oid(data[o_start:o_end]), _value(tag, data[v_start:v_end])))
        pos = b_end
    return Response(request_id, error_status, error_index, var_binds)
