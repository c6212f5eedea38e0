"""Suggestions on the real desk socket: what the visitor writes drives the panel; a click sends
the link into the chat; only counts are kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from chat.models import Message
from chat.services import conversation_open
from knowledge import facade
from knowledge.models import SuggestionCount
from tests.conftest import session_cookie
from tests.wsclient import desk_socket, drain, of_type, until, visitor_socket

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def settled_counts(doc_id: str) -> dict[str, SuggestionCount]:
    """Counts are written on a background thread: wait until the sent one has landed."""
    for _ in range(50):
        counts: dict[str, SuggestionCount] = await database_sync_to_async(
            lambda: {c.doc_id: c for c in SuggestionCount.objects.all()}
        )()
        if doc_id in counts and counts[doc_id].sent:
            return counts
        await asyncio.sleep(0.1)
    raise AssertionError(f"no sent count for {doc_id}")


async def chat_with_desk(counsellor: User, first: str) -> tuple[Any, Any, str]:
    conversation, token = await database_sync_to_async(conversation_open)(language="nb")
    visitor, _ = await visitor_socket(token)
    await visitor.send_json_to({"type": "resume", "last_seq": 0})
    await until(visitor, "resumed")
    await visitor.send_json_to({"type": "message.send", "client_id": "v-1", "body": first})
    await until(visitor, "ack")
    desk, hello = await desk_socket(await database_sync_to_async(session_cookie)(counsellor))
    assert hello["suggestions"] is True
    key = str(conversation.public_id)
    await desk.send_json_to({"type": "resume", "conversation": key, "last_seq": 0})
    return visitor, desk, key


async def test_visitor_messages_drive_the_panel_and_a_click_sends_the_link(
    on_shift: User, knowledge_index: facade.LoadResult
) -> None:
    visitor, desk, key = await chat_with_desk(on_shift, "Hei! Jeg lurer på noe.")
    # On connect the desk gets suggestions for what is already there.
    first, _ = await until(desk, "suggestions", wait=15)
    assert (first["conversation"], first["source"]) == (key, "chat")

    await visitor.send_json_to(
        {
            "type": "message.send",
            "client_id": "v-2",
            "body": "Jeg har lyst til å bli elektriker, hvilken linje på videregående må jeg ta?",
        }
    )
    ack, _ = await until(visitor, "ack")
    panel, _ = await until(desk, "suggestions", wait=15)
    while panel["seq"] < ack["seq"]:  # a refresh from before the message may come first
        panel, _ = await until(desk, "suggestions", wait=15)
    ids = [item["id"] for item in panel["items"]]
    # Both the occupation and the upper-secondary programme that leads to it, near the top.
    assert {"yrke/elektriker", "utdanning/vg1-elektro-og-datateknologi"} <= set(ids[:3])
    item = next(i for i in panel["items"] if i["id"] == "yrke/elektriker")
    assert item["title"] == "Elektriker"
    assert item["kind"] == "yrke"
    assert item["summary"]

    await desk.send_json_to(
        {"type": "suggestion.send", "conversation": key, "id": "yrke/elektriker", "client_id": "s1"}
    )
    ack, _ = await until(desk, "ack")
    assert ack["duplicate"] is False
    message, _ = await until(visitor, "message")
    while message["sender"] != "counsellor":  # the visitor's own messages come back first
        message, _ = await until(visitor, "message")
    assert message["body"] == "Elektriker: https://veivalg.example/yrke/elektriker"
    # A retried click is stored once.
    await desk.send_json_to(
        {"type": "suggestion.send", "conversation": key, "id": "yrke/elektriker", "client_id": "s1"}
    )
    ack, _ = await until(desk, "ack")
    assert ack["duplicate"] is True
    sent = await database_sync_to_async(
        Message.objects.filter(body__contains="veivalg.example/yrke/elektriker").count
    )()
    assert sent == 1

    counts = await settled_counts("yrke/elektriker")
    assert counts["yrke/elektriker"].shown == 1  # shown twice in this chat, counted once
    assert counts["yrke/elektriker"].sent == 1
    ignored = [c for c in counts.values() if c.sent == 0]
    assert ignored, "the documents shown but never sent count as ignored"
    report = await database_sync_to_async(facade.counts)(counts["yrke/elektriker"].day)
    row = next(r for r in report if r["id"] == "yrke/elektriker")
    assert (row["shown"], row["sent"], row["ignored"]) == (1, 1, 0)
    await visitor.disconnect()
    await desk.disconnect()


async def test_each_visitor_message_is_embedded_once_however_many_refreshes_it_joins(
    on_shift: User, knowledge_index: facade.LoadResult
) -> None:
    """A refresh searches the chat's last three visitor messages. Embedding their joined text
    again on every message was most of a suggestion's time (docs/performance.md): each message
    is embedded once, when it is new, and the panel still follows the whole chat."""
    visitor, desk, _key = await chat_with_desk(on_shift, "Hei, jeg har et spørsmål om jobb.")
    await until(desk, "suggestions", wait=15)
    memo = facade._get_worker().memo
    before = memo.embedded
    texts = [
        "Jeg har jobbet i en dagligvarebutikk i mange år nå.",
        "Egentlig har jeg lenge hatt lyst til å bli elektriker.",
        "Hvor lang tid tar det å bli ferdig med det?",
    ]
    for n, body in enumerate(texts, start=2):
        await visitor.send_json_to({"type": "message.send", "client_id": f"v-{n}", "body": body})
        ack, _ = await until(visitor, "ack")
        panel, _ = await until(desk, "suggestions", wait=15)
        while panel["seq"] < ack["seq"]:
            panel, _ = await until(desk, "suggestions", wait=15)
    # Three refreshes searched 2, 3 and 3 messages; only the three new ones were embedded.
    assert memo.embedded - before == len(texts)
    # The newest message says nothing of electricians: the earlier ones still count.
    assert "yrke/elektriker" in [item["id"] for item in panel["items"]][:5]
    await visitor.disconnect()
    await desk.disconnect()


async def test_hits_are_labelled_with_the_newest_message_they_were_searched_for(
    on_shift: User, knowledge_index: facade.LoadResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message that arrives while a search runs must not lend its sequence number to that
    search's hits: the desk takes a panel with ``seq`` n as covering message n."""
    real = facade.suggest
    searching, release = asyncio.Event(), asyncio.Event()

    async def held(query: str, limit: int) -> Any:
        searching.set()
        await release.wait()  # the first search is still running when the next message lands
        return await real(query, limit)

    monkeypatch.setattr(facade, "suggest", held)
    visitor, desk, _key = await chat_with_desk(on_shift, "Hei! Jeg lurer på noe.")
    await asyncio.wait_for(searching.wait(), 15)
    await visitor.send_json_to(
        {"type": "message.send", "client_id": "v-2", "body": "Jeg vil bli elektriker."}
    )
    ack, _ = await until(visitor, "ack")
    await asyncio.sleep(0.3)  # the desk has the message now
    release.set()
    panel, _ = await until(desk, "suggestions", wait=15)
    assert panel["seq"] < ack["seq"]  # searched for the greeting only
    while panel["seq"] < ack["seq"]:
        panel, _ = await until(desk, "suggestions", wait=15)
    assert "yrke/elektriker" in [item["id"] for item in panel["items"]][:3]
    await visitor.disconnect()
    await desk.disconnect()


