"""Hostile and random frames against the real ASGI app (Hypothesis): the server answers with
error frames, never crashes or closes, stores nothing, and other conversations are unaffected."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import Conversation, Message
from chat.services import conversation_open, message_send
from tests.wsclient import open_socket

pytestmark = pytest.mark.django_db(transaction=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
frame_types = st.sampled_from(
    ["message.send", "resume", "typing", "seen", "conversation.close", "rating", "ping",
     "queue.take", "shift.start", "wrapup", "", "x" * 100]
)  # fmt: skip
typed_frames = st.fixed_dictionaries(
    {"type": frame_types},
    optional={
        "client_id": json_values,
        "body": json_values | st.text(max_size=3000),
        "last_seq": json_values | st.integers(min_value=-5, max_value=10**12),
        "seq": json_values,
        "value": json_values,
        "conversation": json_values | st.uuids().map(str),
        "ref": json_values,
    },
).map(json.dumps)
frames = st.lists(
    st.one_of(
        st.text(min_size=1, max_size=300),
        json_values.map(json.dumps),
        typed_frames,
        st.binary(min_size=1, max_size=64),
        st.just("[" * 3000 + "]" * 3000),
        st.just(json.dumps({"type": "message.send", "client_id": "h", "body": "x" * 20_000})),
    ),
    min_size=1,
    max_size=8,
)


async def _run(token: str, other_id: int, batch: list[str | bytes]) -> list[dict[str, Any]]:
    socket = await open_socket("/ws/chat/", f"veivalg_visitor={token}")
    await socket.receive_json_from(timeout=5)  # hello
    answers = []
    for frame in batch:
        if isinstance(frame, bytes):
            await socket.send_to(bytes_data=frame)
        else:
            await socket.send_to(text_data=frame)
        while not await socket.receive_nothing(timeout=0.05):
            output = await socket.receive_output(timeout=5)
            assert output["type"] == "websocket.send", f"the socket closed on {frame!r:.80}"
            answers.append(json.loads(output["text"]))
    await socket.send_json_to({"type": "ping", "ref": "alive"})
    pong = await socket.receive_json_from(timeout=5)
    while pong["type"] != "pong":
        pong = await socket.receive_json_from(timeout=5)
    assert pong["ref"] == "alive"
    await socket.disconnect()
    return answers


def test_random_and_hostile_frames(staffed: User) -> None:
    django_settings.VEIVALG = {
        **django_settings.VEIVALG,
        "MESSAGES_PER_10S": 10_000,
        "TYPING_PER_10S": 10_000,
    }
    mine, token = conversation_open(language="nb")
    other, _other_token = conversation_open(language="nb")
    message_send(conversation_id=other.pk, party="visitor", body="Hei", client_id="o")
    before_other = list(Message.objects.filter(conversation=other).values_list("seq", "body"))

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(batch=frames)
    def run(batch: list[str | bytes]) -> None:
        answers = async_to_sync(_run)(token, other.pk, batch)
        for answer in answers:
            assert answer["type"] != "error" or answer["code"] != "internal_error", answer
            if answer["type"] == "error":
                assert answer["code"]
                assert answer["message"]

    try:
        run()
    finally:
        django_settings.VEIVALG = {
            **django_settings.VEIVALG,
            "MESSAGES_PER_10S": 10,
            "TYPING_PER_10S": 10,
        }
    assert (
        list(Message.objects.filter(conversation=other).values_list("seq", "body")) == before_other
    )
    other.refresh_from_db()
    assert other.status == "waiting"
    assert Conversation.objects.get(pk=mine.pk).visitor_token_hash  # still there, still mine
