"""The lineage each operator builds, asked directly after a real ``execute`` against the emulator
and PostgreSQL: the cases the example DAG does not cover (keys, columns, skipped objects, local
files, deletes by key, an export to a prefix). tests/lineage/test_openlineage.py covers the
listener's events."""

from __future__ import annotations

import pytest

from airflow_scf_snova.operators.cos import COSCreateObjectOperator, COSDeleteObjectsOperator
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator
from airflow_scf_snova.transfers.snova_to_cos import SnovaToCOSOperator


def pairs(datasets) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


@pytest.fixture
def people(db):
    db.execute("CREATE TABLE people (id int, name text, note text)")
    return "people"


def test_keys_name_each_object_and_columns_limit_the_column_lineage(bucket, put, db, people):
    put("in/a.csv", "1,Ann\n2,Bo\n")
    put("in/b.csv", "3,Cy\n")
    arguments = dict(
        table=people,
        bucket=bucket,
        keys=["in/a.csv", f"cos://{bucket}/in/b.csv", "in/a.csv"],
        columns=["id", "name"],
    )
    first = COSToSnovaOperator(task_id="load", **arguments)
    objects = [(f"cos://{bucket}", "in/a.csv"), (f"cos://{bucket}", "in/b.csv")]
    assert pairs(first.get_openlineage_facets_on_start().inputs) == objects
    first.execute({"run_id": "r1"})
    lineage = first.get_openlineage_facets_on_complete(None)
    assert pairs(lineage.inputs) == objects
    [output] = lineage.outputs
    assert output.name.endswith(".public.people")
    assert "lifecycleStateChange" not in output.facets  # append
    columns = output.facets["columnLineage"].fields
    assert set(columns) == {"id", "name"}
    assert [(f.name, f.field) for f in columns["name"].inputFields] == [
        ("in/a.csv", "name"),
        ("in/b.csv", "name"),
    ]
    assert output.outputFacets["outputStatistics"].rowCount == 3
    load = lineage.run_facets["tencentCloudSnovaLoad"]
    assert (load.objectsLoaded, load.objectsSkipped, load.rowsLoaded) == (2, 0, 3)

    again = COSToSnovaOperator(task_id="load", **arguments)
    again.execute({"run_id": "r2"})
    lineage = again.get_openlineage_facets_on_complete(None)
    load = lineage.run_facets["tencentCloudSnovaLoad"]
    assert (load.objectsLoaded, load.objectsSkipped, load.rowsLoaded) == (0, 2, 0)
    assert {o["status"] for o in load.objects} == {"skipped"}
    assert lineage.outputs[0].outputFacets["outputStatistics"].rowCount == 0


def test_a_failed_load_names_its_datasets_without_statistics(bucket, put, db, people):
    put("in/bad.csv", "1,Ann\nnot-a-number,Bo\n")
    op = COSToSnovaOperator(task_id="load", table=people, bucket=bucket, prefix="in/")
    with pytest.raises(Exception, match="bad.csv"):
        op.execute({"run_id": "r1"})
    lineage = op.get_openlineage_facets_on_complete(None)  # what the listener asks on failure
    assert pairs(lineage.inputs) == [(f"cos://{bucket}", "in")]
    [output] = lineage.outputs
    assert [f.name for f in output.facets["schema"].fields] == ["id", "name", "note"]
    assert output.outputFacets == {} and lineage.run_facets == {}


def test_upload_from_a_local_file(emulator, bucket, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("id\n1\n")
    op = COSCreateObjectOperator(
        task_id="up", bucket=bucket, key="up/orders.csv", filename=str(path)
    )
    op.execute({})
    lineage = op.get_openlineage_facets_on_complete(None)
    [source] = lineage.inputs
    assert source.namespace.startswith("file://") and source.name == str(path)
    [target] = lineage.outputs
    assert (target.namespace, target.name) == (f"cos://{bucket}", "up/orders.csv")
    assert target.outputFacets["outputStatistics"].size == path.stat().st_size


def test_delete_by_keys_drops_each_object(emulator, bucket, put):
    put("old/a.csv", "x")
    op = COSDeleteObjectsOperator(task_id="rm", bucket=bucket, keys=["old/a.csv", "old/gone.csv"])
    assert op.execute({}) == 2
    lineage = op.get_openlineage_facets_on_complete(None)
    assert pairs(lineage.inputs) == [
        (f"cos://{bucket}", "old/a.csv"),
        (f"cos://{bucket}", "old/gone.csv"),
    ]
    change = lineage.inputs[0].facets["lifecycleStateChange"]
    assert change.lifecycleStateChange.value == "DROP"
    assert lineage.outputs == []


def test_an_external_table_export_writes_a_prefix(emulator, bucket, db, people):
    op = SnovaToCOSOperator(
        task_id="export",
        sql="SELECT p.id, p.name AS who FROM people p;",
        bucket=bucket,
        key="out/people/",
        method="external_table",
        header=False,
    )
    lineage = op.get_openlineage_facets_on_complete(None)  # plain PostgreSQL cannot run it
    [source] = lineage.inputs
    assert source.name.endswith(".public.people")
    [target] = lineage.outputs
    assert (target.namespace, target.name) == (f"cos://{bucket}", "out/people")
    columns = target.facets["columnLineage"].fields
    assert {c: [f.field for f in columns[c].inputFields] for c in columns} == {
        "id": ["id"],
        "who": ["name"],
    }
