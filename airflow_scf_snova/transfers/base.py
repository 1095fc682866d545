"""The base of the transfers between COS and Snova: two hooks, each named for its side.

:attr:`~COSSnovaTransferOperator.cos_hook` is the operator base's hook (a ``COSHook`` built from
``tencentcloud_conn_id`` and ``region``); :attr:`~COSSnovaTransferOperator.snova_hook` is a
``SnovaHook`` on ``snova_conn_id``, imported on first use because its module loads the PostgreSQL
provider. Transfers use these two names, never the ambiguous ``hook``.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from airflow_scf_snova.hooks.cos import COSHook
from airflow_scf_snova.operators.base import TencentCloudBaseOperator

if TYPE_CHECKING:
    from airflow_scf_snova.hooks.snova import SnovaHook


class COSSnovaTransferOperator(TencentCloudBaseOperator[COSHook]):
    """Moves data between COS and Snova.

    :param snova_conn_id: the ``snova`` connection.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection (COS).
    :param region: overrides the connection's COS region.
    """

    hook_class = COSHook
    ui_color = "#c6e2ff"

    def __init__(self, *, snova_conn_id: str = "snova_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.snova_conn_id = snova_conn_id

    @property
    def cos_hook(self) -> COSHook:
        """The COS side."""
        return self.hook

    @cached_property
    def snova_hook(self) -> SnovaHook:
        """The Snova side."""
        from airflow_scf_snova.hooks.snova import SnovaHook

        return SnovaHook(snova_conn_id=self.snova_conn_id)

    def on_kill(self) -> None:
        """Cancel the running load or export on the server (:meth:`SnovaHook.cancel_work
        <airflow_scf_snova.hooks.snova.SnovaHook.cancel_work>`): without it, a statement the
        server runs on its own (an ``INSERT ... SELECT`` from an external table) would go on
        after the task process ended."""
        hook = self.__dict__.get("snova_hook")  # only a hook that was built can be working
        if hook is None:
            return
        import psycopg2

        try:
            pid = hook.cancel_work()
        except (psycopg2.Error, AirflowException) as err:
            self.log.warning("Could not cancel the running statement on Snova: %s", err)
            return
        if pid is not None:
            self.log.info("Cancelled the running statement on Snova (backend %s)", pid)
