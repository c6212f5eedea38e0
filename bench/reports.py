"""B9 statistics: the county-year export from 1 million statistics rows (target < 2 s).

A PostgreSQL database of its own (``veivalg_bench_reports``, created if missing; never the
``veivalg`` database) is migrated and filled with ``--rows`` realistic ``StatRow`` rows: two
years (2024, 2025), the 15 counties weighted roughly by population (and a few chats without a
county), topics and referrals from the taxonomy, every optional attribute with its share of
``ikke_oppgitt``, waits, durations and ratings. The rows are generated inside PostgreSQL
(``INSERT ... SELECT generate_series``, in chunks, progress on stderr) and kept: a later run with
the same ``--rows`` (and years) reuses them (``--fresh`` regenerates).

Then it measures:

- fill: ``counts_fill(rebuild=True)``, the service behind ``manage.py reports_fill --rebuild``,
  which recounts every (period, county) group from the rows (seconds and rows/s);
- export: ``manage.py reports_export --county XX --from 2025-01-01 --to 2025-12-31 --period month
  --format csv|xlsx`` run in-process through ``call_command`` (argument parsing, county check,
  tables with suppression, rendering, the file written), several counties, repeated; and, for
  reference, as a separate ``manage.py`` process (Python and Django start-up included) next to
  the start-up alone (the same command's ``--help``);
- baseline, interleaved with the exports (A B A B): plain SQL straight from PostgreSQL over the
  same county-year rows (count per month and outcome, ``GROUP BY``).

Prints one JSON object on stdout (absolute seconds, and the export as a ratio to the baseline);
progress goes to stderr.

    .venv/bin/python bench/reports.py [--rows 1000000] [--fresh] [--quick]
        [--database-url postgres://postgres@127.0.0.1:5432/veivalg_bench_reports]

``--quick`` is a smoke test: 20,000 rows (unless ``--rows`` is given) over 2025 only, two
counties, two rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import ROOT, emit, log, percentile, ratio

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/veivalg_bench_reports"
TARGET_S = 2.0
YEARS = (2024, 2025)  # of the rows (--quick: the last only); the export is the last year
TZ = "Europe/Oslo"
CHUNK = 50_000
# Roughly each county's share of the population (%); "" is a chat that gave no county.
COUNTY_WEIGHTS = {
    "03": 13,
    "32": 13,
    "46": 12,
    "50": 9,
    "11": 9,
    "34": 7,
    "42": 6,
    "31": 5.5,
    "33": 5.5,
    "15": 5,
    "39": 4.5,
    "18": 4.5,
    "40": 3,
    "55": 3,
    "56": 1.5,
    "": 2,
}
EXPORT_COUNTIES = ("03", "31", "46", "50", "56")  # largest, medium and smallest
TOP_WEIGHTS = {
    "utdanning": 40,
    "jobb": 30,
    "situasjon": 15,
    "realkompetanse": 8,
    "utenlandsk": 4,
    "annet": 3,
}
ATTRIBUTE_WEIGHTS: dict[str, dict[str, float]] = {
    "age_band": {
        "under_20": 14,
        "20_24": 20,
        "25_29": 15,
        "30_39": 15,
        "40_49": 8,
        "50_59": 4,
        "60_plus": 1,
    },
    "gender": {"kvinne": 38, "mann": 25, "annet": 1, "vil_ikke_oppgi": 3},
    "situation": {
        "i_arbeid": 22,
        "under_utdanning": 25,
        "arbeidsledig": 8,
        "permittert": 1,
        "sykmeldt": 3,
        "annet": 4,
    },
    "education": {
        "grunnskole": 8,
        "videregaende": 25,
        "fagbrev_fagskole": 8,
        "bachelor": 14,
        "master_pluss": 6,
    },
    "heard_from": {
        "utdanning_no": 22,
        "nav": 12,
        "skole": 10,
        "venner_familie": 7,
        "sok": 9,
        "sosiale_medier": 5,
        "annet": 2,
    },
}
NOT_GIVEN_SHARE = 0.33  # of each attribute
HOUR_WEIGHTS = {h: (10 if 10 <= h < 15 else 6 if 15 <= h < 20 else 1) for h in range(7, 23)}


# -- the bench database ----------------------------------------------------------------------


def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name == "veivalg":
        raise SystemExit(
            f"Refusing to use database {name!r}: the bench needs a database of its own."
        )
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as pg:
        if pg.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            log(f"creating database {name}")
            pg.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def configure(url: str) -> None:
    """Production-like settings (no query log) on the bench database, then django.setup()."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-" + secrets.token_hex(24))
    os.environ["DJANGO_SSL_REDIRECT"] = "0"
    os.environ["VEIVALG_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# -- the rows --------------------------------------------------------------------------------


def weighted(weights: dict[str, float], slots: int = 200) -> list[str]:
    """A list in which each value appears in proportion to its weight (picked uniformly)."""
    total = sum(weights.values())
    return [v for v, w in weights.items() for _n in range(max(1, round(slots * w / total)))]


# A value picked uniformly from an array (weights come from repeats: see ``weighted``).
PICK = """
CREATE OR REPLACE FUNCTION pg_temp.pick(a text[]) RETURNS text VOLATILE LANGUAGE sql
AS 'SELECT a[1 + floor(random() * cardinality(a))::int]'
"""


def generation_params(years: tuple[int, ...]) -> dict[str, Any]:
    from reports.attributes import NOT_GIVEN
    from reports.models import Topic
    from reports.services import current_taxonomy
    from routing.selectors import current_counties

    taxonomy = current_taxonomy()
    topics = list(taxonomy.topics.all())
    topic_weights: dict[str, float] = {}
    for top, weight in TOP_WEIGHTS.items():
        children = [t.code for t in topics if t.parent_code == top and t.kind == Topic.Kind.TOPIC]
        topic_weights[top] = weight * (0.25 if children else 1.0)
        for code in children:
            topic_weights[code] = weight * 0.75 / len(children)
    referrals = [t.code for t in topics if t.kind == Topic.Kind.REFERRAL]
    codes = [c.code for c in current_counties()]
    params: dict[str, Any] = {
        "version": taxonomy.version,
        "tz": TZ,
        "first": f"{years[0]}-01-01",
        "days": (dt.date(years[-1] + 1, 1, 1) - dt.date(years[0], 1, 1)).days,
        "counties": weighted({c: COUNTY_WEIGHTS.get(c, 3) for c in codes} | {"": 2}, 400),
        "counsellor_counties": codes,
        "topics": weighted(topic_weights, 400),
        "referrals": weighted({r: 3 if r == "henvist.fylke" else 1 for r in referrals}),
        "hours": weighted({str(h): w for h, w in HOUR_WEIGHTS.items()}),
        "languages": weighted({"nb": 85, "nn": 10, "en": 5}),
        "ratings": weighted({"up": 45, "down": 5, "": 50}),
    }
    for name, weights in ATTRIBUTE_WEIGHTS.items():
        share = sum(weights.values()) * NOT_GIVEN_SHARE / (1 - NOT_GIVEN_SHARE)
        params[name] = weighted(weights | {NOT_GIVEN: share})
    return params


INSERT = """
INSERT INTO reports_statrow (
    conversation_key, queued_at, language, visitor_county, counsellor_county, taxonomy_version,
    topics, referral, age_band, gender, situation, education, heard_from, outcome,
    waited_seconds, duration_seconds, hour, weekday, rating_offered, rating, updated_at)
SELECT
    md5('b9-' || i)::uuid, q, language, county,
    CASE WHEN NOT handled THEN ''
         WHEN r_same < 0.75 AND county <> '' THEN county ELSE other_county END,
    CASE WHEN handled THEN %(version)s ELSE '' END,
    CASE WHEN handled THEN to_jsonb(ARRAY(
        SELECT DISTINCT t FROM unnest(ARRAY[t1, t2, t3]) t WHERE t IS NOT NULL ORDER BY t))
    ELSE '[]'::jsonb END,
    CASE WHEN handled AND r_referral < 0.2 THEN referral ELSE '' END,
    age_band, gender, situation, education, heard_from,
    CASE WHEN handled THEN 'handled' ELSE 'abandoned' END,
    waited,
    CASE WHEN handled THEN 120 + duration ELSE 0 END,
    extract(hour FROM q AT TIME ZONE %(tz)s)::int,
    extract(isodow FROM q AT TIME ZONE %(tz)s)::int,
    handled AND r_offered < 0.8,
    CASE WHEN handled AND r_offered < 0.8 THEN rating ELSE '' END,
    now()
FROM (
    SELECT
        i,
        ((%(first)s::date + floor(random() * %(days)s)::int)
            + make_interval(hours => pg_temp.pick(%(hours)s)::int, secs => random() * 3600))
            AT TIME ZONE %(tz)s AS q,
        random() < 0.86 AS handled,
        pg_temp.pick(%(languages)s) AS language,
        pg_temp.pick(%(counties)s) AS county,
        pg_temp.pick(%(counsellor_counties)s) AS other_county,
        random() AS r_same,
        pg_temp.pick(%(topics)s) AS t1,
        CASE WHEN random() < 0.45 THEN pg_temp.pick(%(topics)s) END AS t2,
        CASE WHEN random() < 0.12 THEN pg_temp.pick(%(topics)s) END AS t3,
        random() AS r_referral,
        pg_temp.pick(%(referrals)s) AS referral,
        pg_temp.pick(%(age_band)s) AS age_band,
        pg_temp.pick(%(gender)s) AS gender,
        pg_temp.pick(%(situation)s) AS situation,
        pg_temp.pick(%(education)s) AS education,
        pg_temp.pick(%(heard_from)s) AS heard_from,
        floor(-ln(1 - random()) * 150)::int AS waited,
        floor(-ln(1 - random()) * 900)::int AS duration,
        random() AS r_offered,
        pg_temp.pick(%(ratings)s) AS rating
    FROM generate_series(%(lo)s::int, %(hi)s::int) AS i
    OFFSET 0
) AS r
"""


def ensure_rows(url: str, rows: int, years: tuple[int, ...], fresh: bool) -> float | None:
    """``rows`` statistics rows over ``years`` in the bench database; seconds spent generating,
    None if the rows already there were kept."""
    with psycopg.connect(url, autocommit=True) as pg:
        have = pg.execute(
            "SELECT count(*), extract(year FROM min(queued_at) AT TIME ZONE %(tz)s)::int,"
            " extract(year FROM max(queued_at) AT TIME ZONE %(tz)s)::int FROM reports_statrow",
            {"tz": TZ},
        ).fetchone()
        if not fresh and have == (rows, years[0], years[-1]):
            log(f"reusing the {rows:,} statistics rows already in the bench database")
            return None
        params = generation_params(years)
        started = time.perf_counter()
        pg.execute("TRUNCATE reports_statrow, reports_statcount")
        pg.execute("SET synchronous_commit = off")
        pg.execute("SELECT setseed(0.9)")
        pg.execute(PICK)
        with tqdm(total=rows, desc="generating rows", unit="row", file=sys.stderr) as bar:
            for lo in range(1, rows + 1, CHUNK):
                hi = min(rows, lo + CHUNK - 1)
                pg.execute(INSERT, params | {"lo": lo, "hi": hi})
                bar.update(hi - lo + 1)
        log("vacuum analyze")
        pg.execute("VACUUM ANALYZE reports_statrow")
        return time.perf_counter() - started


# -- measurements ----------------------------------------------------------------------------


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def figures(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 4),
        "p95": round(percentile(values, 0.95), 4),
        "max": round(max(values), 4),
        "n": len(values),
    }


