"""Shifts, presence, claiming and handing over chats, supervisor overrides and the sweeper.

A claim is one conditional UPDATE (``status = waiting`` → ``active``) inside a transaction that
holds the counsellor's shift row: two counsellors can never claim the same chat, and one
counsellor can never go over their limit, on PostgreSQL (row locks) and SQLite (IMMEDIATE
transactions) alike. Rules in plain words: docs/routing.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from chat import conf
from chat import events as chat_events
from chat.errors import (
    AlreadyTaken,
    AtCapacity,
    ConversationClosed,
    Forbidden,
    NotOnShift,
    NotYourConversation,
    QueueEmpty,
    ReasonRequired,
    ShiftHasActiveChats,
    TransferTargetUnavailable,
)
from chat.models import Conversation
from chat.selectors import parse_public_id
from chat.services import lock_conversation, message_append_system
from routing import events, selectors
from routing.dispatch import assign
from routing.models import AuditEntry, Presence, PresenceGone, ServiceOverride, Shift, Transfer

Status = Conversation.Status
Party = Conversation.Party

# -- shifts --------------------------------------------------------------------------------


def shift_start(*, counsellor: User) -> Shift:
    with transaction.atomic():
        shift = Shift.objects.filter(counsellor_id=counsellor.pk, ended_at__isnull=True).first()
        if shift is None:
            shift = Shift.objects.create(counsellor_id=counsellor.pk, started_at=timezone.now())
            events.publish_queue_changed()
    return shift


def shift_end(*, counsellor: User) -> None:
    """End the shift. Active chats must be handed over (or ended) first."""
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


# -- presence ------------------------------------------------------------------------------


def presence_connect(
    *,
    channel_name: str,
    user_id: int | None = None,
    conversation_id: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        Presence.objects.update_or_create(
            channel_name=channel_name,
            defaults={
                "user_id": user_id,
                "conversation_id": conversation_id,
                "connected_at": now,
                "heartbeat_at": now,
            },
        )
        PresenceGone.objects.filter(
            Q(user_id=user_id) if user_id else Q(conversation_id=conversation_id)
        ).delete()
        if user_id is not None:
            events.publish_queue_changed()


def presence_heartbeat(*, channel_name: str, now: dt.datetime | None = None) -> bool:
    """Refresh a socket's heartbeat; False if the sweeper already declared it gone."""
    return bool(
        Presence.objects.filter(channel_name=channel_name).update(
            heartbeat_at=now or timezone.now()
        )
    )


def _mark_gone(user_id: int | None, conversation_id: int | None, gone_at: dt.datetime) -> None:
    if user_id is not None:
        PresenceGone.objects.update_or_create(user_id=user_id, defaults={"gone_at": gone_at})
    elif conversation_id is not None:
        PresenceGone.objects.update_or_create(
            conversation_id=conversation_id, defaults={"gone_at": gone_at}
        )


