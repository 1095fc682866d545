"""The Snova engine: COS-to-Snova loads, Snova-to-COS exports and least-privilege roles.

:class:`~airflow_scf_snova.hooks.snova.SnovaHook` is the entry point (``load_objects``,
``export_query``, ``ensure_role``); the transfers and operators only map their arguments to it.

=============  ================================================================================
``spec``       what a load or an export is asked to do (:class:`~.spec.LoadSpec`,
               :class:`~.spec.ExportSpec`), validated once; light enough for DAG parsing
``objects``    which object versions a load reads (prefix listing, or keys HEADed now)
``loader``     the transactions of a load, per mode, around the ledger
``sources``    how one object's rows get in: ``COPY`` streamed from COS, or a ``cos_ext``
               external table
``streams``    constant-memory byte streams between COS and ``COPY``
``export``     ``COPY ... TO STDOUT`` into a multipart upload, or a writable external table
``roles``      the grants a load or a query needs
=============  ================================================================================

What the SCF import function shares with this engine lives in the pure core,
:mod:`scf_snova_core`: the ledger protocol (``ledger``), modes, methods and the load result
(``loads``), file formats (``formats``), ``cos_ext`` DDL (``cos_ext``) and SQL quoting,
catalog reads and error redaction (``sql``).
"""
