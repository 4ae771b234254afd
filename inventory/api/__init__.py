"""REST API for the inventory: /api/v1/sites/, racks/, power-feeds/, pdus/, outlets/, hosts/,
power-supplies/."""
