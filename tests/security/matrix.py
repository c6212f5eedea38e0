"""The authorisation matrix: every HTTP endpoint and every WebSocket message type, per role.

Roles: anonymous; visitor (holds a conversation cookie); counsellor;
supervisor; statistician (Trøndelag); admin (superuser, no group). A new URL pattern or frame
type without a row here fails tests/security/test_matrix.py.
"""

from __future__ import annotations

ROLES = ("anonymous", "visitor", "counsellor", "supervisor", "statistician", "admin")


def row(
    anonymous: int, visitor: int, counsellor: int, supervisor: int, statistician: int, admin: int
) -> dict[str, int]:
    """The HTTP status each role gets, in the order of ROLES."""
    return dict(
        zip(ROLES, (anonymous, visitor, counsellor, supervisor, statistician, admin), strict=True)
    )


# HTTP: the status each role gets. 2xx and 3xx to somewhere other than the login page mean
# allowed; 302 to the login page, 401 and 403 mean denied; 404/409 answer a request the role may
# make but which names nothing of theirs (no conversation) or comes at the wrong time.
PAGE_ANYONE = row(200, 200, 200, 200, 200, 200)
NO_CHAT = 404  # a visitor endpoint without the visitor's cookie: there is nothing to act on
STATS_API = row(401, 401, 403, 200, 200, 403)

HTTP: dict[tuple[str, str], dict[str, int]] = {
    ("GET", ""): PAGE_ANYONE,
    ("GET", "tilgjengelighet/"): PAGE_ANYONE,
    ("GET", "veileder/logg-inn/"): PAGE_ANYONE,
    ("POST", "veileder/logg-ut/"): row(302, 302, 302, 302, 302, 302),
    ("POST", "i18n/setlang/"): row(302, 302, 302, 302, 302, 302),
    ("GET", "veileder/"): row(302, 302, 200, 200, 403, 403),
    ("GET", "vaktleder/"): row(302, 302, 403, 200, 403, 403),
    ("POST", "vaktleder/samtaler/<uuid:public_id>/"): row(302, 302, 403, 200, 403, 403),
    ("GET", "statistikk/"): row(302, 302, 403, 200, 200, 403),
    ("GET", "api/chat/"): row(NO_CHAT, 200, NO_CHAT, NO_CHAT, NO_CHAT, NO_CHAT),
    ("POST", "api/chat/"): row(201, 200, 201, 201, 201, 201),  # anyone may start a chat
    ("POST", "api/chat/forget/"): row(204, 204, 204, 204, 204, 204),
    ("POST", "api/chat/attributes/"): row(NO_CHAT, 200, NO_CHAT, NO_CHAT, NO_CHAT, NO_CHAT),
    ("POST", "api/chat/delete/"): row(NO_CHAT, 409, NO_CHAT, NO_CHAT, NO_CHAT, NO_CHAT),
    ("GET", "api/statistics"): STATS_API,
    ("GET", "api/statistics/counties"): STATS_API,
    ("GET", "api/statistics/export.csv"): STATS_API,
    ("GET", "api/statistics/export.xlsx"): STATS_API,
    ("GET", "api/schema/"): PAGE_ANYONE,  # the schema holds no data
    ("GET", "api/docs/"): PAGE_ANYONE,
    ("GET", "api/"): row(404, 404, 404, 404, 404, 404),
    ("GET", "admin/"): row(302, 302, 302, 302, 302, 200),
    # OIDC (off unless configured): starting sends everyone to the provider; a callback without
    # a valid code and state logs nobody in and goes back to the login page.
    ("GET", "oidc/authenticate/"): row(302, 302, 302, 302, 302, 302),
    ("GET", "oidc/callback/"): row(302, 302, 302, 302, 302, 302),
    ("POST", "oidc/logout/"): row(302, 302, 302, 302, 302, 302),
}

A, D = "A", "D"
VISITOR = {
    "anonymous": D,
    "visitor": A,
    "counsellor": D,
    "supervisor": D,
    "statistician": D,
    "admin": D,
}
COUNSELLOR = {**VISITOR, "visitor": D, "counsellor": A, "supervisor": A}
SUPERVISOR = {**VISITOR, "visitor": D, "supervisor": A}

# socket -> who may connect
SOCKETS: dict[str, dict[str, str]] = {
    "/ws/chat/": VISITOR,
    "/ws/desk/": COUNSELLOR,
    "/ws/dashboard/": SUPERVISOR,
}

# (socket, frame type) -> what guards it beyond the connection
FRAMES: dict[tuple[str, str], str] = {
    ("/ws/chat/", "ping"): "connection",
    ("/ws/chat/", "resume"): "own conversation",
    ("/ws/chat/", "message.send"): "own conversation",
    ("/ws/chat/", "typing"): "own conversation",
    ("/ws/chat/", "seen"): "own conversation",
    ("/ws/chat/", "conversation.close"): "own conversation",
    ("/ws/chat/", "rating"): "own conversation",
    ("/ws/desk/", "ping"): "connection",
    ("/ws/desk/", "resume"): "assigned conversation",
    ("/ws/desk/", "message.send"): "assigned conversation",
    ("/ws/desk/", "typing"): "assigned conversation",
    ("/ws/desk/", "seen"): "assigned conversation",
    ("/ws/desk/", "conversation.close"): "assigned conversation",
    ("/ws/desk/", "conversation.transfer"): "assigned conversation",
    ("/ws/desk/", "wrapup"): "assigned conversation",
    ("/ws/desk/", "message.flag"): "assigned conversation",
    ("/ws/desk/", "suggestion.send"): "assigned conversation",
    ("/ws/desk/", "suggestion.search"): "assigned conversation",
    ("/ws/desk/", "shift.start"): "connection",
    ("/ws/desk/", "shift.end"): "connection",
    ("/ws/desk/", "queue.take_next"): "on shift",
    ("/ws/desk/", "queue.take"): "on shift",
    ("/ws/dashboard/", "ping"): "connection",
    ("/ws/dashboard/", "service.close"): "supervisor",
    ("/ws/dashboard/", "service.open"): "supervisor",
    ("/ws/dashboard/", "service.resume"): "supervisor",
    ("/ws/dashboard/", "conversation.move"): "supervisor",
    ("/ws/dashboard/", "conversation.end"): "supervisor",
    ("/ws/dashboard/", "counsellors.message"): "supervisor",
    ("/ws/dashboard/", "visitor.block"): "supervisor",
    ("/ws/dashboard/", "visitor.unblock"): "supervisor",
}
