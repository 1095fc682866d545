"""Wait for an SCF function to reach a status (``Active`` by default)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, conf
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_scf_snova.exceptions import ResourceNotFoundError, SCFFunctionStateError
from airflow_scf_snova.operators.scf import (
    SCF_UI_COLOR,
    SCF_UI_FGCOLOR,
    _raise_for_status_event,
    _SCFOperatorMixin,
    scf_template_fields,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Statuses that fail the sensor unless they are among ``target_states``.
FAILURE_STATES = ("CreateFailed", "UpdateFailed", "PublishFailed", "DeleteFailed")


class SCFFunctionStateSensor(_SCFOperatorMixin, BaseSensorOperator):
    """Wait until a function's ``Status`` is one of ``target_states``; fail on a ``*Failed``
    status (``CreateFailed``, ``UpdateFailed``, ``PublishFailed``, ``DeleteFailed``) that is not
    a target. A function that does not exist yet is waited for.

    .. seealso:: ``docs/scf.md`` ("Wait for a function")

    :param function_name: the function.
    :param target_states: the statuses to wait for.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param deferrable: wait in the triggerer (poked once first).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields("target_states")
    ui_color = SCF_UI_COLOR
    ui_fgcolor = SCF_UI_FGCOLOR

    def __init__(
        self,
        *,
        function_name: str,
        target_states: Sequence[str] = ("Active",),
        namespace: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        tencentcloud_conn_id: str = "tencentcloud_default",
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.function_name = function_name
        self.target_states = target_states
        self.namespace = namespace
        self.deferrable = deferrable
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self.region = region

    def poke(self, context: Context) -> bool:
        targets = (
            [self.target_states] if isinstance(self.target_states, str) else self.target_states
        )
        try:
            function = self.scf_hook.get_function(self.function_name)
        except ResourceNotFoundError:
            self.log.info("SCF function %s does not exist (yet)", self.function_name)
            return False
        status = function.get("Status")
        self.log.info("SCF function %s is %s", self.function_name, status)
        if status in targets:
            return True
        if status in FAILURE_STATES:
            from airflow_scf_snova.hooks.scf import status_reasons

            raise SCFFunctionStateError(self.function_name, status, status_reasons(function))
        return False

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            super().execute(context)
            return
        if self.poke(context):
            return
        from airflow_scf_snova.triggers.scf import SCFFunctionStateTrigger

        targets = (
            [self.target_states] if isinstance(self.target_states, str) else self.target_states
        )
        self.defer(
            trigger=SCFFunctionStateTrigger(
                function_name=self.function_name,
                target_states=list(targets),
                namespace=self.namespace,
                tencentcloud_conn_id=self.tencentcloud_conn_id,
                region=self.region,
                poll_interval=self.poke_interval,
                timeout=self.timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the status trigger fired."""
        if event and event.get("timed_out"):
            message = event.get("message", "timed out")
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        _raise_for_status_event(self.function_name, event)
