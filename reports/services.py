"""Wrap-up, visitor attributes, the statistics rows and the pre-aggregated counts."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models.functions import TruncDate
from django.utils import timezone

from chat.errors import (
    ConversationClosed,
    InvalidAttribute,
    InvalidTopic,
    NotYourConversation,
    WrapupRequired,
)
from chat.models import Conversation
from chat.selectors import parse_public_id
from chat.services import conversation_close
from reports import attributes
from reports.models import FillState, StatCount, StatRow, Taxonomy, Topic, VisitorAttributes, Wrapup
from reports.periods import KINDS, period_code

Status = Conversation.Status
WAIT_BANDS = ((60, "0-1"), (300, "1-5"), (900, "5-15"), (1800, "15-30"))


def current_taxonomy() -> Taxonomy:
    taxonomy = Taxonomy.objects.filter(is_current=True).first()
    if taxonomy is None:
        from reports.reference import ensure_taxonomy

        taxonomy = ensure_taxonomy()
    return taxonomy


# -- wrap-up -------------------------------------------------------------------------------


def wrapup_save(
    *, counsellor: User, public_id: str, topics: list[str], referral: str = ""
) -> Wrapup:
    """The counsellor's topics (at least one) and optional referral for their chat."""
    taxonomy = current_taxonomy()
    known = dict(taxonomy.topics.values_list("code", "kind"))
    chosen = sorted(set(topics))
    if not chosen:
        raise WrapupRequired
    if any(known.get(code) != Topic.Kind.TOPIC for code in chosen):
        raise InvalidTopic
    if referral and known.get(referral) != Topic.Kind.REFERRAL:
        raise InvalidTopic
    conversation = (
        Conversation.objects.filter(public_id=parse_public_id(public_id)).select_related().first()
    )
    if conversation is None or conversation.counsellor_id != counsellor.pk:
        raise NotYourConversation
    if conversation.status not in {Status.ACTIVE, Status.CLOSED}:
        raise ConversationClosed
    wrapup, _created = Wrapup.objects.update_or_create(
        conversation=conversation,
        defaults={
            "taxonomy_version": taxonomy.version,
            "topics": chosen,
            "referral": referral,
            "completed_by": counsellor,
        },
    )
    return wrapup


def close_with_wrapup(*, counsellor: User, public_id: str) -> None:
    """A counsellor ends a chat only after the wrap-up (topics are required)."""
    conversation = Conversation.objects.filter(public_id=parse_public_id(public_id)).first()
    if conversation is None or conversation.counsellor_id != counsellor.pk:
        raise NotYourConversation
    if not Wrapup.objects.filter(conversation=conversation).exists():
        raise WrapupRequired
    conversation_close(
        conversation_id=conversation.pk, party=Conversation.Party.COUNSELLOR, actor_id=counsellor.pk
    )


# -- visitor attributes --------------------------------------------------------------------


def attributes_save(
    *, conversation: Conversation, values: Mapping[str, object]
) -> VisitorAttributes:
    """Store what the visitor chose to tell; anything left out is "not given"."""
    clean: dict[str, str] = {}
    for name in attributes.ATTRIBUTES:
        value = values.get(name) or attributes.NOT_GIVEN
        if not isinstance(value, str) or value not in attributes.allowed(name):
            raise InvalidAttribute
        clean[name] = value
    unknown = set(values) - set(attributes.ATTRIBUTES)
    if unknown:
        raise InvalidAttribute
    row, _created = VisitorAttributes.objects.update_or_create(
        conversation=conversation, defaults=clean
    )
    return row


# -- statistics rows -----------------------------------------------------------------------


def _row_values(conversation: Conversation) -> dict[str, object]:
    queued = conversation.queued_at
    assert queued is not None
    local = timezone.localtime(queued)
    ended = conversation.closed_at or timezone.now()
    handled = conversation.assigned_at is not None
    wrapup = getattr(conversation, "wrapup", None)
    attrs = getattr(conversation, "attributes", None)
    return {
        "queued_at": queued,
        "language": conversation.language,
        "visitor_county": conversation.visitor_county,
        "counsellor_county": conversation.counsellor_county if handled else "",
        "taxonomy_version": wrapup.taxonomy_version if wrapup else "",
        "topics": list(wrapup.topics) if wrapup else [],
        "referral": wrapup.referral if wrapup else "",
        **{
            name: getattr(attrs, name) if attrs else attributes.NOT_GIVEN
            for name in attributes.ATTRIBUTES
        },
        "outcome": "handled" if handled else "abandoned",
        "waited_seconds": int(((conversation.assigned_at or ended) - queued).total_seconds()),
        "duration_seconds": int((ended - conversation.assigned_at).total_seconds())
        if conversation.assigned_at
        else 0,
        "hour": local.hour,
        "weekday": local.isoweekday(),
        "rating_offered": conversation.rating_offered,
        "rating": conversation.rating,
    }


def statrows_sync(*, since: dt.datetime) -> int:
    """Create or update the statistics row of every chat that ended since ``since`` (and of any
    ended chat still without one). Unchanged rows are left alone. Returns rows written."""
    ended = Conversation.objects.filter(
        status__in=[Status.CLOSED, Status.ABANDONED], queued_at__isnull=False
    ).select_related("wrapup", "attributes")
    recent = ended.filter(closed_at__gte=since)
    missing = ended.exclude(public_id__in=StatRow.objects.values("conversation_key"))
    written = 0
    for conversation in {c.pk: c for c in [*recent, *missing]}.values():
        values = _row_values(conversation)
        row = StatRow.objects.filter(conversation_key=conversation.public_id).first()
        if row is not None and all(getattr(row, k) == v for k, v in values.items()):
            continue
        StatRow.objects.update_or_create(conversation_key=conversation.public_id, defaults=values)
        written += 1
    return written


