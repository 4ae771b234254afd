"""SNMP drivers: ``client`` (the only pysnmp import), ``vendors`` (vendor profiles as data)
and ``driver`` (one generic driver over a vendor profile)."""
