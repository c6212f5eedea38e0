"""B5 churn and soak: connection storms, memory per idle socket, and a soak with reconnects.

One server process on PostgreSQL + Redis (the production settings). (1) Churn: 500 visitor
sockets connect within 1 s, each waiting for its ``hello``, then all close; ten times. (2) Idle
memory: RSS with 500 idle sockets open against RSS with none, per socket. (3) Soak: 500 idle
sockets stay open while 20 others reconnect every second and ping, for ``--soak-seconds``; RSS is
sampled every 10 s and its growth taken from the end of the first quarter (after warm-up) to the
end. Redis client connections are read (INFO clients) before any socket, after the first storm (the
connection pools have grown to what a storm needs) and after everything closed: no growth after
the first storm means no leak.
Baseline: the churn's handshake time against a ``ping`` round trip on one open socket.

    .venv/bin/python bench/churn.py [--soak-seconds 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import redis
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import (
    REDIS_BENCH_URL,
    LiveServer,
    emit,
    log,
    open_socket,
    percentile,
    ratio,
    rss_kib,
    running,
    setup_world,
    summary,
    until,
)

STORM = 500


def new_chats(count: int) -> list[str]:
    from chat.models import Conversation
    from chat.selectors import hash_token

    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    Conversation.objects.bulk_create(Conversation(visitor_token_hash=hash_token(t)) for t in tokens)
    return tokens


def redis_clients() -> int:
    info: dict[str, Any] = redis.Redis.from_url(REDIS_BENCH_URL).info("clients")
    return int(info["connected_clients"])


async def visitor(server: LiveServer, token: str) -> Any:
    ws = await open_socket(f"{server.ws_url}/ws/chat/", f"veivalg_visitor={token}")
    await until(ws, "hello", 15)
    return ws


async def storm(server: LiveServer, tokens: list[str]) -> tuple[list[Any], int, list[float]]:
    """Connect every token within one second; returns sockets, failures, handshake times."""
    times: list[float] = []
    spacing = 1.0 / len(tokens)

    async def one(n: int, token: str) -> Any:
        await asyncio.sleep(n * spacing)
        started = time.perf_counter()
        try:
            ws = await visitor(server, token)
        except Exception:
            return None
        times.append((time.perf_counter() - started) * 1000)
        return ws

    results = await asyncio.gather(*(one(n, t) for n, t in enumerate(tokens)))
    sockets = [ws for ws in results if ws is not None]
    return sockets, len(tokens) - len(sockets), times


async def close_all(sockets: list[Any]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def ping_rtt(ws: Any) -> float:
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "ping", "ref": "b5"}))
    await until(ws, "pong")
    return (time.perf_counter() - started) * 1000


async def run(
    server: LiveServer, tokens: list[str], rounds: int, soak: float, redis_url: bool
) -> dict[str, Any]:
    pid = server.process.pid
    probe = await visitor(server, tokens[-1])
    failures, handshakes, pings = 0, [], []
    storm_clients: list[int] = []
    for _n in tqdm(range(rounds), desc="B5 churn", unit="storm"):
        pings.append(await ping_rtt(probe))
        sockets, failed, times = await storm(server, tokens[:STORM])
        failures += failed
        handshakes += times
        await close_all(sockets)
        await asyncio.sleep(0.5)
        if redis_url:
            # The pools grow to what the storms' concurrency needs (the first storm does not
            # always get there): the most seen after any storm is the warm size. A leak shows
            # as growth beyond it across the soak's thousands of reconnects.
            storm_clients.append(redis_clients())
    warm_clients = max(storm_clients, default=0)
    soak_clients: list[int] = []
    await asyncio.sleep(2)
    rss_none = rss_kib(pid)
    idle, failed, _times = await storm(server, tokens[:STORM])
    failures += failed
    await asyncio.sleep(2)
    rss_idle = rss_kib(pid)
    per_socket = (rss_idle - rss_none) / max(1, len(idle))

    samples: list[tuple[float, int]] = []
    reconnects = 0
    soak_failures = 0
    stop = time.perf_counter() + soak
    churners = tokens[STORM : STORM + 20]

    async def churn(token: str) -> None:
        nonlocal reconnects, soak_failures
        while time.perf_counter() < stop:
            try:
                ws = await visitor(server, token)
                await ping_rtt(ws)
                await ws.close()
                reconnects += 1
            except Exception:
                soak_failures += 1
            await asyncio.sleep(1.0)

    async def sample() -> None:
        with tqdm(total=int(soak), desc="B5 soak", unit="s") as bar:
            began = time.perf_counter()
            while time.perf_counter() < stop:
                samples.append((time.perf_counter() - began, rss_kib(pid)))
                if redis_url:
                    soak_clients.append(redis_clients())
                await asyncio.sleep(min(10.0, max(0.0, stop - time.perf_counter())))
                bar.n = int(time.perf_counter() - began)
                bar.refresh()
            samples.append((time.perf_counter() - began, rss_kib(pid)))

    await asyncio.gather(sample(), *(churn(t) for t in churners))
    await close_all([*idle, probe])
    await asyncio.sleep(3)
    warm = next(rss for at, rss in samples if at >= soak / 4)
    growth = (samples[-1][1] - warm) / warm * 100
    return {
        "redis_clients_after_each_storm": storm_clients,
        "redis_clients_warm": warm_clients,
        "redis_clients_during_soak": soak_clients,
        "storms": rounds,
        "sockets_per_storm": STORM,
        "failed_handshakes": failures,
        "handshake_ms": summary(handshakes),
        "baseline_ping_ms": summary(pings),
        "ratio_handshake_p99_to_ping_p99": ratio(
            percentile(handshakes, 0.99), percentile(pings, 0.99)
        ),
        "rss_kib_no_sockets": rss_none,
        "rss_kib_500_idle": rss_idle,
        "kib_per_idle_socket": round(per_socket, 1),
        "soak_seconds": soak,
        "soak_reconnects": reconnects,
        "soak_failures": soak_failures,
        "rss_kib_samples": [rss for _at, rss in samples],
        "rss_growth_percent": round(growth, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--soak-seconds", type=float, default=120.0)
    parser.add_argument("--mode", choices=["embedded", "postgres"], default="postgres")
    args = parser.parse_args()
    env = setup_world(args.mode)
    tokens = new_chats(STORM + 21)
    with running("uvicorn", env) as servers:
        time.sleep(1)
        before = redis_clients() if args.mode == "postgres" else 0
        result = asyncio.run(
            run(servers[0], tokens, args.rounds, args.soak_seconds, args.mode == "postgres")
        )
        after = redis_clients() if args.mode == "postgres" else 0
    result.update(
        {
            "bench": "B5_churn_soak",
            "mode": args.mode,
            "redis_clients_before": before,
            "redis_clients_after": after,
        }
    )
    result["met"] = (
        result["failed_handshakes"] == 0
        and result["soak_failures"] == 0
        and result["rss_growth_percent"] < 1.0
        and result["kib_per_idle_socket"] <= 100
        and max([after, *result["redis_clients_during_soak"]])
        <= max(before, result["redis_clients_warm"])
    )
    log(f"B5: {json.dumps({k: v for k, v in result.items() if k != 'rss_kib_samples'})}")
    emit(result)


if __name__ == "__main__":
    main()
