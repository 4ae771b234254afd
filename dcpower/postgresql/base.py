"""Django's PostgreSQL backend, with a cheaper health check of a kept connection (ADR 0027).

Django checks a kept connection (``CONN_HEALTH_CHECKS``) before its first use in each request
or task with a ``SELECT 1``: a round trip on every request's and every power command's path.
This check looks first at what needs no round trip: a connection that libpq knows is broken,
or whose socket has something to read while it is idle, which on a healthy idle connection
is nothing (the server writes only in answer, and dcpower does not LISTEN), and after a
database restart or a terminated backend is the server's goodbye or the end of the stream.
The ``SELECT 1`` comes only when the connection has not passed one for
``ROUND_TRIP_CHECK_EVERY_S``: what the socket cannot show (a peer gone silent, a connection
dropped by a firewall while idle) happens to connections idle for longer than that.
"""

from __future__ import annotations

import select
import time

from django.db.backends.postgresql import base
from psycopg import pq

ROUND_TRIP_CHECK_EVERY_S = 5.0


class DatabaseWrapper(base.DatabaseWrapper):
    _round_trip_checked_at = float("-inf")

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        self._round_trip_checked_at = time.monotonic()  # it has just answered
        return connection

    def is_usable(self) -> bool:
        if self.connection is None:
            return False
        pgconn = self.connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or _has_unread_data(pgconn.socket):
            return False
        now = time.monotonic()
        if now - self._round_trip_checked_at < ROUND_TRIP_CHECK_EVERY_S:
            return True
        if not super().is_usable():  # SELECT 1
            return False
        self._round_trip_checked_at = now
        return True


def _has_unread_data(fd: int) -> bool:
    poller = select.poll()  # not select(): no limit on the descriptor's number
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
