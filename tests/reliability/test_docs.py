"""docs/reliability.md lists every scenario of the registry, in the registry's words, with an
observation and the test that produced it (the table is written by ``render_table.py`` from the
tests' observations, never by hand)."""

from __future__ import annotations

from reliability.observations import SCENARIOS
from reliability.render_table import DOC, NOT_RUN, TABLE_BEGIN, TABLE_END, cell, recorded_by


def _rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    body = text[text.index(TABLE_BEGIN) + len(TABLE_BEGIN) : text.index(TABLE_END)]
    rows = []
    for line in body.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").replace("\\|", "\x00").split("|")]
        rows.append([c.replace("\x00", "\\|") for c in cells])
    return rows


def test_every_scenario_is_recorded_by_a_test():
    where = recorded_by()
    assert sorted(where) == sorted(SCENARIOS)


def test_the_table_lists_every_scenario_with_an_observation():
    rows = _rows()
    where = recorded_by()
    assert len(rows) == len(SCENARIOS)
    for row, (scenario_id, spec) in zip(rows, SCENARIOS.items(), strict=True):
        _, area, scenario, injected, expected, observed, test = row
        assert (area, scenario, injected, expected) == (
            spec.area,
            cell(spec.scenario),
            cell(spec.injected),
            cell(spec.expected),
        ), f"{scenario_id}: re-run render_table.py"
        assert observed and observed != NOT_RUN, f"{scenario_id} has no observation"
        assert test.strip("`").startswith(where[scenario_id]), scenario_id
