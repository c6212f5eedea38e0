"""The visitor's HTTP API."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Conversation

pytestmark = pytest.mark.django_db(transaction=True)


def test_start_sets_an_httponly_token_cookie_and_is_idempotent(on_shift: User) -> None:
    client = Client()
    response = client.post(
        "/api/chat/", data=json.dumps({"language": "nn"}), content_type="application/json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["language"], body["websocket"]) == ("new", "nn", "/ws/chat/")
    cookie = response.cookies["veivalg_visitor"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie.value not in response.content.decode()
    again = client.post("/api/chat/", content_type="application/json")
    assert again.status_code == 200
    assert again.json()["conversation"] == body["conversation"]
    assert Conversation.objects.count() == 1
    assert client.get("/api/chat/").json()["conversation"] == body["conversation"]


def test_start_refused_while_closed(counsellor: User) -> None:
    response = Client().post("/api/chat/", content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "service_closed"
    assert Conversation.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("{not json", "bad_json"),
        ("[1]", "invalid_request"),
        ('{"language": "sv"}', "invalid_language"),
    ],
)
def test_bad_start_requests_are_400(on_shift: User, payload: str, code: str) -> None:
    response = Client().post("/api/chat/", data=payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert Conversation.objects.count() == 0


def test_csrf_is_enforced(on_shift: User) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/api/chat/", content_type="application/json").status_code == 403
    client.get("/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/chat/", content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201


def test_no_conversation_is_404_and_forget_clears_cookie(on_shift: User) -> None:
    client = Client()
    assert client.get("/api/chat/").json()["error"]["code"] == "no_conversation"
    client.post("/api/chat/", content_type="application/json")
    response = client.post("/api/chat/forget/")
    assert response.status_code == 204
    assert response.cookies["veivalg_visitor"].value == ""
    assert client.get("/api/chat/").status_code == 404
