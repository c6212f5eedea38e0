"""Channel layers: the embedded mode's in-memory layer without its per-call sweeps, and the
Redis pub/sub layer with a batched group send.

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
from channels_redis.pubsub import RedisPubSubChannelLayer


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


class PipelinedRedisPubSubChannelLayer(RedisPubSubChannelLayer):  # type: ignore[misc]
    """channels-redis' pub/sub layer plus ``group_send_many``: many group sends in one Redis
    pipeline per shard, one socket write and one read of the replies, in the order given.

    ``group_send`` awaits a whole round trip per event, and the doorbell outbox
    (``chat.events._Outbox``) sent them one after the other: the write to Redis's socket was
    the largest single cost of a message in the PostgreSQL-mode server's profile, 10 % of its
    samples (docs/performance.md). This reaches into channels-redis 4.3's shard connection (its
    lock and its redis client), so pyproject.toml holds channels-redis below 4.4; every
    PostgreSQL + Redis test runs on it."""

    async def group_send_many(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        layer = self._get_layer()
        shards: dict[int, tuple[Any, list[tuple[str, bytes]]]] = {}
        for group, message in events:
            channel = layer._get_group_channel_name(group)
            shard = layer._get_shard(channel)
            shards.setdefault(id(shard), (shard, []))[1].append((channel, self.serialize(message)))
        for shard, batch in shards.values():
            async with shard._lock:
                shard._ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for channel, data in batch:
                    pipe.publish(channel, data)
                await pipe.execute()
