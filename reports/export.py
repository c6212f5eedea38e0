"""Statistics tables from the pre-aggregated counts, with small-cell suppression, rendered as
JSON, CSV (SSB style) and XLSX. Never reads chats. Rules: docs/statistics.md."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

import xlsxwriter
from django.utils.translation import gettext as _

from chat import conf
from chat.errors import Forbidden
from reports import attributes
from reports.models import StatCount, Topic
from reports.periods import periods_between
from reports.services import WAIT_BANDS, current_taxonomy
from routing import selectors as routing_selectors

SUPPRESSED = ":"
Cell = int | float | str


@dataclass
class Row:
    code: str
    label: str
    cells: list[Cell]


@dataclass
class Table:
    dimension: str
    title: str
    periods: list[str]
    rows: list[Row]
    total: list[Cell] = field(default_factory=list)


def statistics_counties_for(user: object) -> set[str] | None:
    """The counties ``user`` may see: None means all (supervisor). Raises for anyone else."""
    user_id = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
    if routing_selectors.user_has_role(user_id=user_id, role=routing_selectors.SUPERVISOR_GROUP):
        return None
    if routing_selectors.user_has_role(user_id=user_id, role=routing_selectors.STATISTICIAN_GROUP):
        profile = getattr(user, "counsellor_profile", None)
        county = profile.organisation.county_code if profile else ""
        if county:
            return {county}
    raise Forbidden


def check_county(user: object, county: str) -> None:
    allowed = statistics_counties_for(user)
    if allowed is not None and county not in allowed:
        raise Forbidden


def _labels(dimension: str, language: str) -> list[tuple[str, str]]:
    """Every value a table shows, in order, with its label (zeros are real values too)."""
    if dimension in attributes.ATTRIBUTES:
        return [(code, str(text)) for code, text in attributes.ATTRIBUTES[dimension][1]] + [
            (attributes.NOT_GIVEN, str(attributes.NOT_GIVEN_LABEL))
        ]
    taxonomy = current_taxonomy()
    if dimension in {"topic", "subtopic", "referral"}:
        topics = taxonomy.topics.all()
        if dimension == "topic":
            chosen = [t for t in topics if t.kind == Topic.Kind.TOPIC and not t.parent_code]
            extra = [("ikke_tagget", _("not tagged"))]
        elif dimension == "subtopic":
            chosen = [t for t in topics if t.kind == Topic.Kind.TOPIC and t.parent_code]
            extra = []
        else:
            chosen = [t for t in topics if t.kind == Topic.Kind.REFERRAL]
            extra = [("ingen", _("no referral"))]
        return [(t.code, t.label(language)) for t in chosen] + extra
    if dimension == "outcome":
        return [("handled", _("handled")), ("abandoned", _("left the queue"))]
    if dimension == "rating":
        return [
            ("up", _("thumbs up")),
            ("down", _("thumbs down")),
            ("unanswered", _("offered, not answered")),
            ("not_offered", _("not offered")),
        ]
    if dimension == "hour":
        return [(f"{h:02d}", f"{h:02d}:00–{h:02d}:59") for h in range(24)]
    if dimension == "weekday":
        names = [
            _("Monday"),
            _("Tuesday"),
            _("Wednesday"),
            _("Thursday"),
            _("Friday"),
            _("Saturday"),
            _("Sunday"),
        ]
        return [(str(n + 1), str(name)) for n, name in enumerate(names)]
    if dimension == "wait":
        bands = [band for _limit, band in WAIT_BANDS] + ["30+"]
        return [(band, _("%(band)s min") % {"band": band}) for band in bands]
    if dimension == "counsellor_county":
        return [(c.code, c.name) for c in routing_selectors.current_counties()] + [
            ("-", _("not handled"))
        ]
    if dimension == "language":
        return [("nb", _("Bokmål")), ("nn", _("Nynorsk")), ("en", _("English"))]
    raise ValueError(dimension)


def table_titles() -> dict[str, str]:
    return {
        "topic": _("Topics"),
        "subtopic": _("Sub-topics"),
        "referral": _("Referred to"),
        "outcome": _("Outcome"),
        "age_band": _("Age"),
        "gender": _("Gender"),
        "situation": _("Current situation"),
        "education": _("Highest education"),
        "heard_from": _("How they heard of the service"),
        "hour": _("Hour of the day"),
        "weekday": _("Day of the week"),
        "wait": _("Waiting time"),
        "rating": _("Rating"),
        "counsellor_county": _("Counsellor's county"),
        "language": _("Written standard"),
    }


def suppress_column(values: list[int], total: int, threshold: int) -> list[bool]:
    """Which cells of one period column to hide. Primary: 0 < n < threshold. Secondary: a
    column with exactly one hidden cell hides the next smallest too, so neither can be worked
    out from the column total. A column whose total is itself small is hidden whole."""
    if 0 < total < threshold:
        return [True] * len(values)
    hidden = [0 < v < threshold for v in values]
    if sum(hidden) == 1:
        candidates = sorted(
            (v == 0, v, i) for i, v in enumerate(values) if not hidden[i]
        )  # prefer the smallest non-zero cell
        if candidates:
            hidden[candidates[0][2]] = True
    return hidden


def build_tables(
    *, county: str, first: dt.date, last: dt.date, period_kind: str, language: str = "nb"
) -> list[Table]:
    periods = periods_between(period_kind, first, last)
    counts: dict[tuple[str, str, str], int] = {}
    for period, dimension, value, count in StatCount.objects.filter(
        period_kind=period_kind, county=county, period__in=periods
    ).values_list("period", "dimension", "value", "count"):
        counts[(period, dimension, value)] = count
    threshold = conf.suppression_threshold()
    totals = [counts.get((p, "total", "all"), 0) for p in periods]
    tables = []
    for dimension, title in table_titles().items():
        labels = _labels(dimension, language)
        grid = [[counts.get((p, dimension, code), 0) for p in periods] for code, _label in labels]
        shown: list[list[Cell]] = [list(row) for row in grid]
        for column, period_total in enumerate(totals):
            hide = suppress_column([row[column] for row in grid], period_total, threshold)
            for r, flag in enumerate(hide):
                if flag:
                    shown[r][column] = SUPPRESSED
        total_row: list[Cell] = [SUPPRESSED if 0 < t < threshold else t for t in totals]
        rows = [Row(code, label, cells) for (code, label), cells in zip(labels, shown, strict=True)]
        if dimension == "rating":
            rows.append(Row("response_rate", _("response rate (%)"), _response_rate(grid, shown)))
        tables.append(Table(dimension, title, periods, rows, total_row))
    return tables


def _response_rate(grid: list[list[int]], shown: list[list[Cell]]) -> list[Cell]:
    rates: list[Cell] = []
    for column in range(len(grid[0]) if grid else 0):
        up, down, unanswered = (grid[r][column] for r in range(3))
        offered = up + down + unanswered
        if any(shown[r][column] == SUPPRESSED for r in range(3)) or offered == 0:
            rates.append(SUPPRESSED if offered else "")
        else:
            rates.append(round(100 * (up + down) / offered, 1))
    return rates


# -- renderings ----------------------------------------------------------------------------


def _csv_cell(value: Cell) -> str:
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")  # decimal comma
    return str(value)


def to_csv(tables: list[Table]) -> bytes:
    """``;``-separated, UTF-8 with BOM, decimal comma, SSB period codes as column heads."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    periods = tables[0].periods if tables else []
    writer.writerow([_("table"), _("code"), _("label"), *periods])
    for table in tables:
        for row in table.rows:
            writer.writerow([table.dimension, row.code, row.label, *map(_csv_cell, row.cells)])
        writer.writerow([table.dimension, "total", _("all chats"), *map(_csv_cell, table.total)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(tables: list[Table]) -> bytes:
    """One sheet per table. Text is written as text: a label like ``=1+1`` never becomes a
    formula (strings_to_formulas off, and ``write_string`` for every label)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True})
    for table in tables:
        sheet = book.add_worksheet(table.dimension[:31])
        sheet.write_string(0, 0, table.title, bold)
        sheet.write_string(1, 0, _("code"), bold)
        sheet.write_string(1, 1, _("label"), bold)
        for c, period in enumerate(table.periods):
            sheet.write_string(1, 2 + c, period, bold)
        for r, row in enumerate([*table.rows, Row("total", _("all chats"), table.total)]):
            sheet.write_string(2 + r, 0, row.code)
            sheet.write_string(2 + r, 1, row.label)
            for c, value in enumerate(row.cells):
                if isinstance(value, int | float):
                    sheet.write_number(2 + r, 2 + c, value)
                else:
                    sheet.write_string(2 + r, 2 + c, value)
    book.close()
    return buffer.getvalue()
