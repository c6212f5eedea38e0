"""The real ASGI app over WebSockets: the chat loop, resume, idempotency and bad frames."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.db import connection

from chat import direct
from chat.models import Conversation, Message
from chat.services import conversation_open
from tests.conftest import session_cookie
from tests.wsclient import desk_socket, drain, of_type, open_socket, until, visitor_socket

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def start_chat(counsellor: User) -> tuple[Any, Any, str, Conversation]:
    """A visitor who has written once, assigned automatically to the counsellor on shift."""
    conversation, token = await database_sync_to_async(conversation_open)(language="nb")
    visitor, _hello = await visitor_socket(token)
    await visitor.send_json_to({"type": "resume", "last_seq": 0})
    await until(visitor, "resumed")
    await visitor.send_json_to({"type": "message.send", "client_id": "v-1", "body": "Hei!"})
    await until(visitor, "ack")
    desk, hello = await desk_socket(await database_sync_to_async(session_cookie)(counsellor))
    assert hello["on_shift"] is True
    assert hello["queue"]["waiting"] == []
    assert [c["conversation"] for c in hello["conversations"]] == [str(conversation.public_id)]
    await desk.send_json_to(
        {"type": "resume", "conversation": str(conversation.public_id), "last_seq": 0}
    )
    _resumed, before = await until(desk, "resumed")
    assert [m["body"] for m in of_type(before, "message")] == ["Hei!", "assigned"]
    return visitor, desk, token, conversation


async def test_chat_both_ways_with_typing_and_delivery(on_shift: User) -> None:
    visitor, desk, _token, conversation = await start_chat(on_shift)
    key = str(conversation.public_id)
    status, _ = await until(visitor, "status")
    assert status["status"] == "waiting"
    status, _ = await until(visitor, "status")
    assert status["status"] == "active"
    assert status["counsellor_name"] == "Kari"

    await desk.send_json_to({"type": "typing", "conversation": key})
    typing, _ = await until(visitor, "typing")
    assert typing["party"] == "counsellor"

    await desk.send_json_to(
        {
            "type": "message.send",
            "conversation": key,
            "client_id": "c-1",
            "body": "Hei, hva lurer du på?",
        }
    )
    message, _ = await until(visitor, "message")
    assert (message["sender"], message["body"], message["author_name"]) == (
        "counsellor",
        "Hei, hva lurer du på?",
        "Kari",
    )
    await visitor.send_json_to({"type": "seen", "seq": message["seq"]})
    receipt, _ = await until(desk, "receipt")
    assert (receipt["party"], receipt["seq"]) == ("visitor", message["seq"])

    await visitor.send_json_to(
        {"type": "message.send", "client_id": "v-2", "body": "Om å bli elektriker"}
    )
    incoming, _ = await until(desk, "message")
    while incoming["sender"] != "visitor":
        incoming, _ = await until(desk, "message")
    assert incoming["body"] == "Om å bli elektriker"

    await visitor.send_json_to({"type": "conversation.close"})
    closed, _ = await until(desk, "status")
    assert (closed["status"], closed["closed_by"]) == ("closed", "visitor")
    visitor_closed, _ = await until(visitor, "status")
    assert visitor_closed["rating_offered"] is True
    await visitor.send_json_to({"type": "rating", "value": "up"})
    rated, _ = await until(visitor, "rated")
    assert rated["value"] == "up"
    stored = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert (stored.status, stored.rating, stored.rating_offered) == ("closed", "up", True)
    await visitor.disconnect()
    await desk.disconnect()


async def test_messages_sent_at_once_from_both_sides_are_each_acked_and_arrive_in_order(
    on_shift: User,
) -> None:
    """Both sides write without waiting for their acks (within the flood limit): the sends
    share transactions (group commit, chat/sending.py), and each still gets one ack and
    arrives once, in order."""
    visitor, desk, _token, conversation = await start_chat(on_shift)
    key = str(conversation.public_id)
    await drain(visitor)
    await drain(desk)
    for n in range(8):
        await visitor.send_json_to({"type": "message.send", "client_id": f"v{n}", "body": f"v{n}"})
        await desk.send_json_to(
            {"type": "message.send", "conversation": key, "client_id": f"d{n}", "body": f"d{n}"}
        )
    frames = {"visitor": await drain(visitor, 1.0), "desk": await drain(desk, 1.0)}
    for side, prefix in (("visitor", "v"), ("desk", "d")):
        acks = of_type(frames[side], "ack")
        assert [a["client_id"] for a in acks] == [f"{prefix}{n}" for n in range(8)]
        assert not any(a["duplicate"] for a in acks)
        received = of_type(frames[side], "message")
        assert [m["seq"] for m in received] == list(range(3, 19))  # 1 and 2 came before
        mine = [m["body"] for m in received if m["body"].startswith(prefix)]
        assert mine == [f"{prefix}{n}" for n in range(8)]
    stored = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(conversation=conversation).values_list("seq", "client_id")
        )
    )()
    assert [seq for seq, _ in stored] == list(range(1, 19))
    assert sorted(c for _, c in stored if c not in {"", "v-1"}) == sorted(
        [f"v{n}" for n in range(8)] + [f"d{n}" for n in range(8)]
    )
    await visitor.disconnect()
    await desk.disconnect()


async def test_reconnect_gets_exactly_what_was_missed_and_retries_do_not_duplicate(
    on_shift: User,
) -> None:
    visitor, desk, token, conversation = await start_chat(on_shift)
    key = str(conversation.public_id)
    seen = [m["seq"] for m in of_type(await drain(visitor), "message")]
    last_seen = max(seen)
    await visitor.disconnect()

    for n in range(1, 4):
        await desk.send_json_to(
            {
                "type": "message.send",
                "conversation": key,
                "client_id": f"c-{n}",
                "body": f"svar {n}",
            }
        )
        ack, _ = await until(desk, "ack")
        assert ack["duplicate"] is False

    visitor, hello = await visitor_socket(token)
    assert hello["last_seq"] == last_seen + 3
    await visitor.send_json_to({"type": "resume", "last_seq": last_seen})
    resumed, before = await until(visitor, "resumed")
    after = await drain(visitor)
    received = of_type(before + after, "message")
    assert [m["body"] for m in received] == ["svar 1", "svar 2", "svar 3"]
    assert [m["seq"] for m in received] == [last_seen + 1, last_seen + 2, last_seen + 3]
    assert resumed["last_seq"] == last_seen + 3

    # The visitor's first message is retried (e.g. the ack was lost): stored once.
    await visitor.send_json_to({"type": "message.send", "client_id": "v-1", "body": "Hei!"})
    ack, _ = await until(visitor, "ack")
    assert ack["duplicate"] is True
    assert ack["seq"] == 1
    count = await database_sync_to_async(
        Message.objects.filter(conversation=conversation, client_id="v-1").count
    )()
    assert count == 1
    assert not of_type(await drain(visitor), "message")
    await visitor.disconnect()
    await desk.disconnect()


def _cut_send_connections() -> int:
    """PostgreSQL ends this process's send connections (chat/direct.py), as a restart would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s",
            [direct.application_name()],
        )
        return int(cursor.fetchone()[0])


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="sends from the loop: PostgreSQL")
async def test_sends_after_the_send_connection_was_cut_are_stored_once_and_delivered_in_order(
    on_shift: User,
) -> None:
    visitor, desk, _token, conversation = await start_chat(on_shift)
    key = str(conversation.public_id)
    await drain(visitor)

    async def send(n: int) -> dict[str, Any]:
        frame = {"type": "message.send", "conversation": key, "client_id": f"c-{n}"}
        await desk.send_json_to({**frame, "body": f"svar {n}"})
        ack, _ = await until(desk, "ack")
        assert ack["duplicate"] is False
        return ack

    first = await send(1)
    # The lone send went from the event loop over its own connection; PostgreSQL cuts it.
    assert await database_sync_to_async(_cut_send_connections)() == 1
    acks = [first, await send(2), await send(3)]
    assert [a["seq"] for a in acks] == [first["seq"], first["seq"] + 1, first["seq"] + 2]
    received = of_type(await drain(visitor), "message")
    assert [(m["body"], m["seq"]) for m in received] == [
        (f"svar {n}", first["seq"] + n - 1) for n in (1, 2, 3)
    ]
    stored = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(conversation=conversation, sender="counsellor")
            .order_by("seq")
            .values_list("client_id", "seq")
        )
    )()
    assert stored == [(f"c-{n}", first["seq"] + n - 1) for n in (1, 2, 3)]
    # The connection came back for the sends after the one that found it cut.
    assert await database_sync_to_async(_cut_send_connections)() == 1
    await visitor.disconnect()
    await desk.disconnect()


