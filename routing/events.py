"""Real-time events of the queue: the waiting list for counsellors, positions for visitors.

Events carry absolute state (the whole list, "you are number 3"), so a lost or repeated event
can never leave a wrong number on anyone's screen.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from django.db import transaction

from chat.events import conversation_group, send_now
from routing import selectors

QUEUE_GROUP = "queue"


class QueueItem(TypedDict):
    conversation: str
    language: str
    queued_at: str


class QueueSnapshotEvent(TypedDict):
    type: Literal["queue.snapshot"]
    waiting: list[QueueItem]
    open: bool
    on_shift: int


class QueuePositionEvent(TypedDict):
    type: Literal["queue.position"]
    conversation: str
    position: int
    waiting: int


def queue_snapshot() -> QueueSnapshotEvent:
    waiting = selectors.queue_waiting()
    return {
        "type": "queue.snapshot",
        "waiting": [
            {
                "conversation": entry.public_id,
                "language": entry.language,
                "queued_at": entry.queued_at.isoformat(),
            }
            for entry in waiting
        ],
        "open": selectors.service_is_open(),
        "on_shift": selectors.counsellors_on_shift(),
    }


def broadcast_queue() -> None:
    snapshot = queue_snapshot()
    send_now(QUEUE_GROUP, dict(snapshot))
    total = len(snapshot["waiting"])
    for position, item in enumerate(snapshot["waiting"], start=1):
        event: QueuePositionEvent = {
            "type": "queue.position",
            "conversation": item["conversation"],
            "position": position,
            "waiting": total,
        }
        send_now(conversation_group(item["conversation"]), dict(event))


def publish_queue_changed() -> None:
    transaction.on_commit(broadcast_queue)
