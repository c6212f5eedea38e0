"""Shifts and claiming chats from the shared queue.

A claim is one conditional UPDATE (``status = waiting`` → ``active``) inside a transaction that
holds the counsellor's shift row: two counsellors can never claim the same chat, and one
counsellor can never go over their limit, on PostgreSQL (row locks) and SQLite (IMMEDIATE
transactions) alike.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from chat import conf
from chat import events as chat_events
from chat.errors import AlreadyTaken, AtCapacity, NotOnShift, QueueEmpty, ShiftHasActiveChats
from chat.models import Conversation
from chat.selectors import parse_public_id
from chat.services import lock_conversation, message_append_system
from routing import events, selectors
from routing.models import Shift

Status = Conversation.Status


def shift_start(*, counsellor: User) -> Shift:
    with transaction.atomic():
        shift = Shift.objects.filter(counsellor_id=counsellor.pk, ended_at__isnull=True).first()
        if shift is None:
            shift = Shift.objects.create(counsellor_id=counsellor.pk, started_at=timezone.now())
            events.publish_queue_changed()
    return shift


def shift_end(*, counsellor: User) -> None:
    with transaction.atomic():
        shift = (
            Shift.objects.select_for_update()
            .filter(counsellor_id=counsellor.pk, ended_at__isnull=True)
            .first()
        )
        if shift is None:
            return
        if selectors.active_chat_count(user_id=counsellor.pk) > 0:
            raise ShiftHasActiveChats
        shift.ended_at = timezone.now()
        shift.save(update_fields=["ended_at"])
        events.publish_queue_changed()


def _lock_shift(counsellor: User) -> Shift:
    shift = (
        Shift.objects.select_for_update()
        .filter(counsellor_id=counsellor.pk, ended_at__isnull=True)
        .first()
    )
    if shift is None:
        raise NotOnShift
    if selectors.active_chat_count(user_id=counsellor.pk) >= conf.max_active_chats():
        raise AtCapacity
    return shift


def _assign(conversation_id: int, counsellor: User) -> Conversation:
    now = timezone.now()
    claimed = Conversation.objects.filter(pk=conversation_id, status=Status.WAITING).update(
        status=Status.ACTIVE, counsellor_id=counsellor.pk, assigned_at=now
    )
    if claimed != 1:
        raise AlreadyTaken
    conversation = lock_conversation(conversation_id)
    message_append_system(conversation=conversation, code="assigned", author=counsellor)
    conversation.save(update_fields=["last_seq"])
    chat_events.publish_status(conversation)
    chat_events.publish_assigned(conversation, counsellor.pk)
    events.publish_queue_changed()
    return conversation


def conversation_claim_next(*, counsellor: User) -> Conversation:
    """Take the longest-waiting chat."""
    with transaction.atomic():
        _lock_shift(counsellor)
        waiting = Conversation.objects.filter(status=Status.WAITING).order_by("queued_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            waiting = waiting.select_for_update(skip_locked=True)
        candidate = waiting.values_list("pk", flat=True).first()
        if candidate is None:
            raise QueueEmpty
        return _assign(candidate, counsellor)


def conversation_claim(*, counsellor: User, public_id: str) -> Conversation:
    """Take one specific waiting chat."""
    with transaction.atomic():
        _lock_shift(counsellor)
        pk = (
            Conversation.objects.filter(public_id=parse_public_id(public_id))
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            raise AlreadyTaken
        return _assign(pk, counsellor)
