"""Inbound frames of the supervisor dashboard socket. See docs/protocol.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chat.frames import Frame, Ping


class ServiceClose(Frame):
    type: Literal["service.close"]
    reason: str = Field(max_length=300)
    until: str = Field(pattern=r"^\d{2}:\d{2}$")


class ServiceOpen(Frame):
    type: Literal["service.open"]
    reason: str = Field(max_length=300)
    until: str = Field(pattern=r"^\d{2}:\d{2}$")


class ServiceResume(Frame):
    type: Literal["service.resume"]


class ConversationMove(Frame):
    type: Literal["conversation.move"]
    conversation: str = Field(max_length=64)
    to: str = Field(min_length=1, max_length=150)
    reason: str = Field(default="", max_length=500)


class ConversationEnd(Frame):
    type: Literal["conversation.end"]
    conversation: str = Field(max_length=64)
    reason: str = Field(max_length=500)


class CounsellorsMessage(Frame):
    type: Literal["counsellors.message"]
    text: str = Field(max_length=500)


class VisitorBlock(Frame):
    type: Literal["visitor.block"]
    conversation: str = Field(max_length=64)
    hours: int = Field(ge=1, le=24 * 30)
    reason: str = Field(max_length=300)


class VisitorUnblock(Frame):
    type: Literal["visitor.unblock"]
    conversation: str = Field(max_length=64)


SUPERVISOR_FRAMES: dict[str, type[Frame]] = {
    f.model_fields["type"].annotation.__args__[0]: f  # type: ignore[union-attr]
    for f in (
        Ping,
        ServiceClose,
        ServiceOpen,
        ServiceResume,
        ConversationMove,
        ConversationEnd,
        CounsellorsMessage,
        VisitorBlock,
        VisitorUnblock,
    )
}
