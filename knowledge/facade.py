"""The knowledge facade: the only module the rest of Veivalg imports from ``knowledge``.

- ``load_file``: validate a JSON Lines corpus, embed it (with a progress bar) and store documents
  and a new index in one transaction.
- ``search``: hybrid retrieval over the newest index, for commands, benches and the desk.
- ``suggest``: the same from async code, run on a worker thread that batches queries when busy,
  so the event loop serving sockets never embeds or searches.

Text sent to the index is redacted of personal numbers, phone numbers and e-mail addresses
first; queries are never stored or logged.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from tqdm import tqdm

from chat import conf
from knowledge import corpus, embedders
from knowledge.corpus import CorpusDocument, CorpusError
from knowledge.index import MODES, Hit, HybridIndex, IndexedDocument, Mode, Vectors, combine
from knowledge.models import KnowledgeDocument, KnowledgeIndex, SuggestionCount
from moderation.redaction import redact

__all__ = [
    "MODES",
    "CorpusError",
    "Hit",
    "LoadResult",
    "NoIndex",
    "count_later",
    "index_info",
    "load_documents",
    "load_file",
    "search",
    "suggest",
]

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 1500
EMBED_BATCH = 16
REFRESH_SECONDS = 5.0
WORKER_NICE = 10


class NoIndex(Exception):
    """No index has been loaded yet."""

    def __init__(self) -> None:
        super().__init__(
            "No knowledge index is loaded. Run: python manage.py knowledge_load "
            "knowledge/corpus/demo.jsonl"
        )


# -- documents ------------------------------------------------------------------------------


def from_corpus(d: CorpusDocument) -> IndexedDocument:
    return IndexedDocument(
        d.id, d.kind, d.title, d.url, d.language, d.summary, d.body, tuple(d.tags), d.styrk08, d.nus
    )


def _from_row(d: KnowledgeDocument) -> IndexedDocument:
    return IndexedDocument(
        d.doc_id,
        d.kind,
        d.title,
        d.url,
        d.language,
        d.summary,
        d.body,
        tuple(d.tags),
        d.styrk08 or None,
        d.nus or None,
    )


def _row_fields(d: CorpusDocument) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "title": d.title,
        "url": d.url,
        "language": d.language,
        "summary": d.summary,
        "body": d.body,
        "tags": list(d.tags),
        "styrk08": d.styrk08 or "",
        "nus": d.nus or "",
        "updated": d.updated,
    }


# -- embedding, with a cache of vectors by text ----------------------------------------------


class VectorCache:
    """Vectors already computed, by embedder and text, so a reload embeds only what changed."""

    def __init__(self, embedder: str) -> None:
        self.path: Path | None = None
        self.vectors: dict[str, Vectors] = {}
        directory = conf.knowledge_cache_dir()
        if directory:
            name = hashlib.sha256(embedder.encode()).hexdigest()[:16]
            self.path = Path(directory) / f"{name}.npz"
            if self.path.exists():
                try:
                    with np.load(self.path) as data:
                        keys, rows = data["keys"], data["rows"]
                    self.vectors = dict(zip(keys.tolist(), rows, strict=True))
                except (OSError, ValueError, KeyError):
                    log.warning("ignoring an unreadable vector cache at %s", self.path)

    @staticmethod
    def key(passage: str) -> str:
        return hashlib.sha256(passage.encode()).hexdigest()

    def save(self) -> None:
        if self.path is None or not self.vectors:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(f".{os.getpid()}.tmp.npz")
        keys = np.asarray(list(self.vectors))
        np.savez(partial, keys=keys, rows=np.stack(list(self.vectors.values())))
        os.replace(partial, self.path)


def embed_passages(
    embedder: embedders.BatchEmbeddings, passages: Sequence[str], progress: bool = True
) -> tuple[Vectors, int]:
    """Vectors for ``passages``; returns them and how many had to be computed."""
    cache = VectorCache(embedder.name)
    keys = [cache.key(p) for p in passages]
    missing = sorted({k: i for i, k in enumerate(keys) if k not in cache.vectors}.values())
    bar = tqdm(
        total=len(missing), desc="embedding", unit="chunk", disable=not (progress and missing)
    )
    for start in range(0, len(missing), EMBED_BATCH):
        batch = missing[start : start + EMBED_BATCH]
        rows = embedder.embed_passages([passages[i] for i in batch])
        for i, row in zip(batch, rows, strict=True):
            cache.vectors[keys[i]] = row
        bar.update(len(batch))
    bar.close()
    if missing:
        cache.save()
    return np.stack([cache.vectors[k] for k in keys]).astype(np.float32), len(missing)


@dataclass(frozen=True)
class Built:
    index: HybridIndex
    chunks: list[tuple[str, str]]
    vectors: Vectors
    embedded: int


def build(documents: Sequence[IndexedDocument], embedder_name: str, progress: bool = True) -> Built:
    """Chunk, embed and index ``documents`` in memory (nothing is stored)."""
    embedder = embedders.get(embedder_name, conf.knowledge_threads())
    owners: list[int] = []
    texts: list[str] = []
    for position, document in enumerate(documents):
        for passage in document.passages():
            owners.append(position)
            texts.append(passage)
    vectors, embedded = embed_passages(embedder, texts, progress)
    index = HybridIndex(documents, owners, texts, vectors, embedder)
    chunks = [(documents[o].id, t) for o, t in zip(owners, texts, strict=True)]
    return Built(index, chunks, vectors, embedded)


# -- loading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    documents: int
    added: int
    updated: int
    removed: int
    chunks: int
    embedded: int
    seconds: float
    embedder: str


def load_file(
    path: Path, *, replace: bool = False, embedder: str | None = None, progress: bool = True
) -> LoadResult:
    """Validate every line, then embed and store; a bad line changes nothing."""
    return load_documents(
        corpus.read_file(path), replace=replace, embedder=embedder, progress=progress
    )


def load_documents(
    documents: Sequence[CorpusDocument],
    *,
    replace: bool = False,
    embedder: str | None = None,
    progress: bool = True,
) -> LoadResult:
    started = time.perf_counter()
    name = embedders.canonical(embedder or conf.knowledge_embedder())
    existing = {d.doc_id: d for d in KnowledgeDocument.objects.all()}
    incoming = {d.id: d for d in documents}
    final: dict[str, IndexedDocument] = {}
    if not replace:
        final.update((k, _from_row(v)) for k, v in existing.items())
    final.update((k, from_corpus(v)) for k, v in incoming.items())
    ordered = [final[k] for k in sorted(final)]
    built = build(ordered, name, progress)  # the slow part, outside any transaction
    removed = [k for k in existing if k not in final]
    with transaction.atomic():
        KnowledgeDocument.objects.filter(doc_id__in=removed).delete()
        for doc_id, document in incoming.items():
            KnowledgeDocument.objects.update_or_create(
                doc_id=doc_id, defaults=_row_fields(document)
            )
        index = KnowledgeIndex.objects.create(
            embedder=name,
            dimensions=int(built.vectors.shape[1]),
            document_count=len(ordered),
            chunks=[list(c) for c in built.chunks],
            vectors=built.vectors.tobytes(),
        )
        KnowledgeIndex.objects.filter(pk__lt=index.pk).delete()
    _remember(index.pk, built.index)
    return LoadResult(
        documents=len(ordered),
        added=len([k for k in incoming if k not in existing]),
        updated=len([k for k in incoming if k in existing]),
        removed=len(removed),
        chunks=len(built.chunks),
        embedded=built.embedded,
        seconds=time.perf_counter() - started,
        embedder=name,
    )


# -- the index in this process --------------------------------------------------------------

_lock = threading.Lock()
_loaded: tuple[int, HybridIndex] | None = None
_checked_at = 0.0


def _remember(pk: int, index: HybridIndex) -> None:
    global _loaded, _checked_at
    with _lock:
        _loaded = (pk, index)
        _checked_at = time.monotonic()


def _from_database(row: KnowledgeIndex) -> HybridIndex:
    embedder = embedders.get(row.embedder, conf.knowledge_threads())
    pairs: list[list[str]] = row.chunks
    rows = {d.doc_id: d for d in KnowledgeDocument.objects.filter(doc_id__in={p[0] for p in pairs})}
    order = sorted(rows)
    position = {doc_id: i for i, doc_id in enumerate(order)}
    vectors = np.frombuffer(bytes(row.vectors), dtype=np.float32).reshape(-1, row.dimensions)
    return HybridIndex(
        [_from_row(rows[k]) for k in order],
        [position[p[0]] for p in pairs],
        [p[1] for p in pairs],
        vectors,
        embedder,
    )


def current(max_age: float = REFRESH_SECONDS) -> HybridIndex | None:
    """The newest index, checked against the database at most every ``max_age`` seconds."""
    global _loaded, _checked_at
    with _lock:
        if _loaded is not None and time.monotonic() - _checked_at < max_age:
            return _loaded[1]
        newest = KnowledgeIndex.objects.values_list("pk", flat=True).first()
        _checked_at = time.monotonic()
        if newest is None:
            _loaded = None
            return None
        if _loaded is None or _loaded[0] != newest:
            row = KnowledgeIndex.objects.get(pk=newest)
            _loaded = (newest, _from_database(row))
        return _loaded[1]


def forget_loaded() -> None:
    """Drop this process's copy (tests, and after the database was emptied)."""
    global _loaded, _checked_at
    with _lock:
        _loaded = None
        _checked_at = 0.0


