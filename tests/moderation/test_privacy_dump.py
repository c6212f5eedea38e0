"""After a scripted chat with a fødselsnummer, a phone number and an e-mail address, neither the
database (dumped whole) nor any log file contains them, nor any IP address."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
from typing import Any

import httpx
import pytest
from channels.db import database_sync_to_async
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from tests.conftest import make_staff, session_cookie
from tests.support import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = Origin("http://127.0.0.1:8000")
FNR = "15019012317"  # 15.01.1990 with valid mod-11 check digits (checked below)
PHONE = "481 23 456"
EMAIL = "kari.nordmann@example.no"
IP = re.compile(r"\b127\.0\.0\.1\b|(?<![\w:])::1\b|\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")


async def until(ws: ClientConnection, frame_type: str) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == frame_type:
                return frame


def dump_database() -> str:
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        return subprocess.run(
            [
                "pg_dump",
                "-h",
                str(settings["HOST"] or "127.0.0.1"),
                "-U",
                str(settings["USER"] or "postgres"),
                str(settings["NAME"]),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    with sqlite3.connect(str(settings["NAME"])) as db:
        return "\n".join(db.iterdump())


async def test_no_personal_data_or_ip_at_rest(live_server_proc: LiveServer) -> None:
    from moderation.redaction import valid_personal_number

    assert valid_personal_number(FNR)
    server = live_server_proc
    counsellor = await database_sync_to_async(make_staff)("kari", "counsellor")
    cookie = await database_sync_to_async(session_cookie)(counsellor)
    headers = {"Cookie": f"sessionid={cookie}"}
    async with connect(
        f"{server.ws_url}/ws/desk/", origin=ORIGIN, additional_headers=headers
    ) as desk:
        await until(desk, "hello")
        await desk.send(json.dumps({"type": "shift.start"}))
        await until(desk, "shift")
        async with httpx.AsyncClient(base_url=server.url) as client:
            await client.get("/")
            response = await client.post(
                "/api/chat/", json={}, headers={"X-CSRFToken": client.cookies["csrftoken"]}
            )
            token = response.cookies["veivalg_visitor"]
        async with connect(
            f"{server.ws_url}/ws/chat/",
            origin=ORIGIN,
            additional_headers={"Cookie": f"veivalg_visitor={token}"},
        ) as visitor:
            await until(visitor, "hello")
            for n, text in enumerate(
                [
                    f"Hei, fødselsnummeret mitt er {FNR}",
                    f"Ring meg gjerne på {PHONE}",
                    f"eller send e-post til {EMAIL}",
                ]
            ):
                await visitor.send(
                    json.dumps({"type": "message.send", "client_id": f"v{n}", "body": text})
                )
                await until(visitor, "ack")
            assigned = await until(desk, "conversation.assigned")
            key = assigned["conversation"]
            await desk.send(json.dumps({"type": "resume", "conversation": key, "last_seq": 0}))
            await until(desk, "resumed")
            await visitor.send(json.dumps({"type": "conversation.close"}))
            await until(visitor, "status")
    await asyncio.sleep(0.5)
    server.stop()  # flush the log

    dump = await database_sync_to_async(dump_database)()
    assert "Ring meg gjerne på [telefon]" in dump  # the chat is there, redacted
    log = server.log()
    assert "WebSocket /ws/chat/" in log  # the server did log the sockets...
    for where, text in (("database", dump), ("server log", log)):
        assert FNR not in text.replace(" ", ""), where
        assert PHONE not in text, where
        assert PHONE.replace(" ", "") not in text, where
        assert EMAIL not in text, where
        assert not IP.search(text), f"{where}: {IP.search(text)}"  # ...but never an address
