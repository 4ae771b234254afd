"""REST API for power control: /api/v1/power/commands/ and the power shortcuts on hosts,
outlets and racks."""
