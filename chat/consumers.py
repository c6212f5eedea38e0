"""WebSocket consumers: identify the actor, join groups, accept, then dispatch frames to services.

Both sides keep, per conversation, the last sequence number they delivered to this socket.
Events from the channel layer are deduplicated and gaps are filled from the database, so each
socket sees every message exactly once and in order, whatever the layer drops or repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.utils import translation

from chat import conf, events, selectors, sending, services
from chat.db import database_sync_to_async
from chat.errors import (
    ConversationNotFound,
    DomainError,
    InvalidSequence,
    NotYourConversation,
    UnknownDocument,
)
from chat.frames import (
    DESK_FRAMES,
    VISITOR_FRAMES,
    FlagFrame,
    Frame,
    FrameError,
    MessageSend,
    Rate,
    Resume,
    Seen,
    SuggestionSearch,
    SuggestionSend,
    Take,
    TransferFrame,
    WrapupFrame,
    parse_frame,
)
from chat.models import Conversation
from knowledge import facade as knowledge
from moderation import services as moderation_services
from moderation.ratelimit import RateLimited, SlidingWindow
from reports import services as report_services
from reports.models import Wrapup
from routing import events as routing_events
from routing import selectors as routing_selectors
from routing import services as routing_services

log = logging.getLogger(__name__)
Party = Conversation.Party

CLOSE_NO_CONVERSATION = 4401
CLOSE_POLICY = 1008
CLOSE_FORBIDDEN = 4403
CATCH_UP_GRACE_SECONDS = 1.0


@dataclass
class ConversationCursor:
    pk: int
    key: str
    # Last sequence delivered to this socket; None until the client has sent ``resume``.
    delivered: int | None = None


@dataclass
class ChatSuggestions:
    """One desk's suggestion state for one chat (docs/knowledge.md)."""

    # The visitor's latest messages as (seq, body), oldest first: from live events, merged once
    # with what the database already held when the chat reached this desk.
    recent: list[tuple[int, str]] = field(default_factory=list)
    loaded: bool = False
    task: asyncio.Task[None] | None = None
    again: bool = False  # another refresh is due when the running one ends
    shown: set[str] = field(default_factory=set)  # counted once per chat
    sent: set[str] = field(default_factory=set)

    def remember(self, messages: list[tuple[int, str]], keep: int) -> None:
        merged = dict(self.recent)
        merged.update(messages)
        self.recent = sorted(merged.items())[-keep:]


def _backlog(conversation_id: int, after: int, limit: int) -> list[events.MessagePayload]:
    return [
        events.message_payload(m)
        for m in selectors.messages_after(
            conversation_id=conversation_id, after_seq=after, limit=limit
        )
    ]


def _beat(
    *, channel_name: str, user_id: int | None, conversation_id: int | None, watched: list[int]
) -> list[list[int]]:
    """A heartbeat's one database call: refresh the socket's presence (or record it again if the
    sweeper already declared it gone) and read the last sequence number of each watched chat,
    as pairs (a channel-layer event carries them)."""
    if not routing_services.presence_heartbeat(channel_name=channel_name):
        routing_services.presence_connect(
            channel_name=channel_name, user_id=user_id, conversation_id=conversation_id
        )
    if not watched:
        return []
    rows = Conversation.objects.filter(pk__in=watched).values_list("pk", "last_seq")
    return [[pk, seq] for pk, seq in rows]


def _last_seq(conversation_id: int) -> int:
    return Conversation.objects.values_list("last_seq", flat=True).get(pk=conversation_id)


class FrameConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Strict JSON frames dispatched to ``on_<type>`` handlers; errors become error frames."""

    frames: dict[str, type[Frame]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.joined: set[str] = set()
        self.language = "nb"
        self.presence: dict[str, int | None] | None = None
        self.heartbeat: asyncio.Task[None] | None = None
        self.left = False  # disconnect() has run

    # -- plumbing ---------------------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' loop (``await_many_dispatch``) builds a new Task and an ``asyncio.wait``
        for every frame and event; here the socket's frames are read in this task and the
        channel layer's events in one long-lived task, and a lock gives them turns, so
        handlers still run one at a time, in arrival order per source (docs/performance.md).

        An event that finds the client gone (the server refuses to send: ``OSError``) is
        dropped; the socket's own disconnect follows and is handled as usual. Any other error
        in an event handler ends the socket as it did in Channels' loop. Either way the socket
        leaves as a disconnect does: heartbeat stopped, presence ended, groups left (a socket
        that ended on an error used to keep beating, so its counsellor stayed "connected" and
        their chats never moved; bench/queueing.py's offline section caught it)."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        turn = asyncio.Lock()
        events_task: asyncio.Task[None] | None = None
        failure: list[BaseException] = []
        this = asyncio.current_task()

        async def handle(message: dict[str, Any]) -> None:
            async with turn:
                await self.dispatch(message)

        async def layer_events() -> None:
            try:
                while True:
                    message = await self.channel_layer.receive(self.channel_name)
                    try:
                        await handle(message)
                    except OSError:
                        log.debug("a %s event found the client gone", message.get("type"))
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # StopConsumer too: the socket's life ends here
                failure.append(exc)
                if this is not None:
                    this.cancel()

        try:
            if self.channel_layer is not None:
                self.channel_name = await self.channel_layer.new_channel()
                self.channel_receive = functools.partial(
                    self.channel_layer.receive, self.channel_name
                )
                events_task = asyncio.create_task(layer_events())
            while True:
                await handle(await receive())
        except StopConsumer:
            pass
        except asyncio.CancelledError:
            if not failure:
                raise
            if not isinstance(failure[0], StopConsumer):
                raise failure[0] from None
        finally:
            if events_task is not None:
                events_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await events_task
            if not self.left:
                try:
                    await self.disconnect(1011)
                except Exception:
                    log.warning("cleaning up after a failed socket failed", exc_info=True)

    async def join(self, group: str) -> None:
        if group not in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.add(group)

    async def leave(self, group: str) -> None:
        if group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.joined.discard(group)

    async def disconnect(self, code: int) -> None:
        self.left = True
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.heartbeat
        if self.presence is not None:
            with contextlib.suppress(Exception):
                await database_sync_to_async(routing_services.presence_disconnect)(
                    channel_name=self.channel_name
                )
        for group in list(self.joined):
            await self.leave(group)

    async def start_presence(
        self, *, user_id: int | None = None, conversation_id: int | None = None
    ) -> None:
        """Record this socket as live and keep its heartbeat going (docs/routing.md)."""
        self.presence = {"user_id": user_id, "conversation_id": conversation_id}
        await database_sync_to_async(routing_services.presence_connect)(
            channel_name=self.channel_name, user_id=user_id, conversation_id=conversation_id
        )
        self.heartbeat = asyncio.create_task(self.beat())

    async def beat(self) -> None:
        assert self.presence is not None
        while True:
            # Somewhat early and never late: sockets that connected together (a deploy, a
            # Redis blip) would otherwise beat together for ever, and their beats would queue
            # for the process's database thread(s) at once (B4's slowest rounds).
            await asyncio.sleep(conf.heartbeat_seconds() * random.uniform(0.75, 1.0))
            rejoined = await self.rejoin()
            try:
                # After rejoining: whatever commits from now on rings this socket's doorbell,
                # and the sequence numbers read here cover everything before.
                last_seqs = await database_sync_to_async(_beat)(
                    channel_name=self.channel_name,
                    user_id=self.presence["user_id"],
                    conversation_id=self.presence["conversation_id"],
                    watched=self.watched(),
                )
            except Exception:
                log.warning("heartbeat failed; retrying", exc_info=True)
                last_seqs = None
            if rejoined:
                if last_seqs is not None and self.missed({pk: seq for pk, seq in last_seqs}):
                    # A doorbell still on its way is not a lost one: give it a moment, so a
                    # busy chat does not cost a backlog query on every heartbeat (catch_up
                    # looks again when this arrives).
                    await asyncio.sleep(CATCH_UP_GRACE_SECONDS)
                try:
                    await self.channel_layer.send(
                        self.channel_name, {"type": "groups.rejoined", "last_seqs": last_seqs}
                    )
                except Exception:
                    log.warning("catching up after rejoining failed; retrying", exc_info=True)

    async def rejoin(self) -> bool:
        """Group memberships live in Redis: a Redis restart or failover forgets them, and a
        socket that was not reading at that moment lives on deaf (tests/test_faults.py). So join
        every group again (idempotent); the heartbeat then, in turn with the socket's other
        events, catches up from the database on what the lost doorbells carried."""
        try:
            # Bounded: the presence heartbeat that follows must not wait for a Redis that is
            # away (the sweeper would declare the socket gone and move its chats).
            async with asyncio.timeout(min(5.0, conf.heartbeat_seconds() / 2)):
                added = set(self.joined)
                for group in added:
                    await self.channel_layer.group_add(group, self.channel_name)
                for group in added - self.joined:  # left meanwhile
                    await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:
            log.warning("rejoining channel-layer groups failed; retrying", exc_info=True)
            return False
        return True

    def watched(self) -> list[int]:
        """Conversations whose messages this socket delivers (their sequence numbers come back
        with the heartbeat, so catching up costs a query only when something was missed)."""
        return []

    def missed(self, last_seqs: dict[int, int] | None) -> list[ConversationCursor]:
        """The chats this socket may have missed messages in: behind ``last_seqs``
        (conversation → last sequence in the database), or all it delivers when that is
        unknown."""
        return []

    async def groups_rejoined(self, event: dict[str, Any]) -> None:
        pairs = event.get("last_seqs")
        last_seqs = None if pairs is None else {int(pk): int(seq) for pk, seq in pairs}
        try:
            await self.catch_up(last_seqs)
        except Exception:  # the database may be away too: the next heartbeat tries again
            log.warning("catching up after rejoining failed; retrying", exc_info=True)

    async def catch_up(self, last_seqs: dict[int, int] | None = None) -> None:
        """Deliver what lost doorbells carried; ``last_seqs`` (conversation → last sequence,
        read after rejoining) spares the query where nothing was missed."""
        return

    async def send_error(
        self, code: str, message: str, detail: str = "", ref: str | None = None
    ) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if detail:
            frame["detail"] = detail
        if ref is not None:
            frame["ref"] = ref
        await self.send_json(frame)

    async def send_domain_error(self, error: DomainError, ref: str | None = None) -> None:
        with translation.override(self.language):
            message = str(error.message)
        await self.send_error(error.code, message, ref=ref)

    async def refuse(self, error: DomainError, close_code: int) -> None:
        await self.accept()
        await self.send_domain_error(error)
        await self.close(code=close_code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error("binary_not_supported", "Send frames as JSON text.")
            return
        if len(text_data.encode("utf-8", "surrogatepass")) > conf.max_frame_bytes():
            await self.send_error("frame_too_large", "The frame is larger than the server takes.")
            return
        try:
            data = orjson.loads(text_data)
        except (ValueError, RecursionError):
            await self.send_error("bad_json", "The frame is not valid JSON.")
            return
        try:
            frame = parse_frame(data, self.frames)
        except FrameError as exc:
            await self.send_error(exc.code, "The frame was not understood.", exc.detail, exc.ref)
            return
        try:
            await self.dispatch_frame(frame)
        except DomainError as exc:
            await self.send_domain_error(exc, frame.ref)
        except Exception:
            log.exception("handling a %s frame failed", frame.type)
            await self.send_error(
                "internal_error", "The server failed; please retry.", ref=frame.ref
            )

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        """orjson instead of the json module: three frames leave for every message sent."""
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS).decode()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own dispatch first hops to the database thread to close stale connections,
        for every frame and event, even a ping. Every database call here already goes through
        ``database_sync_to_async``, which does that itself, so the hop only cost time: it was
        the largest single cost of a round trip in bench/transport.py (docs/performance.md)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            # An event this kind of socket does not take (say a waiting chat's place in the
            # queue reaching the desk that has just taken it): ignore it, never die of it.
            log.debug("%s ignores a %s event", type(self).__name__, message.get("type"))
            return
        await handler(message)

    async def dispatch_frame(self, frame: Frame) -> None:
        await getattr(self, "on_" + frame.type.replace(".", "_"))(frame)

    async def on_ping(self, frame: Frame) -> None:
        await self.send_json({"type": "pong", "ref": frame.ref})

    async def session_ended(self, event: dict[str, Any]) -> None:
        """The user logged out (in any tab): this socket's authority is gone."""
        await self.send_json({"type": "error", "code": "logged_out", "message": "Logged out."})
        await self.close(code=CLOSE_NO_CONVERSATION)