def presence_disconnect(*, channel_name: str, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        row = Presence.objects.filter(channel_name=channel_name).first()
        if row is None:
            return
        row.delete()
        live_since = now - dt.timedelta(seconds=conf.presence_timeout_seconds())
        others = Presence.objects.filter(heartbeat_at__gte=live_since)
        if row.user_id is not None:
            if not others.filter(user_id=row.user_id).exists():
                _mark_gone(row.user_id, None, now)
            events.publish_queue_changed()
        elif (
            row.conversation_id is not None
            and not others.filter(conversation_id=row.conversation_id).exists()
        ):
            _mark_gone(None, row.conversation_id, now)


# -- claiming ------------------------------------------------------------------------------


def _locked_by_public_id(public_id: str) -> Conversation:
    pk = (
        Conversation.objects.filter(public_id=parse_public_id(public_id))
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        raise NotYourConversation
    return lock_conversation(pk)


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


def conversation_claim_next(*, counsellor: User) -> Conversation:
    """Take the first chat in the queue (crisis first, then requeued, then longest-waiting)."""
    with transaction.atomic():
        _lock_shift(counsellor)
        waiting = Conversation.objects.filter(status=Status.WAITING).order_by(
            *selectors.QUEUE_ORDER
        )
        if connection.features.has_select_for_update_skip_locked:
            waiting = waiting.select_for_update(skip_locked=True)
        candidate = waiting.values_list("pk", flat=True).first()
        if candidate is None:
            raise QueueEmpty
        conversation = assign(candidate, counsellor, now=timezone.now())
        events.publish_queue_changed()
        return conversation


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
        conversation = assign(pk, counsellor, now=timezone.now())
        events.publish_queue_changed()
        return conversation


# -- handing over --------------------------------------------------------------------------


def _requeue(conversation: Conversation, code: str) -> None:
    """Send an active chat back to the front of the queue. The caller holds the row lock."""
    previous = conversation.counsellor_id
    conversation.status = Status.WAITING
    conversation.counsellor = None
    conversation.requeued = True
    message_append_system(conversation=conversation, code=code)
    conversation.save(update_fields=["status", "counsellor", "requeued", "last_seq"])
    chat_events.publish_status(conversation)
    if previous is not None:
        events.publish_unassigned(conversation.public_id, previous)
    events.publish_queue_changed()


def conversation_transfer(
    *, counsellor: User, public_id: str, to_username: str | None, note: str = ""
) -> None:
    """Hand a chat to a named colleague on shift, or back to the front of the queue."""
    with transaction.atomic():
        conversation = _locked_by_public_id(public_id)
        if conversation.counsellor_id != counsellor.pk:
            raise NotYourConversation
        if conversation.status != Status.ACTIVE:
            raise ConversationClosed
        target = None
        if to_username:
            target = User.objects.filter(username=to_username, groups__name="counsellor").first()
            if target is None or target.pk == counsellor.pk:
                raise TransferTargetUnavailable
            state = next(
                (c for c in selectors.counsellors_on_shift() if c.user_id == target.pk), None
            )
            if state is None or state.status != "connected" or state.free == 0:
                raise TransferTargetUnavailable
        Transfer.objects.create(
            conversation=conversation,
            from_counsellor=counsellor,
            to_counsellor=target,
            note=note.strip()[:2000],
        )
        if target is None:
            _requeue(conversation, "transferred_to_queue")
            return
        from routing.dispatch import counsellor_county

        conversation.counsellor = target
        conversation.counsellor_county = counsellor_county(target.pk)
        message_append_system(conversation=conversation, code="transferred", author=target)
        conversation.save(update_fields=["counsellor", "counsellor_county", "last_seq"])
        chat_events.publish_status(conversation)
        chat_events.publish_assigned(conversation, target.pk)
        events.publish_unassigned(conversation.public_id, counsellor.pk)
        events.publish_queue_changed()


# -- supervisor overrides ------------------------------------------------------------------


def _check_supervisor(actor: User) -> None:
    if not selectors.user_has_role(user_id=actor.pk, role=selectors.SUPERVISOR_GROUP):
        raise Forbidden


def audit(*, actor: User | None, action: str, target: str = "", detail: str = "") -> None:
    """Record a staff action. ``detail`` is a stated reason, never message content."""
    AuditEntry.objects.create(actor=actor, action=action, target=target[:80], detail=detail[:500])


def service_override_set(
    *, actor: User, kind: str, reason: str, until: dt.datetime
) -> ServiceOverride:
    """Close the chat early, or open it outside the schedule, until ``until``."""
    _check_supervisor(actor)
    if not reason.strip():
        raise ReasonRequired
    now = timezone.now()
    with transaction.atomic():
        audit(actor=actor, action=f"service_{kind}", target=until.isoformat(), detail=reason)
        ServiceOverride.objects.filter(
            cancelled_at__isnull=True, ends_at__gt=now, starts_at__lte=now
        ).update(cancelled_at=now)
        override = ServiceOverride.objects.create(
            kind=kind, reason=reason.strip()[:300], starts_at=now, ends_at=until, created_by=actor
        )
        events.publish_queue_changed()
    return override


def service_override_cancel(*, actor: User) -> None:
    _check_supervisor(actor)
    now = timezone.now()
    with transaction.atomic():
        audit(actor=actor, action="service_resume")
        ServiceOverride.objects.filter(
            cancelled_at__isnull=True, ends_at__gt=now, starts_at__lte=now
        ).update(cancelled_at=now)
        events.publish_queue_changed()


# -- supervisor actions --------------------------------------------------------------------


def conversation_move(*, actor: User, public_id: str, to_username: str, reason: str = "") -> None:
    """A supervisor moves an active chat to another counsellor on shift."""
    _check_supervisor(actor)
    with transaction.atomic():
        conversation = _locked_by_public_id(public_id)
        if conversation.status != Status.ACTIVE or conversation.counsellor_id is None:
            raise ConversationClosed
        current = User.objects.get(pk=conversation.counsellor_id)
        audit(actor=actor, action="conversation_move", target=str(public_id), detail=to_username)
    conversation_transfer(
        counsellor=current, public_id=public_id, to_username=to_username, note=reason
    )


def conversation_end_stuck(*, actor: User, public_id: str, reason: str) -> None:
    """A supervisor ends a chat that is stuck (e.g. the visitor vanished), with a reason."""
    _check_supervisor(actor)
    if not reason.strip():
        raise ReasonRequired
    with transaction.atomic():
        conversation = _locked_by_public_id(public_id)
        audit(actor=actor, action="conversation_end", target=str(public_id), detail=reason)
    from chat.services import conversation_close

    conversation_close(conversation_id=conversation.pk, party=Party.SYSTEM)


def counsellors_message(*, actor: User, text: str) -> None:
    """A supervisor's notice to every counsellor's desk (not to visitors)."""
    _check_supervisor(actor)
    if not text.strip():
        raise ReasonRequired
    with transaction.atomic():
        audit(actor=actor, action="counsellors_message")
        events.publish_supervisor_message(text.strip()[:500], actor.first_name or actor.username)


def transcript_open(*, actor: User, public_id: str, reason: str) -> Conversation:
    """A supervisor opens a transcript: only with a stated reason, which is logged."""
    _check_supervisor(actor)
    if len(reason.strip()) < 5:
        raise ReasonRequired
    conversation = (
        Conversation.objects.filter(public_id=parse_public_id(public_id))
        .select_related("counsellor")
        .first()
    )
    if conversation is None:
        raise NotYourConversation
    audit(actor=actor, action="transcript_view", target=str(public_id), detail=reason.strip())
    return conversation


# -- the sweeper ---------------------------------------------------------------------------


@dataclass
class SweepResult:
    stale_sockets: int = 0
    requeued: list[int] = field(default_factory=list)
    abandoned: list[int] = field(default_factory=list)
    unserved: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.stale_sockets or self.requeued or self.abandoned or self.unserved)


def _expire_stale_presence(now: dt.datetime, result: SweepResult) -> None:
    live_since = now - dt.timedelta(seconds=conf.presence_timeout_seconds())
    stale = Presence.objects.filter(heartbeat_at__lt=live_since)
    for user_id, conversation_id, last in (
        stale.values("user_id", "conversation_id")
        .annotate(last=Max("heartbeat_at"))
        .values_list("user_id", "conversation_id", "last")
    ):
        still_here = Presence.objects.filter(heartbeat_at__gte=live_since)
        if user_id is not None and not still_here.filter(user_id=user_id).exists():
            _mark_gone(user_id, None, last)
        elif user_id is None and not still_here.filter(conversation_id=conversation_id).exists():
            _mark_gone(None, conversation_id, last)
    result.stale_sockets = stale.delete()[0]


def _requeue_lost_counsellors(now: dt.datetime, result: SweepResult) -> None:
    live = selectors.live_staff_sockets(now)
    serving = Shift.objects.filter(ended_at__isnull=True, counsellor_id__in=live.values("user_id"))
    active = Conversation.objects.filter(status=Status.ACTIVE)
    if not active.exclude(counsellor_id__in=serving.values("counsellor_id")).exists():
        # Every chat in progress has a connected counsellor on shift, so nobody is lost: one
        # query instead of the full picture of who is on shift, on every sweep.
        return
    on_shift = selectors.counsellors_on_shift(now)
    present = {c.user_id for c in on_shift if c.status != "away"}
    lost = Conversation.objects.filter(status=Status.ACTIVE).exclude(counsellor_id__in=present)
    for pk in lost.values_list("pk", flat=True):
        with transaction.atomic():
            conversation = lock_conversation(pk)
            if conversation.status == Status.ACTIVE:
                _requeue(conversation, "counsellor_lost")
                result.requeued.append(pk)


def _close_waiting(pk: int, code: str, now: dt.datetime) -> bool:
    with transaction.atomic():
        conversation = lock_conversation(pk)
        if conversation.status != Status.WAITING or conversation.priority > 0:
            return False  # crisis-flagged chats are never closed automatically
        conversation.status = Status.ABANDONED
        conversation.closed_at = now
        conversation.closed_by = Party.SYSTEM
        message_append_system(conversation=conversation, code=code)
        conversation.save(update_fields=["status", "closed_at", "closed_by", "last_seq"])
        chat_events.publish_status(conversation)
        events.publish_queue_changed()
        return True


def _abandon_departed_visitors(now: dt.datetime, result: SweepResult) -> None:
    gone_before = now - dt.timedelta(seconds=conf.visitor_grace_seconds())
    live_since = now - dt.timedelta(seconds=conf.presence_timeout_seconds())
    departed = PresenceGone.objects.filter(
        conversation__status=Status.WAITING, gone_at__lt=gone_before
    ).exclude(
        conversation__in=Presence.objects.filter(heartbeat_at__gte=live_since).values(
            "conversation"
        )
    )
    for pk in departed.values_list("conversation_id", flat=True):
        if pk is not None and _close_waiting(pk, "visitor_left", now):
            result.abandoned.append(pk)


def _close_unserved_after_hours(now: dt.datetime, result: SweepResult) -> None:
    if not Conversation.objects.filter(status=Status.WAITING).exists():
        return  # nothing to close (and the service state is a dozen queries)
    state = selectors.service_state(now)
    if state.reason in {"open", "nobody_on_shift"} or state.staffed > 0:
        return  # within opening hours, or someone on shift is still serving the queue
    for pk in Conversation.objects.filter(status=Status.WAITING).values_list("pk", flat=True):
        if _close_waiting(pk, "closed_unserved", now):
            result.unserved.append(pk)


def queue_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Housekeeping every few seconds, in every process; safe to run concurrently."""
    now = now or timezone.now()
    result = SweepResult()
    _expire_stale_presence(now, result)
    _requeue_lost_counsellors(now, result)
    _abandon_departed_visitors(now, result)
    _close_unserved_after_hours(now, result)
    if conf.auto_assign():
        from routing.dispatch import queue_dispatch

        # The dispatcher reads the clock for each assignment: a run can take a while, and a
        # sweep's moment stamped on all of them put assigned_at out of the order in which the
        # chats were really given out (bench/queueing.py counted it as queue jumping).
        queue_dispatch(broadcast=False)
    return result
