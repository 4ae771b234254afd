"""Simulator capacity (issue #3): one simulator process serving 200 PDUs x 24 outlets, its
memory, and the rate at which it answers a bulk walk of every outlet's state, compared in the
same run with net-snmp's snmpd serving a table of the same size.

    .venv/bin/python bench/simulator_capacity.py            # about a minute
    .venv/bin/python bench/simulator_capacity.py --help     # fleet size, rounds, concurrency...

What it does, all on loopback:

1. Writes a fleet file (200 SNMP PDUs, 24 outlets, the four profiles in turn, each PDU on its
   own 127.0.X.Y address, port 0) to a temporary directory and starts ``python -m simulators``
   on it; reads the JSON line it prints for the PDUs' addresses.
2. Starts ``snmpd -f -Lo -C -c GENERATED.conf`` on 127.0.0.1 with one ``override`` line per row:
   4,800 rows of APC's rPDU2OutletSwitchedStatusState column, indexed ``pdu.outlet`` so that
   each PDU's 24 rows are a subtree walked exactly like one simulated PDU.
3. Starts a canned responder (this file, ``--canned-responder``): a Python process that
   answers each GETBULK with a precomputed response, to show what the load generator itself
   can drive on this machine.
4. Walks, per round and side by side, every PDU's state column on each of the three targets
   with the same load generator (pre-encoded SNMPv2c GETBULK, a bounded number of walks in
   flight on one non-blocking UDP socket, each walk following the last OID of each response
   until a varbind leaves the column), and counts the column's varbinds received per second.
5. Reads the simulator's VmRSS and VmHWM from /proc after the walks, times net-snmp's own
   ``snmpbulkwalk`` on one PDU of each agent for reference, prints a table and writes it into
   docs/performance.md under "Simulator capacity (issue #3)".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import functools
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import read_json_line, stop, write_docs_section  # bench/_common.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
COMMUNITY = b"public"
MEMORY_LIMIT_MB = 512.0
SNMPD = "/usr/sbin/snmpd"
PROFILES = ("apc_rpdu2", "raritan_px", "servertech_sentry4", "eaton_epdu")

# Each profile's outlet state column, from the vendors' MIBs (not from the simulator's tables:
# a wrong OID here shows up as a walk that does not find 24 rows).
STATE_COLUMNS: dict[str, tuple[int, ...]] = {
    # PowerNet-MIB rPDU2OutletSwitchedStatusState, index outlet
    "apc_rpdu2": (1, 3, 6, 1, 4, 1, 318, 1, 1, 26, 9, 2, 3, 1, 5),
    # PDU2-MIB outletSwitchingState, index pduId.outlet
    "raritan_px": (1, 3, 6, 1, 4, 1, 13742, 6, 4, 1, 2, 1, 3),
    # Sentry4-MIB st4OutletState, index unit.cord.outlet
    "servertech_sentry4": (1, 3, 6, 1, 4, 1, 1718, 4, 1, 8, 3, 1, 1),
    # EATON-EPDU-MIB outletControlStatus, index strapping.outlet
    "eaton_epdu": (1, 3, 6, 1, 4, 1, 534, 6, 6, 7, 6, 6, 1, 2),
}
SNMPD_COLUMN = STATE_COLUMNS["apc_rpdu2"]

# BER tags
SEQUENCE, INTEGER, OCTET_STRING, OID = 0x30, 0x02, 0x04, 0x06
GET_BULK, RESPONSE = 0xA5, 0xA2
EXCEPTION_TAGS = frozenset((0x80, 0x81, 0x82))  # noSuchObject, noSuchInstance, endOfMibView
REQUEST_ID_BASE = 0x1000_0000  # request ids are always 4 bytes long, so lengths never shift


# --- BER: just enough SNMPv2c to send GETBULK and read its answer ---------------------------


def ber_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    size = (n.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + n.to_bytes(size, "big")


def ber_tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + ber_length(len(content)) + content


def ber_integer(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return ber_tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def oid_content(oid: tuple[int, ...]) -> bytes:
    out = bytearray((40 * oid[0] + oid[1],))
    for sub in oid[2:]:
        chunk = [sub & 0x7F]
        sub >>= 7
        while sub:
            chunk.append(0x80 | (sub & 0x7F))
            sub >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def decode_oid(content: bytes) -> tuple[int, ...]:
    first, *_ = content
    out, sub = [first // 40, first % 40], 0
    for byte in content[1:]:
        sub = (sub << 7) | (byte & 0x7F)
        if not byte & 0x80:
            out.append(sub)
            sub = 0
    return tuple(out)


def bulk_request(request_id: int, max_repetitions: int, oid_tlv: bytes) -> bytes:
    """An SNMPv2c GetBulkRequest (non-repeaters 0) for one OID, given as its encoded TLV."""
    before, after = _request_template(max_repetitions, len(oid_tlv))
    return b"".join((before, request_id.to_bytes(4, "big"), after, oid_tlv, b"\x05\x00"))


@functools.lru_cache(maxsize=256)
def _request_template(max_repetitions: int, oid_tlv_length: int) -> tuple[bytes, bytes]:
    """The request's bytes before its 4-byte request id, and between it and the OID: they
    depend only on max-repetitions and the OID's length, so each shape is encoded once."""
    marker = b"\x00\xff\x00\xff"
    request = _encode_bulk_request(marker, max_repetitions, b"\x06" * oid_tlv_length)
    before, after = request.split(marker)
    return before, after[: -oid_tlv_length - 2]


