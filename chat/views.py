"""The visitor's HTTP API: start (or find) their conversation and receive the token cookie.

The WebSocket at ``/ws/chat/`` does everything after that; see docs/protocol.md.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.views.decorators.http import require_http_methods, require_POST

from chat import conf, events, selectors, services
from chat.errors import ConversationNotFound, DomainError, VisitorBlocked
from chat.models import Conversation
from moderation.blocks import is_blocked


def _error(error: DomainError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": error.code, "message": str(error.message)}}, status=error.http_status
    )


def _bad_request(code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=400)


def _describe(conversation: Conversation) -> dict[str, Any]:
    return {
        "conversation": events.public_key(conversation.public_id),
        "status": conversation.status,
        "language": conversation.language,
        "county": conversation.visitor_county,
        "last_seq": conversation.last_seq,
        "websocket": "/ws/chat/",
    }


def _set_token_cookie(response: HttpResponse, token: str) -> None:
    response.set_cookie(
        conf.visitor_cookie_name(),
        token,
        max_age=conf.visitor_cookie_age(),
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        path="/",
    )


def _current(request: HttpRequest) -> Conversation:
    token = request.COOKIES.get(conf.visitor_cookie_name(), "")
    return selectors.conversation_get_for_visitor(token=token)


@require_http_methods(["GET", "POST"])
def conversation_view(request: HttpRequest) -> HttpResponse:
    """GET: the visitor's conversation. POST: start one (returns the open one if it exists)."""
    if request.method == "GET":
        try:
            return JsonResponse(_describe(_current(request)))
        except ConversationNotFound as exc:
            return _error(exc)
    language = translation.get_language() or settings.LANGUAGE_CODE
    county = ""
    if request.body:
        try:
            payload = json.loads(request.body)
        except ValueError:
            return _bad_request("bad_json", "The request body is not valid JSON.")
        if not isinstance(payload, dict):
            return _bad_request("invalid_request", "The request body is a JSON object.")
        language = payload.get("language", language)
        county = payload.get("county") or ""
        if not isinstance(county, str):
            return _bad_request("invalid_county", 'county is an SSB county code, e.g. "31".')
    if language not in {code for code, _name in settings.LANGUAGES}:
        return _bad_request("invalid_language", "language is one of nb, nn, en.")
    try:
        existing = _current(request)
        if is_blocked(existing.visitor_token_hash):
            return _error(VisitorBlocked())
        if existing.is_open:
            return JsonResponse(_describe(existing))
    except ConversationNotFound:
        pass
    try:
        conversation, token = services.conversation_open(language=language, county=county)
    except DomainError as exc:
        return _error(exc)
    response = JsonResponse(_describe(conversation), status=201)
    _set_token_cookie(response, token)
    return response


@require_POST
def conversation_forget_view(request: HttpRequest) -> HttpResponse:
    """Drop the token cookie so the visitor can start afresh (after a chat has ended)."""
    response = HttpResponse(status=204)
    response.delete_cookie(conf.visitor_cookie_name(), path="/", samesite="Lax")
    return response