def index_info() -> dict[str, Any] | None:
    row = KnowledgeIndex.objects.defer("vectors", "chunks").first()
    if row is None:
        return None
    return {
        "embedder": row.embedder,
        "documents": row.document_count,
        "built": row.created_at.isoformat(),
    }


# -- searching ------------------------------------------------------------------------------


def clean_query(text: str) -> str:
    return redact(text)[-MAX_QUERY_CHARS:].strip()


def search(query: str, limit: int = 5, mode: Mode = "hybrid", max_age: float = 0.0) -> list[Hit]:
    """Best documents first. Raises ``NoIndex`` before the first load."""
    index = current(max_age)
    if index is None:
        raise NoIndex
    return index.search(clean_query(query), limit=limit, mode=mode)


# -- the worker thread for async callers -------------------------------------------------------

_Request = tuple[tuple[str, ...], int, "concurrent.futures.Future[list[Hit] | None]"]


class VectorMemo:
    """The query vectors of recently searched texts, by embedder and a digest of the text (no
    text is kept). A chat's refresh searches its last few visitor messages; each is embedded
    once, when it is new, instead of the whole joined text again on every message."""

    SIZE = 4096  # about 6 MiB of 384-dimension vectors

    def __init__(self) -> None:
        self.vectors: collections.OrderedDict[tuple[str, bytes], Any] = collections.OrderedDict()
        self.embedded = 0  # texts embedded so far (each missing one once)

    @staticmethod
    def key(embedder: str, text: str) -> tuple[str, bytes]:
        return embedder, hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()

    def vectors_for(self, index: HybridIndex, texts: Iterable[str]) -> dict[str, Any]:
        """A vector for each text: remembered ones, the rest embedded in one batch."""
        keys = {text: self.key(index.embedder.name, text) for text in texts}
        missing = [text for text, key in keys.items() if key not in self.vectors]
        if missing:
            for text, vector in zip(missing, index.query_vectors(missing), strict=True):
                self.vectors[keys[text]] = vector
            self.embedded += len(missing)
        found = {text: self.vectors[key] for text, key in keys.items()}
        for key in keys.values():
            self.vectors.move_to_end(key)
        while len(self.vectors) > self.SIZE:
            self.vectors.popitem(last=False)
        return found