class ChatConsumer(FrameConsumer):
    party: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cursors: dict[str, ConversationCursor] = {}
        limits = conf.rate_limits()
        self.limits = {
            "message.send": SlidingWindow(limits["message"], 10),
            "typing": SlidingWindow(limits["typing"], 10),
        }
        self.violations = 0

    async def dispatch_frame(self, frame: Frame) -> None:
        """Flood control per socket: too fast gets an error; keeping at it closes (1008)."""
        window = self.limits.get(frame.type)
        if window is not None and not window.allow():
            self.violations += 1
            if self.violations >= conf.rate_limits()["violations"]:
                await self.send_domain_error(RateLimited(), frame.ref)
                await self.close(code=CLOSE_POLICY)
                return
            raise RateLimited
        await super().dispatch_frame(frame)

    # -- delivery ---------------------------------------------------------------------------

    async def send_message(
        self, cursor: ConversationCursor, payload: events.MessagePayload
    ) -> None:
        await self.send_json({"type": "message", "conversation": cursor.key, **payload})
        cursor.delivered = payload["seq"]

    async def send_backlog(self, cursor: ConversationCursor) -> None:
        limit = conf.resume_batch()
        while cursor.delivered is not None:
            batch = await database_sync_to_async(_backlog)(cursor.pk, cursor.delivered, limit)
            for payload in batch:
                await self.send_message(cursor, payload)
            if len(batch) < limit:
                return

    async def resume(self, cursor: ConversationCursor, frame: Resume) -> None:
        last_seq = await database_sync_to_async(_last_seq)(cursor.pk)
        if frame.last_seq > last_seq:
            raise InvalidSequence
        cursor.delivered = frame.last_seq
        await self.send_backlog(cursor)
        await self.send_json(
            {"type": "resumed", "conversation": cursor.key, "last_seq": cursor.delivered}
        )

    async def chat_message(self, event: events.ChatMessageEvent) -> None:
        cursor = self.cursors.get(event["conversation"])
        if cursor is None or cursor.delivered is None:
            return
        seq = event["message"]["seq"]
        if seq <= cursor.delivered:
            return
        if seq == cursor.delivered + 1:
            await self.send_message(cursor, event["message"])
        else:
            await self.send_backlog(cursor)

    async def chat_status(self, event: events.ChatStatusEvent) -> None:
        if event["conversation"] in self.cursors:
            frame = {key: value for key, value in event.items() if key != "counsellor_id"}
            await self.send_json({**frame, "type": "status"})

    def watched(self) -> list[int]:
        return [cursor.pk for cursor in self.cursors.values() if cursor.delivered is not None]

    def missed(self, last_seqs: dict[int, int] | None) -> list[ConversationCursor]:
        return [
            cursor
            for cursor in self.cursors.values()
            if cursor.delivered is not None
            and (
                last_seqs is None
                or last_seqs.get(cursor.pk, cursor.delivered + 1) > cursor.delivered
            )
        ]

    async def catch_up(self, last_seqs: dict[int, int] | None = None) -> None:
        for cursor in self.missed(last_seqs):
            await self.send_backlog(cursor)

    async def chat_typing(self, event: events.ChatTypingEvent) -> None:
        if event["conversation"] in self.cursors and event["party"] != self.party:
            await self.send_json({**event, "type": "typing"})

    async def chat_receipt(self, event: events.ChatReceiptEvent) -> None:
        if event["conversation"] in self.cursors:
            await self.send_json({**event, "type": "receipt"})

    # -- frames common to both sides --------------------------------------------------------

    async def store(
        self, cursor: ConversationCursor, body: str, client_id: str, ref: str | None
    ) -> services.SendResult:
        """Store a message from this socket (group commit, chat/sending.py) and ack it."""
        result = await sending.send(
            services.SendRequest(
                conversation_id=cursor.pk,
                party=self.party,
                body=body,
                client_id=client_id,
                author=self.author(),
            )
        )
        await self.send_json(
            {
                "type": "ack",
                "conversation": cursor.key,
                "client_id": client_id,
                "seq": result.message.seq,
                "duplicate": not result.created,
                "ref": ref,
            }
        )
        return result

    async def on_message_send(self, frame: MessageSend) -> None:
        cursor = await self.cursor_for(frame.conversation)
        await self.store(cursor, frame.body, frame.client_id, frame.ref)

    async def on_resume(self, frame: Resume) -> None:
        await self.resume(await self.cursor_for(frame.conversation), frame)

    async def on_typing(self, frame: Frame) -> None:
        cursor = await self.cursor_for(getattr(frame, "conversation", None))
        await database_sync_to_async(services.conversation_typing)(
            conversation_key=cursor.key, party=self.party
        )

    async def on_seen(self, frame: Seen) -> None:
        cursor = await self.cursor_for(frame.conversation)
        conversation = await database_sync_to_async(Conversation.objects.get)(pk=cursor.pk)
        await database_sync_to_async(services.conversation_mark_seen)(
            conversation=conversation, party=self.party, seq=frame.seq
        )

    async def on_conversation_close(self, frame: Frame) -> None:
        cursor = await self.cursor_for(getattr(frame, "conversation", None))
        user = self.author()
        await database_sync_to_async(services.conversation_close)(
            conversation_id=cursor.pk,
            party=self.party,
            actor_id=user.pk if user is not None else None,
        )

    # -- to be provided by each side ---------------------------------------------------------

    def author(self) -> Any:
        return None

    async def cursor_for(self, key: str | None) -> ConversationCursor:
        raise NotImplementedError


