"""Every benchmark's measurement runs end to end at a toy size and produces its table.

These are not timed tests: nothing here asserts a speed. They keep ``make bench`` from breaking
between runs (it is not part of ``make test``). Charts are off, so neither matplotlib nor the
Amazon provider (the ``bench`` extra) is needed; the DAG-parse benchmark then measures our
modules alone. The document is written to a temporary file, never to docs/.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from bench import (
    emulator_io,
    incremental_poll,
    invoke_overhead,
    load_throughput,
    parse_cost,
    sensor_cost,
    small_files,
)
from bench.common import Section, publish
from bench.env import BenchEnv

pytestmark = pytest.mark.slow


@pytest.fixture
def env(emulator, snova_server):
    # The session's emulator and PostgreSQL; no second Airflow home (the harness isolated one).
    with BenchEnv(emulator=emulator, dsn=snova_server, isolate=False) as bench_env:
        yield bench_env


def _numbers(section: Section, column: str) -> list[float]:
    index = section.headers.index(column)
    return [row[index] for row in section.rows if isinstance(row[index], int | float)]


def _check(section: Section, column: str, rows: int) -> None:
    assert len(section.rows) >= rows
    values = _numbers(section, column)
    assert values and all(v > 0 and math.isfinite(v) for v in values), section.rows
    assert section.verdicts and all(v.result for v in section.verdicts)


def test_parse_cost_measures_our_modules_and_finds_no_sdk():
    section = parse_cost.run(
        reps=1, warmup=0, ours=["airflow_scf_snova.operators.cos"], peers=[], references=[]
    )
    row = next(r for r in section.rows if r[0] == "operators.cos")
    assert row[1] > 0 and row[section.headers.index("Loaded")] == "none"
    assert [v.met for v in section.verdicts if "SDK" in v.goal] == [True]


def test_parse_cost_measures_snova_on_top_of_its_base():
    base = "airflow.providers.common.sql.operators.sql"
    section = parse_cost.run(
        reps=1, warmup=0, ours=["airflow_scf_snova.operators.snova"], peers=[], references=[base]
    )
    rows = {r[0]: r for r in section.rows}
    alone, on_top = rows["operators.snova"], rows[f"operators.snova, after {base}"]
    modules = section.headers.index("Modules added")
    # Importing the base first leaves only our module (and nothing the base brings) to import.
    assert 0 < on_top[modules] < alone[modules]
    assert on_top[1] < alone[1]


def test_invoke_overhead_counts_one_invoke_per_call(env):
    section = invoke_overhead.run(env, reps=1, warmup=0)
    _check(section, "Wall (ms, median)", 3)
    actions = {row[0]: row[3] for row in section.rows}
    # One Invoke; the GetFunction (the environment to mask in the log) runs while it waits.
    assert actions["SCFInvokeFunctionOperator"] == "GetFunction x1, Invoke x1"
    assert actions["bare SDK, one client"] == "Invoke x1"


def test_emulator_io_moves_the_object_both_ways(env):
    section = emulator_io.run(env, mb=0.3, reps=1)
    _check(section, "MB/s (median)", 4)
    assert [row[0] for row in section.rows] == list(emulator_io.SIDES)


def test_sensor_cost_pokes_and_counts_trigger_events(env):
    section = sensor_cost.run(env, objects=300, reps=1, batches=(1, 4), trigger_reps=1)
    _check(section, "Seconds (median)", 6)
    returned = {row[0]: row[3] for row in section.rows}
    assert returned["poke: prefix (first 1,000 match)"] == 300
    assert returned["poke: prefix + suffix (1 match, at the end)"] == 1
    assert returned["trigger: poll finding 4 new object(s)"] == 4


def test_incremental_poll_counts_the_list_requests_of_both_modes(env):
    section = incremental_poll.run(env, sizes=(300, 1_500), reps=1)
    _check(section, "Seconds (median)", 4)
    lists = {(row[0], row[1]): row[4] for row in section.rows}
    assert lists == {
        ("300", 'listing="ordered"'): 1,
        ("300", 'listing="full"'): 1,
        ("1,500", 'listing="ordered"'): 1,
        ("1,500", 'listing="full"'): 2,
    }


def test_load_throughput_loads_every_row_on_every_side(env):
    section = load_throughput.run(env, sizes_mb=(0.05,), reps=1)
    _check(section, "Rows/s", 3)
    assert {row[1] for row in section.rows} == {
        "operator (copy)",
        "psql \\copy",
        "download + insert_rows",
    }
    assert all(row[6] > 0 for row in section.rows)  # a peak RSS for every loading process


def test_small_files_loads_every_row_on_every_side(env):
    section = small_files.run(env, objects=12, kb=2, reps=1, batch=5)
    _check(section, "Objects/s", 6)
    assert len(section.verdicts) == 5


def test_publish_writes_the_section_and_the_summary(tmp_path, capsys):
    section = parse_cost.run(
        reps=1, warmup=0, ours=["airflow_scf_snova.operators.cos"], peers=[], references=[]
    )
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nhand-written text stays\n")
    publish(section, charts=False, doc=doc)
    publish(section, charts=False, doc=doc)  # a second run replaces, never appends
    text = doc.read_text()
    assert "hand-written text stays" in text
    assert text.count("<!-- bench:parse_cost:start -->") == 1
    assert text.count("<!-- bench:summary:start -->") == 1
    stored = json.loads(re.search(r"<!-- bench:verdicts (.*?) -->", text).group(1))
    assert [v["goal"] for v in stored] == [v.goal for v in section.verdicts]
    assert "1. DAG-parse cost" in capsys.readouterr().out
