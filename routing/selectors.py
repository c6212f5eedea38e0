"""Reads of the queue, of who is available, and of whether the chat is open."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypedDict

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Q, QuerySet
from django.utils import timezone

from chat import conf
from chat.models import Conversation
from routing.models import County, Presence, PresenceGone, Shift
from routing.schedule import ScheduleState, schedule_state

Status = Conversation.Status

COUNSELLOR_GROUP = "counsellor"
SUPERVISOR_GROUP = "supervisor"
STATISTICIAN_GROUP = "statistician"


def user_has_role(*, user_id: int | None, role: str) -> bool:
    if user_id is None:
        return False
    return get_user_model().objects.filter(pk=user_id, is_active=True, groups__name=role).exists()


# -- presence ------------------------------------------------------------------------------


def _live_since(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(seconds=conf.presence_timeout_seconds())


def live_staff_sockets(now: dt.datetime) -> QuerySet[Presence]:
    return Presence.objects.filter(user__isnull=False, heartbeat_at__gte=_live_since(now))


def connected_user_ids(now: dt.datetime | None = None) -> set[int]:
    return set(
        live_staff_sockets(now or timezone.now()).values_list("user_id", flat=True).distinct()
    )


def visitor_connected(*, conversation_id: int, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return Presence.objects.filter(
        conversation_id=conversation_id, heartbeat_at__gte=_live_since(now)
    ).exists()


class CounsellorItem(TypedDict):
    username: str
    name: str
    county: str
    active: int
    limit: int
    status: str


@dataclass(frozen=True)
class CounsellorState:
    user_id: int
    username: str
    name: str
    county: str
    active: int
    limit: int
    status: str  # "connected" | "grace" | "away"
    idle_since: dt.datetime

    @property
    def free(self) -> int:
        return max(0, self.limit - self.active) if self.status == "connected" else 0

    def as_item(self) -> CounsellorItem:
        """What counsellors and supervisors see of a colleague on shift (no chat content)."""
        return {
            "username": self.username,
            "name": self.name,
            "county": self.county,
            "active": self.active,
            "limit": self.limit,
            "status": self.status,
        }


def counsellors_on_shift(now: dt.datetime | None = None) -> list[CounsellorState]:
    """Everyone on a started shift, with load and connection status. A join over every chat:
    a pass that needs it more than once (the dashboard, a queue broadcast) reads it once and
    hands it to ``service_state`` and ``wait_estimator``."""
    now = now or timezone.now()
    live = connected_user_ids(now)
    grace_from = now - dt.timedelta(seconds=conf.grace_seconds())
    gone = dict(PresenceGone.objects.filter(user__isnull=False).values_list("user_id", "gone_at"))
    # A process that was killed leaves rows whose heartbeat simply stopped.
    for user_id, heartbeat in (
        Presence.objects.filter(user__isnull=False)
        .values("user_id")
        .annotate(last=Max("heartbeat_at"))
        .values_list("user_id", "last")
    ):
        gone[user_id] = max(heartbeat, gone.get(user_id, heartbeat))
    shifts = (
        Shift.objects.filter(ended_at__isnull=True)
        .select_related("counsellor", "counsellor__counsellor_profile__organisation")
        .annotate(
            active=Count(
                "counsellor__conversations",
                filter=Q(counsellor__conversations__status=Status.ACTIVE),
            )
        )
    )
    result = []
    for shift in shifts:
        user = shift.counsellor
        if user.pk in live:
            status = "connected"
        elif (gone.get(user.pk) or shift.started_at) >= grace_from:
            status = "grace"
        else:
            status = "away"
        profile = getattr(user, "counsellor_profile", None)
        result.append(
            CounsellorState(
                user_id=user.pk,
                username=user.get_username(),
                name=user.first_name or user.get_username(),
                county=profile.organisation.county_code if profile else "",
                active=int(shift.active),
                limit=conf.max_active_chats(),
                status=status,
                idle_since=shift.last_assigned_at or shift.started_at,
            )
        )
    return sorted(result, key=lambda c: c.name)


def counsellor_is_on_shift(*, user_id: int) -> bool:
    return Shift.objects.filter(counsellor_id=user_id, ended_at__isnull=True).exists()


def active_chat_count(*, user_id: int) -> int:
    return Conversation.objects.filter(counsellor_id=user_id, status=Status.ACTIVE).count()


# -- is the chat open? ---------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceState:
    open: bool
    reason: str  # "open" | "outside_hours" | "holiday" | "closed_early" | "nobody_on_shift"
    closes_at: dt.datetime | None
    next_opening: dt.datetime | None
    staffed: int
    override_reason: str = ""


def service_state(
    now: dt.datetime | None = None, on_shift: list[CounsellorState] | None = None
) -> ServiceState:
    """Open when the schedule says so and at least one counsellor is on shift and reachable."""
    now = now or timezone.now()
    schedule: ScheduleState = schedule_state(now)
    on_shift = counsellors_on_shift(now) if on_shift is None else on_shift
    staffed = sum(1 for c in on_shift if c.status != "away")
    if not schedule.scheduled_open:
        return ServiceState(
            False, schedule.reason, None, schedule.next_opening, staffed, schedule.override_reason
        )
    if staffed == 0:
        return ServiceState(False, "nobody_on_shift", schedule.closes_at, None, 0)
    return ServiceState(True, "open", schedule.closes_at, None, staffed, schedule.override_reason)


def service_is_open(now: dt.datetime | None = None) -> bool:
    return service_state(now).open


# -- the queue -----------------------------------------------------------------------------

QUEUE_ORDER = ("-priority", "-requeued", "queued_at", "id")


@dataclass(frozen=True)
class QueueEntry:
    pk: int
    public_id: str
    language: str
    county: str
    priority: int
    requeued: bool
    queued_at: dt.datetime


def queue_waiting() -> list[QueueEntry]:
    rows = (
        Conversation.objects.filter(status=Status.WAITING)
        .order_by(*QUEUE_ORDER)
        .values_list(
            "pk", "public_id", "language", "visitor_county", "priority", "requeued", "queued_at"
        )
    )
    return [
        QueueEntry(pk, str(pid), lang, county, prio, requeued, queued)
        for pk, pid, lang, county, prio, requeued, queued in rows
        if queued is not None
    ]


def queue_position(*, conversation: Conversation) -> int | None:
    """1-based place in the queue, or None when the conversation is not waiting."""
    if conversation.status != Status.WAITING:
        return None
    for position, entry in enumerate(queue_waiting(), start=1):
        if entry.pk == conversation.pk:
            return position
    return None


def average_chat_seconds(now: dt.datetime | None = None) -> int:
    """Mean length of chats handled in the last 14 days (default when there are too few)."""
    now = now or timezone.now()
    duration = ExpressionWrapper(F("closed_at") - F("assigned_at"), output_field=DurationField())
    stats = Conversation.objects.filter(
        status=Status.CLOSED,
        assigned_at__isnull=False,
        closed_at__gte=now - dt.timedelta(days=14),
    ).aggregate(mean=Avg(duration), n=Count("id"), latest=Max("closed_at"))
    if stats["n"] < 20 or stats["mean"] is None:
        return conf.default_chat_seconds()
    return max(60, int(stats["mean"].total_seconds()))


@dataclass(frozen=True)
class WaitEstimator:
    free: int  # chats that could be taken right now
    capacity: int  # parallel chats of everyone reachable
    chat_seconds: int

    def seconds(self, position: int) -> int | None:
        """Expected wait for the chat at ``position``; None when nobody can take it."""
        if position <= self.free:
            return 0
        if self.capacity == 0:
            return None
        return int((position - self.free) * self.chat_seconds / self.capacity)


def wait_estimator(
    now: dt.datetime | None = None, on_shift: list[CounsellorState] | None = None
) -> WaitEstimator:
    on_shift = counsellors_on_shift(now) if on_shift is None else on_shift
    counsellors = [c for c in on_shift if c.status != "away"]
    return WaitEstimator(
        free=sum(c.free for c in counsellors),
        capacity=sum(c.limit for c in counsellors),
        chat_seconds=average_chat_seconds(now),
    )


def current_counties(today: dt.date | None = None) -> list[County]:
    today = today or timezone.localdate()
    return list(
        County.objects.filter(valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .order_by("name")
    )