class VisitorConsumer(ChatConsumer):
    """One visitor, one conversation, identified by the token in their cookie."""

    party = Party.VISITOR
    frames = VISITOR_FRAMES

    async def connect(self) -> None:
        token = self.scope.get("cookies", {}).get(conf.visitor_cookie_name(), "")
        try:
            conversation = await database_sync_to_async(selectors.conversation_get_for_visitor)(
                token=token
            )
        except ConversationNotFound as exc:
            await self.refuse(exc, CLOSE_NO_CONVERSATION)
            return
        self.language = conversation.language
        key = events.public_key(conversation.public_id)
        self.cursors[key] = ConversationCursor(conversation.pk, key)
        await self.join(events.conversation_group(conversation.public_id))
        await self.start_presence(conversation_id=conversation.pk)
        await self.accept()
        await self.send_json(await database_sync_to_async(self.hello)(conversation.pk))

    def hello(self, conversation_id: int) -> dict[str, Any]:
        conversation = Conversation.objects.select_related("counsellor").get(pk=conversation_id)
        position = routing_selectors.queue_position(conversation=conversation)
        state = routing_selectors.service_state()
        queue = None
        if position is not None:
            event = routing_events.position_event(
                events.public_key(conversation.public_id),
                position,
                len(routing_selectors.queue_waiting()),
                routing_selectors.wait_estimator(),
                state,
            )
            queue = {k: v for k, v in event.items() if k not in {"type", "conversation"}}
        status = events.status_event(conversation)
        del status["counsellor_id"]  # type: ignore[misc]
        return {
            **status,
            "type": "hello",
            "role": "visitor",
            "language": conversation.language,
            "rating": conversation.rating,
            "queue": queue,
            "service_open": state.open,
        }

    async def cursor_for(self, key: str | None) -> ConversationCursor:
        (own,) = self.cursors.values()
        if key is not None and key != own.key:
            raise NotYourConversation
        return own

    async def on_rating(self, frame: Rate) -> None:
        cursor = await self.cursor_for(frame.conversation)
        await database_sync_to_async(services.conversation_rate)(
            conversation_id=cursor.pk, value=frame.value
        )
        await self.send_json(
            {"type": "rated", "conversation": cursor.key, "value": frame.value, "ref": frame.ref}
        )

    async def queue_position(self, event: routing_events.QueuePositionEvent) -> None:
        if event["conversation"] in self.cursors:
            await self.send_json(event)


