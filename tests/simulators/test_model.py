"""The physics model of a simulated PDU on its own: relays, timing, readings, energy, faults.

Most tests drive a ``ManualClock`` so that device time is exact and nothing sleeps; the time
scale test uses the real ``Clock``.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from simulators.model import (
    Action,
    Clock,
    CommandRejected,
    NoSuchOutlet,
    SimulatedPdu,
    Snapshot,
)


class ManualClock(Clock):
    """Device time that moves only when the test says so."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def at(self, device_seconds: float) -> None:
        assert device_seconds >= self.t, "a manual clock only moves forward"
        self.t = device_seconds


def make_pdu(clock: Clock | None = None, **kwargs) -> SimulatedPdu:
    options = {
        "name": "PDU-T",
        "clock": clock or ManualClock(),
        "outlet_count": 4,
        "loads_w": 100.0,
        "relay_delay_s": 0.5,
        "reboot_off_s": 5.0,
        "seed": 7,
    }
    options.update(kwargs)
    return SimulatedPdu(**options)


def state(pdu: SimulatedPdu, number: int) -> tuple[bool, bool | None]:
    """(relay on, pending target) as a reading of the PDU shows them now."""
    reading = pdu.snapshot().outlets[number]
    return reading.on, reading.pending


# --- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outlet_count": 0}, "at least one outlet"),
        ({"phases": 2}, "phases must be 1 or 3"),
        ({"outlet_count": 3, "loads_w": [1.0, 2.0]}, "2 loads given for 3 outlets"),
    ],
)
def test_invalid_construction_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_pdu(**kwargs)


def test_clock_rejects_a_non_positive_time_scale():
    with pytest.raises(ValueError, match="positive"):
        Clock(0)


# --- relays and timing -----------------------------------------------------------------------


def test_relay_moves_only_after_the_relay_delay_and_shows_pending_meanwhile():
    clock = ManualClock()
    pdu = make_pdu(clock)
    assert state(pdu, 1) == (True, None)

    pdu.command(1, Action.OFF)
    assert state(pdu, 1) == (True, False)
    assert pdu.ground_truth()["outlets"][0]["pending"] is False
    clock.at(0.49)
    assert state(pdu, 1) == (True, False)
    clock.at(0.5)
    assert state(pdu, 1) == (False, None)
    # Only the commanded outlet moved.
    assert all(state(pdu, n) == (True, None) for n in (2, 3, 4))


def test_a_relay_move_is_visible_at_once_not_after_the_snapshot_tick():
    """A reading taken just before the relay moves must not hide the move (snapshots are
    frozen for SNAPSHOT_TICK_S, but a move invalidates them like a command does)."""
    clock = ManualClock()
    pdu = make_pdu(clock)
    pdu.command(1, Action.OFF)
    clock.at(0.45)
    assert state(pdu, 1) == (True, False)
    clock.at(0.5)  # well inside the 0.2 s tick of the previous reading
    assert state(pdu, 1) == (False, None)
    assert pdu.ground_truth()["outlets"][0]["power_w"] == 0.0


def test_reboot_is_off_then_the_pdu_off_period_then_on():
    clock = ManualClock()
    pdu = make_pdu(clock, reboot_off_s=5.0)
    pdu.command(1, Action.REBOOT)
    assert state(pdu, 1) == (True, True)  # pending shows where the reboot ends: on
    clock.at(0.49)
    assert state(pdu, 1) == (True, True)
    clock.at(0.5)
    assert state(pdu, 1) == (False, True)  # off, on its way back on
    clock.at(5.49)
    assert state(pdu, 1) == (False, True)
    clock.at(5.5)
    assert state(pdu, 1) == (True, None)


def test_reboot_uses_the_outlets_own_off_period_when_it_has_one():
    clock = ManualClock()
    pdu = make_pdu(clock, reboot_off_s=5.0)
    pdu.outlet(2).off_period_s = 2.0
    assert pdu.off_period_of(pdu.outlet(2)) == 2.0
    assert pdu.off_period_of(pdu.outlet(1)) == 5.0
    pdu.command(1, Action.REBOOT)
    pdu.command(2, Action.REBOOT)
    clock.at(2.49)
    assert state(pdu, 2) == (False, True)
    clock.at(2.5)
    assert state(pdu, 2) == (True, None)
    assert state(pdu, 1) == (False, True)
    clock.at(5.5)
    assert state(pdu, 1) == (True, None)


