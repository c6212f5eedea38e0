"""Where the sockets' database calls run.

Channels runs every ``database_sync_to_async`` call of a process on one thread by default, so
on PostgreSQL each call waited for every other socket's calls, round trips to the database
included: under B2's load that thread was busy 44 % of the time, more than half of it waiting
for PostgreSQL, and a message's delivery queued behind it (docs/performance.md). On PostgreSQL
the calls therefore run on the event loop's thread pool, each thread with a connection of its
own, so the waits overlap; row locks already order what must be ordered (a conversation's
sequence numbers), and each socket still makes one call at a time. Message sends are the
exception: they are stored one batch at a time per process (group commit, chat/sending.py).
SQLite allows one writer, so the embedded mode keeps the single thread (``VEIVALG_DB_THREADS=one``
does the same on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import ParamSpec, TypeVar

from channels.db import database_sync_to_async as channels_database_sync_to_async
from django.db import connection

from chat import conf

P = ParamSpec("P")
R = TypeVar("R")


@cache
def pooled() -> bool:
    return connection.vendor == "postgresql" and conf.db_threads() == "pool"


def database_sync_to_async(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``channels.db.database_sync_to_async`` on the thread(s) this database wants."""
    wrapped: Callable[P, Awaitable[R]] = channels_database_sync_to_async(
        function, thread_sensitive=not pooled()
    )
    return wrapped
