"""Helpers for driving the real ASGI app with channels' WebsocketCommunicator."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.testing.websocket import WebsocketCommunicator

from config.asgi import application

ORIGIN = b"http://127.0.0.1:8000"


async def open_socket(path: str, cookie: str = "", origin: bytes = ORIGIN) -> WebsocketCommunicator:
    headers = [(b"origin", origin)]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected, f"connection to {path} was refused"
    return communicator


async def visitor_socket(token: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    communicator = await open_socket("/ws/chat/", f"veivalg_visitor={token}")
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "hello", hello
    return communicator, hello


async def desk_socket(session: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    communicator = await open_socket("/ws/desk/", f"sessionid={session}")
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "hello", hello
    return communicator, hello


async def drain(communicator: WebsocketCommunicator, quiet: float = 0.4) -> list[dict[str, Any]]:
    """Every frame that arrives until the socket has been quiet for ``quiet`` seconds."""
    frames: list[dict[str, Any]] = []
    # receive_nothing() waits without cancelling the app (a timed-out receive would).
    while not await communicator.receive_nothing(timeout=quiet):
        frames.append(await communicator.receive_json_from())
    return frames


async def until(
    communicator: WebsocketCommunicator, frame_type: str, wait: float = 5.0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read until a frame of ``frame_type``; returns it and every frame before it."""
    seen: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {frame_type!r} frame; got {seen}")
        frame = await communicator.receive_json_from(timeout=remaining)
        if frame["type"] == frame_type:
            return frame, seen
        seen.append(frame)


def of_type(frames: list[dict[str, Any]], frame_type: str) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame["type"] == frame_type]
