"""Inbound WebSocket frames, validated strictly (no type coercion). See docs/protocol.md."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Frame(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    type: str
    ref: str | None = Field(default=None, max_length=64)


class ConversationFrame(Frame):
    """Desk frames name their conversation; visitor frames may (and must name their own)."""

    conversation: str | None = Field(default=None, max_length=64)


class Ping(Frame):
    type: Literal["ping"]


class Resume(ConversationFrame):
    type: Literal["resume"]
    last_seq: int = Field(ge=0)


class MessageSend(ConversationFrame):
    type: Literal["message.send"]
    client_id: str = Field(min_length=1, max_length=64)
    body: str


class Typing(ConversationFrame):
    type: Literal["typing"]


class Seen(ConversationFrame):
    type: Literal["seen"]
    seq: int = Field(ge=0)


class Close(ConversationFrame):
    type: Literal["conversation.close"]


class Rate(ConversationFrame):
    type: Literal["rating"]
    value: Literal["up", "down"]


class ShiftStart(Frame):
    type: Literal["shift.start"]


class ShiftEnd(Frame):
    type: Literal["shift.end"]


class TakeNext(Frame):
    type: Literal["queue.take_next"]


class Take(Frame):
    type: Literal["queue.take"]
    conversation: str = Field(max_length=64)


class TransferFrame(Frame):
    type: Literal["conversation.transfer"]
    conversation: str = Field(max_length=64)
    to: str | None = Field(default=None, max_length=150)
    note: str = Field(default="", max_length=2000)


class WrapupFrame(Frame):
    type: Literal["wrapup"]
    conversation: str = Field(max_length=64)
    topics: list[str] = Field(min_length=1, max_length=20)
    referral: str = Field(default="", max_length=60)


class FlagFrame(Frame):
    type: Literal["message.flag"]
    conversation: str = Field(max_length=64)
    seq: int = Field(ge=1)
    reason: str = Field(default="", max_length=400)


class SuggestionSend(Frame):
    type: Literal["suggestion.send"]
    conversation: str = Field(max_length=64)
    id: str = Field(min_length=1, max_length=200)
    client_id: str = Field(min_length=1, max_length=64)


class SuggestionSearch(Frame):
    type: Literal["suggestion.search"]
    conversation: str = Field(max_length=64)
    q: str = Field(min_length=1, max_length=500)


VISITOR_FRAMES: dict[str, type[Frame]] = {
    f.model_fields["type"].annotation.__args__[0]: f  # type: ignore[union-attr]
    for f in (Ping, Resume, MessageSend, Typing, Seen, Close, Rate)
}
DESK_FRAMES: dict[str, type[Frame]] = {
    f.model_fields["type"].annotation.__args__[0]: f  # type: ignore[union-attr]
    for f in (
        Ping,
        Resume,
        MessageSend,
        Typing,
        Seen,
        Close,
        ShiftStart,
        ShiftEnd,
        TakeNext,
        Take,
        TransferFrame,
        WrapupFrame,
        FlagFrame,
        SuggestionSend,
        SuggestionSearch,
    )
}


class FrameError(Exception):
    """A frame that cannot be handled; ``code`` goes into the error frame."""

    def __init__(self, code: str, detail: str = "", ref: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.ref = ref


def parse_frame(data: Any, table: dict[str, type[Frame]]) -> Frame:
    if not isinstance(data, dict):
        raise FrameError("invalid_frame", "A frame is a JSON object.")
    raw_ref = data.get("ref")
    ref = raw_ref if isinstance(raw_ref, str) and len(raw_ref) <= 64 else None
    frame_type = data.get("type")
    if not isinstance(frame_type, str):
        raise FrameError("invalid_frame", "The frame needs a string field 'type'.", ref)
    model = table.get(frame_type)
    if model is None:
        raise FrameError("unknown_type", f"Unknown frame type {frame_type[:40]!r}.", ref)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FrameError("invalid_frame", f"{where}: {first['msg']}", ref) from exc
