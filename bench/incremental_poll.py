"""6. Incremental polls: what one ``COSObjectEventTrigger`` poll costs when 10 objects are new,
with ``listing="ordered"`` (the listing starts after the watermark key, COS's ``marker``) beside
``listing="full"`` (the whole prefix), over prefixes holding 1,000, 10,000 and 100,000 objects.

The objects are seeded straight into the emulator's storage layer before it starts
(:mod:`scf_snova_devel.seeding`), one bucket per size. The triggers run in a child process (the
client side), the emulator in this one; the child reads the emulator's request counters
(``GET /_emulator/stats``) around each poll.

Run alone: ``python -m bench.incremental_poll [--sizes 1000,10000,100000] [--reps N]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    Section,
    Verdict,
    load_average,
    median,
    publish_as_asked,
    python_child,
    report,
    script_parser,
    spread,
)
from bench.sensor_cost import StateStore, one_poll

PREFIX = "logs/"
BODY = b"id,amount\n1,9.50\n"
NEW = 10
MODES = ("ordered", "full")
SIZES = (1_000, 10_000, 100_000)


def _keys(count: int) -> list[str]:
    """Date-partitioned keys, in lexicographic order: 1,000 per day from 2024-01-01."""
    first = date(2024, 1, 1)
    return [f"{PREFIX}{first + timedelta(days=i // 1000)}/part-{i:06d}.csv" for i in range(count)]


# -- the child: the triggers --------------------------------------------------------------------
def _lists(endpoint: str) -> int:
    with urllib.request.urlopen(f"{endpoint}/_emulator/stats", timeout=30) as answer:
        return int(json.loads(answer.read()).get("cos", {}).get("LIST", 0))


def _child(endpoint: str, buckets: list[str], reps: int) -> None:
    from airflow_scf_snova.hooks.cos import COSHook

    hook = COSHook()
    stores = {(b, m): StateStore() for b in buckets for m in MODES}
    for (bucket, mode), store in stores.items():  # the baselines: not measured
        asyncio.run(one_poll(bucket, store, prefix=PREFIX, listing=mode, settle_seconds=0))
    polls: list[dict[str, Any]] = []
    for round_no in range(reps):
        for bucket in buckets:
            for i in range(NEW):  # sorting after every key so far
                hook.put_object(bucket, f"{PREFIX}2099-12-31/r{round_no:04d}-{i:02d}.csv", BODY)
            order = MODES if round_no % 2 == 0 else MODES[::-1]
            for mode in order:
                before = _lists(endpoint)
                seconds, events, _ = asyncio.run(
                    one_poll(
                        bucket, stores[bucket, mode], prefix=PREFIX, listing=mode, settle_seconds=0
                    )
                )
                lists = _lists(endpoint) - before
                if events != NEW:
                    raise RuntimeError(f"{mode} poll of {bucket} announced {events}, not {NEW}")
                polls.append({"bucket": bucket, "mode": mode, "seconds": seconds, "lists": lists})
    report({"polls": polls})


# -- the parent ---------------------------------------------------------------------------------
def run(env, sizes: tuple[int, ...] = SIZES, reps: int = 5) -> Section:
    """Seed one bucket per size, then time ``reps`` rounds of polls of both modes.

    :param env: a :class:`bench.env.BenchEnv` (its temporary directory is used without tmpfs).
    """
    load_before = load_average()
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="bench-incr-", dir=shm if shm.is_dir() else env.tmp))
    try:
        return _run(base, sizes, reps, load_before)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(base: Path, sizes: tuple[int, ...], reps: int, load_before: str) -> Section:
    from scf_snova_devel.seeding import seed_objects
    from scf_snova_emulator import EmulatorConfig, EmulatorServer

    from bench.env import tencentcloud_conn

    config = EmulatorConfig(port=0, data_dir=str(base))
    tag = uuid.uuid4().hex[:6]
    buckets = {size: f"incr-{tag}-{size}-{config.appid}" for size in sizes}
    seeded = 0.0
    for size, bucket in buckets.items():
        seeded += seed_objects(base / "cos", bucket, _keys(size), config.region, BODY)
    started = time.perf_counter()
    server = EmulatorServer(config).start()
    loaded = time.perf_counter() - started
    try:
        child_env = {**os.environ, "AIRFLOW_CONN_TENCENTCLOUD_DEFAULT": tencentcloud_conn(server)}
        result = python_child(
            "incremental_poll",
            "--child",
            server.endpoint,
            ",".join(buckets.values()),
            str(reps),
            env=child_env,
        ).json()
    finally:
        server.stop()

    polls = result["polls"]

    def of(size: int, mode: str, field: str) -> list[float]:
        return [p[field] for p in polls if p["bucket"] == buckets[size] and p["mode"] == mode]

    rows = []
    for size in sizes:
        for mode in MODES:
            seconds, lists = of(size, mode, "seconds"), of(size, mode, "lists")
            rows.append(
                [f"{size:,}", f'listing="{mode}"', median(seconds), spread(seconds), median(lists)]
            )
    small, large = sizes[0], sizes[-1]
    ordered_small, ordered_large = (median(of(s, "ordered", "seconds")) for s in (small, large))
    full_large = median(of(large, "full", "seconds"))
    verdicts = [
        Verdict(
            f"Incremental poll: flat from {small:,} to {large:,} existing objects "
            f"({NEW} new, ordered keys)",
            f"{ordered_small * 1000:.0f} ms at {small:,}, {ordered_large * 1000:.0f} ms at "
            f"{large:,}; LIST requests {median(of(small, 'ordered', 'lists')):g} and "
            f"{median(of(large, 'ordered', 'lists')):g}; a full listing at {large:,}: "
            f"{full_large:.2f} s, {median(of(large, 'full', 'lists')):g} LIST",
            f"{ordered_large / ordered_small:.2f}x",
            None,
        )
    ]

    def chart(plt, fig) -> None:
        ax = fig.add_subplot(1, 1, 1)
        for mode, color in zip(MODES, ("#0052d9", "#c44e52"), strict=True):
            ax.plot(
                sizes,
                [median(of(s, mode, "seconds")) for s in sizes],
                "o-",
                color=color,
                label=f'listing="{mode}"',
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("existing objects under the prefix")
        ax.set_ylabel(f"seconds per poll finding {NEW} new objects (median)")
        ax.legend(fontsize=8)

    method = f"""
