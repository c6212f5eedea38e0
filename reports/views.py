"""The visitor's optional attributes (HTTP), and the statistics page for statisticians."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.http import require_POST

from chat import conf
from chat.errors import ConversationNotFound, DomainError, Forbidden
from chat.selectors import conversation_get_for_visitor
from reports.export import build_tables, statistics_counties_for
from reports.periods import KINDS
from reports.services import attributes_save
from routing.selectors import current_counties


@require_POST
def attributes_view(request: HttpRequest) -> HttpResponse:
    """Store the visitor's optional answers for their conversation (before or after the chat)."""
    try:
        conversation = conversation_get_for_visitor(
            token=request.COOKIES.get(conf.visitor_cookie_name(), "")
        )
        payload = json.loads(request.body or b"{}")
        if not isinstance(payload, dict):
            raise ValueError
        attributes_save(conversation=conversation, values=payload)
    except ValueError:
        return JsonResponse(
            {"error": {"code": "bad_json", "message": "The body is a JSON object."}}, status=400
        )
    except (ConversationNotFound, DomainError) as exc:
        return JsonResponse(
            {"error": {"code": exc.code, "message": str(exc.message)}}, status=exc.http_status
        )
    return JsonResponse({"saved": True})


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


@login_required
def statistics_page(request: HttpRequest) -> HttpResponse:
    try:
        allowed = statistics_counties_for(request.user)
    except Forbidden:
        return render(request, "frontend/forbidden.html", status=403)
    counties = [c for c in current_counties() if allowed is None or c.code in allowed]
    today = timezone.localdate()
    county = request.GET.get("county") or counties[0].code
    if county not in {c.code for c in counties}:
        return render(request, "frontend/forbidden.html", status=403)
    chosen = request.GET.get("period", "month")
    period = chosen if chosen in KINDS else "month"
    first = _date(request.GET.get("from"), (today - dt.timedelta(days=120)).replace(day=1))
    last = _date(request.GET.get("to"), today)
    if last < first:
        first, last = last, first
    language = translation.get_language() or "nb"
    tables = build_tables(
        county=county, first=first, last=last, period_kind=period, language=language
    )
    by_name = {t.dimension: t for t in tables}
    query = f"county={county}&date_from={first}&date_to={last}&period={period}&language={language}"
    context: dict[str, Any] = {
        "counties": counties,
        "county": county,
        "county_name": next(c.name for c in counties if c.code == county),
        "period": period,
        "first": first,
        "last": last,
        "tables": tables,
        "charts": [
            _chart(by_name["hour"]),
            _chart(by_name["wait"]),
        ],
        "topics_over_time": _over_time(by_name["topic"]),
        "csv_url": f"/api/statistics/export.csv?{query}",
        "xlsx_url": f"/api/statistics/export.xlsx?{query}",
        "threshold": conf.suppression_threshold(),
    }
    return render(request, "reports/statistics.html", context)


def _over_time(table: Any) -> list[dict[str, Any]]:
    """One small bar chart per topic across the periods (":" cells are drawn as gaps)."""
    peak = max([c for row in table.rows for c in row.cells if isinstance(c, int)] + [1])
    count = max(1, len(table.periods))
    lines = []
    for row in table.rows:
        bars = []
        for index, cell in enumerate(row.cells):
            value = cell if isinstance(cell, int) else 0
            height = round(22 * value / peak, 1)
            bars.append(
                {
                    "x": round(index * 120 / count, 1),
                    "y": round(24 - height, 1),
                    "width": max(1, round(120 / count - 1, 1)),
                    "height": height,
                }
            )
        lines.append(
            {
                "label": row.label,
                "bars": bars,
                "text": ", ".join(
                    f"{p}: {c}" for p, c in zip(table.periods, row.cells, strict=True)
                ),
            }
        )
    return lines


def _chart(table: Any) -> dict[str, Any]:
    """Totals per row over the whole range, as bars (suppressed cells count as unknown)."""
    bars = []
    for row in table.rows:
        if row.code == "response_rate":
            continue
        numbers = [c for c in row.cells if isinstance(c, int)]
        hidden = any(c == ":" for c in row.cells)
        bars.append({"label": row.label, "value": sum(numbers), "hidden": hidden})
    peak = max([b["value"] for b in bars] + [1])
    for index, bar in enumerate(bars):
        bar["width"] = round(260 * bar["value"] / peak, 1)
        bar["y"] = index * 22
        bar["text_y"] = index * 22 + 13
        bar["value_x"] = round(bar["width"] + 185, 1)
    return {
        "title": table.title,
        "dimension": table.dimension,
        "bars": bars,
        "height": 22 * len(bars),
    }