# -- counts --------------------------------------------------------------------------------


def _wait_band(seconds: int) -> str:
    for limit, band in WAIT_BANDS:
        if seconds < limit:
            return band
    return "30+"


def row_cells(row: StatRow) -> Iterable[tuple[str, str]]:
    """The (dimension, value) pairs one chat adds to; every table is value × period."""
    yield "total", "all"
    yield "outcome", row.outcome
    tops = sorted({code.split(".")[0] for code in row.topics}) or ["ikke_tagget"]
    for code in tops:
        yield "topic", code
    for code in sorted(c for c in row.topics if "." in c):
        yield "subtopic", code
    yield "referral", row.referral or "ingen"
    for name in attributes.ATTRIBUTES:
        yield name, getattr(row, name)
    yield "hour", f"{row.hour:02d}"
    yield "weekday", str(row.weekday)
    yield "wait", _wait_band(row.waited_seconds)
    yield "rating", (row.rating or "unanswered") if row.rating_offered else "not_offered"
    yield "counsellor_county", row.counsellor_county or "-"
    yield "language", row.language


def _recount(kind: str, period: str, county: str, counts: Mapping[tuple[str, str], int]) -> None:
    with transaction.atomic():
        StatCount.objects.filter(period_kind=kind, period=period, county=county).delete()
        StatCount.objects.bulk_create(
            StatCount(
                period_kind=kind,
                period=period,
                county=county,
                dimension=dimension,
                value=value,
                count=count,
            )
            for (dimension, value), count in counts.items()
        )


def _count_groups(
    county: str, groups: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Counter[tuple[str, str]]]:
    """The cells of every (kind, period) group of one county. Each row is read and counted
    once, into its local day: the groups' ranges (a day of margin each side) are merged into
    spans, one query per span, and each day's counts are added to the groups it belongs to."""
    counts: dict[tuple[str, str], Counter[tuple[str, str]]] = {g: Counter() for g in groups}
    spans: list[list[dt.datetime]] = []
    for start, end in sorted(
        (_period_start(kind, period) - dt.timedelta(days=1), _period_end(kind, period))
        for kind, period in counts
    ):
        end += dt.timedelta(days=1)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    by_day: dict[dt.date, Counter[tuple[str, str]]] = defaultdict(Counter)
    tz = timezone.get_current_timezone()
    for start, end in spans:
        rows = StatRow.objects.filter(
            visitor_county=county, queued_at__gte=start, queued_at__lt=end
        )
        for row in rows.iterator(chunk_size=5000):
            by_day[timezone.localtime(row.queued_at, tz).date()].update(row_cells(row))
    for day, cells in by_day.items():
        for kind in KINDS:
            counter = counts.get((kind, period_code(kind, day)))
            if counter is not None:
                counter.update(cells)
    return counts


def counts_fill(*, rebuild: bool = False, progress: object = None) -> dict[str, int]:
    """Idempotent and restartable: sync the rows, then recount every (period, county) group
    that a changed row belongs to, and move the watermark. ``rebuild`` recounts everything."""
    started = timezone.now()
    state, _created = FillState.objects.get_or_create(pk=1)
    watermark = None if rebuild else state.watermark
    since = (watermark or started - dt.timedelta(days=3650)) - dt.timedelta(days=7)
    synced = statrows_sync(since=since)
    changed = (
        StatRow.objects.all()
        if watermark is None
        else StatRow.objects.filter(updated_at__gt=watermark)
    )
    # The distinct (local day, county) pairs of the changed rows, from the database.
    days = (
        changed.annotate(day=TruncDate("queued_at")).values_list("day", "visitor_county").distinct()
    )
    groups: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for day, county in days:
        groups[county].update((kind, period_code(kind, day)) for kind in KINDS)
    if rebuild:
        StatCount.objects.all().delete()
    total = sum(len(county_groups) for county_groups in groups.values())
    done = 0
    for county in sorted(groups):
        counted = _count_groups(county, groups[county])
        for kind, period in sorted(counted):
            _recount(kind, period, county, counted[(kind, period)])
            done += 1
            if callable(progress):
                progress(done, total)
    # Rows saved while this ran are newer than ``started`` and are counted next time.
    FillState.objects.filter(pk=1).update(watermark=started - dt.timedelta(seconds=1))
    return {"rows_synced": synced, "groups_recounted": done}


def _period_start(kind: str, period: str) -> dt.datetime:
    tz = timezone.get_current_timezone()
    if kind == "year":
        day = dt.date(int(period), 1, 1)
    elif kind == "month":
        day = dt.date(int(period[:4]), int(period[5:]), 1)
    else:
        day = dt.date.fromisocalendar(int(period[:4]), int(period[5:]), 1)
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def _period_end(kind: str, period: str) -> dt.datetime:
    start = _period_start(kind, period)
    if kind == "year":
        return start.replace(year=start.year + 1)
    if kind == "month":
        return (start + dt.timedelta(days=32)).replace(day=1)
    return start + dt.timedelta(days=7)
