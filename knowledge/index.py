"""The in-memory retrieval index: BM25 over whole documents fused with FAISS over chunks.

Built from the documents and the chunk vectors stored in the database (``models``), so loading
it in a process never embeds anything. LangChain supplies the documents, the embeddings
interface and the FAISS vector store; nothing outside this package imports LangChain.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import bm25s
import numpy as np
from langchain_core.documents import Document

from knowledge import text
from knowledge.embedders import BatchEmbeddings

with warnings.catch_warnings():
    # langchain-community is in maintenance; its FAISS store is still the reference one.
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy

Mode = Literal["hybrid", "bm25", "dense"]
MODES: tuple[Mode, ...] = ("hybrid", "bm25", "dense")

# Reciprocal rank fusion: score = sum of weight / (RRF_K + rank) over three rankings: BM25 on
# stemmed words, dense (FAISS), and BM25 on character 4-grams (for typos). Chosen on
# knowledge/eval (docs/knowledge.md); bench/knowledge.py prints each part alone too.
RRF_K = 10
WEIGHTS = {"words": 0.7, "dense": 1.5, "grams": 1.0}
# The embedder sees at most this many characters from the end of the query.
DENSE_CHARS = 200
# How many candidates each side contributes before fusion.
CANDIDATES = 50


@dataclass(frozen=True)
class IndexedDocument:
    id: str
    kind: str
    title: str
    url: str
    language: str
    summary: str
    body: str
    tags: tuple[str, ...]
    styrk08: str | None
    nus: str | None

    def lexical_text(self) -> str:
        # The title and tags count three and two times: a name is the strongest signal.
        codes = " ".join(c for c in (self.styrk08, self.nus) if c)
        tags = " ".join(self.tags)
        return " ".join(
            [self.title] * 3 + [tags] * 2 + [self.summary, self.body, codes, self.id.split("/")[1]]
        )

    def passages(self) -> list[str]:
        """What gets embedded: a head (title, summary, tags) and the body in pieces."""
        head = f"{self.title}. {self.summary} {', '.join(self.tags)}"
        return [head] + [f"{self.title}. {piece}" for piece in text.chunks(self.body)]


@dataclass(frozen=True)
class Hit:
    id: str
    title: str
    url: str
    kind: str
    summary: str
    language: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "kind": self.kind,
            "summary": self.summary,
            "language": self.language,
            "score": round(self.score, 4),
        }


Vectors = np.ndarray[Any, np.dtype[np.float32]]


class HybridIndex:
    def __init__(
        self,
        documents: Sequence[IndexedDocument],
        chunk_owner: Sequence[int],
        chunk_texts: Sequence[str],
        vectors: Vectors,
        embedder: BatchEmbeddings,
    ) -> None:
        self.documents = list(documents)
        self.embedder = embedder
        self.chunk_owner = np.asarray(chunk_owner, dtype=np.int64)
        # bm25s scores from sparse matrices: no Python loop over documents, so a search holds
        # the GIL only briefly and the event loop in the same process keeps serving sockets.
        self.bm25 = _bm25([text.tokens(d.lexical_text()) for d in self.documents])
        self.bm25_grams = _bm25([text.grams(d.lexical_text()) for d in self.documents])
        self.store = FAISS.from_embeddings(
            text_embeddings=list(zip(chunk_texts, vectors.tolist(), strict=True)),
            embedding=embedder,
            metadatas=[{"doc": int(owner)} for owner in chunk_owner],
            distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
        )

    def __len__(self) -> int:
        return len(self.documents)

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_owner)

    # -- the two rankings ---------------------------------------------------------------------

    def lexical(
        self, query: str, limit: int = CANDIDATES, grams: bool = False
    ) -> list[tuple[int, float]]:
        terms = text.grams(query) if grams else text.tokens(query)
        if not terms:
            return []
        scores = (self.bm25_grams if grams else self.bm25).get_scores(terms)
        order = np.argsort(-scores)[:limit]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]

    def dense(self, vector: Sequence[float], limit: int = CANDIDATES) -> list[tuple[int, float]]:
        found: list[tuple[Document, float]] = self.store.similarity_search_with_score_by_vector(
            list(vector), k=min(self.chunk_count, limit * 3)
        )
        best: dict[int, float] = {}
        for document, score in found:  # several chunks of one document: keep the best
            owner = int(document.metadata["doc"])
            best[owner] = max(best.get(owner, -1.0), float(score))
        return sorted(best.items(), key=lambda item: -item[1])[:limit]

    def query_vectors(self, queries: list[str]) -> Vectors:
        """One embedding per query, of its last ``DENSE_CHARS`` characters, in one batch."""
        return self.embedder.embed_queries([_dense_text(q) for q in queries])

    # -- fused --------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        limit: int = 5,
        mode: Mode = "hybrid",
        vector: Sequence[float] | None = None,
    ) -> list[Hit]:
        if not query.strip() or not self.documents:
            return []
        if mode == "bm25":
            ranked = self.lexical(query)
        else:
            if vector is None:
                vector = self.query_vectors([query])[0].tolist()
            dense = self.dense(vector)
            if mode == "dense":
                ranked = dense
            else:
                ranked = fuse(
                    ("words", self.lexical(query)),
                    ("dense", dense),
                    ("grams", self.lexical(query, grams=True)),
                )
        return [self.hit(i, score) for i, score in ranked[:limit]]

    def hit(self, position: int, score: float) -> Hit:
        d = self.documents[position]
        return Hit(d.id, d.title, d.url, d.kind, d.summary, d.language, score)


def combine(vectors: Sequence[Any] | Vectors) -> Any:
    """One query vector for a query in parts (a chat's latest visitor messages): the normalised
    mean of the parts' vectors. Each part is embedded once, however many refreshes it takes part
    in. With the hybrid, on the eval sets' multi-sentence queries split into messages, this
    ranks about as well as embedding the joined text did (docs/knowledge.md)."""
    mean = np.mean(np.asarray(vectors, dtype=np.float32), axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def _dense_text(query: str) -> str:
    """The end of the query, for the embedder: the newest words matter most, and embedding time
    grows with the length. BM25 still sees the whole query."""
    if len(query) <= DENSE_CHARS:
        return query
    tail = query[-DENSE_CHARS:]
    return tail[tail.find(" ") + 1 :] if " " in tail else tail


def _bm25(corpus: list[list[str]]) -> bm25s.BM25:
    index = bm25s.BM25(k1=1.5, b=0.75)
    index.index([tokens or ["-"] for tokens in corpus], show_progress=False)
    return index


def fuse(*rankings: tuple[str, list[tuple[int, float]]]) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of best-first rankings."""
    fused: dict[int, float] = {}
    for name, ranking in rankings:
        for rank, (item, _score) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + WEIGHTS[name] / (RRF_K + rank)
    return sorted(fused.items(), key=lambda item: -item[1])
