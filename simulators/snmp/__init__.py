"""The SNMP front end of the simulators: vendor profiles and a pysnmp command responder."""