def _encode_bulk_request(request_id: bytes, max_repetitions: int, oid_tlv: bytes) -> bytes:
    varbinds = ber_tlv(SEQUENCE, ber_tlv(SEQUENCE, oid_tlv + b"\x05\x00"))
    pdu = ber_tlv(
        GET_BULK,
        b"\x02\x04" + request_id + b"\x02\x01\x00" + ber_integer(max_repetitions) + varbinds,
    )
    return ber_tlv(SEQUENCE, b"\x02\x01\x01" + ber_tlv(OCTET_STRING, COMMUNITY) + pdu)


def _header(buf: bytes, i: int) -> tuple[int, int, int]:
    """(tag, content length, content start) of the TLV at i."""
    n = buf[i + 1]
    if n < 0x80:
        return buf[i], n, i + 2
    k = n & 0x7F
    return buf[i], int.from_bytes(buf[i + 2 : i + 2 + k], "big"), i + 2 + k


def response_header(buf: bytes) -> tuple[int, int, int, int]:
    """(request id, error status, start, end of the varbind list) of a Response message."""
    _, _, i = _header(buf, 0)  # Message
    _, n, i = _header(buf, i)  # version
    _, n, i = _header(buf, i + n)  # community
    tag, _, i = _header(buf, i + n)  # PDU
    if tag != RESPONSE:
        raise ValueError(f"not a Response PDU: tag {tag:#x}")
    _, n, i = _header(buf, i)  # request-id
    request_id = int.from_bytes(buf[i : i + n], "big", signed=True)
    _, n, i = _header(buf, i + n)  # error-status
    error_status = int.from_bytes(buf[i : i + n], "big", signed=True)
    _, n, i = _header(buf, i + n)  # error-index
    _, n, i = _header(buf, i + n)  # varbind list
    return request_id, error_status, i, i + n


def scan_varbinds(buf: bytes, i: int, end: int, prefix: bytes) -> tuple[int, int, bytes, bool]:
    """Count the varbinds under ``prefix`` (encoded OID content) until the first one that is
    not, or carries an exception value. Returns (varbinds under prefix, varbinds in the
    response, the last OID under prefix as an encoded TLV, whether the walk has ended)."""
    counted = total = 0
    last = b""
    size = len(prefix)
    while i < end:
        if buf[i + 1] < 0x80 and buf[i + 3] < 0x80:  # short lengths: the common case
            j = i + 2
            i = j + buf[i + 1]
            oid_length, s = buf[j + 1], j + 2
        else:
            _, vb_length, j = _header(buf, i)
            i = j + vb_length
            _, oid_length, s = _header(buf, j)  # the varbind's OID
        total += 1
        e = s + oid_length
        if oid_length <= size or not buf.startswith(prefix, s, e) or buf[e] in EXCEPTION_TAGS:
            return counted, total + _count_rest(buf, i, end), last, True
        counted += 1
        last = buf[j:e]
    return counted, total, last, counted == 0


def _count_rest(buf: bytes, i: int, end: int) -> int:
    n = 0
    while i < end:
        _, length, j = _header(buf, i)
        i = j + length
        n += 1
    return n


# --- the load generator ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Walk:
    """Walk the subtree ``prefix`` of the agent at ``address``."""

    name: str
    address: tuple[str, int]
    prefix: tuple[int, ...]

    @functools.cached_property
    def prefix_content(self) -> bytes:
        return oid_content(self.prefix)

    @functools.cached_property
    def start_tlv(self) -> bytes:
        return ber_tlv(OID, self.prefix_content)


