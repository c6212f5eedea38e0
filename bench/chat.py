"""B2 chat 1:1 and B3 channel layer: the full send path (frame validation, database write with
the per-conversation sequence number, fan-out to the other party) under a fixed offered load.

``--conversations`` chats already talking (visitor and counsellor each on a socket; 10
counsellor desks); every chat sends one message every 2 s, visitor and counsellor in turn, on a
schedule (open loop: latency from the scheduled time to the other party's socket). Each variant
runs after a baseline run interleaved with it: the same schedule through the ``websockets`` relay
(bench/echo.py, every message echoed). ``--saturation`` adds a closed-loop run: every chat sends
its next message as soon as the previous one arrived, for the most messages per second.

    .venv/bin/python bench/chat.py --mode embedded --conversations 50,200 --saturation
    .venv/bin/python bench/chat.py --mode postgres --processes 2 --layers redis,pubsub
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import (
    CpuMeter,
    LiveServer,
    active_chats,
    emit,
    log,
    open_socket,
    percentile,
    ratio,
    running,
    setup_world,
    sleep_until,
    staff,
    summary,
    until,
)

DESKS = 10
PERIOD = 2.0  # seconds between two messages of one chat


class Chats:
    """Visitor and desk sockets for every chat, and who is waiting for which message."""

    def __init__(self, chats: list[tuple[str, str, Any]], sessions: dict[int, str]) -> None:
        self.chats = chats
        self.sessions = sessions
        self.visitors: dict[str, Any] = {}
        self.desks: dict[int, Any] = {}
        # body -> scheduled send time and the other party's socket: delivery is measured where
        # the message is going, not at the sender's own copy of it (which may arrive first)
        self.expected: dict[str, tuple[float, Any]] = {}
        self.latencies: list[float] = []
        self.arrived: dict[str, asyncio.Event] = {}
        self.readers: list[asyncio.Task[None]] = []
        self.errors = 0

    async def connect(self, visitor_server: LiveServer, desk_server: LiveServer) -> None:
        for user_id, cookie in self.sessions.items():
            ws = await open_socket(f"{desk_server.ws_url}/ws/desk/", cookie)
            await until(ws, "hello")
            await ws.send(json.dumps({"type": "shift.start"}))
            await until(ws, "shift")
            self.desks[user_id] = ws
        for token, key, counsellor in self.chats:
            ws = await open_socket(f"{visitor_server.ws_url}/ws/chat/", f"veivalg_visitor={token}")
            await until(ws, "hello")
            await ws.send(json.dumps({"type": "resume", "last_seq": 0}))
            await until(ws, "resumed")
            self.visitors[key] = ws
            desk = self.desks[counsellor.pk]
            await desk.send(json.dumps({"type": "resume", "conversation": key, "last_seq": 0}))
        for ws in self.desks.values():  # every resume answered before the clock starts
            for _ in range(len(self.chats) // len(self.desks)):
                await until(ws, "resumed")
        self.readers = [asyncio.create_task(self.read(ws)) for ws in self.visitors.values()]
        self.readers += [asyncio.create_task(self.read(ws)) for ws in self.desks.values()]

    async def read(self, ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "message":
                due, recipient = self.expected.get(frame["body"], (None, None))
                if due is not None and recipient is ws:
                    del self.expected[frame["body"]]
                    self.latencies.append((time.perf_counter() - due) * 1000)
                    event = self.arrived.pop(frame["body"], None)
                    if event is not None:
                        event.set()
            elif frame["type"] == "error":
                self.errors += 1

    async def send(self, n: int, chat: int, due: float) -> str:
        _token, key, counsellor = self.chats[chat]
        body = f"Melding {n} i samtale {chat}: hvordan søker jeg på fagskole?"
        frame: dict[str, Any] = {"type": "message.send", "client_id": f"b{n}", "body": body}
        desk, visitor = self.desks[counsellor.pk], self.visitors[key]
        if n % 2:
            ws, recipient = desk, visitor
            frame["conversation"] = key
        else:
            ws, recipient = visitor, desk
        self.expected[body] = (due, recipient)
        await ws.send(json.dumps(frame))
        return body

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        for ws in [*self.visitors.values(), *self.desks.values()]:
            await ws.close()


async def open_loop(chats: Chats, seconds: float, warmup: float, meter: CpuMeter) -> Any:
    """Every chat sends every PERIOD seconds, phases spread evenly; returns the measured part."""
    count = len(chats.chats)
    start = time.perf_counter() + 0.2
    schedule = sorted(
        (start + chat * PERIOD / count + k * PERIOD, chat)
        for chat in range(count)
        for k in range(int((seconds + warmup) / PERIOD))
    )
    measured_from = start + warmup
    began = False
    sent = 0
    for n, (due, chat) in enumerate(schedule):
        await sleep_until(due)
        if not began and due >= measured_from:
            chats.latencies.clear()
            meter.begin()
            began = True
            sent = 0
        await chats.send(n, chat, due)
        sent += 1
    deadline = time.perf_counter() + 10
    while chats.expected and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    cpu = meter.end()
    lost = len(chats.expected)
    return chats.latencies[:], cpu, sent, lost


async def closed_loop(chats: Chats, seconds: float, meter: CpuMeter) -> Any:
    """Every chat sends its next message when the previous one has arrived."""
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))
    delivered = 0

    async def drive(chat: int) -> None:
        nonlocal delivered
        while time.perf_counter() < stop:
            n = next(counter)
            event = asyncio.Event()
            body_due = time.perf_counter()
            body = f"Melding {n} i samtale {chat}: hvordan søker jeg på fagskole?"
            chats.arrived[body] = event
            await chats.send(n, chat, body_due)
            await asyncio.wait_for(event.wait(), timeout=30)
            delivered += 1

    stop = time.perf_counter() + 2.0
    await asyncio.gather(*(drive(c) for c in range(len(chats.chats))))  # warm-up
    delivered = 0
    stop = time.perf_counter() + seconds
    began = time.perf_counter()
    log(f"saturation: measuring for {seconds:.0f} s")
    meter.begin()
    await asyncio.gather(*(drive(c) for c in range(len(chats.chats))))
    cpu = meter.end()
    return delivered, time.perf_counter() - began, cpu


async def relay_baseline(server: LiveServer, count: int, seconds: float) -> list[float]:
    """The same open-loop schedule through the websockets relay: each message echoed."""
    sockets = [await open_socket(f"{server.ws_url}/") for _ in range(count)]
    expected: dict[str, float] = {}
    latencies: list[float] = []

    async def read(ws: Any) -> None:
        async for raw in ws:
            due = expected.pop(json.loads(raw)["body"], None)
            if due is not None:
                latencies.append((time.perf_counter() - due) * 1000)

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    start = time.perf_counter() + 0.2
    schedule = sorted(
        (start + chat * PERIOD / count + k * PERIOD, chat)
        for chat in range(count)
        for k in range(int(seconds / PERIOD))
    )
    for n, (due, chat) in enumerate(schedule):
        await sleep_until(due)
        body = f"Melding {n} i samtale {chat}: hvordan søker jeg på fagskole?"
        expected[body] = due
        await sockets[chat].send(json.dumps({"type": "message.send", "body": body}))
    await asyncio.sleep(0.5)
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()
    return latencies


def fresh_chats(count: int, counsellors: list[tuple[Any, str]]) -> Chats:
    users = [user for user, _cookie in counsellors]
    from chat.models import Conversation

    Conversation.objects.filter(status=Conversation.Status.ACTIVE).update(
        status=Conversation.Status.CLOSED
    )
    return Chats(active_chats(users, count), {u.pk: c for u, c in counsellors})


def open_loop_run(
    servers: list[LiveServer],
    meter: CpuMeter,
    count: int,
    seconds: float,
    counsellors: list[tuple[Any, str]],
    baseline: list[float],
) -> dict[str, Any]:
    """The fixed offered load (open loop) and its figures against the relay's."""
    chats = fresh_chats(count, counsellors)

    async def measure() -> Any:
        await chats.connect(servers[0], servers[-1])
        try:
            return await open_loop(chats, seconds, 4.0, meter), chats.errors
        finally:
            await chats.close()

    (latencies, cpu, sent, lost), errors = asyncio.run(measure())
    return {
        "offered_msgs_per_s": round(count / PERIOD, 1),
        "messages": sent,
        "lost": lost,
        "errors": errors,
        "delivery_ms": summary(latencies),
        "baseline_relay_ms": summary(baseline),
        "ratio_p99_to_relay": ratio(percentile(latencies, 0.99), percentile(baseline, 0.99)),
        "cpu_ms_per_msg": {k: round(v / max(1, sent) * 1000, 3) for k, v in cpu.items()},
    }


