"""The lineage of the transfers between COS and Snova.

``COSToSnovaOperator``: the COS objects (or the prefix) in, the table out with its schema, the
columns each file column feeds, an ``OVERWRITE`` lifecycle change in ``replace`` mode, output
statistics, and a :class:`~.facets.SnovaLoadRunFacet` with the rows loaded and rejected.
``SnovaToCOSOperator``: the tables the query reads (OpenLineage's SQL parser, schemas read from
the catalog) in, the object (or, with ``external_table``, the prefix) out, with the columns of
the query's result and where each comes from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_scf_snova.lineage.naming import (
    cos_namespace,
    cos_object_name,
    cos_prefix_name,
    postgres_namespace,
    table_name,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from scf_snova_core.loads import LoadResult

    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.hooks.snova import SnovaHook
    from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator
    from airflow_scf_snova.transfers.snova_to_cos import SnovaToCOSOperator

log = logging.getLogger(__name__)


@dataclass
class SnovaTable:
    """A table as lineage names it.

    :param namespace: ``postgres://{host}:{port}``.
    :param database: the database.
    :param schema: the schema (``None`` if the table could not be resolved).
    :param table: the table's name.
    :param columns: ``(name, type)`` in table order (empty if unknown).
    """

    namespace: str
    database: str
    schema: str | None
    table: str
    columns: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``{database}.{schema}.{table}``."""
        return table_name(self.database, self.schema or "public", self.table)


def snova_namespace(hook: SnovaHook) -> tuple[str, Any]:
    """The connection's ``postgres://{host}:{port}`` and the connection itself."""
    conn = hook.get_connection(hook.get_conn_id())
    return postgres_namespace(conn.host, conn.port), conn


def resolve_table(hook: SnovaHook, table: str) -> SnovaTable:
    """Where ``table`` is (search path applied) and its columns, read from the catalog on one
    short connection; without the catalog (no such table, no server), the name as given.

    :param hook: the Snova side.
    :param table: ``table`` or ``schema.table``.
    """
    import psycopg2
    from scf_snova_core.sql import canonical_table, table_columns

    namespace, conn = snova_namespace(hook)
    schema, _, name = table.rpartition(".")
    resolved = SnovaTable(namespace, hook.database or conn.schema or "", schema or None, name)
    try:
        pg = hook.get_psycopg2_conn()
    except psycopg2.Error as err:
        log.warning("OpenLineage: could not connect to read %s: %s", table, err)
        return resolved
    try:
        with pg.cursor() as cur:
            cur.execute("SELECT current_database()")
            resolved.database = cur.fetchone()[0]
            resolved.schema, resolved.table = canonical_table(cur, table).split(".", 1)
            resolved.columns = table_columns(cur, table)
    except psycopg2.Error as err:
        log.warning("OpenLineage: could not read the definition of %s: %s", table, err)
    finally:
        pg.close()
    return resolved


def _load_inputs(op: COSToSnovaOperator, results: list[LoadResult] | None) -> list[tuple]:
    """``(namespace, name)`` of what the load reads: the prefix, or each object."""
    cos: COSHook = op.cos_hook
    if op.prefix is not None:
        return [(cos_namespace(cos.full_bucket_name(op.bucket)), cos_prefix_name(op.prefix))]
    if results is not None:
        pairs = [(cos_namespace(r.obj.bucket), cos_object_name(r.obj.key)) for r in results]
        return list(dict.fromkeys(pairs))
    from airflow_scf_snova.snova.objects import _split_item

    items = [op.keys] if isinstance(op.keys, (str, dict)) else list(op.keys or [])
    pairs = []
    for item in items:
        try:
            bucket, key, _ = _split_item(cos, item, op.bucket)
            pairs.append((cos_namespace(cos.full_bucket_name(bucket)), cos_object_name(key)))
        except Exception as err:  # an entry the load itself would reject: no dataset
            log.debug("OpenLineage: no dataset for %r: %s", item, err)
    return list(dict.fromkeys(pairs))


