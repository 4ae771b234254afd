"""Inventory: sites, racks, power feeds, PDUs, outlets, hosts and their power supplies."""
