"""Telemetry: polling every PDU, the latest readings, drift events and Prometheus metrics.
Built by issue #6; until then this package holds nothing."""
