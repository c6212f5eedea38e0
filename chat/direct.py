"""A single message send on the event loop itself (PostgreSQL).

Under light load nearly every send is a batch of one (chat/sending.py). On the thread path it
cost two hops between the event loop and a database thread, a health check (``SELECT 1``, a
round trip) and the GIL changing hands at each step: 17 voluntary context switches per
message in the two processes of B2 at 200 chats. Here the one send statement
(``services.send_sql``) goes straight from the loop over an asynchronous psycopg connection
of the loop's own, in autocommit (the statement is its own transaction), and the doorbell
joins the loop's outbox: 6 context switches per message and 12-15 % less server CPU
(docs/performance.md).

Only the common case is taken here: the statement stored the message. Whatever it leaves to
Python (a retry, a refusal, a first or crisis message, a missing chat) writes nothing, and the
send goes the thread path, which decides as before. A connection that fails is dropped and
the send goes the thread path too; a send whose commit happened before the failure is found
there by its ``client_id`` and stored once.

One connection per event loop: only the loop's send queue uses it, one send at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from functools import cache
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone

from chat import conf, events, services
from chat.db import pooled
from chat.errors import DomainError

log = logging.getLogger(__name__)

_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, psycopg.AsyncConnection[Any]]
_connections = weakref.WeakKeyDictionary()


@cache
def enabled() -> bool:
    """PostgreSQL with the sockets' calls on the thread pool, and not switched off."""
    return pooled() and conf.direct_sends()


@cache
def _connect_params() -> dict[str, Any]:
    """Django's own parameters for its connections (database, user, host, options, adapters),
    with an asynchronous cursor that binds on the client as Django's does."""
    params = dict(connection.get_connection_params())
    params.pop("cursor_factory", None)
    params["application_name"] = application_name()
    return params


def application_name() -> str:
    """How these connections show in ``pg_stat_activity``: one per server process."""
    return f"veivalg-send-{os.getpid()}"


async def _connection() -> psycopg.AsyncConnection[Any]:
    loop = asyncio.get_running_loop()
    conn = _connections.get(loop)
    if conn is None or conn.closed or conn.broken:
        for other, idle in list(_connections.items()):  # a closed loop's (tests run many)
            if other.is_closed():
                del _connections[other]
                idle.pgconn.finish()
        conn = await psycopg.AsyncConnection.connect(
            autocommit=True, cursor_factory=psycopg.AsyncClientCursor, **_connect_params()
        )
        _connections[loop] = conn
    return conn


async def _drop() -> None:
    conn = _connections.pop(asyncio.get_running_loop(), None)
    if conn is not None:
        with contextlib.suppress(psycopg.Error):
            await conn.close()


def close_all() -> None:
    """Close every loop's connection at once, from outside the loops (a test session closes
    them before it drops its database; loops of finished tests can no longer await)."""
    while _connections:
        _loop, conn = _connections.popitem()
        conn.pgconn.finish()


async def send(request: services.SendRequest) -> services.SendResult | Exception | None:
    """Store ``request`` with one statement from the loop: its result, a refusal of its body
    or ``client_id``, or ``None`` when the thread path must take it (nothing written)."""
    try:
        text, row = services.send_row(request)
    except DomainError as exc:
        return exc
    now = timezone.now()
    params = {**services.send_params(now), **row}
    try:
        conn = await _connection()
        async with conn.cursor() as cursor:
            await cursor.execute(services.send_sql(many=False), params)
            found = await cursor.fetchall()
    except asyncio.CancelledError:
        await asyncio.shield(_drop())  # a statement cut off mid-way leaves the connection unusable
        raise
    except psycopg.Error:
        log.info("direct send failed; the thread path takes it", exc_info=True)
        await _drop()
        return None
    result = services.send_stored_alone(request, text, row, found, now)
    if result is not None:
        public_id = found[0][1]
        events.publish_message_here(
            public_id, result.message, services.author_name(request.author), live_body=text
        )
    return result