class SuggestionWorker:
    """One thread; when several requests wait, their new texts are embedded in one batch."""

    MAX_BATCH = 16

    def __init__(self) -> None:
        self.requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self.memo = VectorMemo()
        self.thread = threading.Thread(target=self.run, name="knowledge-worker", daemon=True)
        self.thread.start()

    def submit(
        self, parts: Sequence[str], limit: int
    ) -> concurrent.futures.Future[list[Hit] | None]:
        future: concurrent.futures.Future[list[Hit] | None] = concurrent.futures.Future()
        self.requests.put((tuple(parts), limit, future))
        return future

    def run(self) -> None:
        # Below the event loop in the CPU scheduler: on a busy machine chat frames go first and
        # embedding gets what is left. Threads the embedder starts inherit this.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
        while True:
            batch = [self.requests.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.requests.get_nowait())
                except queue.Empty:
                    break
            self.answer(batch)

    def answer(self, batch: list[_Request]) -> None:
        live = [r for r in batch if r[2].set_running_or_notify_cancel()]
        try:
            close_old_connections()
            try:
                index = current()
            finally:
                # Hold no connection between batches: the database may go away meanwhile.
                connection.close()
            if index is None:
                for _parts, _limit, future in live:
                    future.set_result(None)
                return
            cleaned = [[t for t in map(clean_query, parts) if t] for parts, _l, _f in live]
            vectors = self.memo.vectors_for(index, (t for texts in cleaned for t in texts))
            for texts, (_parts, limit, future) in zip(cleaned, live, strict=True):
                if not texts:
                    future.set_result([])
                    continue
                query = " ".join(texts)[-MAX_QUERY_CHARS:]
                vector = combine([vectors[t] for t in texts])
                future.set_result(index.search(query, limit=limit, vector=vector.tolist()))
        except Exception as exc:
            for _parts, _limit, future in live:
                if not future.done():
                    future.set_exception(exc)


