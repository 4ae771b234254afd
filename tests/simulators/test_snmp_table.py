"""The SNMP object table's answers for missing instances of multi-part-index tables (Raritan's
pduId.outlet): a real agent says noSuchInstance on GET and noCreation on SET for a row of an
object it has, whichever part of the index is missing."""

import pytest
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import error as smi_error

from simulators.model import Clock, SimulatedPdu
from simulators.snmp.mib import ObjectTable
from simulators.snmp.profiles import PROFILES

RARITAN_SWITCHING_STATE = (1, 3, 6, 1, 4, 1, 13742, 6, 4, 1, 2, 1, 3)
RARITAN_SWITCHING_OPERATION = (1, 3, 6, 1, 4, 1, 13742, 6, 4, 1, 2, 1, 2)


@pytest.fixture
def raritan():
    pdu = SimulatedPdu(name="px", clock=Clock(), outlet_count=4)
    return ObjectTable(PROFILES["raritan_px"].objects(pdu))


def get(table, oid):
    return table.read_variables((rfc1902.ObjectName(oid), None))[0][1]


@pytest.mark.parametrize(
    "index", [(2, 1), (1, 9), (1,), (1, 1, 1)], ids=["pdu-id", "outlet", "short", "long"]
)
def test_a_missing_row_of_a_known_column_is_no_such_instance(raritan, index):
    assert get(raritan, RARITAN_SWITCHING_STATE + index) == rfc1905.noSuchInstance


def test_an_unknown_column_is_no_such_object(raritan):
    assert get(raritan, RARITAN_SWITCHING_STATE[:-1] + (99, 1, 1)) == rfc1905.noSuchObject


def test_a_set_to_a_missing_row_of_a_writable_column_is_no_creation(raritan):
    name = rfc1902.ObjectName(RARITAN_SWITCHING_OPERATION + (2, 1))
    with pytest.raises(smi_error.NoCreationError):
        raritan.write_variables((name, rfc1902.Integer(1)))


def test_a_set_to_a_read_only_column_is_not_writable(raritan):
    name = rfc1902.ObjectName(RARITAN_SWITCHING_STATE + (1, 1))
    with pytest.raises(smi_error.NotWritableError):
        raritan.write_variables((name, rfc1902.Integer(7)))
