"""ASGI entry point: HTTP through Django, WebSockets through Channels, and a lifespan that runs
the routing sweeper (grace periods, abandoned visitors, county-preference expiry) and the queue
worker (assignment and queue broadcasts, coalesced) per process.

WebSocket URL patterns live in each app's ``urls.py`` as ``websocket_urlpatterns``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402
from django.urls import URLPattern, path  # noqa: E402

from chat import conf as chat_conf  # noqa: E402
from chat.urls import anonymous_websocket_urlpatterns as visitor_ws  # noqa: E402
from chat.urls import staff_websocket_urlpatterns as chat_ws  # noqa: E402
from routing import sweeper  # noqa: E402
from routing.events import queue_worker  # noqa: E402
from routing.urls import websocket_urlpatterns as routing_ws  # noqa: E402


def wrapped(patterns: list[URLPattern], middleware: Any) -> list[URLPattern]:
    return [path(str(p.pattern), middleware(p.callback), name=p.name) for p in patterns]


router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            URLRouter(
                [
                    # Anonymous visitors: cookies only (no session, no user, no per-send hook).
                    *wrapped(visitor_ws, CookieMiddleware),
                    *wrapped([*chat_ws, *routing_ws], AuthMiddlewareStack),
                ]
            )
        ),
    }
)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "lifespan":
        await router(scope, receive, send)
        return
    tasks: list[asyncio.Task[None]] = []
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Everything loaded at start-up (Django, the apps, about 190,000 objects) moves to
            # the permanent generation: a full collection then walks only what the process
            # allocated since, instead of pausing the event loop for about 100 ms every so
            # often (every socket of the process waited for it; B4 in docs/performance.md).
            gc.collect()
            gc.freeze()
            # The pool that runs the sockets' database calls on PostgreSQL (chat/db.py), the
            # queue worker and the sweeper: its size bounds the process's connections.
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(max_workers=chat_conf.db_pool_threads(), thread_name_prefix="db")
            )
            tasks.append(asyncio.create_task(sweeper.run_forever()))
            tasks.append(asyncio.create_task(queue_worker.run_forever()))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await send({"type": "lifespan.shutdown.complete"})
            return
