"""Reads of conversations and messages. Reads that depend on who asks raise rather than leak."""

from __future__ import annotations

import hashlib
import uuid

from django.contrib.auth.models import AnonymousUser, User

from chat.errors import ConversationNotFound, NotYourConversation
from chat.models import Conversation, Message


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def conversation_get_for_visitor(*, token: str) -> Conversation:
    if not token:
        raise ConversationNotFound
    conversation = (
        Conversation.objects.select_related("counsellor")
        .filter(visitor_token_hash=hash_token(token))
        .first()
    )
    if conversation is None:
        raise ConversationNotFound
    return conversation


def parse_public_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError) as exc:
        raise ConversationNotFound from exc


def conversation_get_for_counsellor(
    *, user: User | AnonymousUser, public_id: str | uuid.UUID
) -> Conversation:
    """The conversation if ``user`` is its counsellor; raises otherwise."""
    conversation = (
        Conversation.objects.select_related("counsellor")
        .filter(public_id=parse_public_id(str(public_id)))
        .first()
    )
    if conversation is None:
        raise ConversationNotFound
    if conversation.counsellor_id is None or conversation.counsellor_id != user.pk:
        raise NotYourConversation
    return conversation


def messages_after(*, conversation_id: int, after_seq: int, limit: int) -> list[Message]:
    return list(
        Message.objects.select_related("author")
        .filter(conversation_id=conversation_id, seq__gt=after_seq)
        .order_by("seq")[:limit]
    )


def conversations_assigned_to(*, user_id: int) -> list[Conversation]:
    return list(
        Conversation.objects.select_related("counsellor")
        .filter(counsellor_id=user_id, status=Conversation.Status.ACTIVE)
        .order_by("assigned_at")
    )


def recent_visitor_messages(*, conversation_id: int, limit: int) -> list[tuple[int, str]]:
    """The visitor's last ``limit`` messages as ``(seq, body)``, oldest first (stored redacted)."""
    rows = list(
        Message.objects.filter(conversation_id=conversation_id, sender=Conversation.Party.VISITOR)
        .order_by("-seq")
        .values_list("seq", "body")[:limit]
    )
    return rows[::-1]
