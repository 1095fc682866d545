"""6. Many small files: ``COSToSnovaOperator(prefix=..., method="copy")`` loading 1,000 small
``.log`` objects (CSV of integers, ~10 KB each) from the emulator into PostgreSQL, at
``batch_size=1`` (one transaction per object) and at the default batch, against

- *psql, one file at a time*: one ``psql`` process running a script of one ``\\copy`` line per
  file, each its own transaction (the goal's baseline);
- *psql, concatenated*: one ``\\copy`` of all the files concatenated beforehand (the limit: one
  statement, one transaction, no per-file cost at all).

A third operator side wraps each object of a batch in a savepoint (``SAVEPOINT`` / ``RELEASE``),
the layout the loader does not use: it shows what a savepoint per object would cost.

Every load runs in its own child process, timed around ``execute`` (listing included); the
table and the ledger are truncated before every load; sides run interleaved.

Run alone: ``python -m bench.small_files [--objects 1000] [--kb 10] [--reps N]``.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Section,
    Verdict,
    interleave,
    load_average,
    markdown_table,
    median,
    publish_as_asked,
    python_child,
    report,
    run_child,
    script_parser,
    spread,
)
from bench.load_throughput import OURS_LAZY, Target, import_all, psql_path

TABLE = "bench_logs"
COLUMNS = ("ts", "host", "status", "bytes", "micros")
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    ts bigint, host integer, status integer, bytes bigint, micros bigint
)
"""
GOAL = 1.0
OPERATOR = "operator, batch {}"
EACH = "operator, batch {}, one COPY per object"
SAVEPOINTS = "operator, batch {}, one COPY and a savepoint per object"
PSQL_EACH = "psql, one \\copy per file"
PSQL_ALL = "psql, one \\copy of all files concatenated"


def make_log(size: int, seed: int) -> bytes:
    """About ``size`` bytes of integer CSV lines (whole lines only)."""
    rnd = random.Random(seed)
    lines = []
    written = 0
    while written < size:
        line = (
            f"{1_700_000_000 + rnd.randint(0, 10**7)},{rnd.randint(1, 500)},"
            f"{rnd.choice((200, 200, 200, 304, 404, 500))},{rnd.randint(0, 10**6)},"
            f"{rnd.randint(0, 10**7)}\n"
        )
        lines.append(line)
        written += len(line)
    return "".join(lines).encode()


# -- the child ----------------------------------------------------------------------------------
def _child_ours(bucket: str, batch_size: str, layout: str) -> None:
    """Load the prefix with the operator; report seconds and rows.

    :param layout: ``joined`` (the loader as it is), ``each`` (a batch's objects copied one
        ``COPY`` each) or ``savepoints`` (``each``, with a savepoint around every object).
    """
    from airflow_scf_snova.snova.loader import SnovaLoader
    from airflow_scf_snova.snova.sources import CopySource
    from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

    imports = import_all(OURS_LAZY)
    if layout in ("each", "savepoints"):
        CopySource.load_together = lambda *args: None
    if layout == "savepoints":
        plain = SnovaLoader._load_in_batch

        def with_savepoint(self, cur, target, obj):
            cur.execute("SAVEPOINT airflow_scf_snova_object")
            loaded = plain(self, cur, target, obj)
            cur.execute("RELEASE SAVEPOINT airflow_scf_snova_object")
            return loaded

        SnovaLoader._load_in_batch = with_savepoint
    operator = COSToSnovaOperator(
        task_id="bench_small_files",
        table=TABLE,
        bucket=bucket,
        prefix="logs/",
        suffix=".log",
        method="copy",
        batch_size=int(batch_size),
    )
    profile_to = os.environ.get("BENCH_PROFILE")  # a file: write cProfile's statistics there
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    result = operator.execute({"run_id": f"bench_{time.time_ns()}"})
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{profile_to}.{batch_size}.{layout}")
    report(
        {
            "seconds": seconds,
            "rows": sum(r["rows"] for r in result),
            "objects": len(result),
            "imports": imports,
        }
    )


