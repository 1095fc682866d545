"""The provider's custom OpenLineage facets.

Imports the OpenLineage client: only the lineage builders import this module, at run time.
Each facet's ``_schemaURL`` is the base facet it extends in the OpenLineage spec; its fields are
listed in ``docs/lineage.md``.
"""

from __future__ import annotations

import attr
from openlineage.client.generated.base import JobFacet, RunFacet

#: The key of :class:`SnovaLoadRunFacet` in a run's facets.
SNOVA_LOAD_FACET = "tencentCloudSnovaLoad"
#: The key of :class:`SCFFunctionJobFacet` in a job's facets.
SCF_FUNCTION_FACET = "tencentCloudScfFunction"


@attr.define
class SnovaLoadRunFacet(RunFacet):
    """What a COS-to-Snova load did: its mode and method, and per object the rows loaded and the
    malformed rows rejected under ``reject_limit``.

    :param mode: ``append``, ``replace`` or ``upsert``.
    :param method: ``auto``, ``copy`` or ``external_table`` (as asked).
    :param objectsLoaded: objects loaded by this run.
    :param objectsSkipped: objects skipped because the ledger already held them.
    :param rowsLoaded: rows this run loaded.
    :param rejectedRows: malformed rows this run rejected.
    :param objects: per object: ``bucket``, ``key``, ``etag``, ``status``, ``rows``,
        ``rejected``.
    """

    mode: str
    method: str
    objectsLoaded: int
    objectsSkipped: int
    rowsLoaded: int
    rejectedRows: int
    objects: list[dict] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet"


@attr.define
class SCFFunctionJobFacet(JobFacet):
    """The SCF function a task invokes.

    :param region: the region, e.g. ``ap-guangzhou``.
    :param namespace: the SCF namespace.
    :param functionName: the function.
    :param qualifier: ``$LATEST``, a version or an alias.
    :param invocationType: ``RequestResponse`` or ``Event``.
    """

    region: str | None
    namespace: str | None
    functionName: str
    qualifier: str | None = None
    invocationType: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobFacet"
