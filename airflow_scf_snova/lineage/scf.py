"""The lineage of SCF invoke: the function as a job facet
(:class:`~.facets.SCFFunctionJobFacet`, key ``tencentCloudScfFunction``) and the invocation's
``FunctionRequestId`` as the standard ``externalQuery`` run facet (source ``scf``). What a
function reads and writes is its own code's business: no datasets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_scf_snova.operators.scf import SCFInvokeFunctionOperator

#: ``externalQuery.source`` of an SCF invocation.
SCF_SOURCE = "scf"


def invoke_lineage(op: SCFInvokeFunctionOperator, request_id: str | None) -> OperatorLineage:
    """The function invoked and, once known, the invocation's request id.

    :param op: the operator, its fields rendered.
    :param request_id: the ``FunctionRequestId`` (``None`` before the invoke).
    """
    from airflow.providers.common.compat.openlineage.facet import ExternalQueryRunFacet
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_scf_snova.lineage.facets import SCF_FUNCTION_FACET, SCFFunctionJobFacet

    hook = op.hook
    job = SCFFunctionJobFacet(
        region=hook.region,
        namespace=hook.namespace,
        functionName=op.function_name,
        qualifier=op.qualifier,
        invocationType=op.invocation_type,
    )
    run_facets = {}
    if request_id:
        run_facets["externalQuery"] = ExternalQueryRunFacet(
            externalQueryId=request_id, source=SCF_SOURCE
        )
    return OperatorLineage(job_facets={SCF_FUNCTION_FACET: job}, run_facets=run_facets)


class SCFInvokeLineageMixin:
    """OpenLineage for the invoke operator: notes the ``FunctionRequestId`` of each invoke (and of
    a deferred wait's event) in :attr:`function_request_id`, and reports
    :func:`invoke_lineage`. Imports nothing from OpenLineage until the listener asks.
    """

    #: The ``FunctionRequestId`` of this try's invocation, once SCF returned it.
    function_request_id: str | None = None

    def _send_invoke(self, encoded: str | None) -> tuple[float, dict[str, Any]]:
        invoked_at, result = super()._send_invoke(encoded)  # type: ignore[misc]
        self.function_request_id = result.get("FunctionRequestId")
        return invoked_at, result

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None, **kwargs: Any):
        if event and event.get("function_request_id"):
            self.function_request_id = event["function_request_id"]
        return super().execute_complete(context, event, **kwargs)  # type: ignore[misc]

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        """The function about to be invoked (OpenLineage; ``docs/lineage.md``)."""
        return invoke_lineage(self, None)  # type: ignore[arg-type]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The function invoked and the invocation's request id (OpenLineage;
        ``docs/lineage.md``)."""
        return invoke_lineage(self, self.function_request_id)  # type: ignore[arg-type]
