"""Real-time events of the queue: the waiting list for counsellors, positions for visitors.

Events carry absolute state (the whole list, "you are number 3 of 5"), so a lost or repeated
event can never leave a wrong number on anyone's screen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal, TypedDict

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from chat import conf
from chat.events import (
    conversation_group,
    counsellor_group,
    public_key,
    send_many,
    send_now,
    send_on_commit,
)
from routing import selectors
from routing.selectors import CounsellorItem

log = logging.getLogger(__name__)
QUEUE_GROUP = "queue"
DASHBOARD_GROUP = "dashboard"


class QueueItem(TypedDict):
    conversation: str
    language: str
    county: str
    priority: int
    requeued: bool
    queued_at: str


class QueueSnapshotEvent(TypedDict):
    type: Literal["queue.snapshot"]
    waiting: list[QueueItem]
    counsellors: list[CounsellorItem]
    open: bool
    reason: str
    closes_at: str | None
    on_shift: int


class QueuePositionEvent(TypedDict):
    type: Literal["queue.position"]
    conversation: str
    position: int
    waiting: int
    estimated_wait: int | None
    closes_at: str | None
    past_closing: bool


class CounsellorUnassignedEvent(TypedDict):
    type: Literal["counsellor.unassigned"]
    conversation: str


def queue_snapshot(
    counsellors: list[selectors.CounsellorState] | None = None,
    state: selectors.ServiceState | None = None,
) -> QueueSnapshotEvent:
    waiting = selectors.queue_waiting()
    counsellors = selectors.counsellors_on_shift() if counsellors is None else counsellors
    state = selectors.service_state(on_shift=counsellors) if state is None else state
    return {
        "type": "queue.snapshot",
        "waiting": [
            {
                "conversation": entry.public_id,
                "language": entry.language,
                "county": entry.county,
                "priority": entry.priority,
                "requeued": entry.requeued,
                "queued_at": entry.queued_at.isoformat(),
            }
            for entry in waiting
        ],
        "counsellors": [c.as_item() for c in counsellors],
        "open": state.open,
        "reason": state.reason,
        "closes_at": state.closes_at.isoformat() if state.closes_at else None,
        "on_shift": len(counsellors),
    }


def position_event(
    key: str,
    position: int,
    total: int,
    estimator: selectors.WaitEstimator,
    state: selectors.ServiceState,
) -> QueuePositionEvent:
    wait = estimator.seconds(position)
    closes_at = state.closes_at
    past_closing = bool(
        closes_at is not None
        and wait is not None
        and (closes_at - timezone.now()).total_seconds() < wait
    )
    return {
        "type": "queue.position",
        "conversation": key,
        "position": position,
        "waiting": total,
        "estimated_wait": wait,
        "closes_at": closes_at.isoformat() if closes_at else None,
        "past_closing": past_closing,
    }


class DashboardStateEvent(TypedDict):
    type: Literal["dashboard.state"]
    state: dict[str, object]


class SupervisorMessageEvent(TypedDict):
    type: Literal["supervisor.message"]
    text: str
    sender: str


def broadcast_dashboard() -> None:
    """The whole dashboard, computed once, to every supervisor (absolute values)."""
    from routing.dashboard import dashboard_state  # the dashboard reads through these events

    event: DashboardStateEvent = {"type": "dashboard.state", "state": dashboard_state()}
    send_now(DASHBOARD_GROUP, dict(event))


def publish_supervisor_message(text: str, sender: str) -> None:
    event: SupervisorMessageEvent = {"type": "supervisor.message", "text": text, "sender": sender}
    send_on_commit(QUEUE_GROUP, dict(event))


def broadcast_queue() -> None:
    """Send every counsellor the queue, every waiting visitor their place in it, and every
    supervisor the dashboard."""
    counsellors = selectors.counsellors_on_shift()  # read once for the whole pass
    state = selectors.service_state(on_shift=counsellors)
    snapshot = queue_snapshot(counsellors, state)
    send_now(QUEUE_GROUP, dict(snapshot))
    queue_worker.dashboard_changed()
    total = len(snapshot["waiting"])
    if not total:
        return
    estimator = selectors.wait_estimator(on_shift=counsellors)
    send_many(
        [
            (
                conversation_group(item["conversation"]),
                dict(position_event(item["conversation"], position, total, estimator, state)),
            )
            for position, item in enumerate(snapshot["waiting"], start=1)
        ]
    )


def after_queue_change() -> None:
    if conf.auto_assign():
        from routing.dispatch import queue_dispatch  # dispatch builds on these events

        queue_dispatch(broadcast=False)
    broadcast_queue()


def off_thread(function: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    """Run on a worker thread of its own, not on the one thread that serves the sockets'
    database calls: a dashboard computation there made every chat message in the process wait
    for it (delivery p99 outliers in bench/chat.py, docs/performance.md)."""
    wrapped: Callable[[], Awaitable[None]] = database_sync_to_async(
        function, thread_sensitive=False
    )
    return wrapped


class QueueWorker:
    """Runs ``after_queue_change`` and the dashboard broadcast for the process, off the sender's
    path and coalesced.

    A queue change used to dispatch and recompute the queue and the whole dashboard on the
    thread of whoever committed it (a visitor's first message waited for its ack behind it), once
    per change: a sweep that requeued 20 chats computed the dashboard 20 times. Now a commit only
    rings this worker's bell; the worker, a task on the server's event loop, runs one pass per
    ring, and rings that arrive during a pass make one more pass. Every pass reads the database
    afresh, so nothing is lost by merging them. The dashboard, the costliest part, has a bell of
    its own and is computed at most once per ``DASHBOARD_INTERVAL`` (the first change after a
    quiet spell goes out at once). Outside a server (management commands, the test process)
    there is no loop and both run at once, as before."""

    DASHBOARD_INTERVAL = 0.5

    def __init__(self) -> None:
        self.watchers = 0  # supervisor dashboards open in this process
        self.loop: asyncio.AbstractEventLoop | None = None
        self.bell: asyncio.Event | None = None
        self.dashboard_bell: asyncio.Event | None = None

    async def run_forever(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.bell, self.dashboard_bell = asyncio.Event(), asyncio.Event()
        dashboards = asyncio.create_task(self.dashboards(self.dashboard_bell))
        try:
            while True:
                await self.bell.wait()
                self.bell.clear()
                try:
                    await off_thread(after_queue_change)()
                except Exception:
                    log.warning("queue broadcast failed; the next change or sweep retries")
        finally:
            dashboards.cancel()
            self.loop = self.bell = self.dashboard_bell = None

    async def dashboards(self, bell: asyncio.Event) -> None:
        while True:
            await bell.wait()
            bell.clear()
            try:
                await off_thread(broadcast_dashboard)()
            except Exception:
                log.warning("dashboard broadcast failed; the next change or sweep retries")
            await asyncio.sleep(self.DASHBOARD_INTERVAL)

    def _ring(self, bell: asyncio.Event | None, fallback: Callable[[], None]) -> None:
        loop = self.loop
        if loop is None or bell is None or loop.is_closed():
            fallback()
            return
        loop.call_soon_threadsafe(bell.set)

    def ring(self) -> None:
        self._ring(self.bell, after_queue_change)

    def dashboard_changed(self) -> None:
        self._ring(self.dashboard_bell, broadcast_dashboard)


queue_worker = QueueWorker()


def publish_queue_changed() -> None:
    """After commit: assign what can be assigned, then show everyone the new queue."""
    transaction.on_commit(queue_worker.ring, robust=True)


def publish_unassigned(conversation_public_id: object, counsellor_id: int) -> None:
    event: CounsellorUnassignedEvent = {
        "type": "counsellor.unassigned",
        "conversation": public_key(str(conversation_public_id)),
    }
    send_on_commit(counsellor_group(counsellor_id), dict(event))
