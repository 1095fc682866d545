"""Run every benchmark (``make bench``): print the tables, draw the charts into ``docs/img/`` and
update ``docs/benchmarks.md``.

One emulator and one PostgreSQL serve all of them; everything lives in one temporary directory,
removed at the end (the 1 GB objects included) whatever happens. A benchmark that fails is
reported and the others still run; the exit status is then non-zero.

    python bench/run_all.py                     # everything, at the sizes the issue asks for
    python bench/run_all.py --only load_throughput --reps 7
    python bench/run_all.py --quick --no-doc    # toy sizes, nothing written
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DOC, publish

NAMES = ("parse_cost", "invoke_overhead", "emulator_io", "sensor_cost", "load_throughput")


def _benchmarks(env, quick: bool, reps: int | None):
    """name -> a callable producing its Section, at full or toy size."""
    from bench import emulator_io, invoke_overhead, load_throughput, parse_cost, sensor_cost

    def r(full: int, toy: int) -> int:
        return reps if reps is not None else (toy if quick else full)

    return {
        "parse_cost": lambda: parse_cost.run(
            reps=r(5, 1), warmup=0 if quick else 1, ours=parse_cost.OURS[:2] if quick else None
        ),
        "invoke_overhead": lambda: invoke_overhead.run(env, reps=r(40, 2), warmup=1),
        "emulator_io": lambda: emulator_io.run(env, mb=1 if quick else 100, reps=r(5, 1)),
        "sensor_cost": lambda: sensor_cost.run(
            env,
            objects=500 if quick else 100_000,
            reps=r(5, 1),
            batches=(1, 10) if quick else (1, 300),
            trigger_reps=r(2, 1),
        ),
        "load_throughput": lambda: load_throughput.run(
            env, sizes_mb=(0.2,) if quick else (10, 100, 1000), reps=r(5, 1)
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=NAMES, help="run only these")
    parser.add_argument("--quick", action="store_true", help="toy sizes (a smoke run)")
    parser.add_argument("--reps", type=int, help="repetitions for every benchmark")
    parser.add_argument("--no-charts", action="store_true")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args(argv)
    from bench.env import BenchEnv

    def stop(signum, _frame):  # a SIGTERM must still run the clean-up below (1 GB files)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    started = time.monotonic()
    failed = []
    with BenchEnv() as env:
        benchmarks = _benchmarks(env, args.quick, args.reps)
        for name in args.only or NAMES:
            one = time.monotonic()
            try:
                section = benchmarks[name]()
                publish(section, charts=not args.no_charts, doc=None if args.no_doc else DOC)
            except Exception:
                traceback.print_exc()
                failed.append(name)
            print(f"({name}: {time.monotonic() - one:.0f} s)", flush=True)
    print(f"\nAll benchmarks: {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