def test_a_new_command_supersedes_a_pending_one():
    clock = ManualClock()
    pdu = make_pdu(clock)
    pdu.command(1, Action.OFF)
    clock.at(0.3)
    pdu.command(1, Action.ON)  # before the OFF took effect
    assert state(pdu, 1) == (True, True)
    clock.at(0.6)  # the OFF would have happened at 0.5
    assert state(pdu, 1) == (True, True)
    clock.at(0.8)
    assert state(pdu, 1) == (True, None)

    # A reboot half done is superseded too: OFF keeps the outlet off for good.
    pdu.command(2, Action.REBOOT)
    clock.at(1.5)
    assert state(pdu, 2) == (False, True)
    pdu.command(2, Action.OFF)
    assert state(pdu, 2) == (False, False)
    clock.at(100.0)
    assert state(pdu, 2) == (False, None)


def test_cancel_drops_pending_moves():
    clock = ManualClock()
    pdu = make_pdu(clock)
    pdu.command(2, Action.REBOOT)
    clock.at(1.0)
    pdu.command(1, Action.OFF)  # due at 1.5
    assert state(pdu, 1) == (True, False)
    assert state(pdu, 2) == (False, True)
    pdu.cancel(1)
    pdu.cancel(2)  # mid-reboot: stays off, the ON is cancelled
    assert state(pdu, 1) == (True, None)
    assert state(pdu, 2) == (False, None)
    clock.at(50.0)
    assert state(pdu, 1) == (True, None)
    assert state(pdu, 2) == (False, None)


def test_delayed_command_waits_delay_then_relay_delay():
    clock = ManualClock()
    pdu = make_pdu(clock)
    pdu.command(1, Action.OFF, delay_s=3.0)
    assert state(pdu, 1) == (True, False)
    clock.at(3.49)
    assert state(pdu, 1) == (True, False)
    clock.at(3.5)
    assert state(pdu, 1) == (False, None)


def test_time_scale_makes_device_delays_short_in_real_time():
    clock = Clock(time_scale=1000.0)
    assert clock.real_seconds(5.5) == pytest.approx(0.0055)
    before = clock.now()
    time.sleep(0.02)
    elapsed = clock.now() - before
    assert 20.0 <= elapsed < 1000.0  # >= 0.02 s real x 1000; < 1 s real on a slow machine

    pdu = make_pdu(clock, relay_delay_s=0.5, reboot_off_s=5.0)
    start = time.monotonic()
    pdu.command(1, Action.REBOOT)
    seen_off = False
    deadline = start + 2.0
    while time.monotonic() < deadline:
        on, pending = state(pdu, 1)
        seen_off = seen_off or not on
        if on and pending is None and seen_off:
            break
        time.sleep(0.0005)
    took = time.monotonic() - start
    assert seen_off, "the reboot never showed the outlet off"
    assert state(pdu, 1) == (True, None)
    # 5.5 device seconds at x1000: 5.5 ms real; allow a slow machine plenty.
    assert took < 1.0


# --- readings --------------------------------------------------------------------------------


