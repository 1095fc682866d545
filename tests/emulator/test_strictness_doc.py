"""docs/emulator.md's strictness table: every rule names the test that enforces it, and every
test it names exists (so the table cannot drift from the suite)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "emulator.md"
SECTION = "## Strictness: rules, sources and tests"


def _rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    lines = text[text.index(SECTION) :].splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Rule |"))
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_rule_has_a_source_and_a_test():
    rows = _rows()
    assert len(rows) >= 50, f"only {len(rows)} rules in the table"
    for row in rows:
        rule, source, tests = row[0], row[-2], row[-1]
        assert rule and source, f"a rule without its source: {rule!r}"
        assert re.findall(r"`tests/[^`]+`", tests), f"no test named for: {rule}"


def test_every_test_the_table_names_exists():
    missing = []
    for row in _rows():
        for ref in re.findall(r"`(tests/[^`]+)`", row[-1]):
            file, _, function = ref.partition("::")
            path = ROOT / file
            if not path.is_file():
                missing.append(ref)
            elif function and function not in _functions(path):
                missing.append(ref)
    assert missing == []
