"""The supervisor dashboard socket: join the stream first, then send the snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from chat.consumers import FrameConsumer
from chat.db import database_sync_to_async
from chat.errors import Forbidden
from chat.events import user_group
from routing import events, selectors, services
from routing.dashboard import dashboard_state
from routing.frames import (
    SUPERVISOR_FRAMES,
    ConversationEnd,
    ConversationMove,
    CounsellorsMessage,
    ServiceClose,
    ServiceOpen,
    VisitorBlock,
    VisitorUnblock,
)
from routing.models import ServiceOverride

CLOSE_FORBIDDEN = 4403


def _until(value: str) -> dt.datetime:
    """``HH:MM`` today in the service's time zone, or tomorrow if that has passed."""
    hour, minute = (int(part) for part in value.split(":"))
    now = timezone.localtime()
    moment = now.replace(hour=hour % 24, minute=minute % 60, second=0, microsecond=0)
    return moment if moment > now else moment + dt.timedelta(days=1)


class SupervisorConsumer(FrameConsumer):
    frames = SUPERVISOR_FRAMES

    async def connect(self) -> None:
        user = self.scope.get("user")
        user_id = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
        allowed = await database_sync_to_async(selectors.user_has_role)(
            user_id=user_id, role=selectors.SUPERVISOR_GROUP
        )
        if not allowed or user_id is None:
            await self.refuse(Forbidden(), CLOSE_FORBIDDEN)
            return
        self.user = user
        self.language = self.scope.get("cookies", {}).get("veivalg_language", "nb")
        if self.language not in {"nb", "nn", "en"}:
            self.language = "nb"
        # Join the stream before reading the snapshot: a change in between arrives as an event.
        await self.join(events.DASHBOARD_GROUP)
        await self.join(user_group(user_id))
        await self.accept()
        events.queue_worker.watchers += 1
        self.watching = True
        await self.send_state(await database_sync_to_async(dashboard_state)())

    async def disconnect(self, code: int) -> None:
        if getattr(self, "watching", False):
            events.queue_worker.watchers -= 1
            self.watching = False
        await super().disconnect(code)

    async def send_state(self, state: dict[str, Any]) -> None:
        await self.send_json({"type": "dashboard.state", "state": state})

    async def dashboard_state(self, event: events.DashboardStateEvent) -> None:
        await self.send_state(event["state"])

    async def ok(self, action: str, ref: str | None) -> None:
        await self.send_json({"type": "ok", "action": action, "ref": ref})

    async def on_service_close(self, frame: ServiceClose) -> None:
        await database_sync_to_async(services.service_override_set)(
            actor=self.user,
            kind=ServiceOverride.Kind.CLOSE,
            reason=frame.reason,
            until=_until(frame.until),
        )
        await self.ok(frame.type, frame.ref)

    async def on_service_open(self, frame: ServiceOpen) -> None:
        await database_sync_to_async(services.service_override_set)(
            actor=self.user,
            kind=ServiceOverride.Kind.OPEN,
            reason=frame.reason,
            until=_until(frame.until),
        )
        await self.ok(frame.type, frame.ref)

    async def on_service_resume(self, frame: Any) -> None:
        await database_sync_to_async(services.service_override_cancel)(actor=self.user)
        await self.ok(frame.type, frame.ref)

    async def on_conversation_move(self, frame: ConversationMove) -> None:
        await database_sync_to_async(services.conversation_move)(
            actor=self.user, public_id=frame.conversation, to_username=frame.to, reason=frame.reason
        )
        await self.ok(frame.type, frame.ref)

    async def on_conversation_end(self, frame: ConversationEnd) -> None:
        await database_sync_to_async(services.conversation_end_stuck)(
            actor=self.user, public_id=frame.conversation, reason=frame.reason
        )
        await self.ok(frame.type, frame.ref)

    async def on_counsellors_message(self, frame: CounsellorsMessage) -> None:
        await database_sync_to_async(services.counsellors_message)(actor=self.user, text=frame.text)
        await self.ok(frame.type, frame.ref)

    async def on_visitor_block(self, frame: VisitorBlock) -> None:
        from moderation.services import visitor_block

        await database_sync_to_async(visitor_block)(
            actor=self.user, public_id=frame.conversation, hours=frame.hours, reason=frame.reason
        )
        await self.ok(frame.type, frame.ref)

    async def on_visitor_unblock(self, frame: VisitorUnblock) -> None:
        from moderation.services import visitor_unblock

        await database_sync_to_async(visitor_unblock)(actor=self.user, public_id=frame.conversation)
        await self.ok(frame.type, frame.ref)