@dataclasses.dataclass
class LoadResult:
    varbinds: int = 0  # varbinds under the walked columns: the figure reported
    varbinds_sent: int = 0  # every varbind in every response (includes each walk's overshoot)
    requests: int = 0
    responses: int = 0
    retransmissions: int = 0
    walks_completed: int = 0
    walks_failed: int = 0
    elapsed_s: float = 0.0
    rows_by_walk: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.varbinds / self.elapsed_s if self.elapsed_s else 0.0


class _WalkState:
    __slots__ = ("count", "prefix", "requests", "walk")

    def __init__(self, walk: Walk) -> None:
        self.walk = walk
        self.prefix = walk.prefix_content
        self.count = 0
        self.requests = 0


class LoadGenerator(asyncio.DatagramProtocol):
    """Keeps ``concurrency`` walks in flight, one outstanding GETBULK each, on one socket.

    Walks are taken from ``walks`` in turn (so with concurrency <= len(walks) no agent gets two
    at once) until ``seconds`` have passed and at least ``min_walks`` were started, and never
    more than ``max_walks``. A request unanswered after ``timeout_s`` is resent, at most
    ``retries`` times, then its walk counts as failed.
    """

    MAX_REQUESTS_PER_WALK = 10_000

    def __init__(
        self,
        walks: list[Walk],
        *,
        max_repetitions: int,
        concurrency: int,
        seconds: float,
        min_walks: int,
        max_walks: int,
        timeout_s: float = 1.0,
        retries: int = 2,
        record_rows: bool = False,
    ) -> None:
        self.walks = walks
        self.max_repetitions = max_repetitions
        self.concurrency = concurrency
        self.seconds = seconds
        self.min_walks = min_walks
        self.max_walks = max_walks
        self.timeout_s = timeout_s
        self.retries = retries
        self.record_rows = record_rows
        self.result = LoadResult()
        self.pending: dict[int, tuple[_WalkState, bytes, float, int]] = {}
        self.launched = 0
        self._next_id = 0
        self.transport: asyncio.DatagramTransport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._t0 = 0.0

    # asyncio callbacks
    def connection_made(self, transport) -> None:
        self.transport = transport

    def error_received(self, exc) -> None:
        """ICMP port unreachable and the like: ignored, the sweeper resends lost requests."""

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            request_id, error_status, start, end = response_header(data)
        except (IndexError, ValueError):
            return
        entry = self.pending.pop(request_id, None)
        if entry is None:
            return  # a late answer to a request already resent
        state = entry[0]
        result = self.result
        result.responses += 1
        if error_status:
            self._finish(state, failed=True)
            return
        counted, total, last, ended = scan_varbinds(data, start, end, state.prefix)
        state.count += counted
        result.varbinds += counted
        result.varbinds_sent += total
        if ended:
            self._finish(state, failed=False)
        elif last == entry[1] or state.requests >= self.MAX_REQUESTS_PER_WALK:
            self._finish(state, failed=True)  # the agent is not moving forward
        else:
            self._send(state, last, 0)

    # the walk machinery
    def start(self) -> None:
        self._t0 = time.perf_counter()
        for _ in range(self.concurrency):
            if not self._launch():
                break
        self._check_done()

    def _launch(self) -> bool:
        if self.launched >= self.max_walks:
            return False
        if self.launched >= self.min_walks and time.perf_counter() - self._t0 >= self.seconds:
            return False
        walk = self.walks[self.launched % len(self.walks)]
        self.launched += 1
        self._send(_WalkState(walk), walk.start_tlv, 0)
        return True

    def _send(self, state: _WalkState, oid_tlv: bytes, attempt: int) -> None:
        request_id = REQUEST_ID_BASE + self._next_id
        self._next_id = (self._next_id + 1) % 0x6000_0000
        state.requests += 1
        self.result.requests += 1
        self.pending[request_id] = (state, oid_tlv, time.perf_counter(), attempt)
        request = bulk_request(request_id, self.max_repetitions, oid_tlv)
        self.transport.sendto(request, state.walk.address)

    def _finish(self, state: _WalkState, *, failed: bool) -> None:
        result = self.result
        if failed:
            result.walks_failed += 1
        else:
            result.walks_completed += 1
        if self.record_rows:
            result.rows_by_walk[state.walk.name] = state.count
        result.elapsed_s = time.perf_counter() - self._t0
        self._launch()
        self._check_done()

    def _check_done(self) -> None:
        if not self.pending and not self.done.done():
            self.result.elapsed_s = time.perf_counter() - self._t0
            self.done.set_result(None)

    def sweep(self) -> None:
        """Resend requests older than timeout_s; give up on a walk after ``retries``."""
        now = time.perf_counter()
        expired = [rid for rid, e in self.pending.items() if now - e[2] > self.timeout_s]
        for rid in expired:
            state, oid_tlv, _, attempt = self.pending.pop(rid)
            if attempt < self.retries:
                self.result.retransmissions += 1
                self._send(state, oid_tlv, attempt + 1)
            else:
                self._finish(state, failed=True)
        self._check_done()


