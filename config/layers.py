"""The embedded mode's channel layer: Channels' in-memory layer without its per-call sweeps.

Channels' ``InMemoryChannelLayer`` walks every channel and every group membership looking for
expired entries on each send, receive and group send, and fans a group send out through one
task per member. With hundreds of sockets in the process that walk was the largest single cost
of a chat message in embedded mode (bench/chat.py, docs/performance.md). This layer sweeps at
most once a second and delivers a group send in a plain loop; what it delivers is the same.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer


class SweepingInMemoryChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]
    sweep_seconds = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_seconds
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, {})):
            # As in Channels: a full socket misses the doorbell and catches up later.
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)