def run_variant(
    env: dict[str, str],
    mode: str,
    processes: int,
    layer: str,
    count: int,
    seconds: float,
    counsellors: list[tuple[Any, str]],
    saturation: bool,
    open_loop_too: bool = True,
) -> dict[str, Any]:
    extra = {"VEIVALG_CHANNEL_LAYER": layer}
    result: dict[str, Any] = {
        "mode": mode,
        "processes": processes,
        "layer": layer if mode == "postgres" else "in-memory",
        "conversations": count,
    }
    if open_loop_too:
        with running("relay", env) as relay:
            baseline = asyncio.run(relay_baseline(relay[0], count, seconds))
    with running("uvicorn", env, processes, extra) as servers:
        meter = CpuMeter(servers, services=mode == "postgres")
        if open_loop_too:
            result.update(open_loop_run(servers, meter, count, seconds, counsellors, baseline))
        if saturation:
            chats = fresh_chats(count, counsellors)

            async def saturate() -> Any:
                await chats.connect(servers[0], servers[-1])
                try:
                    return await closed_loop(chats, seconds, meter)
                finally:
                    await chats.close()

            delivered, elapsed, cpu = asyncio.run(saturate())
            rate = delivered / elapsed
            cpu_ms = {k: v / max(1, delivered) * 1000 for k, v in cpu.items()}
            # What a process would carry with a core of its own: the figure above is capped
            # by this machine, whose 2 cores the servers share with the client, PostgreSQL and
            # Redis. Each message costs CPU in the sender's and the receiver's process; spread
            # over the processes, that is ``cpu_ms["server"]`` of one core per message per process.
            per_core = 1000 / cpu_ms["server"] if cpu_ms["server"] else 0.0
            result["saturation"] = {
                "msgs_per_s": round(rate, 1),
                "msgs_per_s_per_process": round(rate / processes, 1),
                "ratio_to_offered_200": round(rate / processes / (200 / PERIOD), 2),
                "cpu_ms_per_msg": {k: round(v, 3) for k, v in cpu_ms.items()},
                "msgs_per_s_per_process_at_one_core": round(per_core, 1),
                "ratio_at_one_core_to_offered_200": round(per_core / (200 / PERIOD), 2),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--layers", default="redis")
    parser.add_argument("--conversations", default="50,200")
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--saturation", action="store_true")
    parser.add_argument(
        "--saturation-only", action="store_true", help="the closed loop alone, no open loop"
    )
    args = parser.parse_args()
    random.seed(8)
    env = setup_world(args.mode)
    counsellors = [staff(f"radgiver{n}", "counsellor") for n in range(DESKS)]
    layers = [x for x in args.layers.split(",") if x] if args.mode == "postgres" else ["memory"]
    counts = [int(x) for x in args.conversations.split(",")]
    runs = [(layer, count) for layer in layers for count in counts]
    results = []
    for layer, count in tqdm(runs, desc=f"B2 chat ({args.mode})", unit="run"):
        saturation = args.saturation_only or (args.saturation and count == max(counts))
        result = run_variant(
            env,
            args.mode,
            args.processes,
            layer,
            count,
            args.seconds,
            counsellors,
            saturation,
            open_loop_too=not args.saturation_only,
        )
        if "delivery_ms" in result:
            log(
                f"B2 {args.mode} {layer} {count} chats: p99 {result['delivery_ms']['p99']} ms,"
                f" CPU/msg {result['cpu_ms_per_msg']}"
            )
        results.append(result)
    emit({"bench": "B2_chat" if len(layers) == 1 else "B3_channel_layer", "runs": results})


if __name__ == "__main__":
    main()
