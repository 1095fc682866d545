"""The base of every sensor that waits on Tencent Cloud.

:class:`TencentCloudBaseSensor` is a ``BaseSensorOperator`` whose next base is
:class:`~airflow_scf_snova.operators.base.TencentCloudBaseOperator`, so the connection arguments,
their template fields and the lazily built ``hook`` are declared once for operators and sensors
alike (and ``default_args`` reach them, as for any operator argument).
"""

from __future__ import annotations

from airflow.sdk import BaseSensorOperator

from airflow_scf_snova.operators.base import TencentCloudBaseOperator, TencentCloudHookT


class TencentCloudBaseSensor(BaseSensorOperator, TencentCloudBaseOperator[TencentCloudHookT]):
    """A sensor acting through one Tencent Cloud hook; see
    :class:`~airflow_scf_snova.operators.base.TencentCloudBaseOperator`.

    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """
