"""The periodic housekeeping loop each server process runs (started by the ASGI lifespan)."""

from __future__ import annotations

import asyncio
import logging
import random

from channels.db import database_sync_to_async

from chat import conf
from routing.events import queue_worker
from routing.services import SweepResult, queue_sweep

log = logging.getLogger(__name__)


async def run_forever() -> None:
    while True:
        # Jitter spreads several processes' sweeps apart; each sweep is safe to overlap.
        await asyncio.sleep(conf.sweep_seconds() * random.uniform(0.8, 1.2))
        try:
            result = await sweep_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("queue sweep failed; retrying on the next tick", exc_info=True)
            continue
        if result.changed:
            log.info(
                "sweep: %d stale sockets, %d requeued, %d abandoned, %d unserved",
                result.stale_sockets,
                len(result.requeued),
                len(result.abandoned),
                len(result.unserved),
            )


async def sweep_once() -> SweepResult:
    result: SweepResult = await database_sync_to_async(queue_sweep, thread_sensitive=False)()
    # Waits grow and shifts end with nothing else happening: keep the dashboards of this
    # process current (each process refreshes its own). With none open here the computation,
    # about 40 ms of CPU every sweep, is skipped: it held up the chat messages of the process
    # (B3's delivery p99, docs/performance.md).
    if queue_worker.watchers:
        queue_worker.dashboard_changed()
    return result