One bucket per size holds that many objects under `{PREFIX}`, with date-partitioned keys
(`{PREFIX}2024-01-01/part-000000.csv`, 1,000 per day), seeded through the storage layer (on
tmpfs) in {seeded:.1f} s in all; the emulator then loaded them in {loaded:.1f} s. In a child
process, two `COSObjectEventTrigger`s watch each prefix, one per listing mode, each with its own
watermark (an in-memory stand-in for the asset state store) and a first poll that records the
baseline (not measured). Each of {reps} rounds uploads {NEW} objects whose keys sort after every
key so far (`{PREFIX}2099-12-31/rRRRR-NN.csv`), then runs one poll of each mode, in an order that
alternates every round: a trigger started afresh from its saved watermark (as after a triggerer
restart), timed until the poll saved the watermark; the LIST requests are the emulator's counter
before and after it. Every poll announced exactly the {NEW} new objects.
"""
    notes = (
        'The issue asks that the cost of an incremental poll "should stay flat" as the prefix '
        "grows; there is no numeric target, so the figures are recorded with the ratio between "
        "the largest and the smallest prefix. An ordered poll sends one `GET Bucket` with "
        "`marker` set to the greatest key it has seen, so it lists only what sorts after it; a "
        "full poll lists the prefix, one request per 1,000 keys."
    )
    return Section(
        name="incremental_poll",
        title="6. Incremental polls",
        method=method,
        headers=["Existing objects", "Mode", "Seconds (median)", "Range (s)", "LIST requests"],
        rows=rows,
        verdicts=verdicts,
        notes=notes,
        chart=chart,
        load_before=load_before,
        load_after=load_average(),
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        _child(argv[1], argv[2].split(","), int(argv[3]))
        return
    parser = script_parser(__doc__, reps=5)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args(argv)
    from bench.env import BenchEnv

    with BenchEnv(start_emulator=False, start_snova=False) as env:
        section = run(env, sizes=tuple(int(s) for s in args.sizes.split(",")), reps=args.reps)
    publish_as_asked(section, args)


if __name__ == "__main__":
    main()
