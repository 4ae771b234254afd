"""dcpower's PostgreSQL database backend (``ENGINE = "dcpower.postgresql"``): Django's, with a
health check of kept connections that makes a round trip only now and then (ADR 0027)."""
