"""Floor baselines for bench/transport.py: a raw ASGI WebSocket echo on the same uvicorn settings
as ``manage.py serve``, and a minimal relay written with the ``websockets`` library alone.

    .venv/bin/python bench/echo.py --kind asgi|relay --port 8100
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Accept, then send every text frame straight back. Nothing else."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text")})
        else:
            return


async def relay(port: int) -> None:
    """The same echo with the websockets library's own server: the floor for any Python stack."""
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(handler, "127.0.0.1", port, max_size=1024 * 1024, ping_interval=20.0):
        await asyncio.get_running_loop().create_future()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["asgi", "relay"], default="asgi")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.kind == "relay":
        import uvloop

        uvloop.run(relay(args.port))
        return
    import uvicorn

    from frontend.management.commands.serve import UVICORN_OPTIONS

    uvicorn.run(echo_app, host="127.0.0.1", port=args.port, **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
