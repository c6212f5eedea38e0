"""Every role against every HTTP endpoint and WebSocket message type, as tests/security/matrix.py
says, and nothing that the matrix does not list."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from chat.frames import DESK_FRAMES, VISITOR_FRAMES
from chat.services import conversation_open, message_send
from routing.frames import SUPERVISOR_FRAMES
from routing.models import CounsellorProfile, Organisation
from routing.services import shift_start
from tests.conftest import make_staff
from tests.security.matrix import FRAMES, HTTP, ROLES, SOCKETS
from tests.wsclient import open_socket

pytestmark = pytest.mark.django_db(transaction=True)
QUERY = "?county=50&date_from=2026-01-01&date_to=2026-12-31"


def routes(resolver: URLResolver | None = None, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("admin/"):
                found.add("admin/")
                continue
            found |= routes(entry, route)
        elif isinstance(entry, URLPattern):
            found.add(route.lstrip("^").rstrip("$"))
    return found


def test_every_endpoint_and_frame_type_has_a_row() -> None:
    listed = {route for _method, route in HTTP}
    assert routes() == listed
    frames = {
        **{("/ws/chat/", t): t for t in VISITOR_FRAMES},
        **{("/ws/desk/", t): t for t in DESK_FRAMES},
        **{("/ws/dashboard/", t): t for t in SUPERVISOR_FRAMES},
    }
    assert set(frames) == set(FRAMES)
    from chat.urls import websocket_urlpatterns as chat_ws
    from routing.urls import websocket_urlpatterns as routing_ws

    assert {"/" + str(p.pattern) for p in [*chat_ws, *routing_ws]} == set(SOCKETS)


@pytest.fixture
def clients(transactional_db: None) -> dict[str, Client]:
    organisation = Organisation.objects.create(
        name="Senter 50", kind="county_centre", county_code="50"
    )
    result: dict[str, Client] = {}
    for role in ROLES:
        client = Client(HTTP_HOST="127.0.0.1")
        if role in {"counsellor", "supervisor", "statistician"}:
            groups = {"supervisor": ("supervisor", "counsellor")}.get(role, (role,))
            user = make_staff(role, *groups)
            CounsellorProfile.objects.create(user=user, organisation=organisation)
            client.force_login(user)
            if role == "counsellor":
                shift_start(counsellor=user)
        if role == "admin":
            client.force_login(
                get_user_model().objects.create_superuser("root", password="test-pass-123")
            )
        result[role] = client
    visitor = result["visitor"]
    visitor.post("/api/chat/", content_type="application/json")
    return result


def request(client: Client, method: str, route: str, conversation: str) -> Any:
    path = "/" + route.replace("<uuid:public_id>", conversation)
    if path.startswith("/api/statistics"):
        path += QUERY
    if path == "/i18n/setlang/":
        return client.post(path, {"language": "nn", "next": "/"})
    if path.startswith("/vaktleder/samtaler/"):
        return client.post(path, {"reason": "kontroll av tilgang"})
    if method == "POST":
        return client.post(path, content_type="application/json")
    return client.get(path)


@pytest.mark.parametrize(("method", "route"), sorted(HTTP))
def test_http_matrix(clients: dict[str, Client], method: str, route: str) -> None:
    from chat.models import Conversation

    conversation = str(Conversation.objects.values_list("public_id", flat=True).first())
    got = {role: request(clients[role], method, route, conversation).status_code for role in ROLES}
    assert got == HTTP[(method, route)], (method, route)


@pytest.mark.asyncio
@pytest.mark.parametrize("socket_path", sorted(SOCKETS))
async def test_socket_matrix(clients: dict[str, Client], socket_path: str) -> None:
    for role in ROLES:
        client = clients[role]
        cookies = "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())
        socket = await open_socket(socket_path, cookies)
        first = await socket.receive_json_from(timeout=5)
        verdict = "D" if first["type"] == "error" else "A"
        assert verdict == SOCKETS[socket_path][role], (socket_path, role, first)
        await socket.disconnect()


@pytest.mark.asyncio
async def test_frames_refuse_foreign_conversations(clients: dict[str, Client]) -> None:
    """Every frame naming a conversation is refused for one that is not the sender's."""
    stranger, _ = await database_sync_to_async(conversation_open)(language="nb")
    await database_sync_to_async(message_send)(
        conversation_id=stranger.pk, party="visitor", body="hei", client_id="s"
    )
    colleague = await database_sync_to_async(make_staff)("kollega", "counsellor")
    # Someone else's chat: taken by a colleague, so dispatch cannot hand it to our counsellor.
    await database_sync_to_async(type(stranger).objects.filter(pk=stranger.pk).update)(
        status="active", counsellor=colleague
    )
    foreign = str(stranger.public_id)
    payloads: dict[str, dict[str, Any]] = {
        "resume": {"last_seq": 0},
        "message.send": {"client_id": "x", "body": "hei"},
        "typing": {},
        "seen": {"seq": 1},
        "conversation.close": {},
        "rating": {"value": "up"},
        "conversation.transfer": {"to": None},
        "wrapup": {"topics": ["jobb"]},
        "message.flag": {"seq": 1, "reason": "sjikane"},
        "suggestion.send": {"id": "yrke/elektriker", "client_id": "y"},
        "suggestion.search": {"q": "elektriker"},
    }
    for (socket_path, frame_type), guard in sorted(FRAMES.items()):
        if guard not in {"own conversation", "assigned conversation"}:
            continue
        role = "visitor" if socket_path == "/ws/chat/" else "counsellor"
        client = clients[role]
        cookies = "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())
        socket = await open_socket(socket_path, cookies)
        await socket.receive_json_from(timeout=5)
        await socket.send_json_to(
            {"type": frame_type, "conversation": foreign, **payloads[frame_type]}
        )
        answer = await socket.receive_json_from(timeout=5)
        while answer["type"] != "error":
            answer = await socket.receive_json_from(timeout=5)
        assert answer["code"] in {"not_your_conversation", "no_conversation"}, (frame_type, answer)
        await socket.disconnect()
    # and the stranger's conversation is untouched
    stranger_after = await database_sync_to_async(type(stranger).objects.get)(pk=stranger.pk)
    assert (stranger_after.status, stranger_after.last_seq) == ("active", 1)
    assert stranger_after.counsellor_id == colleague.pk
