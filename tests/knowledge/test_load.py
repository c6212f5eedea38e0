"""knowledge_load and knowledge_search, as outside tools call them."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from knowledge import facade
from knowledge.models import KnowledgeDocument, KnowledgeIndex
from tests.conftest import DEMO_CORPUS

pytestmark = pytest.mark.django_db(transaction=True)


def small_corpus() -> list[dict[str, object]]:
    wanted = {"yrke/elektriker", "yrke/sykepleier", "tema/realkompetansevurdering"}
    lines = DEMO_CORPUS.read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, lines) if row["id"] in wanted]


def write(tmp_path: Path, rows: list[object], name: str = "corpus.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows),
        encoding="utf-8",
    )
    return path


def search_json(query: str, limit: int = 5) -> list[dict[str, object]]:
    out = StringIO()
    call_command("knowledge_search", query, "--limit", str(limit), "--json", stdout=out)
    rows: list[dict[str, object]] = json.loads(out.getvalue())
    return rows


def snapshot() -> tuple[list[str], list[int], list[str]]:
    return (
        list(KnowledgeDocument.objects.values_list("doc_id", flat=True)),
        list(KnowledgeIndex.objects.values_list("pk", flat=True)),
        [str(r["id"]) for r in search_json("elektriker")],
    )


def test_load_then_search_the_demo_corpus(knowledge_index: facade.LoadResult) -> None:
    assert knowledge_index.documents == 258
    rows = search_json("jeg vil bli elektriker", limit=3)
    assert len(rows) == 3
    assert rows[0]["id"] == "yrke/elektriker"
    assert set(rows[0]) == {"id", "title", "url", "kind", "score"}
    assert rows[0]["url"] == "https://veivalg.example/yrke/elektriker"
    scores = [float(str(r["score"])) for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_queries_file_answers_each_line(knowledge_index: facade.LoadResult, tmp_path: Path) -> None:
    path = write(tmp_path, [{"q": "hva tjener en rørlegger"}, {"q": "korleis bli sjukepleiar"}])
    out = StringIO()
    call_command("knowledge_search", "--queries", str(path), "--limit", "4", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["q"] for line in lines] == ["hva tjener en rørlegger", "korleis bli sjukepleiar"]
    assert all(len(line["ids"]) == 4 for line in lines)
    assert lines[0]["ids"][0] == "yrke/rorlegger"
    assert "yrke/sykepleier" in lines[1]["ids"][:2]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"id": "yrke/snekker", "kind": "yrke", ', "not valid JSON"),
        ("missing", "missing field 'url'"),
        ("duplicate", "duplicate id 'yrke/sykepleier' (first on line 1)"),
        ("kind", "does not match id"),
    ],
)
def test_a_bad_line_is_named_and_nothing_changes(tmp_path: Path, bad: str, reason: str) -> None:
    rows: list[object] = list(small_corpus())
    call_command("knowledge_load", str(write(tmp_path, rows, "good.jsonl")), verbosity=0)
    before = snapshot()
    assert before[0] == sorted(str(r["id"]) for r in small_corpus())

    extra = dict(small_corpus()[0])
    if bad == "missing":
        del extra["url"]
        extra["id"] = "yrke/ny"
    elif bad == "kind":
        extra["id"] = "tema/feil-type"
    elif bad == "duplicate":
        pass  # the same id as line 1
    rows = [small_corpus()[0], {**small_corpus()[1], "id": "yrke/snekker2"}]
    rows.insert(1, bad if bad.startswith("{") else extra)
    with pytest.raises(CommandError) as error:
        call_command("knowledge_load", str(write(tmp_path, rows)), "--replace", verbosity=0)
    assert "line 2" in str(error.value)
    assert reason in str(error.value)
    assert "Nothing was loaded" in str(error.value)
    assert snapshot() == before


def test_replace_or_add(tmp_path: Path) -> None:
    first, second, third = small_corpus()
    call_command("knowledge_load", str(write(tmp_path, [first, second])), verbosity=0)
    out = StringIO()
    changed = {**second, "title": "Sykepleier (oppdatert)"}
    call_command("knowledge_load", str(write(tmp_path, [changed, third])), stdout=out, verbosity=1)
    assert "3 documents in the index (1 added, 1 updated, 0 removed)" in out.getvalue()
    assert KnowledgeDocument.objects.get(doc_id=second["id"]).title == "Sykepleier (oppdatert)"
    call_command("knowledge_load", str(write(tmp_path, [third])), "--replace", verbosity=0)
    assert list(KnowledgeDocument.objects.values_list("doc_id", flat=True)) == [third["id"]]
    assert KnowledgeIndex.objects.count() == 1
    assert [r["id"] for r in search_json("elektriker")] == [third["id"]]


def test_search_before_any_load_says_what_to_do() -> None:
    with pytest.raises(CommandError, match="knowledge_load"):
        call_command("knowledge_search", "elektriker", "--json")


def test_personal_numbers_never_reach_the_index(knowledge_index: facade.LoadResult) -> None:
    # 15076500565 has valid check digits, so it is a fødselsnummer and is redacted.
    assert "15076500565" not in facade.clean_query("fnr 15076500565 elektriker")
    assert "elektriker" in facade.clean_query("fnr 15076500565 elektriker")
    with_number = facade.search("elektriker 15076500565 ring 912 34 567", limit=3)
    without = facade.search("elektriker", limit=3)
    assert [h.id for h in with_number][:1] == [h.id for h in without][:1] == ["yrke/elektriker"]