_worker: SuggestionWorker | None = None
_worker_lock = threading.Lock()


def _get_worker() -> SuggestionWorker:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = SuggestionWorker()
        return _worker


async def suggest(parts: Sequence[str], limit: int = 5) -> list[Hit] | None:
    """Suggestions for a query in parts (a chat's latest visitor messages, oldest first, or one
    searched text), computed off the event loop; None before the first load."""
    parts = [p for p in parts if p.strip()]
    if not parts:
        return []
    return await asyncio.wrap_future(_get_worker().submit(parts, limit))


# -- counts for quality statistics ------------------------------------------------------------


def _bump(doc_ids: Iterable[str], field: str) -> None:
    today = timezone.localdate()
    for doc_id in set(doc_ids):
        row, _ = SuggestionCount.objects.get_or_create(day=today, doc_id=doc_id)
        SuggestionCount.objects.filter(pk=row.pk).update(**{field: F(field) + 1})


_counter = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowledge")


def _count_and_close(field: str, doc_ids: list[str]) -> None:
    try:
        close_old_connections()
        with transaction.atomic():
            _bump(doc_ids, field)
    except Exception:
        log.warning("could not record suggestion counts", exc_info=True)
    finally:
        connection.close()


def count_later(field: str, doc_ids: Iterable[str]) -> concurrent.futures.Future[None]:
    """Record ``shown``/``sent`` counts on a background thread, off the chat's path."""
    if field not in {"shown", "sent"}:
        raise ValueError(field)
    return _counter.submit(_count_and_close, field, list(doc_ids))


def document_link(doc_id: str) -> tuple[str, str] | None:
    row = KnowledgeDocument.objects.filter(doc_id=doc_id).values_list("title", "url").first()
    return row


def counts(since: dt.date) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for row in SuggestionCount.objects.filter(day__gte=since):
        entry = rows.setdefault(row.doc_id, {"id": row.doc_id, "shown": 0, "sent": 0})
        entry["shown"] += row.shown
        entry["sent"] += row.sent
    for entry in rows.values():
        entry["ignored"] = max(0, entry["shown"] - entry["sent"])
    return sorted(rows.values(), key=lambda e: (-e["shown"], e["id"]))
