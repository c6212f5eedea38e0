"""Automatic assignment: the longest-waiting chat goes to the best available counsellor.

Rules (docs/routing.md): crisis-flagged chats first, then chats sent back to the queue, then
by waiting time. A counsellor is available while on a started shift, connected and under their
limit; among those, the one with the fewest active chats gets it, ties to the longest idle.
A visitor who gave a county is offered first to that county's counsellors (when any of them is
on shift) for ``COUNTY_PREFERENCE_SECONDS``, then to everyone.

Every run holds the dispatch lock row, so processes never interleave their decisions; the claim
itself is still a conditional UPDATE, safe against manual claims in parallel.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from chat import conf
from chat import events as chat_events
from chat.errors import AlreadyTaken
from chat.models import Conversation
from chat.services import lock_conversation, message_append_system
from routing import events, selectors
from routing.models import CounsellorProfile, DispatchLock, Shift, Transfer

Status = Conversation.Status


def counsellor_county(user_id: int) -> str:
    profile = CounsellorProfile.objects.select_related("organisation").filter(user_id=user_id)
    first = profile.first()
    return first.organisation.county_code if first else ""


def assign(conversation_id: int, counsellor: User, *, now: dt.datetime) -> Conversation:
    """Give a waiting chat to ``counsellor``; raises AlreadyTaken if it is no longer waiting."""
    claimed = Conversation.objects.filter(pk=conversation_id, status=Status.WAITING).update(
        status=Status.ACTIVE,
        counsellor_id=counsellor.pk,
        assigned_at=Coalesce(F("assigned_at"), Value(now, output_field=DateTimeField())),
        counsellor_county=counsellor_county(counsellor.pk),
        requeued=False,
    )
    if claimed != 1:
        raise AlreadyTaken
    Shift.objects.filter(counsellor_id=counsellor.pk, ended_at__isnull=True).update(
        last_assigned_at=now
    )
    conversation = lock_conversation(conversation_id)
    message_append_system(conversation=conversation, code="assigned", author=counsellor)
    conversation.save(update_fields=["last_seq"])
    chat_events.publish_status(conversation)
    chat_events.publish_assigned(conversation, counsellor.pk)
    return conversation


def next_pair(now: dt.datetime) -> tuple[int, int] | None:
    """The next (conversation, counsellor) the rules pick, or None."""
    waiting = selectors.queue_waiting()
    if not waiting:
        return None  # every sweep asks; who is on shift is the costly half of the answer
    on_shift = selectors.counsellors_on_shift(now)
    connected = [c for c in on_shift if c.status == "connected"]
    available = [c for c in connected if c.free > 0]
    if not available:
        return None
    present_counties = {c.county for c in connected if c.county}
    window = dt.timedelta(seconds=conf.county_preference_seconds())
    for entry in waiting:
        eligible = available
        prefers_county = (
            entry.county in present_counties
            and not entry.requeued
            and now - entry.queued_at < window
        )
        if prefers_county:
            eligible = [c for c in available if c.county == entry.county]
        if entry.requeued:
            # A chat passed back to the queue does not go straight back to who passed it on.
            last = (
                Transfer.objects.filter(conversation_id=entry.pk)
                .order_by("-created_at", "-id")
                .values_list("from_counsellor_id", "to_counsellor_id")
                .first()
            )
            if last is not None and last[1] is None:
                eligible = [c for c in eligible if c.user_id != last[0]]
        if eligible:
            best = min(eligible, key=lambda c: (c.active, c.idle_since, c.user_id))
            return entry.pk, best.user_id
    return None


def _still_free(counsellor_id: int) -> bool:
    """Lock the counsellor's shift row, as manual claims do, and count again: the picture
    ``next_pair`` read may be older than a claim committed since (tests/routing/
    test_concurrency.py caught a sixth chat for a limit of five)."""
    shift = (
        Shift.objects.select_for_update()
        .filter(counsellor_id=counsellor_id, ended_at__isnull=True)
        .first()
    )
    return (
        shift is not None
        and selectors.active_chat_count(user_id=counsellor_id) < conf.max_active_chats()
    )


def _lock() -> None:
    if DispatchLock.objects.select_for_update().filter(pk=1).first() is None:
        DispatchLock.objects.get_or_create(pk=1)


def queue_dispatch(*, now: dt.datetime | None = None, broadcast: bool = True) -> list[int]:
    """Assign as many waiting chats as the rules allow; returns their ids in order."""
    assigned: list[int] = []
    while True:
        with transaction.atomic():
            _lock()
            moment = now or timezone.now()
            pair = next_pair(moment)
            if pair is None:
                break
            conversation_id, counsellor_id = pair
            if not _still_free(counsellor_id):
                continue  # a manual claim got in first: decide again on what is committed
            assign(conversation_id, User.objects.get(pk=counsellor_id), now=moment)
            assigned.append(conversation_id)
    if broadcast and assigned:
        events.broadcast_queue()
    return assigned
