"""Reads of the queue and of who is on shift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from chat.models import Conversation
from routing.models import Shift

Status = Conversation.Status


@dataclass(frozen=True)
class QueueEntry:
    public_id: str
    language: str
    queued_at: datetime


def service_is_open() -> bool:
    """Open while at least one counsellor is on a started shift (the rota joins later)."""
    return Shift.objects.filter(ended_at__isnull=True).exists()


def counsellors_on_shift() -> int:
    return Shift.objects.filter(ended_at__isnull=True).count()


def counsellor_is_on_shift(*, user_id: int) -> bool:
    return Shift.objects.filter(counsellor_id=user_id, ended_at__isnull=True).exists()


def active_chat_count(*, user_id: int) -> int:
    return Conversation.objects.filter(counsellor_id=user_id, status=Status.ACTIVE).count()


def queue_waiting() -> list[QueueEntry]:
    rows = (
        Conversation.objects.filter(status=Status.WAITING)
        .order_by("queued_at", "id")
        .values_list("public_id", "language", "queued_at")
    )
    return [QueueEntry(str(pid), lang, queued) for pid, lang, queued in rows if queued]


def queue_position(*, conversation: Conversation) -> int | None:
    """1-based place in the queue, or None when the conversation is not waiting."""
    if conversation.status != Status.WAITING or conversation.queued_at is None:
        return None
    ahead = Conversation.objects.filter(
        Q(queued_at__lt=conversation.queued_at)
        | Q(queued_at=conversation.queued_at, id__lt=conversation.pk),
        status=Status.WAITING,
    ).count()
    return ahead + 1


COUNSELLOR_GROUP = "counsellor"
SUPERVISOR_GROUP = "supervisor"
STATISTICIAN_GROUP = "statistician"


def user_has_role(*, user_id: int | None, role: str) -> bool:
    if user_id is None:
        return False
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id, is_active=True, groups__name=role).exists()
