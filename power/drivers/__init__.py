"""PDU drivers: one async interface over SNMP and Modbus TCP, vendors as data.

``base`` defines the interface and the values it returns (SI units), ``errors`` the
exceptions, ``registry`` finds the driver for a device. ``snmp/client.py`` is the only module
that imports pysnmp and ``modbus/client.py`` the only one that imports pymodbus. Drivers know
nothing of Django or the database: they take a ``DeviceTarget`` and return dataclasses.
"""
