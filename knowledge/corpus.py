"""The corpus file format (JSON Lines) and its validation.

Every line must parse and validate before anything is loaded: a bad line is reported with its
number and reason, and the existing index stays as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ID_PATTERN = re.compile(r"^(yrke|utdanning|tema)/[a-z0-9][a-z0-9-]*$")


class CorpusDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=3, max_length=200)
    kind: Literal["yrke", "utdanning", "tema"]
    title: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=8, max_length=500)
    language: Literal["nb", "nn"]
    summary: str = Field(min_length=1, max_length=1000)
    body: str = Field(min_length=1, max_length=100_000)
    tags: list[str] = Field(default_factory=list, max_length=100)
    styrk08: str | None = Field(default=None, pattern=r"^\d{1,4}$")
    nus: str | None = Field(default=None, pattern=r"^\d{1,6}$")
    updated: dt.date | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise ValueError("id must look like 'yrke/sykepleier' (kind/lowercase-slug)")
        return value

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("url must start with https:// or http://")
        return value

    def kind_matches_id(self) -> bool:
        return self.id.split("/", 1)[0] == self.kind


class CorpusError(Exception):
    """A corpus file that cannot be loaded; ``line`` is 1-based (0 when the file itself fails)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "line"
        kind = item["type"]
        if kind == "missing":
            parts.append(f"missing field '{where}'")
        elif kind == "extra_forbidden":
            parts.append(f"unknown field '{where}'")
        else:
            parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_lines(lines: Iterable[str]) -> list[CorpusDocument]:
    """Validate every line; the first bad one raises ``CorpusError`` with its number."""
    documents: list[CorpusDocument] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CorpusError(number, f"not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise CorpusError(number, "each line must be one JSON object")
        try:
            document = CorpusDocument.model_validate(data)
        except ValidationError as exc:
            raise CorpusError(number, _reason(exc)) from None
        if not document.kind_matches_id():
            raise CorpusError(number, f"kind '{document.kind}' does not match id '{document.id}'")
        if document.id in seen:
            raise CorpusError(
                number, f"duplicate id '{document.id}' (first on line {seen[document.id]})"
            )
        seen[document.id] = number
        documents.append(document)
    if not documents:
        raise CorpusError(0, "the file holds no documents")
    return documents


def read_file(path: Path) -> list[CorpusDocument]:
    try:
        with path.open(encoding="utf-8") as handle:
            return parse_lines(handle)
    except FileNotFoundError:
        raise CorpusError(0, f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise CorpusError(0, f"the file is not UTF-8 ({exc.reason})") from None