async def test_malformed_frames_get_error_codes_and_the_socket_survives(
    on_shift: User,
) -> None:
    visitor, desk, _token, conversation = await start_chat(on_shift)
    other, _other_token = await database_sync_to_async(conversation_open)(language="nn")
    await drain(visitor)
    await drain(desk)
    cases: list[tuple[str, str]] = [
        ("not json at all", "bad_json"),
        ("[1, 2, 3]", "invalid_frame"),
        ('"just a string"', "invalid_frame"),
        (json.dumps({"no": "type"}), "invalid_frame"),
        (json.dumps({"type": 7}), "invalid_frame"),
        (json.dumps({"type": "launch.missiles"}), "unknown_type"),
        (json.dumps({"type": "message.send", "client_id": 5, "body": "x"}), "invalid_frame"),
        (json.dumps({"type": "message.send", "client_id": "a", "body": ["x"]}), "invalid_frame"),
        (json.dumps({"type": "resume", "last_seq": "3"}), "invalid_frame"),
        (json.dumps({"type": "resume", "last_seq": -1}), "invalid_frame"),
        (json.dumps({"type": "resume", "last_seq": 10_000}), "invalid_sequence"),
        (json.dumps({"type": "rating", "value": "meh"}), "invalid_frame"),
        (
            json.dumps({"type": "message.send", "client_id": "big", "body": "x" * 5000}),
            "message_too_long",
        ),
        (
            json.dumps({"type": "message.send", "client_id": "blank", "body": "   "}),
            "empty_message",
        ),
        (
            json.dumps({"type": "message.send", "client_id": "huge", "body": "x" * 40_000}),
            "frame_too_large",
        ),
        ("[" * 5000 + "]" * 5000, "bad_json"),
        ("[" * 50 + "]" * 50, "invalid_frame"),
        (
            json.dumps(
                {
                    "type": "message.send",
                    "conversation": str(other.public_id),
                    "client_id": "steal",
                    "body": "hei",
                }
            ),
            "not_your_conversation",
        ),
        (json.dumps({"type": "rating", "value": "up"}), "rating_not_offered"),
        (json.dumps({"type": "shift.start"}), "unknown_type"),
    ]
    for text, code in cases:
        await visitor.send_to(text_data=text)
        frame = await visitor.receive_json_from(timeout=5)
        assert (frame["type"], frame["code"]) == ("error", code), text[:60]
        assert frame["message"]

    await visitor.send_to(bytes_data=b"\x00\xff")
    frame = await visitor.receive_json_from(timeout=5)
    assert frame["code"] == "binary_not_supported"

    # The desk cannot write into a chat that is not theirs, nor into a malformed id.
    for conversation_id in (str(other.public_id), "not-a-uuid"):
        await desk.send_json_to(
            {
                "type": "message.send",
                "conversation": conversation_id,
                "client_id": "x",
                "body": "hei",
            }
        )
        frame, _ = await until(desk, "error")
        assert frame["code"] in {"not_your_conversation", "no_conversation"}
    await desk.send_json_to({"type": "message.send", "client_id": "x", "body": "hei"})
    frame, _ = await until(desk, "error")
    assert frame["code"] == "not_your_conversation"

    # Nothing was stored by any of it, and both sockets still work.
    await visitor.send_json_to({"type": "ping", "ref": "p1"})
    pong, _ = await until(visitor, "pong")
    assert pong["ref"] == "p1"
    await visitor.send_json_to({"type": "message.send", "client_id": "ok", "body": "fortsatt her"})
    ack, _ = await until(visitor, "ack")
    bodies = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(conversation=conversation).values_list("body", flat=True)
        )
    )()
    assert bodies == ["Hei!", "assigned", "fortsatt her"]
    assert ack["seq"] == 3
    other_count = await database_sync_to_async(Message.objects.filter(conversation=other).count)()
    assert other_count == 0
    await visitor.disconnect()
    await desk.disconnect()


