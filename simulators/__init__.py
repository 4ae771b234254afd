"""Software PDUs that speak real SNMP and Modbus TCP on loopback, for tests, the demo and
benchmarks. A stand-alone package: it imports neither Django nor ``power``. Built by issue #3;
until then this package holds nothing."""
