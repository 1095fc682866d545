"""OpenLineage for the provider's operators: dataset names, custom facets and the lineage each
operator reports.

Operators call into this package from their ``get_openlineage_facets_on_*`` methods only, so a
DAG file never imports OpenLineage; the package is used when
``apache-airflow-providers-openlineage`` is installed (the ``openlineage`` extra) and its listener
is enabled.

==========  ====================================================================================
``naming``  dataset namespaces and names (no OpenLineage import)
``facets``  the provider's custom facets (``tencentCloudSnovaLoad``, ``tencentCloudScfFunction``)
``cos``     the COS operators' lineage
``snova``   the transfers' lineage (COS to Snova, Snova to COS)
``scf``     SCF invoke's lineage
==========  ====================================================================================

.. seealso:: ``docs/lineage.md``.
"""
