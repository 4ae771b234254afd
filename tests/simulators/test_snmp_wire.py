"""The SNMPv2c wire path (simulators.snmp.wire) answers exactly as pysnmp's engine does.

Every vendor profile's PDU is served twice from one model on a frozen clock (so both answer
from the same instant): once by a server answering SNMPv2c at the wire, once by a server that
sends every request through pysnmp's engine. The same request bytes (encoded by pysnmp, not
by the code under test) go to both; the answers must be the same bytes. The one deliberate
differences (a failed SET's error-index, a SET's answer) are checked on their own.
"""

from __future__ import annotations

import asyncio

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api
from pysnmp.proto.api import v2c

from simulators.model import Clock, SimulatedPdu
from simulators.snmp.agent import SnmpAgentServer, SnmpCredentials
from simulators.snmp.mib import ObjectTable
from simulators.snmp.profiles import PROFILES, SYSTEM

COMMUNITIES = SnmpCredentials(read_communities=("public",), write_communities=("private",))
SYS_NAME = SYSTEM + (5, 0)
APC_OUTLET_CONTROL = (1, 3, 6, 1, 4, 1, 318, 1, 1, 26, 9, 2, 4, 1, 5)
IMMEDIATE_ON, IMMEDIATE_OFF = 1, 2
BAD_VALUE = 99999


class FrozenClock(Clock):
    """Time stands still: uptime and readings are the same for both servers."""

    def now(self) -> float:
        return 1000.0


def request(kind, names, *, community="private", values=None, request_id=4242, bulk=(0, 10)):
    """A request message encoded by pysnmp. ``kind``: "get", "next", "bulk" or "set"."""
    pdu = {
        "get": v2c.GetRequestPDU,
        "next": v2c.GetNextRequestPDU,
        "bulk": v2c.GetBulkRequestPDU,
        "set": v2c.SetRequestPDU,
    }[kind]()
    if kind == "bulk":
        v2c.apiBulkPDU.set_defaults(pdu)
        v2c.apiBulkPDU.set_non_repeaters(pdu, bulk[0])
        v2c.apiBulkPDU.set_max_repetitions(pdu, bulk[1])
    else:
        v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    values = values or [v2c.null] * len(names)
    varbinds = [(v2c.ObjectIdentifier(n), v) for n, v in zip(names, values, strict=True)]
    v2c.apiPDU.set_varbinds(pdu, varbinds)
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, community)
    v2c.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


def v1_get(names, community="public") -> bytes:
    v1 = api.PROTOCOL_MODULES[api.SNMP_VERSION_1]
    pdu = v1.GetRequestPDU()
    v1.apiPDU.set_defaults(pdu)
    v1.apiPDU.set_request_id(pdu, 7)
    v1.apiPDU.set_varbinds(pdu, [(v1.ObjectIdentifier(n), v1.null) for n in names])
    message = v1.Message()
    v1.apiMessage.set_defaults(message)
    v1.apiMessage.set_community(message, community)
    v1.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


def decoded(answer: bytes):
    """(error-status, error-index, [(name, value), ...]) of a response, decoded by pysnmp."""
    message, _ = decoder.decode(answer, asn1Spec=v2c.Message())
    pdu = v2c.apiMessage.get_pdu(message)
    return (
        int(v2c.apiPDU.get_error_status(pdu)),
        int(v2c.apiPDU.get_error_index(pdu)),
        [(tuple(n), v.prettyPrint()) for n, v in v2c.apiPDU.get_varbinds(pdu)],
    )