def fill() -> dict[str, Any]:
    from reports.models import StatCount, StatRow
    from reports.services import counts_fill

    rows = StatRow.objects.count()
    bar = tqdm(total=0, desc="recounting (fill --rebuild)", unit="group", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    started, cpu = time.perf_counter(), time.process_time()
    result = counts_fill(rebuild=True, progress=progress)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    bar.close()
    return {
        "fill_seconds": round(seconds, 2),
        "fill_cpu_s": round(cpu, 2),  # this process only (PostgreSQL's share not included)
        "fill_rows_per_s": round(rows / seconds),
        "groups_recounted": result["groups_recounted"],
        "stat_counts": StatCount.objects.count(),
    }


BASELINE = """
SELECT to_char(queued_at AT TIME ZONE %s, 'YYYY"M"MM') AS period, outcome, count(*)
FROM reports_statrow
WHERE visitor_county = %s AND queued_at >= %s AND queued_at < %s
GROUP BY 1, 2
"""


def exports(counties: list[str], rounds: int, work: Path) -> dict[str, Any]:
    import zoneinfo

    from django.core.management import call_command
    from django.db import connection

    year = YEARS[-1]
    zone = zoneinfo.ZoneInfo(TZ)
    start, end = dt.datetime(year, 1, 1, tzinfo=zone), dt.datetime(year + 1, 1, 1, tzinfo=zone)

    def export(county: str, kind: str) -> None:
        call_command(
            "reports_export",
            *("--county", county, "--from", f"{year}-01-01", "--to", f"{year}-12-31"),
            *("--period", "month", "--format", kind, "--output", str(work / f"{county}.{kind}")),
            stdout=io.StringIO(),
        )

    def baseline(county: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(BASELINE, [TZ, county, start, end])
            cursor.fetchall()

    for county in counties:  # warm-up: connection, command modules, caches, buffers
        baseline(county)
        export(county, "csv")
        export(county, "xlsx")
    times: dict[str, list[float]] = {"csv": [], "xlsx": [], "baseline": []}
    with tqdm(total=rounds * len(counties), desc="exports", unit="county", file=sys.stderr) as bar:
        for _round in range(rounds):
            for county in counties:  # A B A B
                times["baseline"].append(timed(partial(baseline, county)))
                times["csv"].append(timed(partial(export, county, "csv")))
                times["baseline"].append(timed(partial(baseline, county)))
                times["xlsx"].append(timed(partial(export, county, "xlsx")))
                bar.update()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM reports_statrow WHERE visitor_county = %s"
            " AND queued_at >= %s AND queued_at < %s",
            [counties[0], start, end],
        )
        row = cursor.fetchone()
    largest = int(row[0]) if row else 0
    csv_p50 = statistics.median(times["csv"])
    xlsx_p50 = statistics.median(times["xlsx"])
    base_p50 = statistics.median(times["baseline"])
    return {
        "export_year": year,
        "export_counties": counties,
        "rows_in_largest_county_year": largest,
        "export_csv_s": figures(times["csv"]),
        "export_xlsx_s": figures(times["xlsx"]),
        "baseline_sql_s": figures(times["baseline"]),
        "ratio_export_to_baseline": ratio(csv_p50, base_p50),
        "ratio_xlsx_to_baseline": ratio(xlsx_p50, base_p50),
        "export_max_s": round(max(times["csv"] + times["xlsx"]), 4),
    }


def processes(county: str, work: Path, rounds: int) -> dict[str, Any]:
    """``manage.py reports_export`` as its own process (Python and Django start-up included),
    interleaved with the same command's ``--help`` (start-up only, no database)."""
    year = YEARS[-1]
    export = [
        sys.executable,
        str(ROOT / "manage.py"),
        "reports_export",
        *("--county", county, "--from", f"{year}-01-01", "--to", f"{year}-12-31"),
        *("--period", "month", "--format", "csv", "--output", str(work / "process.csv")),
    ]
    startup = [sys.executable, str(ROOT / "manage.py"), "reports_export", "--help"]

    def run(command: list[str]) -> None:
        subprocess.run(command, check=True, env=os.environ.copy(), capture_output=True, cwd=ROOT)

    times: dict[str, list[float]] = {"export": [], "startup": []}
    for _round in tqdm(range(rounds), desc="export processes", file=sys.stderr):
        times["startup"].append(timed(partial(run, startup)))
        times["export"].append(timed(partial(run, export)))
    return {
        "export_csv_process_s": figures(times["export"]),
        "startup_process_s": figures(times["startup"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="statistics rows (1,000,000)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the rows")
    parser.add_argument("--quick", action="store_true", help="smoke test: 20,000 rows")
    parser.add_argument("--rounds", type=int, default=None, help="export rounds (5; quick 2)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_REPORTS_URL", DEFAULT_URL))
    args = parser.parse_args()
    rows = args.rows or (20_000 if args.quick else 1_000_000)
    rounds = args.rounds or (2 if args.quick else 5)
    counties = list(EXPORT_COUNTIES[:2] if args.quick else EXPORT_COUNTIES)

    ensure_database(args.database_url)
    configure(args.database_url)
    years = YEARS[-1:] if args.quick else YEARS
    generated = ensure_rows(args.database_url, rows, years, args.fresh)
    result: dict[str, Any] = {
        "bench": "B9_reports",
        "rows": rows,
        "years": list(years),
        "generate_seconds": None if generated is None else round(generated, 2),
    }
    result |= fill()
    with tempfile.TemporaryDirectory(prefix="veivalg-bench-reports-") as work:
        result |= exports(counties, rounds, Path(work))
        result |= processes(counties[0], Path(work), 1 if args.quick else 3)
    result["target_s"] = TARGET_S
    result["met"] = result["export_max_s"] < TARGET_S
    emit(result)


if __name__ == "__main__":
    main()
