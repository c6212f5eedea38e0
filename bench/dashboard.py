"""Dashboard live-update latency: a visitor joins the queue → the number changes on the
supervisor's page (headless Chromium), interleaved with a baseline: a WebSocket ping → pong
round trip to the same server. Prints one JSON object; see docs/performance.md.

    .venv/bin/python bench/dashboard.py [--rounds 20]

Runs embedded (SQLite + in-memory layer) unless DATABASE_URL and REDIS_URL are set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm
from websockets.asyncio.client import connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ORIGIN = Origin("http://127.0.0.1:8000")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def setup_world() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from routing.models import OpeningHours
    from tests.conftest import make_staff

    call_command("migrate", verbosity=0)
    OpeningHours.objects.all().delete()
    for day in range(7):
        OpeningHours.objects.create(weekday=day, opens="00:00", closes="00:00")
    make_staff("siri", "supervisor", "counsellor", first_name="Siri")
    make_staff("kari", "counsellor", first_name="Kari")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def start_visitor(base: str) -> str:
    async with httpx.AsyncClient(base_url=base) as client:
        await client.get("/")
        response = await client.post(
            "/api/chat/", json={}, headers={"X-CSRFToken": client.cookies["csrftoken"]}
        )
        response.raise_for_status()
        return str(response.cookies["veivalg_visitor"])


async def ping_rtt(ws_url: str, token: str) -> float:
    async with connect(
        f"{ws_url}/ws/chat/",
        origin=ORIGIN,
        additional_headers={"Cookie": f"veivalg_visitor={token}"},
    ) as ws:
        await ws.recv()  # hello
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "ping", "ref": "b"}))
        while json.loads(await ws.recv())["type"] != "pong":
            pass
        return (time.perf_counter() - started) * 1000


async def run(rounds: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    from tests.support import start_server

    server = start_server()
    results: dict[str, list[float]] = {"dashboard_ms": [], "baseline_ping_ms": []}
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            pages = {}
            for user, path in (("kari", "/veileder/"), ("siri", "/vaktleder/")):
                page = await (await browser.new_context()).new_page()
                await page.goto(f"{server.url}/veileder/logg-inn/?next={path}")
                await page.fill("#id_username", user)
                await page.fill("#id_password", "test-pass-123")
                await page.locator("main button[type=submit]").click()
                await page.wait_for_load_state("networkidle")
                pages[user] = page
            await pages["kari"].click("#shift-start")
            await pages["kari"].wait_for_selector("#shift-end:not([hidden])")
            dashboard = pages["siri"]
            await dashboard.evaluate(
                """() => {
                    const node = document.querySelector('[data-figure="today.started"]');
                    window.__changes = {};
                    new MutationObserver(() => {
                        window.__changes[node.dataset.value] =
                            performance.timeOrigin + performance.now();
                    }).observe(node, {attributes: true, attributeFilter: ["data-value"]});
                }"""
            )
            for n in tqdm(range(1, rounds + 1), desc="dashboard rounds", file=sys.stderr):
                token = await start_visitor(server.url)
                results["baseline_ping_ms"].append(await ping_rtt(server.ws_url, token))
                async with connect(
                    f"{server.ws_url}/ws/chat/",
                    origin=ORIGIN,
                    additional_headers={"Cookie": f"veivalg_visitor={token}"},
                ) as ws:
                    await ws.recv()
                    sent = time.time() * 1000
                    await ws.send(
                        json.dumps({"type": "message.send", "client_id": "1", "body": "Hei"})
                    )
                    await dashboard.wait_for_function(
                        f"window.__changes['{n}'] !== undefined", timeout=10_000
                    )
                    changed = await dashboard.evaluate(f"window.__changes['{n}']")
                    results["dashboard_ms"].append(changed - sent)
                    await ws.send(json.dumps({"type": "conversation.close"}))
            await browser.close()
    finally:
        server.stop()
    dash, base = results["dashboard_ms"], results["baseline_ping_ms"]
    return {
        "bench": "dashboard_update_latency",
        "mode": "postgres+redis" if os.environ.get("REDIS_URL") else "embedded",
        "rounds": rounds,
        "dashboard_p50_ms": round(statistics.median(dash), 1),
        "dashboard_p95_ms": round(percentile(dash, 0.95), 1),
        "dashboard_max_ms": round(max(dash), 1),
        "baseline_ping_p50_ms": round(statistics.median(base), 2),
        "ratio_p50_to_baseline": round(statistics.median(dash) / statistics.median(base), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("DATABASE_URL"):
        os.environ["VEIVALG_SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "bench.sqlite3")
    setup_world()
    print(json.dumps(asyncio.run(run(args.rounds))))


if __name__ == "__main__":
    main()
