"""Server-rendered pages. Each page ships its translated strings to its ES module as JSON."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from frontend import strings
from routing import selectors as routing_selectors


@ensure_csrf_cookie
def visitor_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "frontend/visitor.html",
        {
            "service_open": routing_selectors.service_is_open(),
            "strings": strings.visitor_strings(),
        },
    )


@login_required
def desk_page(request: HttpRequest) -> HttpResponse:
    if not routing_selectors.user_has_role(
        user_id=request.user.pk, role=routing_selectors.COUNSELLOR_GROUP
    ):
        return render(request, "frontend/forbidden.html", status=403)
    return render(request, "frontend/desk.html", {"strings": strings.desk_strings()})


def accessibility_page(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/accessibility.html")
