"""The SNMP front end: one pysnmp engine serving many simulated PDUs, each on its own address.

One ``SnmpEngine`` per PDU costs about 1.3 MB and 90 ms to build, too much for a fleet of
hundreds. So all PDUs share one engine, and each gets its own UDP transport (its own
127.0.0.x address or port). pysnmp's command responders are subclassed to look up, from the
transport a request arrived on, which PDU it is for; that PDU's ``ObjectTable`` answers it, and
that PDU's credentials decide whether the request is answered at all and whether it may write.

Faults act at the wire, in the PDU's transport: a dropped or unresponsive request is never
handed to the engine; latency delays it. SNMPv2c requests are then answered at the wire from
the same objects (simulators.snmp.wire, ADR 0017), many times faster than the engine; SNMPv1,
SNMPv3 and anything the wire path declines go to the engine.
"""

from __future__ import annotations

import contextvars
import socket
from dataclasses import dataclass, field

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1905
from pysnmp.proto.api import v2c
from pysnmp.smi import error as smi_error

from simulators.model import SimulatedPdu
from simulators.snmp.mib import REQUEST_MAY_WRITE, ObjectTable
from simulators.snmp.profiles import PROFILES, SYSTEM, SnmpProfile
from simulators.snmp.wire import WireResponder

# A read-only security name gets this write view: pysnmp 7 lets a user with *no* write view
# SET (its VACM returns instead of raising notInView, lextudio/pysnmp#48); with a view that
# matches nothing the SET is refused.
UNWRITABLE_SUBTREE = (1, 3, 6, 1, 4, 1, 99999, 4294967295)

AUTH_PROTOCOLS = {
    "none": config.USM_AUTH_NONE,
    "md5": config.USM_AUTH_HMAC96_MD5,
    "sha": config.USM_AUTH_HMAC96_SHA,
    "sha224": config.USM_AUTH_HMAC128_SHA224,
    "sha256": config.USM_AUTH_HMAC192_SHA256,
    "sha384": config.USM_AUTH_HMAC256_SHA384,
    "sha512": config.USM_AUTH_HMAC384_SHA512,
}
# AES-192/256 keys are extended in two incompatible ways: Blumenthal's draft (net-snmp's
# "AES192"/"AES256") and Reeder's (Cisco's, net-snmp's "AES192C"/"AES256C").
PRIV_PROTOCOLS = {
    "none": config.USM_PRIV_NONE,
    "des": config.USM_PRIV_CBC56_DES,
    "aes128": config.USM_PRIV_CFB128_AES,
    "aes192": config.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "aes256": config.USM_PRIV_CFB256_AES_BLUMENTHAL,
    "aes192c": config.USM_PRIV_CFB192_AES,
    "aes256c": config.USM_PRIV_CFB256_AES,
}

SECURITY_MODEL_V1, SECURITY_MODEL_V2C, SECURITY_MODEL_USM = 1, 2, 3


@dataclass(frozen=True)
class V3User:
    name: str
    auth: str = "sha"
    auth_key: str = ""
    priv: str = "aes128"
    priv_key: str = ""
    write: bool = False

    def __post_init__(self) -> None:
        if self.auth not in AUTH_PROTOCOLS:
            raise ValueError(
                f"unknown auth protocol {self.auth!r}; one of {sorted(AUTH_PROTOCOLS)}"
            )
        if self.priv not in PRIV_PROTOCOLS:
            raise ValueError(
                f"unknown priv protocol {self.priv!r}; one of {sorted(PRIV_PROTOCOLS)}"
            )
        if self.priv != "none" and self.auth == "none":
            raise ValueError("privacy needs authentication")
        # Without this check a user with auth/priv but no key passed the fleet file and then
        # crashed the start inside pysnmp's key localisation (ZeroDivisionError).
        if self.auth != "none" and not self.auth_key:
            raise ValueError(f"SNMPv3 user {self.name!r}: auth {self.auth!r} needs an auth_key")
        if self.priv != "none" and not self.priv_key:
            raise ValueError(f"SNMPv3 user {self.name!r}: priv {self.priv!r} needs a priv_key")

    @property
    def security_level(self) -> str:
        if self.auth == "none":
            return "noAuthNoPriv"
        return "authNoPriv" if self.priv == "none" else "authPriv"