@pytest.mark.parametrize(("nominal", "frequency"), [(230.0, 50.0), (208.0, 60.0), (120.0, 60.0)])
def test_readings_follow_load_noise_power_factor_and_voltage(nominal, frequency):
    clock = ManualClock()
    noise = 0.05
    pdu = make_pdu(
        clock,
        loads_w=[100.0, 250.0, 40.0, 0.0],
        nominal_voltage=nominal,
        power_factor=0.9,
        noise_fraction=noise,
    )
    pdu.force_relay(3, False)
    powers = set()
    for step in range(20):
        clock.at(step * 1.0)  # past the snapshot tick: a fresh reading each time
        snap = pdu.snapshot()
        assert snap.frequency_hz == frequency
        assert nominal * (1 - noise) <= snap.voltage_v <= nominal * (1 + noise)
        for number, load in ((1, 100.0), (2, 250.0)):
            r = snap.outlets[number]
            assert r.on
            assert load * (1 - noise) <= r.power_w <= load * (1 + noise)
            assert r.apparent_power_va == pytest.approx(r.power_w / 0.9)
            assert r.current_a == pytest.approx(r.apparent_power_va / r.voltage_v)
            assert r.voltage_v == snap.voltage_v
            assert r.power_factor == 0.9
            powers.add(r.power_w)
        off = snap.outlets[3]
        assert not off.on
        assert (off.power_w, off.current_a, off.apparent_power_va) == (0.0, 0.0, 0.0)
        idle = snap.outlets[4]  # on, but nothing drawing
        assert idle.on
        assert idle.power_w == 0.0
        assert idle.current_a == 0.0
    assert len(powers) > 10, "readings carry no noise"


def test_readings_are_frozen_within_one_snapshot_tick():
    clock = ManualClock()
    pdu = make_pdu(clock, noise_fraction=0.05)
    first = pdu.snapshot()
    clock.at(SimulatedPdu.SNAPSHOT_TICK_S / 2)
    assert pdu.snapshot() is first
    clock.at(SimulatedPdu.SNAPSHOT_TICK_S)
    assert pdu.snapshot() is not first


def assert_totals_are_sums(pdu: SimulatedPdu, snap: Snapshot) -> None:
    outlets = snap.outlets.values()
    assert snap.power_w == pytest.approx(sum(r.power_w for r in outlets))
    assert snap.current_a == pytest.approx(sum(r.current_a for r in outlets))
    assert snap.apparent_power_va == pytest.approx(sum(r.apparent_power_va for r in outlets))
    assert snap.energy_wh == pytest.approx(sum(r.energy_wh for r in outlets))
    for phase in snap.phases:
        members = [r for n, r in snap.outlets.items() if pdu.outlet(n).phase == phase.phase]
        assert phase.power_w == pytest.approx(sum(r.power_w for r in members))
        assert phase.current_a == pytest.approx(sum(r.current_a for r in members))
        assert phase.energy_wh == pytest.approx(sum(r.energy_wh for r in members))
        assert phase.voltage_v == snap.voltage_v


@pytest.mark.parametrize(
    ("outlets", "phases", "expected"),
    [
        (4, 1, [1, 1, 1, 1]),
        (6, 3, [1, 1, 2, 2, 3, 3]),
        (7, 3, [1, 1, 1, 2, 2, 2, 3]),
        (24, 3, [1] * 8 + [2] * 8 + [3] * 8),
    ],
)
def test_phases_split_outlets_and_totals_are_sums_in_one_snapshot(outlets, phases, expected):
    clock = ManualClock()
    loads = [50.0 + 10 * n for n in range(outlets)]
    pdu = make_pdu(clock, outlet_count=outlets, loads_w=loads, phases=phases)
    assert [pdu.outlet(n).phase for n in range(1, outlets + 1)] == expected
    pdu.force_relay(2, False)
    clock.at(100.0)  # some energy
    snap = pdu.snapshot()
    assert [p.phase for p in snap.phases] == list(range(1, phases + 1))
    assert all(p.power_w > 0 for p in snap.phases)
    assert snap.outlets[2].power_w == 0.0
    assert_totals_are_sums(pdu, snap)


# --- energy ----------------------------------------------------------------------------------


def test_energy_accumulates_while_on_only_and_across_transitions():
    clock = ManualClock()
    pdu = make_pdu(clock, outlet_count=2, loads_w=[360.0, 720.0], relay_delay_s=0.5)
    clock.at(10.0)
    pdu.command(1, Action.OFF)  # the relay opens at 10.5
    # Not observed again until long after the move: integration must split at 10.5.
    clock.at(100.0)
    assert pdu.snapshot().outlets[1].energy_wh == pytest.approx(360.0 * 10.5 / 3600)
    assert pdu.snapshot().outlets[2].energy_wh == pytest.approx(720.0 * 100.0 / 3600)

    clock.at(200.0)  # off: nothing more
    assert pdu.snapshot().outlets[1].energy_wh == pytest.approx(1.05)
    pdu.command(1, Action.ON)  # closes at 200.5
    clock.at(210.5)
    assert pdu.snapshot().outlets[1].energy_wh == pytest.approx(1.05 + 1.0)