async def test_foreign_origin_is_refused(on_shift: User) -> None:
    _conversation, token = await database_sync_to_async(conversation_open)(language="nb")
    with pytest.raises(AssertionError, match="refused"):
        await open_socket("/ws/chat/", f"veivalg_visitor={token}", origin=b"https://evil.example")


async def test_visitor_without_token_is_told_and_closed(transactional_db: None) -> None:
    communicator = await open_socket("/ws/chat/", "veivalg_visitor=forged-token")
    frame = await communicator.receive_json_from(timeout=5)
    assert (frame["type"], frame["code"]) == ("error", "no_conversation")
    closed = await communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_desk_requires_a_counsellor(transactional_db: None) -> None:
    communicator = await open_socket("/ws/desk/")
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["type"] == "error"
    closed = await communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4403}


async def test_visitor_sees_queue_position_move(on_shift: User, settings: Any) -> None:
    settings.VEIVALG = {**settings.VEIVALG, "AUTO_ASSIGN": False}
    first, first_token = await database_sync_to_async(conversation_open)(language="nb")
    second, second_token = await database_sync_to_async(conversation_open)(language="nb")
    sockets = []
    for token, client_id in ((first_token, "a"), (second_token, "b")):
        socket, _ = await visitor_socket(token)
        await socket.send_json_to({"type": "message.send", "client_id": client_id, "body": "hei"})
        await until(socket, "ack")
        sockets.append(socket)
    position, _ = await until(sockets[1], "queue.position")
    while position["waiting"] < 2:
        position, _ = await until(sockets[1], "queue.position")
    assert (position["position"], position["waiting"]) == (2, 2)

    desk, _ = await desk_socket(await database_sync_to_async(session_cookie)(on_shift))
    await desk.send_json_to({"type": "queue.take_next"})
    assigned, _ = await until(desk, "conversation.assigned")
    assert assigned["conversation"] == str(first.public_id)
    position, _ = await until(sockets[1], "queue.position")
    while position["waiting"] != 1:  # earlier snapshots may still be in flight
        position, _ = await until(sockets[1], "queue.position")
    assert (position["position"], position["waiting"]) == (1, 1)
    _ = second
    for socket in (*sockets, desk):
        await socket.disconnect()


