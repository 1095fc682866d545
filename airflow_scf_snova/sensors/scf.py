"""Wait for an SCF function to reach a status (``Active`` by default)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException
from scf_snova_core.states import ACTIVE, FAILED_STATES

from airflow_scf_snova.exceptions import ResourceNotFoundError, SCFFunctionStateError
from airflow_scf_snova.hooks.scf import SCFHook
from airflow_scf_snova.hooks.scf_functions import status_reasons
from airflow_scf_snova.operators.base import default_deferrable
from airflow_scf_snova.operators.scf import (
    SCF_UI_COLOR,
    SCF_UI_FGCOLOR,
    SCFBaseOperator,
    scf_template_fields,
)
from airflow_scf_snova.sensors.base import TencentCloudBaseSensor

if TYPE_CHECKING:
    from airflow.sdk import Context


class SCFFunctionStateSensor(TencentCloudBaseSensor[SCFHook], SCFBaseOperator):
    """Wait until a function's ``Status`` is one of ``target_states``; fail on a ``*Failed``
    status (``CreateFailed``, ``UpdateFailed``, ``PublishFailed``, ``DeleteFailed``) that is not
    a target. A function that does not exist yet is waited for.

    .. seealso:: ``docs/scf.md`` ("Wait for a function")

    :param function_name: the function.
    :param target_states: the statuses to wait for.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param deferrable: wait in the triggerer (poked once first), polling every
        ``poke_interval`` seconds.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    #: Statuses that fail the sensor unless they are among ``target_states``.
    FAILURE_STATES = FAILED_STATES

    template_fields: Sequence[str] = scf_template_fields("target_states")
    ui_color = SCF_UI_COLOR
    ui_fgcolor = SCF_UI_FGCOLOR

    def __init__(
        self,
        *,
        target_states: Sequence[str] = (ACTIVE,),
        deferrable: bool = default_deferrable(),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target_states = target_states
        self.deferrable = deferrable

    def _targets(self) -> list[str]:
        if isinstance(self.target_states, str):
            return [self.target_states]
        return list(self.target_states)

    def poke(self, context: Context) -> bool:
        try:
            function = self.hook.get_function(self.function_name)
        except ResourceNotFoundError:
            self.log.info("SCF function %s does not exist (yet)", self.function_name)
            return False
        status = function.get("Status")
        self.log.info("SCF function %s is %s", self.function_name, status)
        if status in self._targets():
            return True
        if status in self.FAILURE_STATES:
            raise SCFFunctionStateError(self.function_name, status, status_reasons(function))
        return False

    def execute(self, context: Context) -> None:
        if not self.deferrable:
            super().execute(context)
            return
        if self.poke(context):
            return
        from airflow_scf_snova.triggers.scf import SCFFunctionStateTrigger

        self.defer(
            trigger=SCFFunctionStateTrigger(
                function_name=self.function_name,
                target_states=self._targets(),
                **self.hook_kwargs(),
                poll_interval=self.poke_interval,
                timeout=self.timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the status trigger fired."""
        from airflow_scf_snova.triggers.scf import raise_for_state_event

        if event and event.get("timed_out"):
            message = event.get("message", "timed out")
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        raise_for_state_event(self.function_name, event)
