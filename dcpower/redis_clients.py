"""The process's Redis clients: one per URL, each with its connection pool, kept for the
life of the process (a client per call would open a connection, or at least redo the
client's setup, on every request's path).

Used by the completion announcements (power/completion.py) and the rate limits
(dcpower/throttling.py). Celery's broker and Django's cache keep their own connections.
"""

from __future__ import annotations

import functools

import redis


@functools.cache
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