async def test_logout_closes_the_users_live_sockets(on_shift: User) -> None:
    from django.test import Client

    client = await database_sync_to_async(Client)(HTTP_HOST="127.0.0.1")
    await database_sync_to_async(client.force_login)(on_shift)
    desk, _ = await desk_socket(client.cookies["sessionid"].value)
    response = await database_sync_to_async(client.post)("/veileder/logg-ut/")
    assert response.status_code == 302
    frame, _ = await until(desk, "error")
    assert frame["code"] == "logged_out"
    closed = await desk.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_an_event_the_desk_does_not_take_is_ignored(on_shift: User) -> None:
    """A waiting chat's place in the queue, sent just before a desk took the chat, reaches the
    desk through the chat's group: the desk ignores it and lives on (it used to close)."""
    visitor, desk, _token, conversation = await start_chat(on_shift)
    key = str(conversation.public_id)
    from channels.layers import get_channel_layer

    from chat.events import conversation_group

    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(
        conversation_group(key),
        {"type": "queue.position", "conversation": key, "position": 1, "waiting": 1},
    )
    await desk.send_json_to({"type": "ping", "ref": "still-here"})
    pong, _seen = await until(desk, "pong")
    assert pong["ref"] == "still-here"
    await desk.disconnect()
    await visitor.disconnect()


