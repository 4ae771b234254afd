"""Power control: the PDU drivers (``power.drivers``) and, with issue #5, power commands with
blast radius and guardrails executed by Celery workers."""