def test_energy_leaves_out_a_reboots_off_period():
    clock = ManualClock()
    pdu = make_pdu(clock, outlet_count=1, loads_w=3600.0, reboot_off_s=5.0)
    pdu.command(1, Action.REBOOT)  # off 0.5 .. 5.5
    clock.at(10.0)
    assert pdu.snapshot().outlets[1].energy_wh == pytest.approx(3600.0 * (10.0 - 5.0) / 3600)


def test_energy_follows_load_changes():
    clock = ManualClock()
    pdu = make_pdu(clock, outlet_count=1, loads_w=360.0)
    clock.at(10.0)
    pdu.set_load(1, 720.0)
    clock.at(20.0)
    assert pdu.snapshot().energy_wh == pytest.approx(1.0 + 2.0)
    pdu.reset_energy()
    assert pdu.snapshot().energy_wh == 0.0


# --- behind the management interface ---------------------------------------------------------


def test_force_relay_is_immediate_clears_pending_and_ignores_faults():
    clock = ManualClock()
    pdu = make_pdu(clock)
    pdu.command(1, Action.REBOOT)
    pdu.set_faults(reject_commands=True, stuck_outlets=[1])
    received = pdu.commands_received
    pdu.force_relay(1, False)
    assert state(pdu, 1) == (False, None)
    clock.at(100.0)
    assert state(pdu, 1) == (False, None)  # the reboot's ON was dropped
    pdu.force_relay(1, True)
    assert state(pdu, 1) == (True, None)
    assert pdu.commands_received == received  # not a command


def test_set_load_changes_the_reading_and_refuses_negative_loads():
    clock = ManualClock()
    pdu = make_pdu(clock, noise_fraction=0.0)
    pdu.set_load(2, 480.0)
    assert pdu.snapshot().outlets[2].power_w == 480.0
    assert pdu.ground_truth()["outlets"][1]["load_w"] == 480.0
    with pytest.raises(ValueError, match="negative"):
        pdu.set_load(2, -1.0)
    assert pdu.outlet(2).load_w == 480.0


# --- restart ---------------------------------------------------------------------------------


@pytest.mark.parametrize("initially_on", [True, False])
def test_cold_restart_resets_relays_energy_and_pending_moves(initially_on):
    clock = ManualClock()
    pdu = make_pdu(clock, initially_on=initially_on)
    pdu.force_relay(1, not initially_on)
    pdu.force_relay(2, True)
    clock.at(100.0)
    pdu.command(3, Action.ON if not initially_on else Action.OFF)  # pending at the restart
    assert pdu.snapshot().energy_wh > 0
    assert pdu.uptime_s() == 100.0

    pdu.restart(keep_state=False, down_for_s=10.0)
    assert pdu.should_drop()
    assert pdu.uptime_s() == 0.0
    assert all(o.relay_on is initially_on for o in pdu.outlets.values())
    assert all(o.pending is None and o.energy_wh == 0.0 for o in pdu.outlets.values())
    clock.at(109.9)
    assert pdu.should_drop()
    clock.at(110.0)
    assert not pdu.should_drop()
    clock.at(115.0)
    assert pdu.uptime_s() == pytest.approx(5.0)
    # The pending move was dropped, not applied late.
    assert state(pdu, 3) == (initially_on, None)