async def run_load(walks: list[Walk], **options) -> LoadResult:
    loop = asyncio.get_running_loop()
    transport, generator = await loop.create_datagram_endpoint(
        lambda: LoadGenerator(walks, **options), local_addr=("127.0.0.1", 0)
    )
    hard_limit = (
        options["seconds"] + (options.get("retries", 2) + 1) * options.get("timeout_s", 1) + 60
    )
    try:
        generator.start()
        deadline = time.monotonic() + hard_limit
        while not generator.done.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"load run did not finish within {hard_limit:.0f} s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(generator.done), generator.timeout_s / 4)
            generator.sweep()
    finally:
        transport.close()
    return generator.result


def measure(walks: list[Walk], **options) -> LoadResult:
    return asyncio.run(run_load(walks, **options))


# --- the canned responder: what the load generator can drive ---------------------------------


def canned_responses(prefix: tuple[int, ...], rows: int, max_repetitions: int) -> dict:
    """For each OID a walk of ``prefix`` asks from, the response's bytes before and after its
    4-byte request id: the next ``max_repetitions`` rows, running past the column's end."""
    sequence = [prefix + (n,) for n in range(1, rows + 1)]
    sequence += [prefix[:-1] + (prefix[-1] + 1, n) for n in range(1, max_repetitions + 1)]
    responses = {}
    for position, asked in enumerate([prefix, *sequence[:rows]]):
        following = sequence[position : position + max_repetitions]
        varbinds = b"".join(
            ber_tlv(SEQUENCE, ber_tlv(OID, oid_content(oid)) + ber_integer(2)) for oid in following
        )
        marker = b"\x00\xff\x00\xff"
        pdu = ber_tlv(
            RESPONSE,
            b"\x02\x04" + marker + b"\x02\x01\x00\x02\x01\x00" + ber_tlv(SEQUENCE, varbinds),
        )
        message = ber_tlv(SEQUENCE, b"\x02\x01\x01" + ber_tlv(OCTET_STRING, COMMUNITY) + pdu)
        before, after = message.split(marker)
        responses[ber_tlv(OID, oid_content(asked))] = (before, after)
    return responses


def request_fields(buf: bytes) -> tuple[bytes, bytes]:
    """The request id's 4 content bytes and the first varbind's OID TLV of a request."""
    _, _, i = _header(buf, 0)  # Message
    _, n, i = _header(buf, i)  # version
    _, n, i = _header(buf, i + n)  # community
    _, _, i = _header(buf, i + n)  # PDU
    _, n, i = _header(buf, i)  # request-id
    request_id = buf[i : i + n]
    _, n, i = _header(buf, i + n)  # non-repeaters
    _, n, i = _header(buf, i + n)  # max-repetitions
    _, _, i = _header(buf, i + n)  # varbind list
    _, _, i = _header(buf, i)  # varbind
    _, n, j = _header(buf, i)  # OID
    return request_id, buf[i : j + n]


def canned_responder(rows: int, max_repetitions: int, lifetime_s: float) -> int:
    responses = canned_responses(SNMPD_COLUMN, rows, max_repetitions)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(1.0)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    parent, deadline = os.getppid(), time.monotonic() + lifetime_s
    while time.monotonic() < deadline and os.getppid() == parent:
        for _ in range(100_000):
            try:
                data, address = sock.recvfrom(4096)
            except TimeoutError:
                break
            with contextlib.suppress(IndexError, KeyError):
                request_id, oid_tlv = request_fields(data)
                before, after = responses[oid_tlv]
                sock.sendto(before + request_id + after, address)
    return 0


# --- processes ---------------------------------------------------------------------------


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (10^6 bytes)."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    return {key: int(value) * 1024 / 1e6 for key, value in found.items()}


