"""Abuse: counsellors flag, supervisors block a visitor token for a period (and can undo it).
Every action is audited with who and why, never message content."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from chat import events as chat_events
from chat.errors import NotYourConversation, ReasonRequired
from chat.models import Conversation
from chat.selectors import parse_public_id
from chat.services import conversation_close
from moderation.models import VisitorBlock
from routing import events as routing_events
from routing.services import _check_supervisor, audit

MAX_BLOCK_HOURS = 24 * 30


def _conversation(public_id: str) -> Conversation:
    conversation = Conversation.objects.filter(public_id=parse_public_id(public_id)).first()
    if conversation is None:
        raise NotYourConversation
    return conversation


def message_flag(*, counsellor: User, public_id: str, seq: int, reason: str = "") -> None:
    """A counsellor reports abuse in their chat: the chat is flagged for the supervisor."""
    with transaction.atomic():
        conversation = _conversation(public_id)
        if conversation.counsellor_id != counsellor.pk:
            raise NotYourConversation
        Conversation.objects.filter(pk=conversation.pk).update(abuse_flagged=True)
        conversation.abuse_flagged = True
        audit(
            actor=counsellor,
            action="message_flag",
            target=str(conversation.public_id),
            detail=f"seq {seq}: {reason.strip()[:400]}",
        )
        chat_events.publish_status(conversation)
        routing_events.publish_queue_changed()  # the dashboard shows the alert


def visitor_block(*, actor: User, public_id: str, hours: int, reason: str) -> VisitorBlock:
    """Block the visitor's token for ``hours``; their open chat ends."""
    _check_supervisor(actor)
    if not reason.strip():
        raise ReasonRequired
    conversation = _conversation(public_id)
    with transaction.atomic():
        block = VisitorBlock.objects.create(
            token_hash=conversation.visitor_token_hash,
            until=timezone.now() + dt.timedelta(hours=max(1, min(hours, MAX_BLOCK_HOURS))),
            reason=reason.strip()[:300],
            created_by=actor,
        )
        audit(
            actor=actor,
            action="visitor_block",
            target=str(conversation.public_id),
            detail=f"{hours} h: {reason.strip()[:400]}",
        )
    if conversation.is_open:
        conversation_close(conversation_id=conversation.pk, party=Conversation.Party.SYSTEM)
    return block


def visitor_unblock(*, actor: User, public_id: str) -> int:
    """Undo: lift every active block of the visitor's token. Returns how many were lifted."""
    _check_supervisor(actor)
    conversation = _conversation(public_id)
    with transaction.atomic():
        lifted = VisitorBlock.objects.filter(
            token_hash=conversation.visitor_token_hash, lifted_at__isnull=True
        ).update(lifted_at=timezone.now())
        audit(actor=actor, action="visitor_unblock", target=str(conversation.public_id))
    return lifted
