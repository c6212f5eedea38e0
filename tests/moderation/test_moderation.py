"""Crisis signals in the chat, retention, the visitor's own deletion, flood control."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chat.models import Conversation, Message
from chat.services import conversation_close, conversation_open, message_send
from moderation.ratelimit import TooManyNewChats, reset_shared
from moderation.retention import ConversationStillOpen, conversation_forget, purge_expired
from reports.models import StatRow
from routing.dashboard import dashboard_state
from routing.selectors import queue_waiting
from tests.wsclient import until, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def test_a_crisis_goes_first_alerts_and_shows_help(staffed: User) -> None:
    calm, _ = conversation_open(language="nb")
    message_send(conversation_id=calm.pk, party="visitor", body="Hei, om CV", client_id="1")
    worried, _ = conversation_open(language="nn")
    message_send(conversation_id=worried.pk, party="visitor", body="Hei", client_id="1")
    message_send(
        conversation_id=worried.pk,
        party="visitor",
        body="eg orkar ikkje meir, vil ikkje leve",
        client_id="2",
    )
    worried.refresh_from_db()
    assert (worried.crisis_flagged, worried.priority) == (True, 10)
    assert [entry.pk for entry in queue_waiting()] == [worried.pk, calm.pk]
    assert list(worried.messages.values_list("body", flat=True))[-1] == "crisis_help"
    alerts = {a["code"] for a in dashboard_state()["alerts"]}
    assert "crisis" in alerts
    # Never closed automatically: not when the visitor's page goes, not after hours.
    from routing.models import PresenceGone

    PresenceGone.objects.create(
        conversation=worried, gone_at=timezone.now() - dt.timedelta(hours=1)
    )
    from routing.services import queue_sweep

    assert worried.pk not in queue_sweep().abandoned
    worried.refresh_from_db()
    assert worried.status == "waiting"


def test_stored_copy_is_redacted_live_copy_is_not(staffed: User) -> None:
    conversation, _ = conversation_open(language="nb")
    result = message_send(
        conversation_id=conversation.pk,
        party="visitor",
        body="ring meg på 481 23 456 eller kari@example.no",
        client_id="1",
    )
    assert Message.objects.get(pk=result.message.pk).body == "ring meg på [telefon] eller [e-post]"


@pytest.mark.asyncio
async def test_the_counsellor_sees_what_was_written_live(on_shift: User) -> None:
    from tests.conftest import session_cookie
    from tests.wsclient import desk_socket

    conversation, token = await database_sync_to_async(conversation_open)(language="nb")
    visitor, _ = await visitor_socket(token)
    await visitor.send_json_to({"type": "message.send", "client_id": "1", "body": "Hei"})
    await until(visitor, "ack")
    desk, _ = await desk_socket(await database_sync_to_async(session_cookie)(on_shift))
    key = str(conversation.public_id)
    await desk.send_json_to({"type": "resume", "conversation": key, "last_seq": 0})
    await until(desk, "resumed")
    await visitor.send_json_to({"type": "message.send", "client_id": "2", "body": "nr 48123456"})
    live, _ = await until(desk, "message")
    assert live["body"] == "nr 48123456"
    stored = await database_sync_to_async(
        lambda: Message.objects.get(conversation=conversation, client_id="2").body
    )()
    assert stored == "nr [telefon]"
    await visitor.disconnect()
    await desk.disconnect()


def test_retention_deletes_transcripts_and_keeps_statistics(staffed: User) -> None:
    with time_machine.travel(timezone.now() - dt.timedelta(days=31), tick=False):
        from tests.conftest import connect_desk

        connect_desk(staffed)
        old, _ = conversation_open(language="nb")
        message_send(conversation_id=old.pk, party="visitor", body="gammelt", client_id="1")
        conversation_close(conversation_id=old.pk, party="visitor")
        never, _ = conversation_open(language="nb")
    connect_desk(staffed)  # back in the present, with a fresh heartbeat
    recent, _ = conversation_open(language="nb")
    message_send(conversation_id=recent.pk, party="visitor", body="nytt", client_id="1")
    conversation_close(conversation_id=recent.pk, party="visitor")
    result = purge_expired()
    assert result == {"transcripts_deleted": 1, "unwritten_deleted": 1}
    assert not Conversation.objects.filter(pk__in=[old.pk, never.pk]).exists()
    assert not Message.objects.filter(body="gammelt").exists()
    assert Message.objects.filter(body="nytt").exists()
    assert StatRow.objects.filter(conversation_key=old.public_id).exists()
    assert purge_expired() == {"transcripts_deleted": 0, "unwritten_deleted": 0}


def test_visitor_deletes_own_conversation_at_the_end(staffed: User) -> None:
    client = Client(HTTP_HOST="127.0.0.1")
    client.post("/api/chat/", content_type="application/json")
    conversation = Conversation.objects.get()
    message_send(conversation_id=conversation.pk, party="visitor", body="hei", client_id="1")
    with pytest.raises(ConversationStillOpen):
        conversation_forget(conversation=conversation)
    assert client.post("/api/chat/delete/").status_code == 409
    conversation_close(conversation_id=conversation.pk, party="visitor")
    response = client.post("/api/chat/delete/")
    assert response.status_code == 204
    assert not Conversation.objects.exists()
    assert StatRow.objects.filter(conversation_key=conversation.public_id).exists()
    assert client.get("/api/chat/").status_code == 404


def test_new_chats_are_capped_per_minute(staffed: User, settings: object) -> None:
    from django.conf import settings as django_settings

    django_settings.VEIVALG = {**django_settings.VEIVALG, "NEW_CHATS_PER_MINUTE": 3}
    reset_shared("new_chat")
    try:
        for _ in range(3):
            conversation_open(language="nb")
        with pytest.raises(TooManyNewChats):
            conversation_open(language="nb")
    finally:
        django_settings.VEIVALG = {**django_settings.VEIVALG, "NEW_CHATS_PER_MINUTE": 100_000}
        reset_shared("new_chat")


@pytest.mark.asyncio
async def test_flooding_a_socket_gets_errors_then_1008(staffed: User) -> None:
    _conversation, token = await database_sync_to_async(conversation_open)(language="nb")
    visitor, _ = await visitor_socket(token)
    codes = []
    for n in range(30):
        await visitor.send_json_to({"type": "message.send", "client_id": f"m{n}", "body": "x"})
        output = await visitor.receive_output(timeout=5)
        while output["type"] == "websocket.send":
            frame = json.loads(output["text"])
            if frame["type"] in {"ack", "error"}:
                break
            output = await visitor.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            codes.append(("close", output["code"]))
            break
        codes.append((frame["type"], frame.get("code", "")))
    assert codes[:10] == [("ack", "")] * 10
    assert ("error", "rate_limited") in codes
    assert codes[-1] == ("close", 1008)
    stored = await database_sync_to_async(Message.objects.filter(sender="visitor").count)()
    assert stored == 10


def test_moderation_screen_command(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"text": "ring 48123456, jeg vil ikke leve lenger"})
        + "\n"
        + json.dumps({"text": "hva tjener en elektriker?"})
        + "\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "moderation_screen", "--input", str(source)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert [json.loads(line) for line in out] == [
        {
            "text": "ring 48123456, jeg vil ikke leve lenger",
            "redacted": "ring [telefon], jeg vil ikke leve lenger",
            "crisis": True,
        },
        {
            "text": "hva tjener en elektriker?",
            "redacted": "hva tjener en elektriker?",
            "crisis": False,
        },
    ]


CRISIS_TERMS = [
    re.compile(term["pattern"])
    for term in json.loads((ROOT / "moderation/data/crisis_terms.json").read_text("utf-8"))["terms"]
]


@settings(
    max_examples=900,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_every_match_of_a_crisis_term_contains_one_of_its_prefixes(data: st.DataObject) -> None:
    """The crisis scan skips a term when the text holds none of the strings its matches start
    with. Generated texts that match each shipped term must hold one, or a crisis is missed."""
    from moderation.crisis import literal_prefixes

    pattern = data.draw(st.sampled_from(CRISIS_TERMS))
    text = data.draw(st.from_regex(pattern))
    assume(pattern.search(text))
    prefixes = literal_prefixes(pattern)
    assert prefixes is None or any(p in text for p in prefixes), (pattern.pattern, text)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bta(?:r|tt)? livet", {"ta"}),
        (r"(?<!som )\b(?:blir|ble) (?:slatt|banka)", {"blir ", "ble s", "ble b"}),
        (r"[a-z]+ meg", None),  # a character class first: no literal to look for
        (r"(?i)selvmord", None),  # case-insensitive: a literal says nothing
        (r"(?:jeg )?vil do", None),  # an optional first word
        (r"\bx", None),  # one character selects nothing
    ],
)
def test_the_prefixes_of_a_term(pattern: str, expected: set[str] | None) -> None:
    from moderation.crisis import literal_prefixes

    found = literal_prefixes(re.compile(pattern))
    assert (set(found) if found is not None else None) == expected
