"""Real-time events of conversations: payload types, group names and ``publish_*``.

Only services call the publishers, and always through ``transaction.on_commit``: an event
is a doorbell for something already in the database. Channel layers deliver at most once, so
clients resume from the database by sequence number; events only make that fast.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import uuid
import weakref
from typing import Any, Literal, TypedDict

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chat.models import Conversation, Message
from moderation.profanity import has_profanity

log = logging.getLogger(__name__)


class MessagePayload(TypedDict):
    seq: int
    sender: str
    body: str
    client_id: str
    sent_at: str
    author_name: str
    profanity: bool


class ChatMessageEvent(TypedDict):
    type: Literal["chat.message"]
    conversation: str
    message: MessagePayload


class ChatStatusEvent(TypedDict):
    type: Literal["chat.status"]
    conversation: str
    counsellor_id: int | None  # for the desks' permission re-check; never sent to clients
    status: str
    counsellor_name: str
    closed_by: str
    rating_offered: bool
    last_seq: int
    crisis: bool


class ChatTypingEvent(TypedDict):
    type: Literal["chat.typing"]
    conversation: str
    party: str


class ChatReceiptEvent(TypedDict):
    type: Literal["chat.receipt"]
    conversation: str
    party: str
    seq: int


class CounsellorAssignedEvent(TypedDict):
    type: Literal["counsellor.assigned"]
    conversation: str


def _uuid(public_id: uuid.UUID | str) -> uuid.UUID:
    return public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))


def conversation_group(public_id: uuid.UUID | str) -> str:
    return f"conv.{_uuid(public_id).hex}"


def counsellor_group(user_id: int) -> str:
    return f"counsellor.{user_id}"


def user_group(user_id: int) -> str:
    """Every staff socket of one user (desk, dashboard): closed when they log out."""
    return f"user.{user_id}"


def publish_session_ended(user_id: int) -> None:
    send_now(user_group(user_id), {"type": "session.ended"})


def public_key(public_id: uuid.UUID | str) -> str:
    """The conversation id as it travels in frames and events."""
    return str(_uuid(public_id))


def message_payload(
    message: Message, author_name: str | None = None, live_body: str | None = None
) -> MessagePayload:
    name = author_name
    if name is None:
        name = message.author.first_name if message.author_id and message.author else ""
    body = message.body if live_body is None else live_body
    return {
        "seq": message.seq,
        "sender": message.sender,
        "body": body,
        # Flagged for the counsellor's eyes; never blocked or hidden.
        "profanity": message.sender == "visitor" and has_profanity(body),
        "client_id": message.client_id,
        "sent_at": message.created_at.isoformat(),
        "author_name": name,
    }


def counsellor_display_name(conversation: Conversation) -> str:
    if conversation.counsellor_id is None or conversation.counsellor is None:
        return ""
    return conversation.counsellor.first_name or conversation.counsellor.get_username()


class _Outbox:
    """Doorbells rung from a worker thread of the server, sent in order on its event loop.

    The thread does not wait for them: waiting held the database thread, which every socket
    of the process shares, for a channel-layer round trip per message (docs/performance.md).
    One drain task per loop sends them in order, so they leave in the order the commits made
    them; on Redis pub/sub everything waiting goes in one pipeline (``group_send_many``)."""

    def __init__(self) -> None:
        self.pending: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self.drain_task: asyncio.Task[None] | None = None

    def put(self, group: str, event: dict[str, Any]) -> None:  # on the loop
        self.pending.append((group, event))
        if self.drain_task is None or self.drain_task.done():
            self.drain_task = asyncio.get_running_loop().create_task(self.drain())

    async def drain(self) -> None:
        layer = get_channel_layer()
        if layer is None:
            self.pending.clear()
            return
        send_many = getattr(layer, "group_send_many", None)  # the Redis pub/sub layer's
        while self.pending:
            if send_many is not None:  # everything waiting, in one pipeline
                batch = [self.pending.popleft() for _ in range(min(len(self.pending), 256))]
                try:
                    await send_many(batch)
                except Exception:
                    log.warning(
                        "channel layer send of %d events failed; clients will catch up", len(batch)
                    )
                continue
            group, event = self.pending.popleft()
            try:
                await layer.group_send(group, event)
            except Exception:
                log.warning("channel layer send to %s failed; clients will catch up", group)


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox] = (
    weakref.WeakKeyDictionary()
)


def _outbox(loop: asyncio.AbstractEventLoop) -> _Outbox:
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = _Outbox()
    return outbox


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that called into this thread through ``sync_to_async``, if any."""
    local = SyncToAsync.threadlocal
    loop: asyncio.AbstractEventLoop | None = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() and not loop.is_closed() else None


