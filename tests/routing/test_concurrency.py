"""50 waiting chats, 10 counsellors on two server processes claiming at once: every chat is
assigned exactly once and none is lost (PostgreSQL + Redis, real uvicorn processes)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from chat.models import Conversation, Message
from chat.services import conversation_open, message_send
from routing.services import shift_start
from tests.conftest import make_staff, session_cookie, shared_deployment
from tests.support import LiveServer, start_server

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.django_db(transaction=True),
    shared_deployment,
]
ORIGIN = Origin("http://127.0.0.1:8000")
CHATS = 50
COUNSELLORS = 10
LIMIT = 5


def world() -> tuple[list[User], list[int]]:
    counsellors = [make_staff(f"veileder{n}", "counsellor") for n in range(COUNSELLORS)]
    for user in counsellors:
        shift_start(counsellor=user)  # on shift, no desk open yet: nothing is assigned
    chats = []
    for n in range(CHATS):
        conversation, _token = conversation_open(language="nb")
        message_send(conversation_id=conversation.pk, party="visitor", body=f"{n}", client_id="1")
        chats.append(conversation.pk)
    assert Conversation.objects.filter(status="waiting").count() == CHATS
    return counsellors, chats


@pytest.fixture
def servers(request: pytest.FixtureRequest) -> Iterator[tuple[LiveServer, LiveServer]]:
    request.getfixturevalue("transactional_db")
    env = {"VEIVALG_MAX_ACTIVE_CHATS": str(LIMIT), "VEIVALG_AUTO_ASSIGN": request.param}
    first, second = start_server(env=env), start_server(env=env)
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


async def answer(ws: ClientConnection, ref: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame.get("ref") == ref and frame["type"] in {"conversation.assigned", "error"}:
                return frame


async def claimer(ws: ClientConnection, name: str) -> list[str]:
    taken: list[str] = []
    for n in range(CHATS):
        ref = f"{name}-{n}"
        await ws.send(json.dumps({"type": "queue.take_next", "ref": ref}))
        frame = await answer(ws, ref)
        if frame["type"] == "error":
            assert frame["code"] in {"queue_empty", "at_capacity"}, frame
            return taken
        taken.append(frame["conversation"])
    return taken


def outcome(chats: list[int]) -> tuple[Counter[int], Counter[int], int]:
    assigned_messages = Counter(
        Message.objects.filter(body="assigned").values_list("conversation_id", flat=True)
    )
    per_counsellor = Counter(
        Conversation.objects.filter(pk__in=chats, status="active").values_list(
            "counsellor_id", flat=True
        )
    )
    waiting = Conversation.objects.filter(pk__in=chats, status="waiting").count()
    return assigned_messages, per_counsellor, waiting


@pytest.mark.parametrize("servers", ["0", "1"], indirect=True, ids=["manual", "automatic"])
async def test_every_chat_is_assigned_exactly_once(servers: tuple[LiveServer, LiveServer]) -> None:
    counsellors, chats = await database_sync_to_async(world)()
    cookies = [await database_sync_to_async(session_cookie)(user) for user in counsellors]
    sockets = []
    for n, cookie in enumerate(cookies):
        server = servers[n % 2]
        ws = await connect(
            f"{server.ws_url}/ws/desk/",
            origin=ORIGIN,
            additional_headers={"Cookie": f"sessionid={cookie}"},
        )
        sockets.append(ws)
    try:
        # With automatic assignment, connecting is enough: both processes dispatch at once.
        results = await asyncio.gather(*(claimer(ws, f"c{n}") for n, ws in enumerate(sockets)))
        async with asyncio.timeout(30):
            while True:
                assigned_messages, per_counsellor, waiting = await database_sync_to_async(outcome)(
                    chats
                )
                if waiting == 0:
                    break
                await asyncio.sleep(0.2)
    finally:
        for ws in sockets:
            await ws.close()
    claimed = [key for taken in results for key in taken]
    assert len(claimed) == len(set(claimed)), "a chat was handed to two desks"
    assert set(assigned_messages) == set(chats)
    assert set(assigned_messages.values()) == {1}, "a chat was assigned twice"
    assert sum(per_counsellor.values()) == CHATS
    assert max(per_counsellor.values()) <= LIMIT
    assert waiting == 0
