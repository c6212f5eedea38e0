"""Server-rendered pages. Each page ships its translated strings to its ES module as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from chat import conf
from chat.errors import DomainError
from chat.services import staff_sockets_close
from frontend import strings
from frontend.auth import StaffLoginForm
from reports.attributes import ATTRIBUTES
from routing import selectors as routing_selectors
from routing import services as routing_services


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    day = formats.date_format(local, "l j. F")
    return f"{day} {formats.time_format(local, 'H:i')}"


def _service_context() -> dict[str, Any]:
    state = routing_selectors.service_state()
    context: dict[str, Any] = {
        "service": state,
        "next_opening": _when(state.next_opening),
        "closes_at": formats.time_format(timezone.localtime(state.closes_at), "H:i")
        if state.closes_at
        else "",
        "phone": conf.service_phone(),
        "counties": routing_selectors.current_counties(),
        "wait_minutes": None,
        "past_closing": False,
    }
    if state.open:
        waiting = len(routing_selectors.queue_waiting())
        seconds = routing_selectors.wait_estimator().seconds(waiting + 1)
        if seconds is not None:
            context["wait_minutes"] = max(1, round(seconds / 60)) if seconds else 0
            if state.closes_at is not None:
                left = (state.closes_at - timezone.now()).total_seconds()
                context["past_closing"] = seconds > left
    return context


@ensure_csrf_cookie
def visitor_page(request: HttpRequest) -> HttpResponse:
    fields = [
        {"name": name, "label": label, "choices": choices}
        for name, (label, choices) in ATTRIBUTES.items()
    ]
    return render(
        request,
        "frontend/visitor.html",
        {**_service_context(), "strings": strings.visitor_strings(), "attribute_fields": fields},
    )


@login_required
def desk_page(request: HttpRequest) -> HttpResponse:
    if not routing_selectors.user_has_role(
        user_id=request.user.pk, role=routing_selectors.COUNSELLOR_GROUP
    ):
        return render(request, "frontend/forbidden.html", status=403)
    return render(request, "frontend/desk.html", {"strings": strings.desk_strings()})


def _is_supervisor(request: HttpRequest) -> bool:
    return routing_selectors.user_has_role(
        user_id=request.user.pk, role=routing_selectors.SUPERVISOR_GROUP
    )


@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    if not _is_supervisor(request):
        return render(request, "frontend/forbidden.html", status=403)
    county_names = {c.code: c.name for c in routing_selectors.current_counties()}
    return render(
        request,
        "frontend/dashboard.html",
        {"strings": strings.dashboard_strings(), "county_names": county_names},
    )


@login_required
def transcript_page(request: HttpRequest, public_id: str) -> HttpResponse:
    """A transcript, for a supervisor, only after they have stated why (the reason is logged)."""
    if not _is_supervisor(request):
        return render(request, "frontend/forbidden.html", status=403)
    context: dict[str, Any] = {"public_id": public_id}
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            conversation = routing_services.transcript_open(
                actor=request.user,  # type: ignore[arg-type]
                public_id=public_id,
                reason=reason,
            )
        except DomainError as exc:
            context["error"] = exc.message
            return render(request, "frontend/transcript.html", context, status=exc.http_status)
        context["conversation"] = conversation
        context["messages_list"] = list(conversation.messages.order_by("seq"))
    return render(request, "frontend/transcript.html", context)


class StaffLoginView(LoginView):
    template_name = "frontend/login.html"
    authentication_form = StaffLoginForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "oidc_enabled": settings.OIDC_ENABLED}


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Log out, and close every live desk and dashboard socket of the user at once."""
    user_id = request.user.pk if request.user.is_authenticated else None
    logout(request)
    if user_id is not None:
        staff_sockets_close(user_id=user_id)
    return redirect("frontend:login")


def accessibility_page(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/accessibility.html")