def cos_to_snova_lineage(
    op: COSToSnovaOperator, results: list[LoadResult] | None
) -> OperatorLineage:
    """The lineage of a load; ``results`` is ``None`` before it ran (or if it failed).

    :param op: the operator, its fields rendered.
    :param results: what :meth:`SnovaHook.load_objects` returned.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        ColumnLineageDatasetFacet,
        Fields,
        InputDataset,
        InputField,
        LifecycleStateChange,
        LifecycleStateChangeDatasetFacet,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.generated.column_lineage_dataset import Transformation
    from scf_snova_core.loads import LOADED

    from airflow_scf_snova.lineage.facets import SNOVA_LOAD_FACET, SnovaLoadRunFacet

    inputs = [InputDataset(namespace=ns, name=name) for ns, name in _load_inputs(op, results)]
    target = resolve_table(op.snova_hook, op.table)
    facets: dict[str, Any] = {}
    if target.columns:
        facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=n, type=t) for n, t in target.columns]
        )
    loaded_columns = list(op.columns or [name for name, _ in target.columns])
    if loaded_columns and inputs:
        identity = [Transformation(type="DIRECT", subtype="IDENTITY")]
        facets["columnLineage"] = ColumnLineageDatasetFacet(
            fields={
                column: Fields(
                    inputFields=[
                        InputField(
                            namespace=ds.namespace,
                            name=ds.name,
                            field=column,
                            transformations=identity,
                        )
                        for ds in inputs
                    ],
                    transformationType="IDENTITY",
                    transformationDescription="file column loaded as is",
                )
                for column in loaded_columns
            }
        )
    if op.mode == "replace":
        facets["lifecycleStateChange"] = LifecycleStateChangeDatasetFacet(
            lifecycleStateChange=LifecycleStateChange.OVERWRITE
        )
    output_facets: dict[str, Any] = {}
    run_facets: dict[str, Any] = {}
    if results is not None:
        loaded = [r for r in results if r.status == LOADED]
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=sum(r.rows for r in loaded),
            size=sum(r.obj.size or 0 for r in loaded),
            fileCount=len(loaded),
        )
        run_facets[SNOVA_LOAD_FACET] = SnovaLoadRunFacet(
            mode=op.mode,
            method=op.method,
            objectsLoaded=len(loaded),
            objectsSkipped=len(results) - len(loaded),
            rowsLoaded=sum(r.rows for r in loaded),
            rejectedRows=sum(r.rejected for r in loaded),
            objects=[
                {
                    "bucket": r.obj.bucket,
                    "key": r.obj.key,
                    "etag": r.obj.etag,
                    "status": r.status,
                    "rows": r.rows,
                    "rejected": r.rejected,
                }
                for r in results
            ],
        )
    output = OutputDataset(
        namespace=target.namespace, name=target.name, facets=facets, outputFacets=output_facets
    )
    return OperatorLineage(inputs=inputs, outputs=[output], run_facets=run_facets)


def snova_to_cos_lineage(op: SnovaToCOSOperator, result: dict[str, Any] | None) -> OperatorLineage:
    """The lineage of an export; ``result`` is ``None`` before it ran (or if it failed).

    :param op: the operator, its fields rendered.
    :param result: what :meth:`SnovaHook.export_query` returned.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        ColumnLineageDatasetFacet,
        Fields,
        InputField,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.providers.openlineage.sqlparser import DatabaseInfo, SQLParser

    hook = op.snova_hook
    namespace, conn = snova_namespace(hook)
    database, schema = _current_database_and_schema(hook, conn)
    scheme, authority = namespace.split("://", 1)
    parser = SQLParser(dialect="postgres", default_schema=schema)
    query = op.sql.strip().rstrip(";")
    sql_lineage = parser.generate_openlineage_metadata_from_sql(
        sql=query,
        hook=hook,
        database_info=DatabaseInfo(scheme=scheme, authority=authority, database=database),
        database=database,
    )
    key = op.key if result is None else result.get("key", op.key)
    name = cos_prefix_name(key) if op.method == "external_table" else cos_object_name(key)
    out_namespace = cos_namespace(op.cos_hook.full_bucket_name(op.bucket))
    facets: dict[str, Any] = {}
    meta = parser.parse(query)
    if meta is not None and meta.column_lineage:
        columns = [c.descendant.name for c in meta.column_lineage]
        facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=c) for c in columns]
        )
        facets["columnLineage"] = ColumnLineageDatasetFacet(
            fields={
                c.descendant.name: Fields(
                    inputFields=[
                        InputField(
                            namespace=namespace,
                            name=table_name(
                                origin.origin.database or database,
                                origin.origin.schema or schema,
                                origin.origin.name,
                            ),
                            field=origin.name,
                        )
                        for origin in c.lineage
                        if origin.origin is not None
                    ]
                )
                for c in meta.column_lineage
            }
        )
    output_facets: dict[str, Any] = {}
    if result is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=result.get("rows"), size=result.get("bytes")
        )
    output = OutputDataset(
        namespace=out_namespace, name=name, facets=facets, outputFacets=output_facets
    )
    return OperatorLineage(
        inputs=sql_lineage.inputs,
        outputs=[output],
        job_facets=sql_lineage.job_facets,
        run_facets=sql_lineage.run_facets,
    )


def _current_database_and_schema(hook: SnovaHook, conn: Any) -> tuple[str, str]:
    """``current_database()`` and ``current_schema()`` on a short connection (the connection's
    database and ``public`` without a server)."""
    import psycopg2

    try:
        pg = hook.get_psycopg2_conn()
    except psycopg2.Error as err:
        log.warning("OpenLineage: could not connect to read the search path: %s", err)
        return hook.database or conn.schema or "", "public"
    try:
        with pg.cursor() as cur:
            cur.execute("SELECT current_database(), current_schema()")
            database, schema = cur.fetchone()
        return database, schema or "public"
    finally:
        pg.close()
