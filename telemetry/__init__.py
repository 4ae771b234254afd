"""Telemetry: polling every PDU, the latest readings, rack power against its budget, events
(drift, PDU down and up, rack over budget, power command finished) and Prometheus metrics."""
