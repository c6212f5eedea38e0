"""Group commit for chat messages.

Every message sent on a socket of this process joins one queue. One task per event loop takes
everything waiting (up to ``BATCH_LIMIT``) and stores it in one database transaction
(``services.message_send_batch``); what arrives meanwhile forms the next batch. Under light
load a batch is a single message and nothing waits longer than before (on PostgreSQL it is
stored from the loop itself, chat/direct.py); under load the commits, and the hops to the
database thread, are shared (docs/performance.md).

A sender is answered only when its batch has committed, so an ack still means "stored".
"""

from __future__ import annotations

import asyncio
import collections
import weakref

from chat import direct, services
from chat.db import database_sync_to_async

BATCH_LIMIT = 64

_Pending = tuple[services.SendRequest, "asyncio.Future[services.SendResult]"]


class SendQueue:
    def __init__(self) -> None:
        self.pending: collections.deque[_Pending] = collections.deque()
        self.task: asyncio.Task[None] | None = None

    async def send(self, request: services.SendRequest) -> services.SendResult:
        """Store ``request`` (with whatever else is waiting); raises what the send raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[services.SendResult] = loop.create_future()
        self.pending.append((request, future))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self.drain())
        return await future

    async def drain(self) -> None:
        while self.pending:
            batch: list[_Pending] = []
            while self.pending and len(batch) < BATCH_LIMIT:
                request, future = self.pending.popleft()
                if not future.done():  # a sender that has gone needs nothing stored
                    batch.append((request, future))
            if not batch:
                continue
            if len(batch) == 1 and direct.enabled():  # light load: from the loop itself
                request, future = batch[0]
                answer = await direct.send(request)
                if answer is not None:
                    if not future.done():
                        if isinstance(answer, Exception):
                            future.set_exception(answer)
                        else:
                            future.set_result(answer)
                    continue
            try:
                results = await database_sync_to_async(services.message_send_batch)(
                    [request for request, _future in batch]
                )
            except asyncio.CancelledError:  # the loop is closing: nobody is left to answer
                for _request, future in [*batch, *self.pending]:
                    future.cancel()
                self.pending.clear()
                raise
            except Exception as exc:
                results = [exc] * len(batch)
            for (_request, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SendQueue] = (
    weakref.WeakKeyDictionary()
)


async def send(request: services.SendRequest) -> services.SendResult:
    """Store one message through this event loop's queue (see the module's docstring)."""
    loop = asyncio.get_running_loop()
    queue = _queues.get(loop)
    if queue is None:
        queue = _queues[loop] = SendQueue()
    return await queue.send(request)