@dataclass(frozen=True)
class SnmpCredentials:
    read_communities: tuple[str, ...] = ("public",)
    write_communities: tuple[str, ...] = ("private",)
    v3_users: tuple[V3User, ...] = ()


@dataclass
class SnmpPduAgent:
    """One simulated PDU answering SNMP at ``host:port``."""

    pdu: SimulatedPdu
    profile: SnmpProfile
    host: str
    port: int
    credentials: SnmpCredentials
    table: ObjectTable
    domain: tuple[int, ...]
    transport: udp.UdpTransport = field(repr=False)

    def access_for(self, security_model: int, security_name) -> str | None:
        """ "write", "read" or None (not a credential of this PDU: no answer)."""
        name = str(security_name)
        if security_model in (SECURITY_MODEL_V1, SECURITY_MODEL_V2C):
            community = _community_of(name)
            if community in self.credentials.write_communities:
                return "write"
            return "read" if community in self.credentials.read_communities else None
        for user in self.credentials.v3_users:
            if user.name == name:
                return "write" if user.write else "read"
        return None


_CURRENT_AGENT: contextvars.ContextVar[SnmpPduAgent] = contextvars.ContextVar("_CURRENT_AGENT")


def _security_name(community: str) -> str:
    return f"community:{community}"


def _community_of(security_name: str) -> str:
    return security_name.removeprefix("community:")


