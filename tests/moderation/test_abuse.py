"""Abuse: counsellors flag, supervisors block a visitor token for a while (and undo it);
profanity is flagged for the counsellor, never blocked."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from chat import errors
from chat.events import message_payload
from chat.models import Conversation
from chat.services import message_send
from moderation.services import message_flag, visitor_block, visitor_unblock
from routing.dashboard import dashboard_state
from routing.models import AuditEntry
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def visitor_chat(client: Client) -> Conversation:
    assert client.post("/api/chat/", content_type="application/json").status_code == 201
    conversation = Conversation.objects.order_by("-id").first()
    assert conversation is not None
    message_send(conversation_id=conversation.pk, party="visitor", body="hei", client_id="1")
    conversation.refresh_from_db()
    return conversation


def test_flag_block_and_undo(on_shift: User, other_counsellor: User) -> None:
    supervisor = make_staff("siri", "supervisor")
    client = Client(HTTP_HOST="127.0.0.1")
    chat = visitor_chat(client)
    key = str(chat.public_id)
    assert chat.counsellor_id == on_shift.pk
    with pytest.raises(errors.NotYourConversation):
        message_flag(counsellor=other_counsellor, public_id=key, seq=1)
    message_flag(counsellor=on_shift, public_id=key, seq=1, reason="trakassering")
    chat.refresh_from_db()
    assert chat.abuse_flagged is True
    assert {"code": "abuse", "conversation": key} in dashboard_state()["alerts"]

    with pytest.raises(errors.Forbidden):
        visitor_block(actor=on_shift, public_id=key, hours=24, reason="nei")
    with pytest.raises(errors.ReasonRequired):
        visitor_block(actor=supervisor, public_id=key, hours=24, reason="")
    visitor_block(actor=supervisor, public_id=key, hours=24, reason="Gjentatt trakassering")
    chat.refresh_from_db()
    assert (chat.status, chat.closed_by) == ("closed", "system")
    response = client.post("/api/chat/", content_type="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "blocked")

    visitor_unblock(actor=supervisor, public_id=key)
    assert client.post("/api/chat/", content_type="application/json").status_code == 201
    assert list(AuditEntry.objects.order_by("id").values_list("action", "actor__username")) == [
        ("message_flag", "kari"),
        ("visitor_block", "siri"),
        ("visitor_unblock", "siri"),
    ]


def test_a_blocked_token_cannot_write(on_shift: User) -> None:
    supervisor = make_staff("siri", "supervisor")
    chat = visitor_chat(Client(HTTP_HOST="127.0.0.1"))
    Conversation.objects.filter(pk=chat.pk).update(status="waiting", counsellor=None)
    visitor_block(actor=supervisor, public_id=str(chat.public_id), hours=2, reason="spam")
    Conversation.objects.filter(pk=chat.pk).update(status="waiting")  # even if it were open
    with pytest.raises(errors.VisitorBlocked):
        message_send(conversation_id=chat.pk, party="visitor", body="hallo?", client_id="2")


def test_profanity_is_flagged_never_blocked(on_shift: User) -> None:
    chat = visitor_chat(Client(HTTP_HOST="127.0.0.1"))
    sent = message_send(
        conversation_id=chat.pk,
        party="visitor",
        body="faen, dette er jævla vanskelig",
        client_id="2",
    )
    assert sent.message.body == "faen, dette er jævla vanskelig"
    assert message_payload(sent.message)["profanity"] is True
    calm = message_send(
        conversation_id=chat.pk, party="visitor", body="takk for hjelpen", client_id="3"
    )
    assert message_payload(calm.message)["profanity"] is False
