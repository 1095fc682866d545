"""The lineage of the COS operators: upload (create), copy and delete.

Objects are datasets ``cos://{bucket}`` / ``{key}`` (:mod:`.naming`). An upload from a local file
reads ``file://{host}`` / ``{path}``; a delete reports each object it removed (or the prefix it
emptied) as an input with a ``DROP`` lifecycle change, as the object stores' delete operators of
other providers do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_scf_snova.lineage.naming import (
    cos_namespace,
    cos_object_name,
    cos_prefix_name,
    local_file,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_scf_snova.operators.cos import (
        COSCopyObjectOperator,
        COSCreateObjectOperator,
        COSDeleteObjectsOperator,
    )


def create_object_lineage(op: COSCreateObjectOperator, size: int | None) -> OperatorLineage:
    """The object written, and the local file it came from (if any).

    :param op: the operator, its fields rendered.
    :param size: bytes written, when known.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    inputs = []
    if op.filename is not None:
        namespace, path = local_file(op.filename)
        inputs.append(InputDataset(namespace=namespace, name=path))
    output_facets: dict[str, Any] = {}
    if size is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            size=size, fileCount=1
        )
    output = OutputDataset(
        namespace=cos_namespace(op.hook.full_bucket_name(op.bucket)),
        name=cos_object_name(op.key),
        outputFacets=output_facets,
    )
    return OperatorLineage(inputs=inputs, outputs=[output])


def copy_object_lineage(op: COSCopyObjectOperator) -> OperatorLineage:
    """The source object in, the copy out.

    :param op: the operator, its fields rendered.
    """
    from airflow.providers.common.compat.openlineage.facet import InputDataset, OutputDataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    hook = op.hook
    source = InputDataset(
        namespace=cos_namespace(hook.full_bucket_name(op.source_bucket)),
        name=cos_object_name(op.source_key),
    )
    dest = OutputDataset(
        namespace=cos_namespace(hook.full_bucket_name(op.dest_bucket or op.source_bucket)),
        name=cos_object_name(op.dest_key),
    )
    return OperatorLineage(inputs=[source], outputs=[dest])


def delete_objects_lineage(op: COSDeleteObjectsOperator) -> OperatorLineage:
    """Each object named (missing ones count as deleted, as in COS) or, for a prefix, the
    prefix, with a ``DROP`` lifecycle change.

    :param op: the operator, its fields rendered.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        LifecycleStateChange,
        LifecycleStateChangeDatasetFacet,
        PreviousIdentifier,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    namespace = cos_namespace(op.hook.full_bucket_name(op.bucket))
    if op.prefix is not None:
        names = [cos_prefix_name(op.prefix)]
    else:
        keys = [op.keys] if isinstance(op.keys, str) else list(op.keys or [])
        names = [cos_object_name(key) for key in keys]
    inputs = [
        InputDataset(
            namespace=namespace,
            name=name,
            facets={
                "lifecycleStateChange": LifecycleStateChangeDatasetFacet(
                    lifecycleStateChange=LifecycleStateChange.DROP,
                    previousIdentifier=PreviousIdentifier(namespace=namespace, name=name),
                )
            },
        )
        for name in dict.fromkeys(names)
    ]
    return OperatorLineage(inputs=inputs)
