"""A fleet of simulated PDUs in one process, described by a YAML or JSON file.

    time_scale: 1.0            # device seconds per real second (tests use 50-1000)
    control: {host: 127.0.0.1, port: 8765}   # the HTTP/JSON control endpoint (port 0: any)
    defaults: {outlets: 24, loads_w: 150, relay_delay_s: 0.5, reboot_off_s: 5}
    pdus:
      - name: R01-PDU-A
        protocol: snmp          # or modbus
        profile: apc_rpdu2      # see simulators.snmp.profiles / simulators.modbus.profiles
        host: 127.0.10.1
        port: 161               # 0: any free port
        snmp: {read_communities: [public], write_communities: [private],
               v3_users: [{name: ops, auth: sha, auth_key: ..., priv: aes128, priv_key: ...,
                           write: true}]}
      - name: METER-1
        protocol: modbus
        profile: sdm630_meter
        modbus: {unit_id: 1}

``Fleet`` is the Python control interface (ground truth, faults, switching behind the
management interface); ``simulators.control`` serves the same over HTTP for the demo.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from simulators.model import Clock, SimulatedPdu
from simulators.snmp.agent import SnmpAgentServer, SnmpCredentials, V3User
from simulators.snmp.profiles import PROFILES as SNMP_PROFILES

PDU_KEYS = {
    "name",
    "protocol",
    "profile",
    "host",
    "port",
    "outlets",
    "loads_w",
    "phases",
    "nominal_voltage",
    "power_factor",
    "relay_delay_s",
    "reboot_off_s",
    "initially_on",
    "snmp",
    "modbus",
    "seed",
}
TOP_KEYS = {"time_scale", "control", "defaults", "pdus"}


class FleetError(ValueError):
    """The fleet description is invalid; the message names the PDU and the key."""


def modbus_profiles() -> dict:
    from simulators.modbus.profiles import PROFILES as MODBUS_PROFILES

    return MODBUS_PROFILES


@dataclass(frozen=True)
class PduSpec:
    name: str
    protocol: str
    profile: str
    host: str = "127.0.0.1"
    port: int = 0
    outlets: int = 24
    loads_w: float | list[float] = 150.0
    phases: int = 1
    nominal_voltage: float = 230.0
    power_factor: float = 0.95
    relay_delay_s: float = 0.5
    reboot_off_s: float = 5.0
    initially_on: bool = True
    seed: int | None = None
    snmp: SnmpCredentials = field(default_factory=SnmpCredentials)
    modbus_unit_id: int = 1

    @classmethod
    def parse(cls, raw: dict, defaults: dict) -> PduSpec:
        merged = {**defaults, **raw}
        name = merged.get("name")
        if not name:
            raise FleetError("every PDU needs a name")
        unknown = set(merged) - PDU_KEYS
        if unknown:
            raise FleetError(f"PDU {name!r}: unknown keys {sorted(unknown)}")
        protocol = merged.get("protocol", "snmp")
        profile = merged.get("profile")
        # The protocol is checked first: any value but "snmp" would otherwise import the
        # Modbus profiles and could fail there instead of naming the bad protocol.
        if protocol not in ("snmp", "modbus"):
            raise FleetError(f"PDU {name!r}: protocol must be snmp or modbus, not {protocol!r}")
        known = SNMP_PROFILES if protocol == "snmp" else modbus_profiles()
        if profile not in known:
            raise FleetError(
                f"PDU {name!r}: unknown {protocol} profile {profile!r}; one of {sorted(known)}"
            )
        if protocol == "modbus":
            needed = modbus_profiles()[profile].phases
            if needed is not None and int(merged.get("phases", 1)) != needed:
                raise FleetError(f"PDU {name!r}: profile {profile!r} needs phases: {needed}")
        snmp = merged.pop("snmp", None) or {}
        modbus = merged.pop("modbus", None) or {}
        try:
            credentials = SnmpCredentials(
                read_communities=tuple(snmp.get("read_communities", ("public",))),
                write_communities=tuple(snmp.get("write_communities", ("private",))),
                v3_users=tuple(V3User(**user) for user in snmp.get("v3_users", ())),
            )
            fields = {k: v for k, v in merged.items() if k not in ("snmp", "modbus")}
            # The protocol defaults to snmp above; pass it on, or a PDU that leaves it out
            # fails with "missing 1 required positional argument: 'protocol'".
            fields["protocol"] = protocol
            return cls(**fields, snmp=credentials, modbus_unit_id=int(modbus.get("unit_id", 1)))
        except (TypeError, ValueError) as exc:
            raise FleetError(f"PDU {name!r}: {exc}") from exc


@dataclass(frozen=True)
class FleetSpec:
    pdus: list[PduSpec]
    time_scale: float = 1.0
    control_host: str | None = None
    control_port: int = 0

    @classmethod
    def parse(cls, raw: dict) -> FleetSpec:
        if not isinstance(raw, dict):
            raise FleetError("a fleet description is a mapping with a 'pdus' list")
        unknown = set(raw) - TOP_KEYS
        if unknown:
            raise FleetError(f"unknown top-level keys {sorted(unknown)}")
        defaults = raw.get("defaults") or {}
        pdus = [PduSpec.parse(item, defaults) for item in raw.get("pdus") or []]
        names = [p.name for p in pdus]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise FleetError(f"duplicate PDU names: {sorted(duplicates)}")
        control = raw.get("control")
        time_scale = raw.get("time_scale", 1.0)
        # Checked here so that a bad value is a FleetError naming the key (the CLI's exit 2),
        # not a bare ValueError from float() or from Clock() when the fleet starts.
        if (
            isinstance(time_scale, bool)
            or not isinstance(time_scale, int | float)
            or time_scale <= 0
        ):
            raise FleetError(f"time_scale must be a positive number, not {time_scale!r}")
        return cls(
            pdus=pdus,
            time_scale=float(time_scale),
            control_host=(control or {}).get("host", "127.0.0.1") if control else None,
            control_port=int((control or {}).get("port", 0)),
        )

    @classmethod
    def load(cls, path: str | Path) -> FleetSpec:
        text = Path(path).read_text()
        # A file that does not parse is an invalid description too (the CLI answers FleetError
        # with exit code 2; a bare YAMLError/JSONDecodeError escaped as a traceback).
        is_json = str(path).endswith(".json")
        try:
            raw = json.loads(text) if is_json else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise FleetError(f"{path} is not valid {'JSON' if is_json else 'YAML'}: {exc}") from exc
        return cls.parse(raw)


@dataclass
class RunningPdu:
    spec: PduSpec
    model: SimulatedPdu
    host: str
    port: int

    def describe(self) -> dict:
        return {
            "name": self.spec.name,
            "protocol": self.spec.protocol,
            "profile": self.spec.profile,
            "host": self.host,
            "port": self.port,
            "outlets": self.spec.outlets,
        }


class Fleet:
    """Runs every PDU of a FleetSpec inside the current asyncio loop."""

    def __init__(self, spec: FleetSpec) -> None:
        self.spec = spec
        self.clock = Clock(spec.time_scale)
        self.pdus: dict[str, RunningPdu] = {}
        self._snmp: SnmpAgentServer | None = None
        self._modbus_servers: list = []
        self.control = None  # simulators.control.ControlServer when configured

    async def start(self) -> None:
        for spec in self.spec.pdus:
            model = SimulatedPdu(
                name=spec.name,
                clock=self.clock,
                outlet_count=spec.outlets,
                loads_w=spec.loads_w,
                nominal_voltage=spec.nominal_voltage,
                phases=spec.phases,
                power_factor=spec.power_factor,
                relay_delay_s=spec.relay_delay_s,
                reboot_off_s=spec.reboot_off_s,
                initially_on=spec.initially_on,
                seed=spec.seed,
            )
            if spec.protocol == "snmp":
                if self._snmp is None:
                    self._snmp = SnmpAgentServer()
                agent = await self._snmp.add(
                    model, spec.profile, host=spec.host, port=spec.port, credentials=spec.snmp
                )
                port = agent.port
            else:
                from simulators.modbus.server import ModbusPduServer

                server = ModbusPduServer(
                    model,
                    spec.profile,
                    host=spec.host,
                    port=spec.port,
                    unit_id=spec.modbus_unit_id,
                )
                await server.start()
                self._modbus_servers.append(server)
                port = server.port
            self.pdus[spec.name] = RunningPdu(spec=spec, model=model, host=spec.host, port=port)
        if self.spec.control_host is not None:
            from simulators.control import ControlServer

            self.control = ControlServer(self, self.spec.control_host, self.spec.control_port)
            await self.control.start()

    async def stop(self) -> None:
        if self.control is not None:
            await self.control.stop()
        for server in self._modbus_servers:
            await server.stop()
        if self._snmp is not None:
            self._snmp.close()

    # --- control interface (thread-safe: the models lock themselves) --------------------

    def pdu(self, name: str) -> SimulatedPdu:
        return self._running(name).model

    def address(self, name: str) -> tuple[str, int]:
        running = self._running(name)
        return running.host, running.port

    def describe(self) -> list[dict]:
        return [running.describe() for running in self.pdus.values()]

    def ground_truth(self, name: str) -> dict:
        return {**self._running(name).describe(), **self.pdu(name).ground_truth()}

    def inject(self, name: str, **faults) -> None:
        """Faults: latency_s, drop_fraction, unresponsive, reject_commands, stuck_outlets,
        reject_outlets (see simulators.model.Faults)."""
        self.pdu(name).set_faults(**faults)

    def clear(self, name: str) -> None:
        self.pdu(name).clear_faults()

    def switch(self, name: str, outlet: int, on: bool) -> None:
        """Switch at the device itself, behind dcpower's back (drift)."""
        self.pdu(name).force_relay(outlet, on)

    def set_load(self, name: str, outlet: int, watts: float) -> None:
        self.pdu(name).set_load(outlet, watts)

    def restart(self, name: str, *, keep_state: bool, down_for_s: float = 0.0) -> None:
        self.pdu(name).restart(keep_state=keep_state, down_for_s=down_for_s)

    def _running(self, name: str) -> RunningPdu:
        try:
            return self.pdus[name]
        except KeyError:
            raise KeyError(f"no simulated PDU named {name!r}") from None


@contextmanager
def fleet_in_thread(spec: FleetSpec, *, timeout_s: float = 30.0) -> Iterator[Fleet]:
    """Run a fleet in a background thread's event loop, for synchronous callers (tests, the
    demo's runner). The yielded Fleet's control methods may be called from any thread."""
    loop = asyncio.new_event_loop()
    fleet = Fleet(spec)
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(fleet.start())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            # Close what did start (sockets of the PDUs before the failing one, the engine):
            # returning without this leaked them and the loop.
            try:
                loop.run_until_complete(fleet.stop())
            finally:
                loop.close()
                started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(fleet.stop())
        loop.close()

    thread = threading.Thread(target=run, name="simulator-fleet", daemon=True)
    thread.start()
    if not started.wait(timeout_s):
        raise TimeoutError("the simulator fleet did not start in time")
    if failure:
        thread.join(timeout_s)
        raise failure[0]
    try:
        yield fleet
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