def test_warm_restart_keeps_relays_energy_and_pending_moves():
    clock = ManualClock()
    pdu = make_pdu(clock, outlet_count=2, loads_w=3600.0)
    pdu.force_relay(1, False)
    clock.at(10.0)
    pdu.command(2, Action.OFF)  # due at 10.5
    pdu.restart(keep_state=True, down_for_s=2.0)
    assert pdu.should_drop()
    assert pdu.uptime_s() == 0.0
    assert state(pdu, 1) == (False, None)
    assert state(pdu, 2) == (True, False)
    clock.at(12.0)
    assert not pdu.should_drop()
    assert pdu.uptime_s() == pytest.approx(0.0)
    assert state(pdu, 2) == (False, None)
    assert pdu.snapshot().outlets[2].energy_wh == pytest.approx(10.5)
    assert pdu.snapshot().outlets[1].energy_wh == 0.0


def test_restart_without_down_time_answers_at_once():
    clock = ManualClock()
    pdu = make_pdu(clock)
    clock.at(50.0)
    pdu.restart(keep_state=True)
    assert not pdu.should_drop()
    clock.at(51.0)
    assert pdu.uptime_s() == pytest.approx(1.0)


# --- faults ----------------------------------------------------------------------------------


def test_stuck_outlet_accepts_commands_and_never_moves():
    clock = ManualClock()
    pdu = make_pdu(clock)
    pdu.set_faults(stuck_outlets=[2])
    assert pdu.ground_truth()["outlets"][1]["stuck"] is True
    pdu.command(2, Action.OFF)
    pdu.command(2, Action.REBOOT)
    pdu.command(1, Action.OFF)
    assert pdu.commands_received == 3
    clock.at(100.0)
    assert state(pdu, 2) == (True, None)
    assert state(pdu, 1) == (False, None)

    pdu.clear_faults()
    assert pdu.outlet(2).stuck is False
    pdu.command(2, Action.OFF)
    clock.at(101.0)
    assert state(pdu, 2) == (False, None)


def test_reject_commands_pdu_wide_and_per_outlet():
    clock = ManualClock()
    pdu = make_pdu(clock)
    pdu.set_faults(reject_commands=True)
    for number in (1, 2):
        with pytest.raises(CommandRejected):
            pdu.command(number, Action.OFF)
    assert pdu.commands_received == 2  # refused, but received
    clock.at(10.0)
    assert state(pdu, 1) == (True, None)

    pdu.clear_faults()
    pdu.set_faults(reject_outlets=[3])
    with pytest.raises(CommandRejected):
        pdu.command(3, Action.OFF)
    pdu.command(4, Action.OFF)
    clock.at(20.0)
    assert state(pdu, 3) == (True, None)
    assert state(pdu, 4) == (False, None)
    pdu.clear_faults()
    pdu.command(3, Action.OFF)
    clock.at(30.0)
    assert state(pdu, 3) == (False, None)


def test_set_faults_records_pdu_wide_faults_and_clear_faults_resets_them():
    pdu = make_pdu()
    pdu.set_faults(latency_s=0.25, drop_fraction=0.1, unresponsive=True, reject_commands=True)
    assert pdu.ground_truth()["faults"] == {
        "latency_s": 0.25,
        "drop_fraction": 0.1,
        "unresponsive": True,
        "reject_commands": True,
    }
    assert pdu.should_drop()  # unresponsive: every request
    pdu.clear_faults()
    assert pdu.faults.as_dict() == {
        "latency_s": 0.0,
        "drop_fraction": 0.0,
        "unresponsive": False,
        "reject_commands": False,
    }
    assert not any(pdu.should_drop() for _ in range(100))


@pytest.mark.parametrize(
    ("faults", "error", "message"),
    [
        ({"wobbly": True}, ValueError, "unknown fault 'wobbly'"),
        ({"drop_fraction": 1.5}, ValueError, "between 0 and 1"),
        ({"drop_fraction": -0.1}, ValueError, "between 0 and 1"),
        ({"unresponsive": "false"}, ValueError, "true or false"),
        ({"latency_s": "slow"}, ValueError, "could not convert"),
        ({"stuck_outlets": [99]}, NoSuchOutlet, "no outlet 99"),
    ],
)
def test_a_refused_set_faults_changes_nothing(faults, error, message):
    pdu = make_pdu()
    with pytest.raises(error, match=message):
        pdu.set_faults(**{"latency_s": 0.5, "reject_outlets": [1], **faults})
    assert pdu.faults.as_dict()["latency_s"] == 0.0
    assert pdu.outlet(1).reject is False
    pdu.set_faults(drop_fraction=0.2)  # and the PDU still takes valid faults
    assert pdu.faults.drop_fraction == 0.2