async def test_search_box_and_bad_requests(
    on_shift: User, knowledge_index: facade.LoadResult
) -> None:
    visitor, desk, key = await chat_with_desk(on_shift, "Hei")
    await until(desk, "suggestions", wait=15)
    await desk.send_json_to(
        {"type": "suggestion.search", "conversation": key, "q": "lånekassen stipend", "ref": "r1"}
    )
    found, _ = await until(desk, "suggestions", wait=15)
    while found["source"] == "chat":  # a refresh for the chat may still be on its way
        found, _ = await until(desk, "suggestions", wait=15)
    assert (found["source"], found["ref"]) == ("search", "r1")
    assert found["items"][0]["kind"] == "tema"
    assert "lanekassen" in found["items"][0]["id"]

    await desk.send_json_to(
        {"type": "suggestion.send", "conversation": key, "id": "yrke/finnes-ikke", "client_id": "s"}
    )
    error, _ = await until(desk, "error")
    assert error["code"] == "unknown_document"
    await desk.send_json_to({"type": "suggestion.search", "conversation": key, "q": ""})
    error, _ = await until(desk, "error")
    assert error["code"] == "invalid_frame"
    await desk.send_json_to({"type": "ping", "ref": "alive"})
    pong, _ = await until(desk, "pong")
    assert pong["ref"] == "alive"
    from_counsellor = [
        m for m in of_type(await drain(visitor), "message") if m["sender"] == "counsellor"
    ]
    assert not from_counsellor  # nothing reached the visitor
    await visitor.disconnect()
    await desk.disconnect()


async def test_without_an_index_the_desk_works_and_shows_nothing(on_shift: User) -> None:
    visitor, desk, _key = await chat_with_desk(on_shift, "Jeg vil bli elektriker")
    await visitor.send_json_to({"type": "message.send", "client_id": "v-2", "body": "Hallo?"})
    frames = await drain(desk, quiet=1.0)
    assert [m["body"] for m in of_type(frames, "message")][-1] == "Hallo?"
    assert not of_type(frames, "suggestions")
    await visitor.disconnect()
    await desk.disconnect()
