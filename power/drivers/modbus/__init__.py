"""Modbus TCP drivers: ``client`` (the only pymodbus import), ``profiles`` (register maps as
data) and ``driver`` (one generic driver over a register map)."""