def write_fleet(path: Path, pdus: int, outlets: int, profiles: tuple[str, ...]) -> None:
    fleet = {
        "time_scale": 1.0,
        "defaults": {"outlets": outlets},
        "pdus": [
            {
                "name": f"BENCH-{i:04d}",
                "protocol": "snmp",
                "profile": profiles[i % len(profiles)],
                "host": f"127.0.{100 + i // 250}.{1 + i % 250}",
                "port": 0,
            }
            for i in range(pdus)
        ],
    }
    path.write_text(json.dumps(fleet, indent=1))


def write_snmpd_conf(path: Path, pdus: int, outlets: int) -> None:
    """One ``override`` per row: snmpd registers each as an instance it serves from memory."""
    column = ".".join(map(str, SNMPD_COLUMN))
    lines = ["rocommunity public 127.0.0.1"]
    lines += [
        f"override .{column}.{p}.{o} integer 2"
        for p in range(1, pdus + 1)
        for o in range(1, outlets + 1)
    ]
    path.write_text("\n".join(lines) + "\n")


def probe(
    walk: Walk, max_repetitions: int = 10, *, tries: int = 40, timeout_s: float = 0.5
) -> bytes:
    """One GETBULK of the walk's first rows with a blocking socket, retried until answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout_s)
        for attempt in range(tries):
            request = bulk_request(REQUEST_ID_BASE + attempt, max_repetitions, walk.start_tlv)
            sock.sendto(request, walk.address)
            with contextlib.suppress(TimeoutError, ConnectionRefusedError):
                return sock.recv(65535)
            time.sleep(timeout_s / 2)
    raise TimeoutError(f"{walk.name} at {walk.address} did not answer")


def cross_check(walk: Walk, max_repetitions: int) -> None:
    """Our hand-made BER must agree with pysnmp's encoder and decoder on a real answer."""
    from pyasn1.codec.ber import decoder, encoder
    from pysnmp.proto.api import v2c

    pdu = v2c.GetBulkRequestPDU()
    v2c.apiBulkPDU.set_defaults(pdu)
    v2c.apiBulkPDU.set_request_id(pdu, REQUEST_ID_BASE + 7)
    v2c.apiBulkPDU.set_non_repeaters(pdu, 0)
    v2c.apiBulkPDU.set_max_repetitions(pdu, max_repetitions)
    v2c.apiBulkPDU.set_varbinds(pdu, [(walk.prefix, v2c.null)])
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, COMMUNITY)
    v2c.apiMessage.set_pdu(message, pdu)
    ours = bulk_request(REQUEST_ID_BASE + 7, max_repetitions, walk.start_tlv)
    if encoder.encode(message) != ours:
        raise RuntimeError("our GETBULK encoding differs from pysnmp's")
    answer = probe(walk, max_repetitions)
    decoded, _ = decoder.decode(answer, asn1Spec=v2c.Message())
    varbinds = v2c.apiPDU.get_varbinds(v2c.apiMessage.get_pdu(decoded))
    in_prefix = [
        tuple(name) for name, _ in varbinds if tuple(name)[: len(walk.prefix)] == walk.prefix
    ]
    _, _, start, end = response_header(answer)
    counted, total, last, _ = scan_varbinds(answer, start, end, walk.prefix_content)
    if (counted, total) != (len(in_prefix), len(varbinds)) or (
        in_prefix and decode_oid(last[2:]) != in_prefix[-1]
    ):
        raise RuntimeError(f"our decoding of {walk.name}'s answer differs from pysnmp's")


def cli_walk(walk: Walk, max_repetitions: int, runs: int) -> tuple[int, float]:
    """net-snmp's snmpbulkwalk of the walk's subtree: (rows, median seconds per walk)."""
    host, port = walk.address
    oid = "." + ".".join(map(str, walk.prefix))
    command = ["snmpbulkwalk", "-v2c", "-c", "public", f"-Cr{max_repetitions}", "-On", "-Oq"]
    command += ["-t", "2", "-r", "1", f"{host}:{port}", oid]
    times, rows = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        times.append(time.perf_counter() - t0)
        rows = len(out.stdout.splitlines())
    return rows, statistics.median(times)


# --- report -------------------------------------------------------------------------------

DOCS_HEADING = "## Simulator capacity (issue #3)"