def _desk_summary(conversation: Conversation) -> dict[str, Any]:
    notes = [
        {
            "from": t.from_counsellor.first_name if t.from_counsellor else "",
            "note": t.note,
            "at": t.created_at.isoformat(),
        }
        for t in conversation.transfers.select_related("from_counsellor").order_by("created_at")
    ]
    wrapup = Wrapup.objects.filter(conversation=conversation).first()
    return {
        "conversation": events.public_key(conversation.public_id),
        "status": conversation.status,
        "language": conversation.language,
        "county": conversation.visitor_county,
        "crisis": conversation.crisis_flagged,
        "notes": notes,
        "wrapup": {"topics": wrapup.topics, "referral": wrapup.referral} if wrapup else None,
        "queued_at": conversation.queued_at.isoformat() if conversation.queued_at else None,
        "assigned_at": conversation.assigned_at.isoformat() if conversation.assigned_at else None,
        "last_seq": conversation.last_seq,
        "visitor_seen_seq": conversation.visitor_seen_seq,
    }


def _taxonomy(language: str) -> dict[str, Any]:
    taxonomy = report_services.current_taxonomy()
    topics = list(taxonomy.topics.all())
    with translation.override(language):
        return {
            "version": taxonomy.version,
            "topics": [
                {
                    "code": t.code,
                    "label": t.label(language),
                    "children": [
                        {"code": c.code, "label": c.label(language)}
                        for c in topics
                        if c.parent_code == t.code
                    ],
                }
                for t in topics
                if t.kind == "topic" and not t.parent_code
            ],
            "referrals": [
                {"code": t.code, "label": t.label(language)} for t in topics if t.kind == "referral"
            ],
        }


