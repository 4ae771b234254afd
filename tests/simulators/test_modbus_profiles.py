"""The Modbus register maps as data: layouts, encodings, and the docs that show them."""

from pathlib import Path

import pytest

from simulators.modbus.profiles import (
    NETIO_SWITCHED_PDU,
    PROFILES,
    SDM630_METER,
    Encoding,
    Table,
    markdown_table,
)
from simulators.modbus.server import ModbusPduServer, PduRegisters, Refused, encode
from simulators.model import Clock, SimulatedPdu

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulators-modbus.md"


def test_netio_layout_puts_output_n_at_manual_101_plus_n():
    layout = NETIO_SWITCHED_PDU.layout(outputs=[1, 2, 3, 4], phases=1)

    assert sorted(layout[Table.COILS]) == [101, 102, 103, 104]
    assert sorted(layout[Table.HOLDING_REGISTERS]) == [
        *(0, 1, 2),
        *(101, 102, 103, 104),
        *(201, 202, 203, 204),
    ]
    assert sorted(layout[Table.INPUT_REGISTERS]) == [
        *(0, 1, 2),
        *(100, 101, 102, 103, 104),
        *(200, 201, 202, 203, 204),
        *range(300, 310),  # total energy, then 2 registers per output
    ]
    assert layout[Table.DISCRETE_INPUTS] == {}
    energy_3 = layout[Table.INPUT_REGISTERS][306], layout[Table.INPUT_REGISTERS][307]
    assert [(s.item, s.word) for s in energy_3] == [(3, 0), (3, 1)]
    assert energy_3[0].point.encoding is Encoding.UINT32


def test_sdm630_layout_is_float_pairs_at_the_eastron_addresses():
    layout = SDM630_METER.layout(outputs=[1, 2, 3], phases=3)[Table.INPUT_REGISTERS]

    firsts = sorted(a for a, slot in layout.items() if slot.word == 0)
    assert firsts == [
        *(0x00, 0x02, 0x04),  # voltage L1 L2 L3
        *(0x06, 0x08, 0x0A),  # current
        *(0x0C, 0x0E, 0x10),  # active power
        *(0x34, 0x46, 0x48, 0x156),  # total power, frequency, import and total energy
    ]
    assert all(slot.point.encoding is Encoding.FLOAT32 for slot in layout.values())
    assert [layout[a].item for a in (0x06, 0x08, 0x0A)] == [1, 2, 3]


def test_a_pdu_that_does_not_fit_the_map_is_refused():
    with pytest.raises(ValueError, match="3-phase"):
        SDM630_METER.layout(outputs=[1, 2], phases=1)
    # 101 outputs: output 101's register 201 is output 1's short delay.
    with pytest.raises(ValueError, match="holds both"):
        NETIO_SWITCHED_PDU.layout(outputs=list(range(1, 102)), phases=1)


@pytest.mark.parametrize(
    ("encoding", "value", "words"),
    [
        (Encoding.UINT16, 229.6, [230]),
        (Encoding.UINT16, 70_000, [0xFFFF]),  # clamped, not wrapped
        (Encoding.UINT16, -3, [0]),
        (Encoding.UINT16, float("nan"), [0]),
        (Encoding.UINT32, 70_000, [0x0001, 0x1170]),  # upper word first
        (Encoding.UINT32, 2**33, [0xFFFF, 0xFFFF]),
        (Encoding.FLOAT32, 230.5, [0x4366, 0x8000]),  # high word first
        (Encoding.BIT, 1, [True]),
    ],
)
def test_encode(encoding, value, words):
    assert encode(encoding, value) == words


def test_reads_and_writes_without_a_network():
    pdu = SimulatedPdu(name="bare", clock=Clock(100), outlet_count=2, noise_fraction=0.0)
    registers = PduRegisters(pdu, NETIO_SWITCHED_PDU)

    assert registers.read(Table.HOLDING_REGISTERS, 0, 3) == [0, 2, 2]
    assert registers.read(Table.HOLDING_REGISTERS, 201, 2) == [50, 50]  # reboot_off_s 5 s
    with pytest.raises(Refused) as refused:
        registers.read(Table.HOLDING_REGISTERS, 2, 2)  # 3 is not mapped
    assert refused.value.code == 2
    with pytest.raises(Refused) as refused:
        registers.write(Table.HOLDING_REGISTERS, 101, [1, 6])
    assert refused.value.code == 3
    assert pdu.commands_received == 0  # nothing of a refused write is carried out


def test_constructor_checks_its_arguments():
    pdu = SimulatedPdu(name="p", clock=Clock(100), outlet_count=2)
    with pytest.raises(ValueError, match="unknown profile"):
        ModbusPduServer(pdu, "apc_rpdu2")
    with pytest.raises(ValueError, match="unit_id"):
        ModbusPduServer(pdu, "netio_switched_pdu", unit_id=256)
    with pytest.raises(ValueError, match="3-phase"):
        ModbusPduServer(pdu, "sdm630_meter")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_docs_carry_each_register_table_as_generated(name):
    table = markdown_table(PROFILES[name])
    assert table in DOCS.read_text(encoding="utf-8"), (
        f"docs/simulators-modbus.md is out of step with the {name} map; paste:\n{table}"
    )
