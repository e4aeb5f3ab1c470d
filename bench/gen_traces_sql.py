"""Make the query benchmarks' trace data set inside PostgreSQL: the 10M-trace set in minutes, not hours.

    python bench/gen_traces_sql.py --traces 10000000 \\
        --postgres-url postgresql+psycopg://postgres@127.0.0.1:5440/postgres --database raymon_bench_10000000

The same data set as ``gen_traces.py`` (its docstring lists the tags and texts and their
distributions: tag values uniform and independent, 1-3 log lines per trace of six Zipf-drawn
words, ``first_ts`` growing with the trace's number over 30 days),
but drawn by the server (``generate_series`` and ``random()``) instead of built in Python and
sent by ``COPY``: at 10,000,000 traces (100,000,000 tag rows) the Python path spends most of
its time building text rows. The values are drawn from PostgreSQL's generator, so the rows
are not the same as ``gen_traces.py``'s for a seed; the distributions are. The store is
migrated with raymon's own migrations first; the secondary indices of ``traces``, ``tags``
and ``texts`` (the trigram index of migration 0021 too) are dropped for the load and
re-created from their saved definitions; then ``VACUUM ANALYZE``. Rows go in per chunk of
traces, one transaction each, in (trace, name) order.
Data sets made before texts were added here have none: ``server_search.py`` needs them.
It refuses a database that already holds traces of project ``bench``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import BENCH_PROJECT_ID, postgres_from  # noqa: E402
from gen_traces import (  # noqa: E402
    BASE_TS,
    RARE_LINE_SHARE,
    RARE_WORDS,
    REGIONS,
    SPAN,
    VOCABULARY,
    WORD_P,
    WORDS_PER_LINE,
    _progress,
    bulk_load_postgres,
    prepare_store,
)

CHUNK = 500_000

# One row per tag name, in name order: (name, type, value_num expression, value_text expression),
# over the trace row ``t``; each expression draws its own random() per trace.
TAGS = (
    ("app", "label", "NULL", "'v' || floor(random() * 10)::int"),
    ("client", "label", "NULL", "'c' || floor(random() * 10)::int"),
    ("host", "label", "NULL", "'h' || floor(random() * 50)::int"),
    ("latency_ms", "metric", "(1 + floor(random() * 500))::float8", "NULL"),
    ("model", "label", "NULL", "'m' || floor(random() * 5)::int"),
    (
        "region",
        "label",
        "NULL",
        "(ARRAY[" + ", ".join(f"'{r}'" for r in REGIONS) + "])[1 + floor(random() * 5)::int]",
    ),
    ("score", "metric", "round(random()::numeric, 6)::float8", "NULL"),
    ("shard", "label", "NULL", "'s' || floor(random() * 1000)::int"),
    ("status", "label", "NULL", "CASE WHEN random() < 0.95 THEN 'ok' ELSE 'error' END"),
    ("user", "label", "NULL", "'u' || floor(random() * 100000)::int"),
)


def _tags_sql() -> str:
    values = ",\n        ".join(
        f"('{name}', '{type_}', {num}, {text}, t.id)" for name, type_, num, text in TAGS
    )
    # t.id in each row keeps the VALUES correlated with the trace, so random() is drawn per trace.
    return f"""
    INSERT INTO tags (project_id, trace_pk, name, type, grp, value_num, value_text, ts)
    SELECT t.project_id, t.id, v.name, v.type, NULL, v.num, v.txt, t.first_ts
    FROM traces t
    CROSS JOIN LATERAL (VALUES
        {values}
    ) AS v(name, type, num, txt, pk)
    WHERE t.project_id = %(project)s AND t.id BETWEEN %(lo)s AND %(hi)s
    ORDER BY t.id, v.name
    """


def _texts_sql() -> str:
    """1-3 log lines per trace, as ``gen_traces.text_rows`` draws them, at the trace's first time.

    Each word is the vocabulary's word whose cumulative Zipf weight ``random()`` falls under
    (``width_bucket`` over the 319 inner bounds: a binary search); one line in ~3,300 has a rare
    word third.
    """
    words = "ARRAY[" + ", ".join(f"'{w}'" for w in VOCABULARY.tolist()) + "]"
    bounds = "ARRAY[" + ", ".join(repr(float(b)) for b in WORD_P.cumsum()[:-1].tolist()) + "]::float8[]"
    rare = "ARRAY[" + ", ".join(f"'{w}'" for w in RARE_WORDS.tolist()) + "]"
    word = f"({words})[1 + width_bucket(random(), {bounds})]"
    picks = [word] * WORDS_PER_LINE
    picks[2] = (
        f"CASE WHEN random() < {RARE_LINE_SHARE} THEN ({rare})[1 + floor(random() * {len(RARE_WORDS)})::int] "
        f"ELSE {word} END"
    )
    message = " || ' ' || ".join(picks) + " || ' in ' || (1 + floor(random() * 1999))::int || ' ms'"
    return f"""
    INSERT INTO texts (project_id, trace_pk, ts, level, message)
    SELECT t.project_id, t.id, t.first_ts,
        CASE WHEN l.r < 0.8 THEN 'info' WHEN l.r < 0.95 THEN 'warning' ELSE 'error' END,
        {message}
    FROM traces t
    CROSS JOIN LATERAL generate_series(1, 1 + floor(random() * 3)::int + 0 * t.id) AS n
    CROSS JOIN LATERAL (SELECT random() + 0 * n AS r) AS l
    WHERE t.project_id = %(project)s AND t.id BETWEEN %(lo)s AND %(hi)s
    ORDER BY t.id
    """


TRACES_SQL = """
INSERT INTO traces (id, project_id, trace_id, first_ts, last_ts)
SELECT g, %(project)s, md5(g::text || random()::text), f.ts, f.ts + (1 + random() * 1999) * interval '1 millisecond'
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
CROSS JOIN LATERAL (
    SELECT %(base)s::timestamptz + ((g - %(first)s) * %(step_us)s + random() * 3000000) * interval '1 microsecond' AS ts
) AS f
"""


def load(conn: Any, total: int, seed: float) -> None:
    conn.execute("SELECT setseed(%s)", (seed,))
    # The indices are re-made at the end: the trigram GIN of ~20M texts takes many times as long
    # in the default 64 MB (this session only; the server's setting is untouched).
    conn.execute("SET maintenance_work_mem = '1GB'")
    step_us = SPAN.total_seconds() * 1e6 / total
    tags_sql = _tags_sql()
    texts_sql = _texts_sql()

    def fill(first_pk: int) -> None:
        progress = _progress(total, "traces")
        for start in range(0, total, CHUNK):
            lo, hi = first_pk + start, first_pk + min(start + CHUNK, total) - 1
            params = {
                "project": BENCH_PROJECT_ID,
                "lo": lo,
                "hi": hi,
                "first": first_pk,
                "base": BASE_TS,
                "step_us": step_us,
            }
            with conn.transaction():
                conn.execute(TRACES_SQL, params)
                conn.execute(tags_sql, params)
                conn.execute(texts_sql, params)
            progress(hi - first_pk + 1)

    bulk_load_postgres(conn, fill)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--traces", type=int, required=True, help="How many traces (10 tags, 1-3 texts each)."
    )
    parser.add_argument("--postgres-url", help="PostgreSQL server (or env RAYMON_BENCH_POSTGRES_URL).")
    parser.add_argument("--database", required=True, help="The database to create and fill.")
    parser.add_argument("--seed", type=float, default=0.7, help="setseed() for random(), between -1 and 1.")
    args = parser.parse_args(argv)
    if args.traces <= 0:
        parser.error(f"--traces must be positive, got {args.traces}")
    if not -1 <= args.seed <= 1:
        parser.error(f"--seed must be between -1 and 1 (PostgreSQL's setseed), got {args.seed}")
    postgres = postgres_from(args.postgres_url)
    if postgres is None:
        parser.error("give --postgres-url or RAYMON_BENCH_POSTGRES_URL")
    started = time.perf_counter()
    if not postgres.exists(args.database):
        postgres.create(args.database)
    prepare_store(postgres.url_of(args.database))
    with postgres.connect(args.database) as conn:
        load(conn, args.traces, args.seed)
    print(
        f"{args.traces} traces, {10 * args.traces} tags, about {2 * args.traces} texts "
        f"in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