# -- the parent ---------------------------------------------------------------------------------
def run(
    env, objects: int = 1000, kb: float = 10, reps: int = 3, batch: int | None = None
) -> Section:
    """Load ``objects`` objects of ``kb`` KB with each side, ``reps`` interleaved rounds.

    :param env: a :class:`bench.env.BenchEnv` with the emulator and PostgreSQL.
    :param batch: the batched sides' ``batch_size`` (default: the operator's default).
    """
    from airflow_scf_snova.snova.spec import DEFAULT_BATCH_SIZE

    batch = batch or DEFAULT_BATCH_SIZE
    load_before = load_average()
    target = Target(env, TABLE, DDL)
    psql_env = {**os.environ, **env.libpq_env(target.dsn)}
    bucket = env.new_bucket("small")
    workdir = env.workdir("small-files")
    files: list[Path] = []
    expected_rows = total_bytes = 0
    for n in range(objects):
        body = make_log(int(kb * 1000), seed=n)
        expected_rows += body.count(b"\n")
        total_bytes += len(body)
        path = workdir / f"{n:05d}.log"
        path.write_bytes(body)
        files.append(path)
        env.emulator.cos.put_object(bucket, f"logs/{n:05d}.log", body, content_type="text/plain")
    concatenated = workdir / "all.csv"
    with open(concatenated, "wb") as out:
        for path in files:
            out.write(path.read_bytes())
    columns = ", ".join(COLUMNS)
    script = workdir / "each.sql"
    script.write_text(
        "".join(f"\\copy {TABLE} ({columns}) FROM '{p}' WITH (FORMAT csv)\n" for p in files)
    )

    def psql(*args: str) -> dict[str, Any]:
        done = run_child([psql_path(), "-X", "-q", "-v", "ON_ERROR_STOP=1", *args], env=psql_env)
        return {"seconds": done.seconds, "rows": target.count(), "objects": objects}

    def one(kind: str) -> dict[str, Any]:
        target.truncate()
        if kind == "each":
            value = psql("-f", str(script))
        elif kind == "all":
            value = psql(
                "-c", f"\\copy {TABLE} ({columns}) FROM '{concatenated}' WITH (FORMAT csv)"
            )
        else:
            size, layout = kind.split(":")
            value = python_child("small_files", "--child", bucket, size, layout).json()
        if value["rows"] != expected_rows:
            raise RuntimeError(f"{kind} loaded {value['rows']} rows, expected {expected_rows}")
        return value

    sides = {
        OPERATOR.format(1): lambda: one("1:joined"),
        OPERATOR.format(batch): lambda: one(f"{batch}:joined"),
        EACH.format(batch): lambda: one(f"{batch}:each"),
        SAVEPOINTS.format(batch): lambda: one(f"{batch}:savepoints"),
        PSQL_EACH: lambda: one("each"),
        PSQL_ALL: lambda: one("all"),
    }
    try:
        results = interleave(sides, reps)
        target.truncate()
        notes = _profile_notes(bucket, batch, workdir / "profile")
        target.truncate()
    finally:
        target.close()
    measured: dict[str, dict[str, float]] = {}
    rows_out: list[list[Any]] = []
    for side, values in results.items():
        seconds = median([v["seconds"] for v in values])
        measured[side] = {"seconds": seconds, "objects_s": objects / seconds}
        rows_out.append(
            [
                side,
                seconds,
                spread([v["seconds"] for v in values]),
                objects / seconds,
                expected_rows / seconds,
                total_bytes / 1e6 / seconds,
            ]
        )

    ours = measured[OPERATOR.format(batch)]
    each = measured[PSQL_EACH]
    limit = measured[PSQL_ALL]
    single = measured[OPERATOR.format(1)]
    each_copy = measured[EACH.format(batch)]
    saved = measured[SAVEPOINTS.format(batch)]
    ratio = each["seconds"] / ours["seconds"]
    verdicts = [
        Verdict(
            f"Small files ({objects} x {kb:g} KB): operator (batch {batch}) >= {GOAL:g}x psql, "
            "one \\copy per file",
            f"{ours['objects_s']:,.0f} vs {each['objects_s']:,.0f} objects/s",
            f"{ratio:.2f}x",
            ratio >= GOAL,
        ),
        Verdict(
            f"Small files: operator (batch {batch}) against one \\copy of all files (the limit)",
            f"{ours['objects_s']:,.0f} vs {limit['objects_s']:,.0f} objects/s",
            f"{limit['seconds'] / ours['seconds']:.2f}x",
            None,
        ),
        Verdict(
            f"Small files: batch {batch} against batch 1 (one transaction per object)",
            f"{ours['objects_s']:,.0f} vs {single['objects_s']:,.0f} objects/s",
            f"{single['seconds'] / ours['seconds']:.2f}x",
            None,
        ),
        Verdict(
            f"Small files: batch {batch}, one COPY for the batch against one per object",
            f"{ours['objects_s']:,.0f} vs {each_copy['objects_s']:,.0f} objects/s",
            f"{each_copy['seconds'] / ours['seconds']:.2f}x",
            None,
        ),
        Verdict(
            f"Small files: batch {batch}, one COPY per object, without against with a savepoint "
            "per object",
            f"{each_copy['objects_s']:,.0f} vs {saved['objects_s']:,.0f} objects/s",
            f"{saved['seconds'] / each_copy['seconds']:.2f}x",
            None,
        ),
    ]
    method = f"""
{objects} objects of ~{kb:g} KB each (`logs/NNNNN.log`, CSV lines of five integers,
{expected_rows:,} rows and {total_bytes / 1e6:.1f} MB in all) are stored in the emulator, and the
same bytes as files on local disk for psql. Every load starts from an empty table (and ledger).
The operator runs `COSToSnovaOperator(prefix="logs/", suffix=".log", method="copy")` in a child
process, timed around `execute()`: the listing, one `GET` per object (with `If-Match` on the
listed ETag, no `HEAD`), the ledger, the advisory lock and the commits. At `batch_size=1` each
object is its own transaction; at `batch_size={batch}` (the default) up to {batch} objects share
one: one lock, one ledger lookup, one `COPY` each, one multi-row ledger insert, one commit. The
savepoint side is the batched load with `SAVEPOINT`/`RELEASE` around each object, measured to
choose between that layout and the one used (redo a failed batch one object per transaction).
*psql, one \\copy per file* is **one** `psql` process running a script of {objects} `\\copy`
lines, each autocommitted: the strongest honest "one file at a time" (one psql process per file
would mostly measure process start-up). *psql, concatenated* is one `\\copy` of the files joined
beforehand (the joining is not timed). The psql figures are whole `psql` processes. {reps}
interleaved rounds, medians reported.
"""
    return Section(
        notes=notes,
        name="small_files",
        title="8. Many small files into Snova",
        method=method,
        headers=["Side", "Seconds (median)", "Range (s)", "Objects/s", "Rows/s", "MB/s"],
        rows=rows_out,
        verdicts=verdicts,
        load_before=load_before,
        load_after=load_average(),
    )


