"""Transcripts expire; statistics rows stay. Also a visitor's own "delete the conversation"."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chat import conf
from chat.errors import DomainError
from chat.models import Conversation
from reports.services import statrows_sync

Status = Conversation.Status
UNWRITTEN_HOURS = 24


class ConversationStillOpen(DomainError):
    code = "conversation_open"
    message = _("End the chat before you delete it.")
    http_status = 409


def purge_expired(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete transcripts of chats ended more than ``RETENTION_DAYS`` ago (and chats opened but
    never written in), after making sure each has its statistics row. Safe to run any time."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=conf.retention_days())
    with transaction.atomic():
        statrows_sync(since=now)  # every ended chat has its row before any transcript goes
        expired = Conversation.objects.filter(
            status__in=[Status.CLOSED, Status.ABANDONED], closed_at__lt=cutoff
        )
        transcripts = expired.count()
        expired.delete()  # messages, notes, wrap-up and answers go with it
        unwritten = Conversation.objects.filter(
            status=Status.NEW, created_at__lt=now - dt.timedelta(hours=UNWRITTEN_HOURS)
        )
        never_written = unwritten.count()
        unwritten.delete()
    return {"transcripts_deleted": transcripts, "unwritten_deleted": never_written}


def conversation_forget(*, conversation: Conversation) -> None:
    """The visitor deletes their own ended conversation ("slett samtalen")."""
    if conversation.is_open:
        raise ConversationStillOpen
    with transaction.atomic():
        statrows_sync(since=timezone.now())
        Conversation.objects.filter(pk=conversation.pk).delete()
