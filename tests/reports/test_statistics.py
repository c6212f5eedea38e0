"""Wrap-up, attributes, statistics rows, counts and exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from chat import errors
from chat.models import Conversation
from chat.services import conversation_close, conversation_open, conversation_rate, message_send
from reports import services as report_services
from reports.export import SUPPRESSED, build_tables, suppress_column, to_csv, to_xlsx
from reports.models import StatCount, StatRow, Topic
from reports.services import attributes_save, close_with_wrapup, counts_fill, wrapup_save
from routing.models import CounsellorProfile, Organisation
from tests.conftest import connect_desk, make_staff

pytestmark = pytest.mark.django_db(transaction=True)
OSLO = ZoneInfo("Europe/Oslo")
MARCH = dt.datetime(2026, 3, 10, 12, tzinfo=OSLO)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MARCH, tick=False) as traveller:
        yield traveller


def chat(
    counsellor: User | None,
    *,
    county: str = "31",
    topics: tuple[str, ...] = ("utdanning.valg",),
    rating: str = "",
    attributes: dict[str, str] | None = None,
) -> Conversation:
    """One whole chat through the services: queued, (taken,) wrapped up, closed, (rated)."""
    conversation, _token = conversation_open(language="nb", county=county)
    message_send(conversation_id=conversation.pk, party="visitor", body="Hei", client_id="1")
    if attributes is not None:
        attributes_save(conversation=conversation, values=attributes)
    conversation.refresh_from_db()
    if counsellor is None or conversation.counsellor_id is None:
        conversation_close(conversation_id=conversation.pk, party="visitor")
        return conversation
    taker = User.objects.get(pk=conversation.counsellor_id)  # whoever dispatch chose
    wrapup_save(counsellor=taker, public_id=str(conversation.public_id), topics=list(topics))
    close_with_wrapup(counsellor=taker, public_id=str(conversation.public_id))
    if rating:
        conversation_rate(conversation_id=conversation.pk, value=rating)
    return conversation


def cells(county: str, dimension: str, period: str = "2026M03") -> dict[str, int]:
    return dict(
        StatCount.objects.filter(
            county=county, dimension=dimension, period_kind="month", period=period
        ).values_list("value", "count")
    )


def test_wrapup_is_required_before_the_counsellor_closes(clock: Any, on_shift: User) -> None:
    conversation, _ = conversation_open(language="nb")
    message_send(conversation_id=conversation.pk, party="visitor", body="Hei", client_id="1")
    key = str(conversation.public_id)
    with pytest.raises(errors.WrapupRequired):
        close_with_wrapup(counsellor=on_shift, public_id=key)
    with pytest.raises(errors.WrapupRequired):
        wrapup_save(counsellor=on_shift, public_id=key, topics=[])
    with pytest.raises(errors.InvalidTopic):
        wrapup_save(counsellor=on_shift, public_id=key, topics=["finnes.ikke"])
    with pytest.raises(errors.InvalidTopic):  # a referral is not a topic
        wrapup_save(counsellor=on_shift, public_id=key, topics=["henvist.nav"])
    other = make_staff("ola", "counsellor")
    with pytest.raises(errors.NotYourConversation):
        wrapup_save(counsellor=other, public_id=key, topics=["jobb"])
    wrapup = wrapup_save(
        counsellor=on_shift,
        public_id=key,
        topics=["jobb.jobbsoking", "jobb"],
        referral="henvist.nav",
    )
    assert (wrapup.topics, wrapup.referral, wrapup.taxonomy_version) == (
        ["jobb", "jobb.jobbsoking"],
        "henvist.nav",
        "2026.1",
    )
    close_with_wrapup(counsellor=on_shift, public_id=key)
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    counts_fill()
    row = StatRow.objects.get()
    assert (row.topics, row.referral, row.outcome, row.taxonomy_version) == (
        ["jobb", "jobb.jobbsoking"],
        "henvist.nav",
        "handled",
        "2026.1",
    )


def test_attributes_not_given_is_a_value_and_ratings_count_offered(
    clock: Any, on_shift: User
) -> None:
    chat(on_shift, rating="up", attributes={"age_band": "20_24"})
    chat(on_shift, rating="", attributes={})
    chat(None)  # Kari took it, the visitor ended it: offered a rating, did not answer
    with pytest.raises(errors.InvalidAttribute):
        attributes_save(conversation=Conversation.objects.first(), values={"age_band": "12"})  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidAttribute):
        attributes_save(conversation=Conversation.objects.first(), values={"name": "Kari"})  # type: ignore[arg-type]
    counts_fill()
    age = cells("31", "age_band")
    assert age["20_24"] == 1
    assert age["ikke_oppgitt"] == 2  # given nothing, or skipped: reported, never dropped
    assert cells("31", "rating") == {"up": 1, "unanswered": 2}
    assert cells("31", "total") == {"all": 3}


def test_a_renamed_label_keeps_the_historic_counts(clock: Any, on_shift: User) -> None:
    for _ in range(6):
        chat(on_shift, topics=("utdanning.opptak",))
    counts_fill()
    before = build_tables(
        county="31", first=dt.date(2026, 3, 1), last=dt.date(2026, 3, 31), period_kind="month"
    )
    Topic.objects.filter(code="utdanning").update(label_nb="Utdanning og opptak")
    after = build_tables(
        county="31", first=dt.date(2026, 3, 1), last=dt.date(2026, 3, 31), period_kind="month"
    )
    row_before = next(r for r in before[0].rows if r.code == "utdanning")
    row_after = next(r for r in after[0].rows if r.code == "utdanning")
    assert row_before.cells == row_after.cells == [6]
    assert (row_before.label, row_after.label) == ("Utdanningsmuligheter", "Utdanning og opptak")


def test_fill_is_idempotent_incremental_and_restartable(
    clock: time_machine.Traveller, on_shift: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    for county in ("31", "31", "50"):
        chat(on_shift, county=county)
    first = counts_fill()
    assert first["rows_synced"] == 3
    snapshot = sorted(
        StatCount.objects.values_list("period", "county", "dimension", "value", "count")
    )
    again = counts_fill()
    assert again["rows_synced"] == 0
    assert (
        sorted(StatCount.objects.values_list("period", "county", "dimension", "value", "count"))
        == snapshot
    )

    clock.shift(dt.timedelta(days=30))  # April
    connect_desk(on_shift)  # a fresh heartbeat in the new month
    chat(on_shift, county="31")
    calls = {"n": 0}
    real = report_services._recount

    def crash_after_one(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("power cut")
        real(*args, **kwargs)

    monkeypatch.setattr(report_services, "_recount", crash_after_one)
    with pytest.raises(RuntimeError):
        counts_fill()
    monkeypatch.setattr(report_services, "_recount", real)
    counts_fill()  # picks up where it failed: the watermark did not move
    incremental = sorted(
        StatCount.objects.values_list("period", "county", "dimension", "value", "count")
    )
    counts_fill(rebuild=True)
    assert (
        sorted(StatCount.objects.values_list("period", "county", "dimension", "value", "count"))
        == incremental
    )
    assert cells("31", "total", "2026M04") == {"all": 1}
    assert cells("31", "total", "2026M03") == {"all": 2}


def test_suppression_rules() -> None:
    assert suppress_column([20, 2], 22, 5) == [True, True]  # naive: 22 - 20 = 2 leaks
    assert suppress_column([30, 3, 0], 33, 5) == [True, True, False]
    assert suppress_column([30, 12, 8], 50, 5) == [False, False, False]
    assert suppress_column([2, 1, 0], 3, 5) == [True, True, True]  # the whole column is small
    assert suppress_column([10, 3, 2], 15, 5) == [False, True, True]  # two hidden already
    assert suppress_column([10, 4, 0, 0], 14, 5) == [True, True, False, False]


def _additive(table: Any) -> bool:
    return table.dimension not in {"topic", "subtopic"}


def test_exported_tables_never_leak_a_small_cell(
    clock: Any, on_shift: User, other_counsellor: User
) -> None:
    from routing.services import shift_start

    shift_start(counsellor=other_counsellor)
    connect_desk(other_counsellor)
    organisation = Organisation.objects.create(
        name="Senter 31", kind="county_centre", county_code="31"
    )
    CounsellorProfile.objects.create(user=on_shift, organisation=organisation)
    # 20 handled, 2 abandoned: a naive suppression would show 20 and the total 22.
    for n in range(20):
        chat(on_shift if n % 2 else other_counsellor, attributes={"gender": "kvinne"})
    Conversation.objects.update()
    for _ in range(2):
        conversation, _t = conversation_open(language="nb", county="31")
        conversation_close(conversation_id=conversation.pk, party="visitor")
        Conversation.objects.filter(pk=conversation.pk).update(queued_at=MARCH)
    counts_fill()
    assert cells("31", "outcome") == {"handled": 20, "abandoned": 2}
    tables = build_tables(
        county="31", first=dt.date(2026, 1, 1), last=dt.date(2026, 12, 31), period_kind="month"
    )
    outcome = next(t for t in tables if t.dimension == "outcome")
    march = outcome.periods.index("2026M03")
    assert [r.cells[march] for r in outcome.rows] == [SUPPRESSED, SUPPRESSED]
    assert outcome.total[march] == 22
    for table in tables:
        if not _additive(table):
            continue
        for column in range(len(table.periods)):
            values = [r.cells[column] for r in table.rows if r.code != "response_rate"]
            hidden = values.count(SUPPRESSED)
            assert hidden != 1, f"{table.dimension} {table.periods[column]} has one hidden cell"
            shown = sum(v for v in values if isinstance(v, int))
            if table.total[column] != SUPPRESSED and hidden == 0:
                assert shown == table.total[column], table.dimension
    # Another export covering the same month hides exactly the same cells.
    other = build_tables(
        county="31", first=dt.date(2026, 2, 1), last=dt.date(2026, 4, 30), period_kind="month"
    )
    for mine, theirs in zip(tables, other, strict=True):
        mine_cells = [r.cells[march] for r in mine.rows]
        theirs_cells = [r.cells[theirs.periods.index("2026M03")] for r in theirs.rows]
        assert mine_cells == theirs_cells, mine.dimension


def test_csv_columns_encoding_and_decimal_comma(clock: Any, on_shift: User) -> None:
    for n in range(12):
        chat(on_shift, rating="up" if n < 5 else "")
    counts_fill()
    with translation.override("nb"):  # Norwegian, as the service defaults to
        tables = build_tables(
            county="31", first=dt.date(2026, 1, 1), last=dt.date(2026, 3, 31), period_kind="month"
        )
        data = to_csv(tables)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["tabell", "kode", "navn", "2026M01", "2026M02", "2026M03"]
    by_key = {(r[0], r[1]): r for r in rows[1:]}
    assert by_key[("topic", "utdanning")][3:] == ["0", "0", "12"]
    assert by_key[("topic", "utdanning")][2] == "Utdanningsmuligheter"
    assert by_key[("rating", "up")][5] == "5"
    assert by_key[("rating", "unanswered")][5] == "7"
    assert by_key[("rating", "response_rate")][5] == "41,7"  # 5 of 12, decimal comma
    assert by_key[("outcome", "total")][3:] == ["0", "0", "12"]


def test_xlsx_label_starting_with_equals_stays_text(clock: Any, on_shift: User) -> None:
    for _ in range(5):
        chat(on_shift)
    counts_fill()
    Topic.objects.filter(code="utdanning").update(label_nb='=HYPERLINK("https://evil.example","x")')
    tables = build_tables(
        county="31", first=dt.date(2026, 3, 1), last=dt.date(2026, 3, 31), period_kind="month"
    )
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(tables)))
    sheet = book["topic"]
    label = sheet.cell(row=3, column=2)
    assert label.value == '=HYPERLINK("https://evil.example","x")'
    assert label.data_type == "s"
    assert sheet.cell(row=3, column=3).value == 5


# -- every endpoint, every role ------------------------------------------------------------


@pytest.fixture
def people(transactional_db: None) -> dict[str, Client]:
    organisation = Organisation.objects.create(
        name="Senter 31", kind="county_centre", county_code="31"
    )
    clients = {"anonymous": Client(HTTP_HOST="127.0.0.1")}
    for name, roles in {
        "counsellor": ("counsellor",),
        "statistician": ("statistician",),
        "supervisor": ("supervisor",),
    }.items():
        user = make_staff(name, *roles)
        CounsellorProfile.objects.create(user=user, organisation=organisation)
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        clients[name] = client
    return clients


QUERY = "date_from=2026-01-01&date_to=2026-12-31&period=month"
ENDPOINTS = [
    "/api/statistics?county={county}&" + QUERY,
    "/api/statistics/export.csv?county={county}&" + QUERY,
    "/api/statistics/export.xlsx?county={county}&" + QUERY,
    "/statistikk/?county={county}",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("who", "county", "allowed"),
    [
        ("anonymous", "31", False),
        ("counsellor", "31", False),
        ("statistician", "31", True),
        ("statistician", "50", False),
        ("supervisor", "31", True),
        ("supervisor", "50", True),
    ],
)
def test_roles_on_every_statistics_endpoint(
    people: dict[str, Client], endpoint: str, who: str, county: str, allowed: bool
) -> None:
    response = people[who].get(endpoint.format(county=county))
    if allowed:
        assert response.status_code == 200
    elif who == "anonymous":
        assert response.status_code in {401, 302}  # API: 401; page: to the login
    else:
        assert response.status_code == 403


def test_counties_endpoint_lists_only_what_the_role_may_see(people: dict[str, Client]) -> None:
    assert [c["code"] for c in people["statistician"].get("/api/statistics/counties").json()] == [
        "31"
    ]
    assert len(people["supervisor"].get("/api/statistics/counties").json()) == 15
    assert people["counsellor"].get("/api/statistics/counties").status_code == 403
    assert people["anonymous"].get("/api/statistics/counties").status_code == 401


def test_json_api_matches_the_csv(people: dict[str, Client]) -> None:
    payload = people["supervisor"].get("/api/statistics?county=31&" + QUERY).json()
    assert payload["periods"][0] == "2026M01"
    assert payload["suppressed_marker"] == ":"
    assert [t["dimension"] for t in payload["tables"]][:3] == ["topic", "subtopic", "referral"]
    text = people["supervisor"].get("/api/statistics/export.csv?county=31&" + QUERY).content
    assert text.decode("utf-8-sig").splitlines()[0].split(";")[3] == "2026M01"
    utdanning = next(r for r in payload["tables"][0]["rows"] if r["code"] == "utdanning")
    assert len(utdanning["cells"]) == len(payload["periods"]) == 12