#: Where a batched load's time goes: cProfile entries (file suffix, function) per phase.
PHASES = {
    "read-ahead GETs (8 threads; started, then waited for)": (
        ("sources.py", "prefetch"),
        ("_base.py", "result"),
    ),
    "COPY into PostgreSQL": (
        ("~", "<method 'copy_expert' of 'psycopg2.extensions.cursor' objects>"),
    ),
    "other SQL (lock, ledger, commit)": (
        ("~", "<method 'execute' of 'psycopg2.extensions.cursor' objects>"),
        ("~", "<method 'commit' of 'psycopg2.extensions.connection' objects>"),
    ),
    "listing (LIST requests)": (("cos.py", "_list_page"),),
}


def _profile_notes(bucket: str, batch: int, path: Path) -> str:
    """One more batched load under ``cProfile`` (main thread): the share of ``execute`` each
    phase took, so that a missed goal shows where the time goes."""
    import pstats

    python_child(
        "small_files",
        "--child",
        bucket,
        str(batch),
        "joined",
        env={**os.environ, "BENCH_PROFILE": str(path)},
    )
    stats = pstats.Stats(f"{path}.{batch}.joined").stats  # type: ignore[attr-defined]
    total = max(
        ct for (_f, _l, name), (_cc, _nc, _tt, ct, _c) in stats.items() if name == "execute"
    )
    rows = []
    for phase, entries in PHASES.items():
        seconds = sum(
            ct
            for (file, _line, name), (_cc, _nc, _tt, ct, _c) in stats.items()
            if any(file.endswith(suffix) and name == func for suffix, func in entries)
        )
        rows.append([phase, f"{seconds:.3f}", f"{100 * seconds / total:.0f} %"])
    rest = total - sum(float(row[1]) for row in rows)
    rows.append(["everything else", f"{rest:.3f}", f"{100 * rest / total:.0f} %"])
    return (
        f"**Where a batched load's time goes.** One more load at `batch_size={batch}` after the "
        f"rounds, under `cProfile` (its main thread; the read-ahead GETs run on other threads, "
        f"so their cost shows as the main thread starting and waiting for them): `execute` took "
        f"{total:.3f} s.\n\n" + markdown_table(["Phase", "Seconds", "Share of execute"], rows)
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        _child_ours(*argv[1:4])
        return
    parser = script_parser(__doc__, reps=3)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--kb", type=float, default=10)
    parser.add_argument("--batch", type=int, default=None)
    args = parser.parse_args(argv)
    from bench.env import BenchEnv

    with BenchEnv() as env:
        section = run(env, objects=args.objects, kb=args.kb, reps=args.reps, batch=args.batch)
    publish_as_asked(section, args)


if __name__ == "__main__":
    main()