async def test_a_socket_whose_client_left_during_an_event_still_leaves(on_shift: User) -> None:
    """The server refuses to send once the client has gone (uvicorn raises ClientDisconnected,
    an OSError). An event arriving in that moment must not end the socket before its disconnect
    is handled: the socket used to end there and keep its heartbeat, so the visitor (or a
    counsellor, with all their chats) stayed "present" for ever."""
    import asyncio

    from channels.layers import get_channel_layer
    from uvicorn.protocols.utils import ClientDisconnected

    from chat.events import conversation_group
    from config.asgi import application
    from routing.models import Presence

    conversation, token = await database_sync_to_async(conversation_open)(language="nb")
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    client_gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        if client_gone.is_set():
            raise ClientDisconnected  # what uvicorn does once the client has gone
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws/chat/",
        "raw_path": b"/ws/chat/",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"origin", b"http://127.0.0.1:8000"),
            (b"cookie", f"veivalg_visitor={token}".encode()),
        ],
        "subprotocols": [],
    }
    app = asyncio.create_task(application(scope, receive, send))
    await inbox.put({"type": "websocket.connect"})
    for _ in range(100):
        if any(m.get("type") == "websocket.send" for m in sent):
            break
        await asyncio.sleep(0.05)
    assert sent[0]["type"] == "websocket.accept"
    assert json.loads(sent[1]["text"])["type"] == "hello"
    present = Presence.objects.filter(conversation_id=conversation.pk)
    assert await database_sync_to_async(present.exists)()

    client_gone.set()
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(
        conversation_group(conversation.public_id),
        {"type": "chat.typing", "conversation": str(conversation.public_id), "party": "counsellor"},
    )
    await asyncio.sleep(0.3)  # the event meets the closed socket before the disconnect is read
    await inbox.put({"type": "websocket.disconnect", "code": 1006})
    await asyncio.wait_for(app, 5)
    assert not await database_sync_to_async(present.exists)()


async def test_a_desk_that_lost_its_groups_gets_the_missed_message_on_its_heartbeat(
    on_shift: User, settings: Any
) -> None:
    """A Redis restart forgets group memberships: the doorbell of a message sent meanwhile
    never reaches the desk. Its next heartbeat joins the groups again and, seeing the chat's
    sequence number ahead of what it delivered, sends the message from the database."""
    from channels.layers import get_channel_layer

    from chat.events import conversation_group
    from routing.models import Presence

    settings.VEIVALG = {**settings.VEIVALG, "HEARTBEAT_SECONDS": 4.0}  # first beat after ≥ 3 s
    visitor, desk, _token, conversation = await start_chat(on_shift)
    key = str(conversation.public_id)
    await drain(desk, quiet=0.2)
    channel = await database_sync_to_async(
        Presence.objects.filter(user_id=on_shift.pk)
        .exclude(channel_name__startswith="test-desk-")  # the fixture's stand-in desk
        .values_list("channel_name", flat=True)
        .get
    )()
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_discard(conversation_group(key), channel)  # what a Redis restart does

    await visitor.send_json_to({"type": "message.send", "client_id": "v-2", "body": "Er du der?"})
    ack, _ = await until(visitor, "ack")
    assert await desk.receive_nothing(timeout=0.5)  # the doorbell is lost
    message, _ = await until(desk, "message", wait=10)
    assert (message["body"], message["seq"]) == ("Er du der?", ack["seq"])

    # Back in the group: the next message needs no heartbeat.
    await visitor.send_json_to({"type": "message.send", "client_id": "v-3", "body": "Hei igjen"})
    message, _ = await until(desk, "message", wait=2)
    assert message["body"] == "Hei igjen"
    await visitor.disconnect()
    await desk.disconnect()


async def test_a_late_waiting_status_does_not_take_the_chat_from_its_desk(on_shift: User) -> None:
    """The visitor's first message rings "waiting" (no counsellor); the chat is assigned at
    once, and a desk connecting just then can get that doorbell after it has been given the
    chat. The desk used to drop the chat on it (its counsellor saw it vanish)."""
    from channels.layers import get_channel_layer

    from chat.events import conversation_group

    visitor, desk, _token, conversation = await start_chat(on_shift)
    key = str(conversation.public_id)
    await drain(desk, quiet=0.2)
    layer = get_channel_layer()
    assert layer is not None
    stale = {
        "type": "chat.status",
        "conversation": key,
        "counsellor_id": None,
        "status": "waiting",
        "counsellor_name": "",
        "closed_by": "",
        "rating_offered": False,
        "last_seq": 1,
        "crisis": False,
    }
    await layer.group_send(conversation_group(key), stale)
    await visitor.send_json_to({"type": "message.send", "client_id": "v-2", "body": "Hallo?"})
    message, seen = await until(desk, "message")
    assert not of_type(seen, "conversation.unassigned")
    assert message["body"] == "Hallo?"
    await visitor.disconnect()
    await desk.disconnect()
