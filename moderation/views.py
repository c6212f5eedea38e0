"""The visitor deletes their own conversation at the end ("slett samtalen")."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from chat import conf
from chat.errors import DomainError
from chat.selectors import conversation_get_for_visitor
from moderation.retention import conversation_forget


@require_POST
def conversation_delete_view(request: HttpRequest) -> HttpResponse:
    try:
        conversation = conversation_get_for_visitor(
            token=request.COOKIES.get(conf.visitor_cookie_name(), "")
        )
        conversation_forget(conversation=conversation)
    except DomainError as exc:
        return JsonResponse(
            {"error": {"code": exc.code, "message": str(exc.message)}}, status=exc.http_status
        )
    response = HttpResponse(status=204)
    response.delete_cookie(conf.visitor_cookie_name(), path="/", samesite="Lax")
    return response
