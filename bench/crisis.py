"""Crisis detection on the labelled test set in the repository: recall and false-positive rate,
overall and per language and category. Prints one JSON object; misses go to stderr.

    .venv/bin/python bench/crisis.py [--show-misses]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TESTSET = ROOT / "moderation" / "testdata" / "crisis.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from moderation.crisis import is_crisis

    rows = [json.loads(line) for line in TESTSET.read_text(encoding="utf-8").splitlines() if line]
    groups: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for row in rows:
        got = is_crisis(row["text"])
        for key in ("all", f"language:{row['language']}", f"category:{row['category']}"):
            groups[key].append((row["crisis"], got))
        if args.show_misses and got != row["crisis"]:
            kind = "missed" if row["crisis"] else "false alarm"
            print(f"{kind}: {row['text']}", file=sys.stderr)

    def figures(pairs: list[tuple[bool, bool]]) -> dict[str, float | int | None]:
        positives = [got for want, got in pairs if want]
        negatives = [got for want, got in pairs if not want]
        return {
            "n": len(pairs),
            "recall": round(sum(positives) / len(positives), 3) if positives else None,
            "false_positive_rate": round(sum(negatives) / len(negatives), 3) if negatives else None,
        }

    print(
        json.dumps(
            {"bench": "crisis_detection", **{k: figures(v) for k, v in sorted(groups.items())}}
        )
    )


if __name__ == "__main__":
    main()