def send_now(group: str, event: dict[str, Any]) -> None:
    """Ring the doorbell. A failing channel layer loses the notification, never the data."""
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop()
    if loop is not None:
        outbox = _outbox(loop)
        try:
            loop.call_soon_threadsafe(outbox.put, group, event)
            return
        except RuntimeError:  # the loop closed meanwhile: send the slow way
            pass
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        log.warning("channel layer send to %s failed; clients will catch up on resume", group)


def send_many(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Ring many doorbells in one hop to the event loop, concurrently (a queue change tells
    every waiting visitor their place: one hop and one Redis round trip each was the cost of
    a queue change with 1,000 waiting, bench/queueing.py)."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> list[object]:
        limit = asyncio.Semaphore(16)  # within the layer's connection pool

        async def send(group: str, event: dict[str, Any]) -> None:
            async with limit:
                await layer.group_send(group, event)

        results: list[object] = await asyncio.gather(
            *(send(group, event) for group, event in messages), return_exceptions=True
        )
        return results

    try:
        failures = [r for r in async_to_sync(send_all)() if isinstance(r, BaseException)]
    except Exception:
        failures = [RuntimeError("channel layer unavailable")]
    if failures:
        log.warning("%d channel layer sends failed; clients will catch up", len(failures))


def send_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: send_now(group, event))


def _message_event(
    public_id: uuid.UUID, message: Message, author_name: str, live_body: str
) -> dict[str, Any]:
    event: ChatMessageEvent = {
        "type": "chat.message",
        "conversation": public_key(public_id),
        "message": message_payload(message, author_name, live_body or None),
    }
    return dict(event)


def publish_message(
    public_id: uuid.UUID, message: Message, author_name: str = "", live_body: str = ""
) -> None:
    event = _message_event(public_id, message, author_name, live_body)
    send_on_commit(conversation_group(public_id), event)


def publish_message_here(
    public_id: uuid.UUID, message: Message, author_name: str = "", live_body: str = ""
) -> None:
    """``publish_message`` for a message already committed, called on the event loop: the
    doorbell joins this loop's outbox, behind those rung before it."""
    event = _message_event(public_id, message, author_name, live_body)
    _outbox(asyncio.get_running_loop()).put(conversation_group(public_id), event)


def status_event(conversation: Conversation) -> ChatStatusEvent:
    return {
        "type": "chat.status",
        "conversation": public_key(conversation.public_id),
        "counsellor_id": conversation.counsellor_id,
        "status": conversation.status,
        "counsellor_name": counsellor_display_name(conversation),
        "closed_by": conversation.closed_by,
        "rating_offered": conversation.rating_offered,
        "last_seq": conversation.last_seq,
        "crisis": conversation.crisis_flagged,
    }


def publish_status(conversation: Conversation) -> None:
    send_on_commit(conversation_group(conversation.public_id), dict(status_event(conversation)))


def publish_typing(conversation_public_id: uuid.UUID | str, party: str) -> None:
    event: ChatTypingEvent = {
        "type": "chat.typing",
        "conversation": public_key(conversation_public_id),
        "party": party,
    }
    # Typing is never stored, so there is no commit to wait for.
    send_now(conversation_group(conversation_public_id), dict(event))


def publish_receipt(conversation: Conversation, party: str, seq: int) -> None:
    event: ChatReceiptEvent = {
        "type": "chat.receipt",
        "conversation": public_key(conversation.public_id),
        "party": party,
        "seq": seq,
    }
    send_on_commit(conversation_group(conversation.public_id), dict(event))


def publish_assigned(conversation: Conversation, counsellor_id: int) -> None:
    event: CounsellorAssignedEvent = {
        "type": "counsellor.assigned",
        "conversation": public_key(conversation.public_id),
    }
    send_on_commit(counsellor_group(counsellor_id), dict(event))
