"""The core runs where Airflow does not: in SCF functions on the Python3.9 runtime and in the
emulator. It must import nothing but the standard library, and parse as Python 3.9."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import scf_snova_core

CORE = Path(scf_snova_core.__file__).parent
MODULES = sorted(f"scf_snova_core.{m.name}" for m in pkgutil.iter_modules([str(CORE)]))


def _newer_than_39(tree: ast.AST) -> list[str]:
    """Constructs Python 3.9 parses but cannot run (the grammar check misses them)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "zip":
            if any(k.arg == "strict" for k in node.keywords):
                found.append(f"line {node.lineno}: zip(strict=...) is Python 3.10")
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
            "isinstance",
            "issubclass",
        ):
            if len(node.args) == 2 and isinstance(node.args[1], ast.BinOp):
                found.append(f"line {node.lineno}: isinstance(x, A | B) is Python 3.10")
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dataclass":
            if any(k.arg in ("slots", "kw_only") for k in node.keywords):
                found.append(f"line {node.lineno}: dataclass(slots/kw_only) is Python 3.10")
    return found


def test_every_module_is_python_39():
    assert MODULES, "no core modules found"
    for path in sorted(CORE.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path), feature_version=(3, 9))
        assert _newer_than_39(tree) == [], path.name
        if path.name != "__init__.py":
            assert "from __future__ import annotations" in source, (
                f"{path.name}: annotations such as 'str | None' need the __future__ import on 3.9"
            )


def test_the_checker_catches_python_310_constructs():
    tree = ast.parse("zip(a, b, strict=True)\nisinstance(x, int | str)\n")
    assert len(_newer_than_39(tree)) == 2


def test_importing_the_core_loads_only_the_standard_library():
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"for name in {MODULES!r}:\n"
        "    __import__(name)\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(' '.join(sorted(n for n in new if n != 'scf_snova_core' "
        "and n not in sys.stdlib_module_names and not n.startswith('_'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
