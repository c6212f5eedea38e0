"""A few months of realistic statistics history for the demo (deterministic under a seed)."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from django.utils import timezone

from reports import attributes
from reports.models import NOT_GIVEN, StatRow

COUNTY_WEIGHTS = {
    "03": 13, "32": 13, "46": 12, "50": 9, "11": 9, "34": 7, "42": 6, "31": 6, "33": 5,
    "39": 5, "15": 5, "18": 4, "40": 3, "55": 3, "56": 1.5, "": 10,
}  # fmt: skip
TOPIC_WEIGHTS = {
    "utdanning.valg": 20, "utdanning.veier": 10, "utdanning.opptak": 8, "utdanning.finansiering": 4,
    "utdanning.bytte": 4, "utdanning.utland": 2, "jobb.passer": 4, "jobb.jobbsoking": 4,
    "jobb.arbeidsmarked": 1, "jobb.kompetanse": 1, "jobb.egen-bedrift": 1, "situasjon.ledig": 7,
    "situasjon.sykmeldt": 4, "situasjon.omstilling": 6, "situasjon.motivasjon": 4,
    "realkompetanse.vurdering": 4, "realkompetanse.praksiskandidat": 4,
    "realkompetanse.voksenrett": 3, "utenlandsk": 6, "annet": 7,
}  # fmt: skip
OPEN_HOURS = {0: (10, 20), 1: (10, 20), 2: (10, 20), 3: (10, 20), 4: (10, 15)}


def _pick(rng: random.Random, weights: dict[str, float] | dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _attribute(rng: random.Random, name: str) -> str:
    if rng.random() < 0.35:
        return NOT_GIVEN  # a third skip each question
    return rng.choice([code for code, _label in attributes.ATTRIBUTES[name][1]])


def history_rows(*, days: int, seed: int, per_day: int = 60) -> list[StatRow]:
    rng = random.Random(seed)
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    rows: list[StatRow] = []
    for back in range(days, 0, -1):
        day = today - dt.timedelta(days=back)
        hours = OPEN_HOURS.get(day.weekday())
        if hours is None:
            continue
        for _n in range(max(0, int(rng.gauss(per_day, per_day / 5)))):
            # More chats by day than in the evening.
            hour = min(hours[1] - 1, hours[0] + int(abs(rng.gauss(0, 3.5))))
            queued = dt.datetime.combine(day, dt.time(hour, rng.randrange(60)), tzinfo=tz)
            handled = rng.random() > 0.08
            topics = sorted({_pick(rng, TOPIC_WEIGHTS) for _t in range(rng.choice((1, 1, 1, 2)))})
            offered = handled
            rating = ""
            if offered and rng.random() < 0.2:
                rating = "up" if rng.random() < 0.985 else "down"
            rows.append(
                StatRow(
                    conversation_key=uuid.UUID(int=rng.getrandbits(128)),
                    queued_at=queued,
                    language=rng.choices(["nb", "nn", "en"], weights=[80, 15, 5])[0],
                    visitor_county=_pick(rng, COUNTY_WEIGHTS),
                    counsellor_county=rng.choice(["50", "46", "34"]) if handled else "",
                    taxonomy_version="2026.1" if handled else "",
                    topics=topics if handled else [],
                    referral=rng.choice(
                        ["", "", "", "henvist.fylke", "henvist.nav", "henvist.skole"]
                    )
                    if handled
                    else "",
                    age_band=_attribute(rng, "age_band"),
                    gender=_attribute(rng, "gender"),
                    situation=_attribute(rng, "situation"),
                    education=_attribute(rng, "education"),
                    heard_from=_attribute(rng, "heard_from"),
                    outcome="handled" if handled else "abandoned",
                    waited_seconds=int(rng.expovariate(1 / 240)),
                    duration_seconds=max(60, int(rng.gauss(900, 300))) if handled else 0,
                    hour=queued.hour,
                    weekday=queued.isoweekday(),
                    rating_offered=offered,
                    rating=rating,
                )
            )
    return rows


def history_load(*, days: int = 120, seed: int = 2026) -> int:
    """Replace the demo history (rows of the demo's own key space) and return its size."""
    rows = history_rows(days=days, seed=seed)
    StatRow.objects.filter(conversation_key__in=[r.conversation_key for r in rows]).delete()
    StatRow.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
