"""The COS-to-asset bridge: an SCF function that posts each new COS object as an Airflow asset
event (``function/index.py``), deployed by
:class:`~airflow_scf_snova.operators.scf_bridge.SCFDeployCOSAssetBridgeOperator`.

.. seealso:: ``docs/push.md``
"""

from __future__ import annotations

from pathlib import Path

#: The function's code directory (shipped in the provider's wheel as package data).
FUNCTION_DIR = Path(__file__).parent / "function"
#: The function's handler.
HANDLER = "index.main_handler"
#: The ``extra["source"]`` of the events it posts.
SOURCE = "scf-cos-asset-bridge"