class _PduTransport(udp.UdpTransport):
    """A PDU's UDP endpoint: applies its faults before the engine sees a request."""

    def __init__(self, pdu: SimulatedPdu, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pdu = pdu
        self.wire: WireResponder | None = None  # set once the PDU's agent exists

    def datagram_received(self, datagram, transportAddress) -> None:
        if self.pdu.should_drop():
            return
        latency = self.pdu.faults.latency_s
        if latency > 0:
            self.loop.call_later(latency, self._answer, datagram, transportAddress)
        else:
            self._answer(datagram, transportAddress)

    def _answer(self, datagram, transportAddress) -> None:
        response = self.wire.answer(datagram) if self.wire is not None else None
        if response is not None:
            self.send_message(response, transportAddress)
        else:
            super().datagram_received(datagram, transportAddress)


class _AgentContext(context.SnmpContext):
    """Every request is answered from the objects of the PDU it was addressed to."""

    def get_mib_instrum(self, contextName=b""):
        return _CURRENT_AGENT.get().table


class _DispatchingResponder:
    """Mixin for pysnmp's responders: find the addressed PDU and check its credentials."""

    server: SnmpAgentServer

    def process_pdu(
        self,
        snmpEngine,
        messageProcessingModel,
        securityModel,
        securityName,
        securityLevel,
        contextEngineId,
        contextName,
        pduVersion,
        PDU,
        maxSizeResponseScopedPDU,
        stateReference,
    ):
        domain, _ = snmpEngine.message_dispatcher.get_transport_info(stateReference)
        agent = self.server.agents_by_domain.get(domain)
        access = agent.access_for(securityModel, securityName) if agent else None
        if access is None:
            return  # like a real agent asked with a credential it does not know: no answer
        agent_token = _CURRENT_AGENT.set(agent)
        write_token = REQUEST_MAY_WRITE.set(access == "write")
        try:
            with agent.pdu.one_instant():  # one request reads one instant of the model
                super().process_pdu(
                    snmpEngine,
                    messageProcessingModel,
                    securityModel,
                    securityName,
                    securityLevel,
                    contextEngineId,
                    contextName,
                    pduVersion,
                    PDU,
                    maxSizeResponseScopedPDU,
                    stateReference,
                )
        finally:
            REQUEST_MAY_WRITE.reset(write_token)
            _CURRENT_AGENT.reset(agent_token)


class _BulkResponder(cmdrsp.BulkCommandResponder):
    """GETBULK as real agents answer it: repetitions stop once every repeated varbind has
    reached endOfMibView (pysnmp's own keeps repeating endOfMibView up to max-repetitions),
    and a response carries up to ``max_varbinds`` varbinds."""

    max_varbinds = 128

    def handle_management_operation(self, snmpEngine, stateReference, contextName, PDU):
        non_repeaters = max(0, int(v2c.apiBulkPDU.get_non_repeaters(PDU)))
        max_repetitions = max(0, int(v2c.apiBulkPDU.get_max_repetitions(PDU)))
        requested = v2c.apiPDU.get_varbinds(PDU)
        n = min(non_repeaters, len(requested))
        r = max(len(requested) - n, 0)
        m = min(max_repetitions, self.max_varbinds // r) if r else 0
        read_next = self.snmpContext.get_mib_instrum(contextName).read_next_variables
        ctx = dict(snmpEngine=snmpEngine, acFun=self.verify_access, cbCtx=self.cbCtx)
        response = read_next(*requested[:n], **ctx) if n else []
        repeated = requested[n:]
        while m and r:
            repeated = read_next(*repeated, **ctx)
            response.extend(repeated)
            if all(
                value is rfc1905.endOfMibView or isinstance(value, type(rfc1905.endOfMibView))
                for _, value in repeated
            ):
                break
            m -= 1
        if not response:
            raise smi_error.SmiError()
        self.send_varbinds(snmpEngine, stateReference, 0, 0, response)
        self.release_state_information(stateReference)


class SnmpAgentServer:
    """Serves any number of simulated PDUs over SNMP v1, v2c and v3 from one engine.

    Use inside a running asyncio loop: ``await server.add(pdu, "apc_rpdu2")`` for each PDU,
    then ``server.close()`` at the end.
    """

    def __init__(self, *, wire_v2c: bool = True) -> None:
        """``wire_v2c=False`` sends every request through pysnmp's engine (the reference
        the wire path is tested against)."""
        self.wire_v2c = wire_v2c
        self.engine = engine.SnmpEngine()
        self.agents_by_domain: dict[tuple[int, ...], SnmpPduAgent] = {}
        self._subtrees: set[tuple[int, ...]] = set()
        self._communities: set[str] = set()
        # VACM group -> (access granted, vendor subtrees granted)
        self._security: dict[str, tuple[str | None, frozenset]] = {}
        self._users: dict[str, V3User] = {}
        self._next_transport = 1
        config.add_context(self.engine, b"")
        snmp_context = _AgentContext(self.engine)
        for base in (
            cmdrsp.GetCommandResponder,
            cmdrsp.NextCommandResponder,
            _BulkResponder,
            cmdrsp.SetCommandResponder,
        ):
            responder_class = type(
                f"Pdu{base.__name__}", (_DispatchingResponder, base), {"server": self}
            )
            responder_class(self.engine, snmp_context)
        self._started = False

    async def add(
        self,
        pdu: SimulatedPdu,
        profile: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: SnmpCredentials | None = None,
    ) -> SnmpPduAgent:
        if profile not in PROFILES:
            raise ValueError(f"unknown SNMP profile {profile!r}; one of {sorted(PROFILES)}")
        credentials = credentials or SnmpCredentials()
        snmp_profile = PROFILES[profile]
        self._register_security(credentials, snmp_profile)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, port))
        sock.setblocking(False)
        transport = _PduTransport(pdu).open_server_mode(sock=sock)
        domain = udp.DOMAIN_NAME + (self._next_transport,)
        self._next_transport += 1
        config.add_transport(self.engine, domain, transport)
        if not self._started:
            self.engine.transport_dispatcher.job_started(1)  # serve until closed
            self._started = True
        agent = SnmpPduAgent(
            pdu=pdu,
            profile=snmp_profile,
            host=host,
            port=sock.getsockname()[1],
            credentials=credentials,
            table=ObjectTable(snmp_profile.objects(pdu)),
            domain=domain,
            transport=transport,
        )
        if self.wire_v2c:
            transport.wire = WireResponder(
                agent.table,
                access_for=lambda community, agent=agent: agent.access_for(
                    SECURITY_MODEL_V2C, _security_name(community)
                ),
                read_view=self._read_view,
                write_view=self._write_view,
                one_instant=pdu.one_instant,
            )
        self.agents_by_domain[domain] = agent
        return agent

    # What the fleet's VACM views hold (see _grant): the wire path checks the same.
    def _read_view(self) -> tuple[tuple[int, ...], ...]:
        return (SYSTEM, *self._subtrees)

    def _write_view(self) -> tuple[tuple[int, ...], ...]:
        return tuple(self._subtrees)

    def _register_security(self, credentials: SnmpCredentials, profile: SnmpProfile) -> None:
        self._subtrees.add(profile.subtree)
        wanted = {c: "read" for c in credentials.read_communities}
        wanted.update({c: "write" for c in credentials.write_communities})
        for community, access in wanted.items():
            name = _security_name(community)
            if community not in self._communities:
                config.add_v1_system(self.engine, name, community, securityName=name)
                self._communities.add(community)
            for model in (SECURITY_MODEL_V1, SECURITY_MODEL_V2C):
                self._grant(name, model, "noAuthNoPriv", access)
        for user in credentials.v3_users:
            known_user = self._users.get(user.name)
            if known_user is not None and known_user != user:
                raise ValueError(
                    f"SNMPv3 user {user.name!r} is defined twice with different settings; "
                    "one engine serves the fleet, so a user name has one set of keys"
                )
            if known_user is None:
                config.add_v3_user(
                    self.engine,
                    user.name,
                    AUTH_PROTOCOLS[user.auth],
                    user.auth_key or None,
                    PRIV_PROTOCOLS[user.priv],
                    user.priv_key or None,
                )
                self._users[user.name] = user
            access = "write" if user.write else "read"
            self._grant(user.name, SECURITY_MODEL_USM, user.security_level, access)

    def _grant(self, security_name: str, model: int, level: str, access: str) -> None:
        """VACM: read the system group and the fleet's vendor subtrees; write the vendor
        subtrees only with a write credential. Idempotent; widens, never narrows: a community
        that may write to one PDU is told apart per PDU by SnmpPduAgent.access_for()."""
        group = f"{security_name}|{model}"
        granted_access, granted_subtrees = self._security.get(group, (None, frozenset()))
        if granted_access == "write":
            access = "write"
        if granted_access == access and granted_subtrees == self._subtrees:
            return
        read_view, write_view = f"r|{group}", f"w|{group}"
        if granted_access is None:
            config.add_vacm_group(self.engine, group, model, security_name)
            config.add_vacm_access(
                self.engine, group, b"", model, level, "exact", read_view, write_view, f"n|{group}"
            )
            config.add_vacm_view(self.engine, read_view, "included", SYSTEM, b"")
            config.add_vacm_view(self.engine, write_view, "included", UNWRITABLE_SUBTREE, b"")
        for subtree in self._subtrees - granted_subtrees:
            config.add_vacm_view(self.engine, read_view, "included", subtree, b"")
        write_subtrees = self._subtrees if access == "write" else frozenset()
        already_writable = granted_subtrees if granted_access == "write" else frozenset()
        for subtree in write_subtrees - already_writable:
            config.add_vacm_view(self.engine, write_view, "included", subtree, b"")
        self._security[group] = (access, frozenset(self._subtrees))

    def close(self) -> None:
        for agent in self.agents_by_domain.values():
            agent.transport.close_transport()
        if self._started:
            self.engine.transport_dispatcher.job_finished(1)
        self.engine.close_dispatcher()
        self.agents_by_domain.clear()
