"""The physics of a simulated PDU: relays, loads, readings, energy, timing and faults.

Protocol front ends (``simulators.snmp``, ``simulators.modbus``) translate requests into calls
on a ``SimulatedPdu`` and present its state in their vendor's objects; this module knows no
protocol. Time is *device time*: real time multiplied by the fleet's time scale, so a test can
run a 5 s reboot off period in 50 ms. State advances lazily: pending relay moves are applied,
and energy is integrated, whenever the PDU is observed.
"""

from __future__ import annotations

import collections
import enum
import math
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

NOMINAL_VOLTAGES = (230.0, 208.0, 120.0)


class Clock:
    """Device seconds since the clock started: real seconds x ``time_scale``."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._start = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._start) * self.time_scale

    def real_seconds(self, device_seconds: float) -> float:
        return device_seconds / self.time_scale


class CommandRejected(Exception):
    """The device refused the command (an injected fault): it answers with an error."""


class NoSuchOutlet(Exception):
    """The PDU has no outlet with that number."""


class Action(enum.Enum):
    ON = "on"
    OFF = "off"
    REBOOT = "reboot"  # off, the off period, on
    SHORT_ON = "short_on"  # on, the off period, off (NETIO "short on": the mirror of a reboot)


@dataclass
class Faults:
    """Faults injectable while running. PDU-wide ones live on the PDU, per-outlet ones on
    the outlet (``stuck``, ``reject``)."""

    latency_s: float = 0.0  # real seconds added before each answer
    drop_fraction: float = 0.0  # share of requests silently dropped (0..1)
    unresponsive: bool = False  # every request dropped: the client times out
    reject_commands: bool = False  # every switching command answered with an error

    def as_dict(self) -> dict:
        return {
            "latency_s": self.latency_s,
            "drop_fraction": self.drop_fraction,
            "unresponsive": self.unresponsive,
            "reject_commands": self.reject_commands,
        }


@dataclass
class _Move:
    due: float  # device time
    on: bool


@dataclass
class SimulatedOutlet:
    number: int
    name: str
    load_w: float
    power_factor: float = 0.95
    relay_on: bool = True
    phase: int = 1
    energy_wh: float = 0.0
    off_period_s: float | None = None  # this outlet's reboot off period; None: the PDU's
    stuck: bool = False  # fault: commands are accepted, the relay never moves
    reject: bool = False  # fault: commands to this outlet are refused
    moves: list[_Move] = field(default_factory=list)

    @property
    def pending(self) -> bool | None:
        """The state the relay is on its way to, or None when no move is scheduled."""
        return self.moves[-1].on if self.moves else None

    @property
    def next_move(self) -> bool | None:
        """The state the relay switches to next: during a reboot's relay delay that is off,
        although ``pending`` (the final state) is on."""
        return self.moves[0].on if self.moves else None


@dataclass(frozen=True)
class OutletReading:
    number: int
    on: bool
    pending: bool | None
    voltage_v: float
    current_a: float
    power_w: float
    apparent_power_va: float
    power_factor: float
    energy_wh: float
    # The relay's next move (see SimulatedOutlet.next_move). Vendors' "pending off / pending
    # on" states describe the next move; without it a reboot showed plain "on" for its whole
    # relay delay (Sentry4 st4OutletControlState, Eaton outletControlStatus).
    next_move: bool | None = None


@dataclass(frozen=True)
class PhaseReading:
    phase: int
    voltage_v: float
    current_a: float
    power_w: float
    energy_wh: float


@dataclass(frozen=True)
class Snapshot:
    """Every reading of a PDU at one instant: totals are the sums of the outlets."""

    at: float
    frequency_hz: float
    outlets: dict[int, OutletReading]
    phases: list[PhaseReading]
    voltage_v: float
    current_a: float
    power_w: float
    apparent_power_va: float
    energy_wh: float


class SimulatedPdu:
    """One PDU: outlets with relays and loads, a nominal voltage, phases, timing and faults.

    Thread-safe: the protocol servers run in an asyncio loop while tests read ground truth and
    inject faults from their own thread.
    """

    # Readings are frozen for this long (device seconds) so that one request sees one instant.
    SNAPSHOT_TICK_S = 0.2

    def __init__(
        self,
        *,
        name: str,
        clock: Clock,
        outlet_count: int,
        loads_w: list[float] | float = 150.0,
        nominal_voltage: float = 230.0,
        phases: int = 1,
        power_factor: float = 0.95,
        relay_delay_s: float = 0.5,
        reboot_off_s: float = 5.0,
        noise_fraction: float = 0.01,
        initially_on: bool = True,
        seed: int | None = None,
    ) -> None:
        if outlet_count < 1:
            raise ValueError("a PDU needs at least one outlet")
        if phases not in (1, 3):
            raise ValueError("phases must be 1 or 3")
        loads = loads_w if isinstance(loads_w, list) else [float(loads_w)] * outlet_count
        if len(loads) != outlet_count:
            raise ValueError(f"{len(loads)} loads given for {outlet_count} outlets")
        self.name = name
        self.clock = clock
        self.nominal_voltage = nominal_voltage
        self.phase_count = phases
        self.relay_delay_s = relay_delay_s
        self.reboot_off_s = reboot_off_s
        self.noise_fraction = noise_fraction
        self.initially_on = initially_on
        self.faults = Faults()
        self.boot_time = clock.now()
        self.down_until = 0.0  # device time until which a restarting agent answers nothing
        self.commands_received = 0
        # (device time, outlet, action) of every accepted or refused command, for tests that
        # check timing (command spacing, staggered power-on); bounded.
        self.command_log: collections.deque[tuple[float, int, str]] = collections.deque(
            maxlen=10_000
        )
        self._initial_loads = list(loads)
        self._rng = random.Random(seed if seed is not None else name)  # noqa: S311 - noise, not secrets
        self._lock = threading.RLock()
        self._last_advance = clock.now()
        self._snapshot: Snapshot | None = None
        self._held: Snapshot | None = None  # see one_instant()
        self.outlets: dict[int, SimulatedOutlet] = {}
        self._build_outlets(power_factor)

    def _build_outlets(self, power_factor: float) -> None:
        per_phase = math.ceil(len(self._initial_loads) / self.phase_count)
        self.outlets = {
            n: SimulatedOutlet(
                number=n,
                name=f"Outlet {n}",
                load_w=load,
                power_factor=power_factor,
                relay_on=self.initially_on,
                phase=(n - 1) // per_phase + 1,
            )
            for n, load in enumerate(self._initial_loads, start=1)
        }

    # --- Time --------------------------------------------------------------------------

    def uptime_s(self) -> float:
        return max(0.0, self.clock.now() - self.boot_time)

    def advance(self) -> None:
        """Apply relay moves that are due and integrate energy up to now."""
        with self._lock:
            now = self.clock.now()
            for outlet in self.outlets.values():
                t = self._last_advance
                while outlet.moves and outlet.moves[0].due <= now:
                    move = outlet.moves.pop(0)
                    self._integrate(outlet, t, move.due)
                    t = move.due
                    outlet.relay_on = move.on
                    # A relay that just moved must not be reported from a snapshot taken
                    # before it did (commands and force_relay invalidate it the same way).
                    self._snapshot = None
                self._integrate(outlet, t, now)
            self._last_advance = now

    @staticmethod
    def _integrate(outlet: SimulatedOutlet, start: float, end: float) -> None:
        if outlet.relay_on and end > start:
            outlet.energy_wh += outlet.load_w * (end - start) / 3600.0

    # --- Commands ----------------------------------------------------------------------

    def outlet(self, number: int) -> SimulatedOutlet:
        try:
            return self.outlets[number]
        except KeyError:
            raise NoSuchOutlet(f"{self.name} has no outlet {number}") from None

    def command(self, number: int, action: Action, *, delay_s: float = 0.0) -> None:
        """Switch an outlet as the device would: after ``delay_s`` (a vendor's delayed command)
        and the relay delay; a reboot is off, the outlet's off period, then on.
        Raises CommandRejected when a reject fault is set."""
        with self._lock:
            self.advance()
            outlet = self.outlet(number)
            self.commands_received += 1
            self.command_log.append((self.clock.now(), number, action.value))
            if self.faults.reject_commands or outlet.reject:
                raise CommandRejected(f"{self.name} outlet {number}: command rejected")
            if outlet.stuck:
                return  # accepted, and nothing happens
            at = self.clock.now() + delay_s + self.relay_delay_s
            outlet.moves.clear()  # a new command supersedes one still pending
            if action is Action.ON:
                outlet.moves.append(_Move(at, True))
            elif action is Action.OFF:
                outlet.moves.append(_Move(at, False))
            elif action is Action.REBOOT:
                outlet.moves.append(_Move(at, False))
                outlet.moves.append(_Move(at + self.off_period_of(outlet), True))
            else:
                outlet.moves.append(_Move(at, True))
                outlet.moves.append(_Move(at + self.off_period_of(outlet), False))
            self._snapshot = None

    def off_period_of(self, outlet: SimulatedOutlet) -> float:
        return self.reboot_off_s if outlet.off_period_s is None else outlet.off_period_s

    def cancel(self, number: int) -> None:
        """Cancel an outlet's pending moves (APC cancelPendingCommand, Eaton -1)."""
        with self._lock:
            self.advance()
            self.outlet(number).moves.clear()
            self._snapshot = None

    def force_relay(self, number: int, on: bool) -> None:
        """Ground-truth change behind the management interface (someone at the PDU's own web
        page or front panel): immediate, no fault applies."""
        with self._lock:
            self.advance()
            outlet = self.outlet(number)
            outlet.moves.clear()
            outlet.relay_on = on
            self._snapshot = None

    def set_load(self, number: int, watts: float) -> None:
        if watts < 0:
            raise ValueError("a load cannot be negative")
        with self._lock:
            self.advance()
            self.outlet(number).load_w = watts
            self._snapshot = None

    def restart(self, *, keep_state: bool, down_for_s: float = 0.0) -> None:
        """The management agent restarts: it answers nothing for ``down_for_s`` device seconds,
        then uptime starts again from zero. With keep_state=False relay states, energy counters
        and pending moves are reset to power-on defaults (a cold start); with keep_state=True
        the relays kept their state through the restart (a management-card reboot)."""
        with self._lock:
            self.advance()
            self.down_until = self.clock.now() + down_for_s
            self.boot_time = self.down_until
            if not keep_state:
                for outlet in self.outlets.values():
                    outlet.moves.clear()
                    outlet.relay_on = self.initially_on
                    outlet.energy_wh = 0.0
            self._snapshot = None

    def reset_energy(self) -> None:
        with self._lock:
            for outlet in self.outlets.values():
                outlet.energy_wh = 0.0
            self._snapshot = None

    # --- Readings ----------------------------------------------------------------------

    @contextmanager
    def one_instant(self) -> Iterator[None]:
        """Every reading taken inside is of one instant: a front end answers one request
        from one snapshot. SNAPSHOT_TICK_S alone did not ensure it: a request straddling the
        end of a tick read two snapshots, e.g. a relay still off in one varbind and its
        control state already on in the next."""
        with self._lock:
            if self._held is not None:  # already inside one
                yield
                return
            self._held = self.snapshot()
            try:
                yield
            finally:
                self._held = None

    def snapshot(self) -> Snapshot:
        with self._lock:
            if self._held is not None:
                return self._held
            self.advance()
            now = self.clock.now()
            if self._snapshot is not None and now - self._snapshot.at < self.SNAPSHOT_TICK_S:
                return self._snapshot
            self._snapshot = self._read(now)
            return self._snapshot

    def _noisy(self, value: float) -> float:
        return value * (1 + self._rng.uniform(-self.noise_fraction, self.noise_fraction))

    def _read(self, now: float) -> Snapshot:
        voltage = self._noisy(self.nominal_voltage)
        outlets = {}
        for outlet in self.outlets.values():
            power = self._noisy(outlet.load_w) if outlet.relay_on else 0.0
            apparent = power / outlet.power_factor if power else 0.0
            outlets[outlet.number] = OutletReading(
                number=outlet.number,
                on=outlet.relay_on,
                pending=outlet.pending,
                next_move=outlet.next_move,
                voltage_v=voltage,
                current_a=apparent / voltage,
                power_w=power,
                apparent_power_va=apparent,
                power_factor=outlet.power_factor if power else 1.0,
                energy_wh=outlet.energy_wh,
            )
        phases = []
        for phase in range(1, self.phase_count + 1):
            members = [r for n, r in outlets.items() if self.outlets[n].phase == phase]
            phases.append(
                PhaseReading(
                    phase=phase,
                    voltage_v=voltage,
                    current_a=sum(r.current_a for r in members),
                    power_w=sum(r.power_w for r in members),
                    energy_wh=sum(r.energy_wh for r in members),
                )
            )
        return Snapshot(
            at=now,
            frequency_hz=50.0 if self.nominal_voltage == 230.0 else 60.0,
            outlets=outlets,
            phases=phases,
            voltage_v=voltage,
            current_a=sum(p.current_a for p in phases),
            power_w=sum(p.power_w for p in phases),
            apparent_power_va=sum(r.apparent_power_va for r in outlets.values()),
            energy_wh=sum(p.energy_wh for p in phases),
        )

    # --- Faults ------------------------------------------------------------------------

    def should_drop(self) -> bool:
        """Whether the front end should ignore the request now arriving."""
        if self.faults.unresponsive or self.clock.now() < self.down_until:
            return True
        return self.faults.drop_fraction > 0 and self._rng.random() < self.faults.drop_fraction

    def set_faults(self, **faults) -> None:
        """Set PDU-wide faults (Faults fields) and per-outlet ones given as
        ``stuck_outlets=[n, ...]`` / ``reject_outlets=[n, ...]``."""
        # Everything is checked before anything is applied: a refused call changes nothing.
        # (Applying first left e.g. drop_fraction=2 in place after the ValueError, so every
        # request was dropped and every later set_faults call failed until clear_faults.)
        with self._lock:
            stuck = [self.outlet(n) for n in faults.pop("stuck_outlets", [])]
            reject = [self.outlet(n) for n in faults.pop("reject_outlets", [])]
            updates = {}
            for key, value in faults.items():
                if not hasattr(self.faults, key):
                    raise ValueError(f"unknown fault {key!r}")
                kind = type(getattr(self.faults, key))
                if kind is bool and not isinstance(value, bool):
                    # bool("false") is True: a flag must be given as a real boolean.
                    raise ValueError(f"fault {key!r} must be true or false, not {value!r}")
                updates[key] = kind(value)
            if not 0 <= updates.get("drop_fraction", self.faults.drop_fraction) <= 1:
                raise ValueError("drop_fraction must be between 0 and 1")
            for outlet in stuck:
                outlet.stuck = True
            for outlet in reject:
                outlet.reject = True
            for key, value in updates.items():
                setattr(self.faults, key, value)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults = Faults()
            for outlet in self.outlets.values():
                outlet.stuck = outlet.reject = False

    def ground_truth(self) -> dict:
        """What is really true, for tests and the control endpoint."""
        snap = self.snapshot()
        return {
            "name": self.name,
            "uptime_s": self.uptime_s(),
            "faults": self.faults.as_dict(),
            "commands_received": self.commands_received,
            "voltage_v": snap.voltage_v,
            "power_w": snap.power_w,
            "current_a": snap.current_a,
            "energy_wh": snap.energy_wh,
            "outlets": [
                {
                    "number": o.number,
                    "name": o.name,
                    "on": o.relay_on,
                    "pending": o.pending,
                    "load_w": o.load_w,
                    "power_w": snap.outlets[o.number].power_w,
                    "current_a": snap.outlets[o.number].current_a,
                    "energy_wh": snap.outlets[o.number].energy_wh,
                    "phase": o.phase,
                    "stuck": o.stuck,
                    "reject": o.reject,
                }
                for o in self.outlets.values()
            ],
        }
