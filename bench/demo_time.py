"""The demo's wall time: ``make demo`` from a fresh data directory (cold: PostgreSQL's initdb,
the Airflow metadata database's migration, the first SCF deploys) and once more on the same
directory (warm), with the demo's own per-step breakdown, against the goal of 60 s.

Each run is ``scripts/demo.py --root <dir>`` in a child process (what ``make demo`` runs once
its prerequisites are in place); ``make install``, which ``make demo`` runs first, is timed on
its own (with nothing to install: the stamp is fresh) and added. The breakdown comes from the
run's ``report.json``: ``timings`` (the parts of the story, timed by ``demo.py``) and
``runner`` (the Airflow interpreter's start-up, timed by ``demo_runner.py``).

Run alone: ``python -m bench.demo_time [--reps N]``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    Section,
    Verdict,
    load_average,
    median,
    publish_as_asked,
    run_child,
    script_parser,
    spread,
)

GOAL_SECONDS = 60.0
KINDS = ("cold", "warm")


def make_prerequisites() -> float:
    """Seconds ``make install`` takes when there is nothing to install (what ``make demo`` runs
    before the script)."""
    return run_child(["make", "-s", "-C", str(ROOT), "install"], timeout=1800).seconds


def demo_run(root: Path) -> dict:
    """One ``scripts/demo.py --root root``: its wall time (seen from here), the total it
    printed, and its report.

    :raises RuntimeError: the demo failed (the output's end is in the message).
    """
    child = run_child([PYTHON, str(ROOT / "scripts" / "demo.py"), "--root", str(root)], timeout=900)
    report = json.loads((root / "report.json").read_text())
    if not report.get("ok"):
        raise RuntimeError(f"the demo reported a failure:\n{child.stdout[-3000:]}")
    printed = re.search(r"\(stopped; (\d+) s in all", child.stdout)
    return {
        "seconds": child.seconds,
        "printed": int(printed.group(1)) if printed else None,
        "report": report,
    }


def measure_pair() -> dict[str, dict]:
    """A cold run in a new directory, then a warm run in the same one; the directory is
    removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    try:
        root = parent / "demo"
        return {kind: demo_run(root) for kind in KINDS}
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _parts(report: dict) -> dict[str, float]:
    """Step -> seconds, in the order of the run, with the runner's start-up inside it."""
    parts = dict(report.get("timings", {}))
    for name, seconds in report.get("runner", {}).get("timings", {}).items():
        parts[f"runner: {name}"] = seconds
    return parts


def run(reps: int = 1) -> Section:
    """``reps`` pairs of runs (cold, then warm); the medians, and each step's median.

    :param reps: pairs of runs.
    """
    load_before = load_average()
    prerequisites = [make_prerequisites() for _ in range(reps)]
    pairs = [measure_pair() for _ in range(reps)]
    make_s = median(prerequisites)
    total = {kind: [p[kind]["seconds"] + make_s for p in pairs] for kind in KINDS}
    steps: list[str] = []
    for pair in pairs:
        for kind in KINDS:
            steps += [s for s in _parts(pair[kind]["report"]) if s not in steps]

    def step_median(kind: str, step: str) -> float:
        return median(
            [_parts(p[kind]["report"])[step] for p in pairs if step in _parts(p[kind]["report"])]
        )

    rows = [
        [
            "`make demo` (prerequisites + script)",
            *[median(total[k]) for k in KINDS],
            " / ".join(spread(total[k]) for k in KINDS),
        ],
        [
            "make's prerequisites (`make install`, nothing to do)",
            make_s,
            make_s,
            spread(prerequisites),
        ],
        [
            "script, wall (`scripts/demo.py`)",
            *[median([p[k]["seconds"] for p in pairs]) for k in KINDS],
            "",
        ],
    ]
    for step in steps:
        indent = "  " if step.startswith("runner: ") else ""
        rows.append([f"{indent}{step}", *[step_median(k, step) for k in KINDS], ""])

    verdicts = []
    for kind, what in (("warm", "a second run"), ("cold", "a fresh directory: initdb, migration")):
        seconds = median(total[kind])
        verdicts.append(
            Verdict(
                f"`make demo` <= {GOAL_SECONDS:.0f} s ({kind}: {what})",
                f"{seconds:.1f} s",
                f"{seconds / GOAL_SECONDS:.2f}x",
                seconds <= GOAL_SECONDS,
            )
        )
    notes = _where_the_time_goes(steps, step_median)

    def chart(plt, fig) -> None:
        ax = fig.add_subplot(1, 1, 1)
        shown = [s for s in steps if not s.startswith("runner: ")]
        left = {k: 0.0 for k in KINDS}
        colours = plt.get_cmap("tab20").colors
        for n, step in enumerate(shown):
            widths = [step_median(k, step) for k in KINDS]
            ax.barh(
                list(KINDS),
                widths,
                left=[left[k] for k in KINDS],
                label=step,
                color=colours[n % len(colours)],
            )
            for k, w in zip(KINDS, widths, strict=True):
                left[k] += w
        ax.axvline(GOAL_SECONDS, color="grey", linestyle="--", label=f"goal: {GOAL_SECONDS:.0f} s")
        ax.set_xlabel("seconds (median of the steps)")
        ax.legend(fontsize=7, loc="lower right")

    method = f"""
`scripts/demo.py --root <new directory>` in a child process, twice: *cold* (a fresh directory:
PostgreSQL's initdb, the metadata database's migration, the first deploys of both SCF functions)
then *warm* (the same directory again: everything is in the ledger, the report shows `+0`), {reps}
pair(s). `make demo` runs `make install` first; it is timed on its own with nothing to install
and added to each run. The steps are the demo's own timings (`report.json`: `timings`, measured
by `scripts/demo.py`; the `runner:` rows are the Airflow interpreter's start-up, measured inside
it by `scripts/demo_runner.py`, which starts with the demo and overlaps PostgreSQL's and the
emulator's start). A step's figure is the median over the pairs; the *range* column is the
range of the totals (cold / warm).
"""
    return Section(
        name="demo_time",
        title="7. `make demo` wall time",
        method=method,
        headers=["Step", "Cold (s)", "Warm (s)", "Range (s)"],
        rows=rows,
        verdicts=verdicts,
        notes=notes,
        chart=chart,
        load_before=load_before,
        load_after=load_average(),
    )


def _where_the_time_goes(steps: list[str], step_median) -> str:
    """The largest steps of each kind of run, as text made from the figures."""
    lines = ["**Where the time goes** (largest steps, median seconds):", ""]
    for kind in KINDS:
        top = sorted(
            (s for s in steps if not s.startswith("runner: ")),
            key=lambda s: step_median(kind, s),
            reverse=True,
        )[:4]
        runner = [
            s for s in steps if s.startswith("runner: ") and not math.isnan(step_median(kind, s))
        ]
        inside = ", ".join(
            f"{s.removeprefix('runner: ')} {step_median(kind, s):.1f} s" for s in runner
        )
        parts = "; ".join(f"{s} {step_median(kind, s):.1f} s" for s in top)
        lines.append(f"- {kind}: {parts}; inside the runner's start-up: {inside}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, reps=1)
    args = parser.parse_args(argv)
    publish_as_asked(run(reps=args.reps), args)


if __name__ == "__main__":
    main()
