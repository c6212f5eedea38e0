"""Two real server processes sharing PostgreSQL and Redis, as in docker-compose.yml."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from chat.models import Message
from tests.conftest import session_cookie, shared_deployment, using_postgres
from tests.support import LiveServer, start_server

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.django_db(transaction=True),
    shared_deployment,
]
ORIGIN = Origin("http://127.0.0.1:8000")


@pytest.fixture
def two_servers(transactional_db: None) -> Iterator[tuple[LiveServer, LiveServer]]:
    assert using_postgres()
    first, second = start_server(), start_server()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


async def until(ws: ClientConnection, frame_type: str, wait: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(wait):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == frame_type:
                return frame


async def start_visitor(server: LiveServer) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        await client.get("/")
        response = await client.post(
            "/api/chat/",
            json={"language": "nb"},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        assert response.status_code == 201, response.text
        return str(response.cookies["veivalg_visitor"])


async def test_visitor_and_counsellor_on_different_processes(
    two_servers: tuple[LiveServer, LiveServer], counsellor: User
) -> None:
    server_a, server_b = two_servers
    session = await database_sync_to_async(session_cookie)(counsellor)
    async with connect(
        f"{server_b.ws_url}/ws/desk/",
        origin=ORIGIN,
        additional_headers={"Cookie": f"sessionid={session}"},
    ) as desk:
        await until(desk, "hello")
        await desk.send(json.dumps({"type": "shift.start"}))
        assert (await until(desk, "shift"))["on_shift"] is True

        token = await start_visitor(server_a)
        async with connect(
            f"{server_a.ws_url}/ws/chat/",
            origin=ORIGIN,
            additional_headers={"Cookie": f"veivalg_visitor={token}"},
        ) as visitor:
            await until(visitor, "hello")
            await visitor.send(json.dumps({"type": "resume", "last_seq": 0}))
            await until(visitor, "resumed")
            await visitor.send(
                json.dumps({"type": "message.send", "client_id": "v1", "body": "Hei fra A"})
            )
            await until(visitor, "ack")

            # Process A stores the message and assigns the chat; B's desk hears it via Redis.
            assigned = await until(desk, "conversation.assigned")
            key = assigned["conversation"]
            await desk.send(json.dumps({"type": "resume", "conversation": key, "last_seq": 0}))
            first = await until(desk, "message")
            assert (first["sender"], first["body"]) == ("visitor", "Hei fra A")

            status = await until(visitor, "status")
            while status["status"] != "active":
                status = await until(visitor, "status")
            await desk.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "conversation": key,
                        "client_id": "c1",
                        "body": "Hei fra B",
                    }
                )
            )
            reply = await until(visitor, "message")
            while reply["sender"] != "counsellor":
                reply = await until(visitor, "message")
            assert reply["body"] == "Hei fra B"

            await visitor.send(json.dumps({"type": "typing"}))
            assert (await until(desk, "typing"))["party"] == "visitor"
            await visitor.send(
                json.dumps({"type": "message.send", "client_id": "v2", "body": "Takk!"})
            )
            answer = await until(desk, "message")
            while answer["sender"] != "visitor":
                answer = await until(desk, "message")
            assert answer["body"] == "Takk!"

    bodies = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(conversation__public_id=key)
            .order_by("seq")
            .values_list("body", flat=True)
        )
    )()
    assert bodies == ["Hei fra A", "assigned", "Hei fra B", "Takk!"]
