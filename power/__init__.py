"""Power control: power commands (on, off, cycle) with blast radius and guardrails, executed by
Celery workers through the PDU drivers in ``power.drivers``. Built by issues #4 and #5; until
then this package holds nothing."""
