"""No provider module is over 600 lines: one concept per module keeps each readable whole."""

from __future__ import annotations

from pathlib import Path

PROVIDER = Path(__file__).resolve().parents[1] / "airflow_scf_snova"
LIMIT = 600


def test_no_provider_module_is_over_600_lines():
    sizes = {
        str(path.relative_to(PROVIDER)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PROVIDER.rglob("*.py")
    }
    assert len(sizes) > 50  # the walk found the package
    assert {name: lines for name, lines in sizes.items() if lines > LIMIT} == {}
