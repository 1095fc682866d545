"""Render the reliability table of ``docs/reliability.md`` from the tests' observations.

Usage (after ``make test`` and ``make soak`` wrote their observations)::

    .venv/bin/python tests/reliability/render_table.py            # rewrite docs/reliability.md
    .venv/bin/python tests/reliability/render_table.py --print    # show the table only

The static columns come from :data:`observations.SCENARIOS`; the observed column and the
figures come only from the observations file (``$RELIABILITY_OBSERVATIONS`` or the default temp
file), so the table can only say what a test measured. ``test_docs.py`` checks that the document
lists every scenario with the registry's wording and an observation.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOC = ROOT / "docs" / "reliability.md"
TABLE_BEGIN, TABLE_END = "<!-- reliability-table:begin -->", "<!-- reliability-table:end -->"
FIGURES_BEGIN, FIGURES_END = (
    "<!-- reliability-figures:begin -->",
    "<!-- reliability-figures:end -->",
)
NOT_RUN = "**not observed yet**"

sys.path.insert(0, str(HERE.parent))
from reliability.observations import SCENARIOS, load, observations_path  # noqa: E402


def cell(text: str) -> str:
    """One markdown table cell: a single line, pipes escaped."""
    return re.sub(r"\s+", " ", text).strip().replace("|", "\\|")


def recorded_by() -> dict[str, str]:
    """``scenario id -> file::test`` for every ``record("<id>", ...)`` call in this folder."""
    found: dict[str, str] = {}
    for path in sorted(HERE.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef) or not func.name.startswith("test_"):
                continue
            for node in ast.walk(func):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) == "record"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    found[node.args[0].value] = f"{path.name}::{func.name}"
    return found


def table(observations: dict) -> str:
    where = recorded_by()
    lines = [
        "| # | Area | Scenario | Injected | Expected | Observed | Test |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, (scenario_id, spec) in enumerate(SCENARIOS.items(), start=1):
        seen = observations.get(scenario_id)
        observed = cell(seen["observed"]) if seen else NOT_RUN
        test = where.get(scenario_id, "")
        if spec.soak and test:
            test += " (soak)"
        lines.append(
            f"| {number} | {spec.area} | {cell(spec.scenario)} | {cell(spec.injected)} | "
            f"{cell(spec.expected)} | {observed} | `{test}` |"
        )
    return "\n".join(lines)


def figures(observations: dict) -> str:
    lines = ["| Figure | Value | Scenario |", "|---|---|---|"]
    for scenario_id in SCENARIOS:
        for name, value in sorted((observations.get(scenario_id) or {}).get("figures", {}).items()):
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            lines.append(f"| {cell(name)} | {shown} | {scenario_id} |")
    runs = sorted(
        {
            (
                o["at"][:10],
                o["commit"],
                "make soak" if o.get("soak") else "make test",
                o.get("airflow", "?"),
            )
            for o in observations.values()
        }
    )
    lines.append("")
    lines.append(
        "Observed in: "
        + "; ".join(
            f"{kind} on {day} at commit {commit} (Airflow {airflow})"
            for day, commit, kind, airflow in runs
        )
        + "."
    )
    return "\n".join(lines)


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + "\n" + body + "\n" + text[stop:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("observations", nargs="?", type=Path, default=None)
    parser.add_argument("--print", action="store_true", help="print instead of writing the doc")
    args = parser.parse_args()
    observations = load(args.observations or observations_path())
    missing = [s for s in SCENARIOS if s not in observations]
    if args.print:
        print(table(observations))
        print()
        print(figures(observations))
    else:
        text = DOC.read_text(encoding="utf-8")
        text = replace_between(text, TABLE_BEGIN, TABLE_END, table(observations))
        text = replace_between(text, FIGURES_BEGIN, FIGURES_END, figures(observations))
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    if missing:
        print(f"not observed yet: {', '.join(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