class Pair:
    """The same PDU behind a wire-path server and an engine-only server; ``ask`` sends one
    request to both and returns both answers (None: no answer within the timeout)."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.pdu = SimulatedPdu(
            name=f"wire-{profile}",
            clock=FrozenClock(),
            outlet_count=4,
            relay_delay_s=0,
            noise_fraction=0,
            phases=3 if profile.startswith("raritan") else 1,
        )
        self.table = ObjectTable(PROFILES[profile].objects(self.pdu))

    async def __aenter__(self):
        self.loop = asyncio.get_running_loop()
        self.wire_server = SnmpAgentServer()
        self.engine_server = SnmpAgentServer(wire_v2c=False)
        self.wire_agent = await self.wire_server.add(
            self.pdu, self.profile, credentials=COMMUNITIES
        )
        self.engine_agent = await self.engine_server.add(
            self.pdu, self.profile, credentials=COMMUNITIES
        )
        self.client, _ = await self.loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        return self

    async def __aexit__(self, *exc):
        self.client.close()
        self.wire_server.close()
        self.engine_server.close()

    @property
    def wire(self):
        return self.wire_agent.transport.wire

    async def _one(self, port: int, data: bytes, timeout: float) -> bytes | None:
        answers: asyncio.Queue[bytes] = asyncio.Queue()
        transport, _ = await self.loop.create_datagram_endpoint(
            lambda: _Collector(answers), local_addr=("127.0.0.1", 0)
        )
        try:
            transport.sendto(data, ("127.0.0.1", port))
            return await asyncio.wait_for(answers.get(), timeout)
        except TimeoutError:
            return None
        finally:
            transport.close()

    async def ask(self, data: bytes, timeout: float = 3.0) -> tuple[bytes | None, bytes | None]:
        wire = await self._one(self.wire_agent.port, data, timeout)
        engine = await self._one(self.engine_agent.port, data, timeout)
        return wire, engine


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, answers: asyncio.Queue) -> None:
        self.answers = answers

    def datagram_received(self, data, addr) -> None:
        self.answers.put_nowait(data)


def run(profile: str, scenario) -> None:
    async def main():
        async with Pair(profile) as pair:
            await scenario(pair)

    asyncio.run(main())


async def same(pair: Pair, data: bytes, *, wire_answers: bool = True) -> bytes:
    answered = pair.wire.answered
    wire, engine = await pair.ask(data)
    assert engine is not None, "the engine did not answer"
    assert wire == engine, f"wire {decoded(wire) if wire else None} != engine {decoded(engine)}"
    assert pair.wire.answered == answered + (1 if wire_answers else 0)
    return wire


def chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


SNMP_PROFILES = sorted(PROFILES)


@pytest.mark.parametrize("profile", SNMP_PROFILES)
def test_get_of_every_object_and_of_missing_ones(profile):
    async def scenario(pair: Pair):
        oids = pair.table.oids()
        for names in chunks(oids, 7):
            await same(pair, request("get", names, community="public"))
        column = oids[-1][:-1]
        await same(pair, request("get", [column + (999,), oids[-1] + (5,)]))  # noSuchInstance
        await same(pair, request("get", [(1, 3, 6, 1, 2, 1, 2, 1, 0)]))  # ifNumber: no such object
        await same(pair, request("get", [(1, 3, 6, 1, 4, 1, 99999, 1, 0), SYS_NAME]))

    run(profile, scenario)


@pytest.mark.parametrize("profile", SNMP_PROFILES)
def test_getnext_walks_every_object_to_the_end_of_the_view(profile):
    async def scenario(pair: Pair):
        name, steps = (1, 3), 0
        while steps < 2000:
            answer = await same(pair, request("next", [name]))
            _, _, [(found, value)] = decoded(answer)
            if value == "" or found == name:  # endOfMibView prints empty and keeps the name
                break
            name, steps = found, steps + 1
        assert steps == len(pair.table)
        await same(pair, request("next", [pair.table.oids()[-1], SYSTEM, (2, 99)]))

    run(profile, scenario)


@pytest.mark.parametrize("profile", SNMP_PROFILES)
@pytest.mark.parametrize(
    "bulk",
    [(0, 10), (0, 25), (1, 5), (2, 3), (0, 500), (1, 0), (3, 1)],
    ids=lambda b: f"n{b[0]}-m{b[1]}",
)
def test_getbulk(profile, bulk):
    async def scenario(pair: Pair):
        oids = pair.table.oids()
        middle = oids[len(oids) // 2]
        for names in ([SYSTEM], [SYSTEM, middle], [SYSTEM, middle, oids[-3]], [oids[-2]]):
            await same(pair, request("bulk", names, bulk=bulk))

    run(profile, scenario)


def test_a_getbulk_that_asks_for_nothing_goes_to_the_engine():
    async def scenario(pair: Pair):
        declined = pair.wire.declined
        wire, engine = await pair.ask(request("bulk", [SYSTEM], bulk=(0, 0)), 0.5)
        assert wire == engine  # pysnmp's engine gives no answer at all
        assert pair.wire.declined == declined + 1

    run("apc_rpdu2", scenario)


def _tag(syntax):
    return syntax().tagSet if syntax is not v2c.ObjectIdentifier else None


def _refused(obj, value) -> bool:
    if obj.check is None:
        return False
    try:
        obj.check(value)
    except Exception:
        return True
    return False


def writable_and_read_only(table: ObjectTable, subtree):
    objects = [table.object_at(oid) for oid in table.oids()]
    # A command column: an integer, whose values are checked where the vendor's are (Eaton's
    # commands take any delay).
    integers = [o for o in objects if o.set is not None and _tag(o.syntax) == v2c.Integer.tagSet]
    writable = next((o for o in integers if _refused(o, BAD_VALUE)), integers[0])
    read_only = next(obj for obj in objects if obj.set is None and obj.oid[:7] == subtree[:7])
    return writable, read_only


@pytest.mark.parametrize("profile", SNMP_PROFILES)
def test_refused_sets_are_answered_alike(profile):
    async def scenario(pair: Pair):
        writable, read_only = writable_and_read_only(pair.table, PROFILES[profile].subtree)
        w = writable.oid
        cases = [
            ([w], [v2c.OctetString(b"on")]),  # wrongType
            ([writable.object_oid + (999,)], [v2c.Integer(1)]),  # noCreation
            ([read_only.oid], [v2c.Integer(1)]),  # notWritable
            ([SYS_NAME], [v2c.OctetString(b"renamed")]),  # noAccess: outside the write view
            ([(1, 3, 6, 1, 4, 1, 99999, 1, 0)], [v2c.Integer(1)]),  # unknown object
            ([SYS_NAME, w], [v2c.OctetString(b"x"), v2c.OctetString(b"y")]),  # the first fails
        ]
        if _refused(writable, BAD_VALUE):
            cases += [
                ([w], [v2c.Integer(BAD_VALUE)]),  # wrongValue
                ([w, w], [v2c.Integer(BAD_VALUE), v2c.Integer(BAD_VALUE)]),
            ]
        before = pair.pdu.ground_truth()
        for names, values in cases:
            await same(pair, request("set", names, values=values))
        await same(pair, request("set", [w], values=[v2c.Integer(1)], community="public"))
        assert pair.pdu.ground_truth() == before
        assert pair.pdu.commands_received == 0

    run(profile, scenario)


def test_a_failed_sets_error_index_names_the_failing_varbind():
    """pysnmp 7 answers error-index 1 whenever varbinds follow the failing one; RFC 3416
    4.2.5 (and net-snmp) name the failing varbind. The wire path follows the RFC."""

    async def scenario(pair: Pair):
        command = APC_OUTLET_CONTROL + (1,)
        names = [command, SYS_NAME, command]
        values = [v2c.Integer(IMMEDIATE_ON), v2c.OctetString(b"x"), v2c.Integer(IMMEDIATE_ON)]
        wire, engine = await pair.ask(request("set", names, values=values))
        wire_status, wire_index, wire_binds = decoded(wire)
        engine_status, engine_index, engine_binds = decoded(engine)
        assert (wire_status, wire_binds) == (engine_status, engine_binds)
        assert wire_status == 6  # noAccess
        assert (wire_index, engine_index) == (2, 1)

    run("apc_rpdu2", scenario)


def test_a_set_switches_the_outlets_and_answers_with_the_varbinds_as_sent():
    """RFC 3416 4.2.5: the response carries the request's varbinds. pysnmp reads the objects
    back instead, so for the first SET its answer still says immediateOn (the relay moves at
    the model's next instant); the wire path answers what was set, as net-snmp does."""

    async def scenario(pair: Pair):
        command = [APC_OUTLET_CONTROL + (2,), APC_OUTLET_CONTROL + (3,)]
        for value in (IMMEDIATE_OFF, IMMEDIATE_OFF, IMMEDIATE_ON):
            answer = await pair._one(
                pair.wire_agent.port,
                request("set", command, values=[v2c.Integer(value)] * 2),
                3.0,
            )
            assert decoded(answer) == (0, 0, [(name, str(value)) for name in command])
            pair.pdu.advance()  # the model's next instant: the relays have moved
            assert pair.pdu.outlet(2).relay_on is (value == IMMEDIATE_ON)
            assert pair.pdu.outlet(3).relay_on is (value == IMMEDIATE_ON)
        assert pair.pdu.outlet(1).relay_on
        # Once the relays have settled the engine reads back the same.
        await same(pair, request("set", command, values=[v2c.Integer(IMMEDIATE_ON)] * 2))
        assert pair.wire.answered == 4

    run("apc_rpdu2", scenario)


def test_what_the_wire_path_declines_the_engine_answers_or_drops():
    async def scenario(pair: Pair):
        await same(pair, v1_get([SYS_NAME]), wire_answers=False)  # SNMPv1
        declined = pair.wire.declined
        wire, engine = await pair.ask(request("get", [SYS_NAME], community="nobody"), 0.5)
        assert wire is None and engine is None  # not this PDU's community: no answer
        wire, engine = await pair.ask(b"\x30\x03\x02\x01", 0.5)  # truncated
        assert wire is None and engine is None
        assert pair.wire.declined == declined + 2

    run("apc_rpdu2", scenario)


def test_faults_act_before_the_wire_path():
    async def scenario(pair: Pair):
        pair.pdu.set_faults(unresponsive=True)
        wire, engine = await pair.ask(request("get", [SYS_NAME]), 0.5)
        assert wire is None and engine is None
        pair.pdu.clear_faults()
        await same(pair, request("get", [SYS_NAME]))

    run("apc_rpdu2", scenario)