@dataclasses.dataclass
class Report:
    command: str
    pdus: int
    outlets: int
    profiles: tuple[str, ...]
    concurrency: int
    rounds: int
    seconds: float
    startup_s: float
    start_memory: dict[str, float]
    memory: dict[str, float]
    snmpd_memory: dict[str, float]
    # (max-repetitions, target) -> per-round varbinds/s and responses/s
    rates: dict[tuple[int, str], list[float]]
    responses: dict[tuple[int, str], list[float]]
    cli_max_repetitions: int
    cli_runs: int
    cli: dict[str, tuple[int, float]]
    notes: list[str]
    date: str = dataclasses.field(default_factory=lambda: datetime.date.today().isoformat())

    @property
    def passed(self) -> bool:
        return self.memory["VmHWM"] < MEMORY_LIMIT_MB

    def median(self, max_repetitions: int, target: str, of: str = "rates") -> float:
        return statistics.median(getattr(self, of)[max_repetitions, target])

    def markdown(self) -> str:
        fleet = f"{self.pdus} x {self.outlets}"
        rows = self.pdus * self.outlets
        profiles = (
            f"all {self.profiles[0]}"
            if len(self.profiles) == 1
            else ", ".join(self.profiles) + " in turn"
        )
        rss, hwm = self.memory["VmRSS"], self.memory["VmHWM"]
        lines = [
            f"Measured {self.date} with `{self.command}`.",
            "",
            "| fleet | max-repetitions | simulator RSS / peak (MB) | simulator varbinds/s "
            "| snmpd varbinds/s | simulator / snmpd | load generator ceiling |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for mr in sorted({mr for mr, _ in self.rates}):
            sim, snmpd = self.median(mr, "simulator"), self.median(mr, "snmpd")
            lines.append(
                f"| {fleet} | {mr} | {rss:.0f} / {hwm:.0f} "
                f"({'PASS' if self.passed else 'FAIL'} < 512) | {self._rate(mr, 'simulator')} "
                f"| {self._rate(mr, 'snmpd')} | {sim / snmpd:.3f} | {self._rate(mr, 'canned')} |"
            )
        lines += [
            "",
            f"- Fleet: one `python -m simulators` process, {self.pdus} SNMP PDUs x "
            f"{self.outlets} outlets ({profiles}), each on its own 127.0.X.Y address. "
            f"It started in {self.startup_s:.1f} s at {self.start_memory['VmRSS']:.0f} MB "
            "resident; RSS / peak are VmRSS / VmHWM from /proc after all the walks "
            "(MB = 10^6 bytes).",
            f"- snmpd (net-snmp, `-f -C`, serving from memory): {rows:,} `override` rows of "
            "rPDU2OutletSwitchedStatusState indexed pdu.outlet, so each PDU's rows are one "
            f"subtree; {self.snmpd_memory['VmRSS']:.0f} MB resident.",
            f"- Load: SNMPv2c GETBULK pre-encoded by the benchmark, {self.concurrency} walks in "
            "flight on one asyncio UDP socket, each walk one PDU's outlet-state column from its "
            "start to the first varbind past its end; varbinds/s counts the column's varbinds "
            f"received. {self.rounds} rounds of at least {self.seconds:g} s per agent, "
            "interleaved; medians, with (min-max) over rounds. The load generator ceiling is the "
            "same load against a Python process answering with canned responses.",
            "- Requests answered per second (medians): "
            + "; ".join(
                f"max-repetitions {mr}: simulator {self.median(mr, 'simulator', 'responses'):,.0f}"
                f", snmpd {self.median(mr, 'snmpd', 'responses'):,.0f}"
                for mr in sorted({mr for mr, _ in self.responses})
            )
            + ".",
            f"- net-snmp's `snmpbulkwalk -v2c -Cr{self.cli_max_repetitions}` CLI, process "
            f"start-up included, median of {self.cli_runs} runs: "
            + "; ".join(
                f"{name}: {n:,} rows in {seconds * 1000:.1f} ms ({n / seconds:,.0f} varbinds/s)"
                for name, (n, seconds) in self.cli.items()
            )
            + ".",
        ]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def _rate(self, max_repetitions: int, target: str) -> str:
        values = self.rates[max_repetitions, target]
        return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdus", type=int, default=200)
    parser.add_argument("--outlets", type=int, default=24)
    parser.add_argument(
        "--profile",
        choices=(*PROFILES, "mixed"),
        default="mixed",
        help="one profile for every PDU, or the four in turn (default)",
    )
    parser.add_argument(
        "--max-repetitions",
        default="10,25",
        help="GETBULK max-repetitions, comma-separated: 10 is snmpbulkwalk's default; "
        "outlets + 1 reads a PDU's column in one request (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=50, help="walks in flight (default: %(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="(default: %(default)s)")
    parser.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="minimum length of one round on one agent (default: %(default)s)",
    )
    parser.add_argument("--cli-runs", type=int, default=5, help="(default: %(default)s)")
    parser.add_argument(
        "--docs",
        type=Path,
        default=ROOT / "docs" / "performance.md",
        help="Markdown file to write the results into (default: %(default)s)",
    )
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--canned-responder", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=900, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        args.max_repetitions = [int(x) for x in str(args.max_repetitions).split(",")]
    except ValueError:
        parser.error("--max-repetitions takes integers separated by commas")
    if not all(1 <= mr <= 128 for mr in args.max_repetitions):
        parser.error("--max-repetitions must be between 1 and 128")
    if not 1 <= args.concurrency <= args.pdus:
        parser.error("--concurrency must be between 1 and --pdus (one walk per agent at a time)")
    if not 1 <= args.pdus <= 250 * 100 or args.outlets < 1 or args.rounds < 1:
        parser.error("--pdus, --outlets and --rounds must be positive (--pdus at most 25,000)")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.canned_responder:
        return canned_responder(args.outlets, args.max_repetitions[0], args.lifetime)
    if not Path(SNMPD).exists() or shutil.which("snmpbulkwalk") is None:
        print(f"error: needs {SNMPD} and snmpbulkwalk (net-snmp)", file=sys.stderr)
        return 2
    processes: dict[str, subprocess.Popen] = {}
    # A SIGTERM to the benchmark unwinds through the finally below, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="simulator-capacity-") as tmp:
        try:
            report = run(args, Path(tmp), processes)
        finally:
            for process in processes.values():
                stop(process)
    body = report.markdown()
    print()
    print(body)
    if not args.no_docs:
        write_docs_section(args.docs, DOCS_HEADING, body)
        print(f"written to {args.docs} under {DOCS_HEADING!r}")
    print(
        f"{'PASS' if report.passed else 'FAIL'}: simulator peak resident memory "
        f"{report.memory['VmHWM']:.0f} MB for {args.pdus} PDUs x {args.outlets} outlets "
        f"(limit {MEMORY_LIMIT_MB:.0f} MB)"
    )
    return 0 if report.passed else 1


def start_simulator(args, tmp: Path, processes: dict) -> tuple[list[Walk], float]:
    """Start the fleet; its walks (one per PDU) and how long it took to start."""
    profiles = PROFILES if args.profile == "mixed" else (args.profile,)
    fleet_file = tmp / "fleet.json"
    write_fleet(fleet_file, args.pdus, args.outlets, profiles)
    python = ROOT / ".venv" / "bin" / "python"
    t0 = time.perf_counter()
    processes["simulator"] = subprocess.Popen(
        [str(python) if python.exists() else sys.executable, "-m", "simulators", str(fleet_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=(tmp / "simulator.err").open("w"),
        text=True,
    )
    described = read_json_line(processes["simulator"], timeout_s=120)
    startup_s = time.perf_counter() - t0
    walks = [
        Walk(pdu["name"], (pdu["host"], pdu["port"]), STATE_COLUMNS[pdu["profile"]])
        for pdu in described["pdus"]
    ]
    return walks, startup_s


def start_snmpd(args, tmp: Path, processes: dict) -> list[Walk]:
    conf = tmp / "snmpd.conf"
    write_snmpd_conf(conf, args.pdus, args.outlets)
    port = free_udp_port()
    processes["snmpd"] = subprocess.Popen(
        [SNMPD, "-f", "-Lo", "-C", "-c", str(conf), f"udp:127.0.0.1:{port}"],
        stdout=(tmp / "snmpd.log").open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "SNMP_PERSISTENT_DIR": str(tmp / "snmpd-state"), "MIBS": ""},
    )
    return [
        Walk(f"snmpd-{p}", ("127.0.0.1", port), SNMPD_COLUMN + (p,))
        for p in range(1, args.pdus + 1)
    ]


def start_canned(args, max_repetitions: int, processes: dict) -> list[Walk]:
    name = f"canned-{max_repetitions}"
    processes[name] = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--canned-responder",
            f"--outlets={args.outlets}",
            f"--max-repetitions={max_repetitions}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = read_json_line(processes[name], timeout_s=30)["port"]
    return [Walk(f"{name}-{p}", ("127.0.0.1", port), SNMPD_COLUMN) for p in range(args.pdus)]


def check_rows(name: str, walks: list[Walk], args, max_repetitions: int) -> None:
    """One pass over every walk must find exactly ``outlets`` rows in each."""
    check = measure(
        walks,
        max_repetitions=max_repetitions,
        concurrency=args.concurrency,
        seconds=0,
        min_walks=len(walks),
        max_walks=len(walks),
        record_rows=True,
    )
    wrong = {w: n for w, n in check.rows_by_walk.items() if n != args.outlets}
    if check.walks_failed or wrong or len(check.rows_by_walk) != len(walks):
        raise RuntimeError(
            f"{name}: {check.walks_failed} walks failed; walks without {args.outlets} rows: "
            f"{dict(list(wrong.items())[:5])}"
        )
    print(
        f"checked {name}, max-repetitions {max_repetitions}: {len(walks)} walks x "
        f"{args.outlets} rows = {check.varbinds:,} varbinds",
        flush=True,
    )


def run(args, tmp: Path, processes: dict) -> Report:
    simulator_walks, startup_s = start_simulator(args, tmp, processes)
    start_memory = memory_mb(processes["simulator"].pid)
    snmpd_walks = start_snmpd(args, tmp, processes)
    canned = {mr: start_canned(args, mr, processes) for mr in args.max_repetitions}

    for mr in args.max_repetitions:
        for name, walks in (("simulator", simulator_walks), ("snmpd", snmpd_walks)):
            cross_check(walks[0], mr)
            check_rows(name, walks, args, mr)
        cross_check(canned[mr][0], mr)
        check_rows("canned", canned[mr], args, mr)

    # Rounds, interleaved so that every agent sees the same machine noise.
    rates: dict[tuple[int, str], list[float]] = {}
    responses: dict[tuple[int, str], list[float]] = {}
    notes = []
    for round_number in range(1, args.rounds + 1):
        for mr in args.max_repetitions:
            targets = {"simulator": simulator_walks, "snmpd": snmpd_walks, "canned": canned[mr]}
            for name, walks in targets.items():
                result = measure(
                    walks,
                    max_repetitions=mr,
                    concurrency=args.concurrency,
                    seconds=args.seconds,
                    min_walks=len(walks),
                    max_walks=len(walks) * 10_000,
                )
                rates.setdefault((mr, name), []).append(result.rate)
                responses.setdefault((mr, name), []).append(result.responses / result.elapsed_s)
                if result.walks_failed or result.retransmissions:
                    notes.append(
                        f"Round {round_number}, {name}, max-repetitions {mr}: "
                        f"{result.walks_failed} walks failed, {result.retransmissions} "
                        "requests resent."
                    )
                print(
                    f"round {round_number} mr {mr:3d} {name:9s} {result.rate:10,.0f} varbinds/s"
                    f" {result.walks_completed / len(walks):6.1f} passes in "
                    f"{result.elapsed_s:.2f} s ({result.responses:,} responses, "
                    f"{result.walks_failed} walks failed)",
                    flush=True,
                )

    memory = memory_mb(processes["simulator"].pid)
    snmpd_memory = memory_mb(processes["snmpd"].pid)
    cli_mr = args.max_repetitions[0]
    first = simulator_walks[0]
    profile = PROFILES[0] if args.profile == "mixed" else args.profile
    cli = {
        f"simulator, one PDU ({profile})": cli_walk(first, cli_mr, args.cli_runs),
        "snmpd, one PDU's subtree": cli_walk(snmpd_walks[0], cli_mr, args.cli_runs),
        "snmpd, the whole column": cli_walk(
            Walk("snmpd-column", snmpd_walks[0].address, SNMPD_COLUMN), cli_mr, args.cli_runs
        ),
    }
    for mr in args.max_repetitions:
        ceiling = statistics.median(rates[mr, "canned"])
        if ceiling < 1.5 * statistics.median(rates[mr, "snmpd"]):
            notes.append(
                f"With max-repetitions {mr}, snmpd's rate is within 1.5x of the load "
                "generator's ceiling (both share this machine's 2 cores): read it as a lower "
                "bound for snmpd, and the simulator / snmpd ratio as an upper bound."
            )
    return Report(
        command=" ".join([".venv/bin/python bench/simulator_capacity.py", *args.argv]),
        pdus=args.pdus,
        outlets=args.outlets,
        profiles=PROFILES if args.profile == "mixed" else (args.profile,),
        concurrency=args.concurrency,
        rounds=args.rounds,
        seconds=args.seconds,
        startup_s=startup_s,
        start_memory=start_memory,
        memory=memory,
        snmpd_memory=snmpd_memory,
        rates=rates,
        responses=responses,
        cli_max_repetitions=cli_mr,
        cli_runs=args.cli_runs,
        cli=cli,
        notes=notes,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