class DeskConsumer(ChatConsumer):
    """A counsellor's desk: the shared queue and every chat assigned to them, on one socket."""

    party = Party.COUNSELLOR
    frames = DESK_FRAMES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suggestions: dict[str, ChatSuggestions] = {}

    async def connect(self) -> None:
        user = self.scope.get("user")
        user_id = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
        allowed = await database_sync_to_async(routing_selectors.user_has_role)(
            user_id=user_id, role=routing_selectors.COUNSELLOR_GROUP
        )
        if not allowed or user_id is None:
            await self.refuse(NotYourConversation(), CLOSE_FORBIDDEN)
            return
        self.user = user
        self.language = self.scope.get("cookies", {}).get("veivalg_language", "nb")
        if self.language not in {"nb", "nn", "en"}:
            self.language = "nb"
        await self.join(routing_events.QUEUE_GROUP)
        await self.join(events.counsellor_group(user_id))
        await self.join(events.user_group(user_id))
        for conversation in await database_sync_to_async(selectors.conversations_assigned_to)(
            user_id=user_id
        ):
            await self.track(conversation)
        await self.start_presence(user_id=user_id)
        await self.accept()
        await self.send_json(await database_sync_to_async(self.hello)(user_id))
        for key in list(self.cursors):
            self.refresh_suggestions(key)

    async def disconnect(self, code: int) -> None:
        for state in self.suggestions.values():
            if state.task is not None:
                state.task.cancel()
        await super().disconnect(code)

    def hello(self, user_id: int) -> dict[str, Any]:
        return {
            "type": "hello",
            "role": "counsellor",
            "suggestions": conf.suggestions_enabled(),
            "name": self.user.first_name or self.user.get_username(),
            "username": self.user.get_username(),
            "on_shift": routing_selectors.counsellor_is_on_shift(user_id=user_id),
            "limit": conf.max_active_chats(),
            "conversations": [
                _desk_summary(c) for c in selectors.conversations_assigned_to(user_id=user_id)
            ],
            "queue": routing_events.queue_snapshot(),
            "taxonomy": _taxonomy(self.language),
        }

    def author(self) -> Any:
        return self.user

    async def track(self, conversation: Conversation) -> ConversationCursor:
        key = events.public_key(conversation.public_id)
        cursor = self.cursors.get(key)
        if cursor is None:
            cursor = ConversationCursor(conversation.pk, key)
            self.cursors[key] = cursor
            await self.join(events.conversation_group(conversation.public_id))
        return cursor

    async def cursor_for(self, key: str | None) -> ConversationCursor:
        if key is None:
            raise NotYourConversation
        cursor = self.cursors.get(key)
        if cursor is not None:
            return cursor
        # Assigned in another tab, or the doorbell was lost: the database decides.
        conversation = await database_sync_to_async(selectors.conversation_get_for_counsellor)(
            user=self.user, public_id=key
        )
        return await self.track(conversation)

    async def send_shift(self, ref: str | None) -> None:
        on_shift = await database_sync_to_async(routing_selectors.counsellor_is_on_shift)(
            user_id=self.user.pk
        )
        await self.send_json({"type": "shift", "on_shift": on_shift, "ref": ref})

    async def on_shift_start(self, frame: Frame) -> None:
        await database_sync_to_async(routing_services.shift_start)(counsellor=self.user)
        await self.send_shift(frame.ref)

    async def on_shift_end(self, frame: Frame) -> None:
        await database_sync_to_async(routing_services.shift_end)(counsellor=self.user)
        await self.send_shift(frame.ref)

    async def on_queue_take_next(self, frame: Frame) -> None:
        conversation = await database_sync_to_async(routing_services.conversation_claim_next)(
            counsellor=self.user
        )
        await self.assigned(conversation, frame.ref)

    async def on_queue_take(self, frame: Take) -> None:
        conversation = await database_sync_to_async(routing_services.conversation_claim)(
            counsellor=self.user, public_id=frame.conversation
        )
        await self.assigned(conversation, frame.ref)

    async def on_message_flag(self, frame: FlagFrame) -> None:
        await database_sync_to_async(moderation_services.message_flag)(
            counsellor=self.user, public_id=frame.conversation, seq=frame.seq, reason=frame.reason
        )
        await self.send_json(
            {"type": "flagged", "conversation": frame.conversation, "ref": frame.ref}
        )

    async def on_wrapup(self, frame: WrapupFrame) -> None:
        wrapup = await database_sync_to_async(report_services.wrapup_save)(
            counsellor=self.user,
            public_id=frame.conversation,
            topics=frame.topics,
            referral=frame.referral,
        )
        await self.send_json(
            {
                "type": "wrapup.saved",
                "conversation": frame.conversation,
                "topics": wrapup.topics,
                "referral": wrapup.referral,
                "ref": frame.ref,
            }
        )

    async def on_conversation_close(self, frame: Frame) -> None:
        # A counsellor ends a chat only after the wrap-up (reports.services).
        cursor = await self.cursor_for(getattr(frame, "conversation", None))
        await database_sync_to_async(report_services.close_with_wrapup)(
            counsellor=self.user, public_id=cursor.key
        )

    async def on_conversation_transfer(self, frame: TransferFrame) -> None:
        await database_sync_to_async(routing_services.conversation_transfer)(
            counsellor=self.user,
            public_id=frame.conversation,
            to_username=frame.to,
            note=frame.note,
        )
        await self.send_json(
            {"type": "transferred", "conversation": frame.conversation, "ref": frame.ref}
        )

    async def assigned(self, conversation: Conversation, ref: str | None = None) -> None:
        cursor = await self.track(conversation)
        summary = await database_sync_to_async(_desk_summary)(conversation)
        await self.send_json({"type": "conversation.assigned", **summary, "ref": ref})
        self.refresh_suggestions(cursor.key)

    # -- knowledge suggestions (docs/knowledge.md) -------------------------------------------

    async def chat_message(self, event: events.ChatMessageEvent) -> None:
        await super().chat_message(event)
        key, message = event["conversation"], event["message"]
        if message["sender"] == Party.VISITOR and key in self.cursors:
            state = self.suggestions.setdefault(key, ChatSuggestions())
            state.remember([(message["seq"], message["body"])], conf.suggestion_messages())
            self.refresh_suggestions(key)

    def refresh_suggestions(self, key: str) -> None:
        """Debounced by coalescing: while one refresh runs, later messages ask for one more."""
        if not conf.suggestions_enabled():
            return
        state = self.suggestions.setdefault(key, ChatSuggestions())
        if state.task is not None and not state.task.done():
            state.again = True
            return
        state.task = asyncio.create_task(self.suggestions_loop(key, state))

    async def suggestions_loop(self, key: str, state: ChatSuggestions) -> None:
        try:
            while key in self.cursors:
                state.again = False
                if not state.loaded:
                    stored = await database_sync_to_async(selectors.recent_visitor_messages)(
                        conversation_id=self.cursors[key].pk, limit=conf.suggestion_messages()
                    )
                    state.remember(stored, conf.suggestion_messages())
                    state.loaded = True
                parts = [body for _seq, body in state.recent]  # stored bodies are never blank
                # The newest message the query was built from, read now: a message that arrives
                # while the search runs is in ``recent`` by the time it returns, and labelling
                # these hits with it told the desk they covered a message they had not seen.
                based_on = state.recent[-1][0] if state.recent else None
                hits = await knowledge.suggest(parts, conf.suggestion_limit()) if parts else None
                if hits is not None:  # None: no index is loaded, so there is nothing to show
                    await self.send_suggestions(key, hits, "chat", seq=based_on)
                if not state.again:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("suggestions failed for a conversation", exc_info=True)

    async def send_suggestions(
        self,
        key: str,
        hits: list[knowledge.Hit],
        source: str,
        ref: str | None = None,
        seq: int | None = None,
    ) -> None:
        await self.send_json(
            {
                "type": "suggestions",
                "conversation": key,
                "source": source,
                "items": [h.as_dict() for h in hits],
                "ref": ref,
                # The newest visitor message the suggestions were computed from.
                "seq": seq,
            }
        )
        shown = self.suggestions.setdefault(key, ChatSuggestions()).shown
        new = [h.id for h in hits if h.id not in shown]
        if new:
            shown.update(new)
            knowledge.count_later("shown", new)

    async def on_suggestion_search(self, frame: SuggestionSearch) -> None:
        cursor = await self.cursor_for(frame.conversation)
        hits = await knowledge.suggest([frame.q], conf.suggestion_limit())
        await self.send_suggestions(cursor.key, hits or [], "search", frame.ref)

    async def on_suggestion_send(self, frame: SuggestionSend) -> None:
        cursor = await self.cursor_for(frame.conversation)
        link = await database_sync_to_async(knowledge.document_link)(frame.id)
        if link is None:
            raise UnknownDocument
        title, url = link
        result = await self.store(cursor, f"{title}: {url}", frame.client_id, frame.ref)
        sent = self.suggestions.setdefault(cursor.key, ChatSuggestions()).sent
        if result.created and frame.id not in sent:
            sent.add(frame.id)
            knowledge.count_later("sent", [frame.id])

    async def drop(self, key: str) -> None:
        state = self.suggestions.pop(key, None)
        if state is not None and state.task is not None:
            state.task.cancel()
        cursor = self.cursors.pop(key, None)
        if cursor is not None:
            await self.leave(events.conversation_group(key))
            await self.send_json({"type": "conversation.unassigned", "conversation": key})

    async def counsellor_unassigned(self, event: routing_events.CounsellorUnassignedEvent) -> None:
        await self.drop(event["conversation"])

    async def catch_up(self, last_seqs: dict[int, int] | None = None) -> None:
        await super().catch_up(last_seqs)
        # A chat assigned while this desk was out of its groups (the doorbell was lost).
        for conversation in await database_sync_to_async(selectors.conversations_assigned_to)(
            user_id=self.user.pk
        ):
            if events.public_key(conversation.public_id) not in self.cursors:
                await self.assigned(conversation)

    async def chat_status(self, event: events.ChatStatusEvent) -> None:
        # Re-check on every status: a chat handed to someone else leaves this desk.
        if (
            event["conversation"] in self.cursors
            and event["counsellor_id"] != self.user.pk
            and event["status"] in {Conversation.Status.WAITING, Conversation.Status.ACTIVE}
        ):
            # Doorbells can arrive late: the "waiting" of the visitor's first message may reach
            # a desk that has meanwhile been given the chat and joined its group. The database
            # decides (the desk used to drop a chat it had just been given).
            try:
                await database_sync_to_async(selectors.conversation_get_for_counsellor)(
                    user=self.user, public_id=event["conversation"]
                )
            except DomainError:
                await self.drop(event["conversation"])
            return
        await super().chat_status(event)

    async def counsellor_assigned(self, event: events.CounsellorAssignedEvent) -> None:
        if event["conversation"] in self.cursors:
            return  # this socket took it and has already announced it
        try:
            conversation = await database_sync_to_async(selectors.conversation_get_for_counsellor)(
                user=self.user, public_id=event["conversation"]
            )
        except DomainError:
            return
        await self.assigned(conversation)

    async def queue_snapshot(self, event: routing_events.QueueSnapshotEvent) -> None:
        await self.send_json(event)

    async def supervisor_message(self, event: routing_events.SupervisorMessageEvent) -> None:
        await self.send_json(event)
