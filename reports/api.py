"""The statistics HTTP API (JSON, CSV, XLSX) with an OpenAPI schema at /api/schema/.

Every endpoint checks the caller's role: a statistician sees only their own county, a
supervisor every county, anybody else nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from ninja import NinjaAPI, Query, Schema
from ninja.security import django_auth

from chat.errors import DomainError
from reports.export import (
    Table,
    build_tables,
    check_county,
    statistics_counties_for,
    to_csv,
    to_xlsx,
)
from routing.selectors import current_counties

api = NinjaAPI(
    title="Veivalg statistics",
    version="1",
    description="Aggregated topic statistics per county. Small cells are shown as ':'.",
    urls_namespace="statistics-api",
    openapi_url="/schema/",
    docs_url="/docs/",
)


class ErrorOut(Schema):
    code: str
    message: str


class RowOut(Schema):
    code: str
    label: str
    cells: list[int | float | str]


class TableOut(Schema):
    dimension: str
    title: str
    rows: list[RowOut]
    total: list[int | float | str]


class StatisticsOut(Schema):
    county: str
    period_kind: str
    periods: list[str]
    suppressed_marker: str
    tables: list[TableOut]


class CountyOut(Schema):
    code: str
    name: str


class Filters(Schema):
    county: str
    date_from: dt.date
    date_to: dt.date
    period: Literal["month", "week", "year"] = "month"
    language: Literal["nb", "nn", "en"] = "nb"


def tables_payload(county: str, period_kind: str, tables: list[Table]) -> dict[str, Any]:
    return {
        "county": county,
        "period_kind": period_kind,
        "periods": tables[0].periods if tables else [],
        "suppressed_marker": ":",
        "tables": [
            {
                "dimension": t.dimension,
                "title": t.title,
                "rows": [{"code": r.code, "label": r.label, "cells": r.cells} for r in t.rows],
                "total": t.total,
            }
            for t in tables
        ],
    }


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(
        request, {"code": exc.code, "message": str(exc.message)}, status=exc.http_status
    )


def _tables(request: HttpRequest, filters: Filters) -> list[Table]:
    check_county(request.user, filters.county)
    if filters.county not in {c.code for c in current_counties()}:
        raise DomainError("invalid_county")
    if filters.date_to < filters.date_from or (filters.date_to - filters.date_from).days > 3660:
        raise DomainError("invalid_period")
    with translation.override(filters.language):
        return build_tables(
            county=filters.county,
            first=filters.date_from,
            last=filters.date_to,
            period_kind=filters.period,
            language=filters.language,
        )


@api.get(
    "/statistics/counties",
    response={200: list[CountyOut], 403: ErrorOut},
    auth=django_auth,
    summary="The counties the caller may see",
)
def counties(request: HttpRequest) -> Any:
    allowed = statistics_counties_for(request.user)
    return [
        {"code": c.code, "name": c.name}
        for c in current_counties()
        if allowed is None or c.code in allowed
    ]


@api.get(
    "/statistics",
    response={200: StatisticsOut, 400: ErrorOut, 403: ErrorOut},
    auth=django_auth,
    summary="Statistics tables for one county and period",
)
def statistics(request: HttpRequest, filters: Query[Filters]) -> Any:
    return tables_payload(filters.county, filters.period, _tables(request, filters))


def _download(data: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@api.get(
    "/statistics/export.csv",
    response={200: str, 400: ErrorOut, 403: ErrorOut},
    auth=django_auth,
    summary="The same tables as CSV (';', UTF-8 with BOM, decimal comma)",
    openapi_extra={"responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def export_csv(request: HttpRequest, filters: Query[Filters]) -> HttpResponse:
    data = to_csv(_tables(request, filters))
    name = f"veivalg-{filters.county}-{filters.date_from}-{filters.date_to}.csv"
    return _download(data, "text/csv; charset=utf-8", name)


@api.get(
    "/statistics/export.xlsx",
    response={200: str, 400: ErrorOut, 403: ErrorOut},
    auth=django_auth,
    summary="The same tables as an Excel workbook",
    openapi_extra={
        "responses": {
            200: {
                "content": {
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    }
                }
            }
        }
    },
)
def export_xlsx(request: HttpRequest, filters: Query[Filters]) -> HttpResponse:
    data = to_xlsx(_tables(request, filters))
    name = f"veivalg-{filters.county}-{filters.date_from}-{filters.date_to}.xlsx"
    return _download(
        data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", name
    )
