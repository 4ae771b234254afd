"""Modbus TCP front end of the PDU simulators: ``server.ModbusPduServer`` puts a
``simulators.model.SimulatedPdu`` on Modbus TCP, speaking one of the register maps in
``profiles.PROFILES`` (``netio_switched_pdu``, ``sdm630_meter``). See docs/simulators-modbus.md.

Nothing is imported here, so that reading the profiles does not load pymodbus."""