def test_drop_fraction_drops_about_that_share_reproducibly():
    samples = 2000
    drops = []
    for _ in range(2):
        pdu = make_pdu(seed=1234)
        pdu.set_faults(drop_fraction=0.3)
        drops.append([pdu.should_drop() for _ in range(samples)])
    assert drops[0] == drops[1]  # the same seed drops the same requests
    assert 0.25 * samples <= sum(drops[0]) <= 0.35 * samples

    pdu = make_pdu(seed=1234)
    pdu.set_faults(drop_fraction=1.0)
    assert all(pdu.should_drop() for _ in range(100))
    pdu.set_faults(drop_fraction=0.0)
    assert not any(pdu.should_drop() for _ in range(100))


@pytest.mark.parametrize(
    "call",
    [
        lambda pdu: pdu.outlet(99),
        lambda pdu: pdu.command(99, Action.ON),
        lambda pdu: pdu.command(0, Action.OFF),
        lambda pdu: pdu.cancel(5),
        lambda pdu: pdu.force_relay(99, True),
        lambda pdu: pdu.set_load(99, 1.0),
    ],
)
def test_a_bad_outlet_number_raises_no_such_outlet(call):
    pdu = make_pdu()
    with pytest.raises(NoSuchOutlet, match="PDU-T has no outlet"):
        call(pdu)
    assert pdu.commands_received == 0


# --- ground truth and threads ----------------------------------------------------------------


def test_ground_truth_describes_every_outlet():
    clock = ManualClock()
    pdu = make_pdu(clock, outlet_count=3, loads_w=[10.0, 20.0, 30.0], phases=3)
    pdu.command(2, Action.OFF)
    clock.at(0.1)
    truth = pdu.ground_truth()
    assert truth["name"] == "PDU-T"
    assert truth["uptime_s"] == pytest.approx(0.1)
    assert truth["commands_received"] == 1
    assert [o["number"] for o in truth["outlets"]] == [1, 2, 3]
    assert [o["phase"] for o in truth["outlets"]] == [1, 2, 3]
    second = truth["outlets"][1]
    assert (second["on"], second["pending"], second["load_w"]) == (True, False, 20.0)
    assert truth["power_w"] == pytest.approx(sum(o["power_w"] for o in truth["outlets"]))


def test_concurrent_commands_and_readings_stay_consistent():
    pdu = make_pdu(Clock(time_scale=1000.0), outlet_count=8, relay_delay_s=0.5, reboot_off_s=2)
    errors: list[BaseException] = []
    commands_sent: list[int] = []
    iterations = 300

    def commander(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - test traffic, not secrets
        sent = 0
        try:
            for _ in range(iterations):
                number = rng.randint(1, 8)
                choice = rng.random()
                if choice < 0.4:
                    pdu.command(number, rng.choice(list(Action)))
                    sent += 1
                elif choice < 0.6:
                    pdu.force_relay(number, rng.random() < 0.5)
                elif choice < 0.8:
                    pdu.set_load(number, rng.uniform(0, 500))
                else:
                    pdu.cancel(number)
        except BaseException as exc:
            errors.append(exc)
        commands_sent.append(sent)

    def reader() -> None:
        last_energy = 0.0
        try:
            for _ in range(iterations):
                snap = pdu.snapshot()
                assert_totals_are_sums(pdu, snap)
                assert snap.energy_wh >= last_energy  # never runs backwards
                last_energy = snap.energy_wh
                pdu.ground_truth()
                pdu.should_drop()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=commander, args=(seed,)) for seed in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert pdu.commands_received == sum(commands_sent) > 0  # none lost to a race
    assert_totals_are_sums(pdu, pdu.snapshot())
