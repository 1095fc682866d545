"""Durable asynchronous invokes: what
:class:`~airflow_scf_snova.operators.scf.SCFInvokeFunctionOperator` records in Airflow's task
state store, and how a later try of the task reattaches to it.

An ``Event`` invoke that waits for its run (``wait_for_completion``) stores, as soon as SCF has
accepted it, the invocation under the key :data:`INVOCATION_KEY` of the task state store
(``context["task_state_store"]``, scoped to the DAG run, task and map index, so every try of
the task instance sees it):

``{"function_name", "namespace", "qualifier", "request_id", "invoked_at"}``

A later try (after the worker died, or the wait timed out) reads it back before invoking, with
Airflow's :class:`~airflow.sdk.ResumableJobMixin`:

- the run is still going (a running event, a running attempt, or a failed attempt SCF retries):
  the try waits for that run, in the worker or in the triggerer, and invokes nothing;
- the run succeeded: the try ends with its result, and invokes nothing;
- the run failed for good, or the record names another function or namespace: the try invokes
  afresh (and records the new invocation).

The record is deleted once the task has its outcome, so clearing a finished task runs the
function again. ``durable=False`` turns all of this off. A synchronous invoke
(``RequestResponse``) is not durable: its request id is known only with its result. Without a
task state store (``execute`` called outside a task run) the invoke is not durable and a warning
says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import ResumableJobMixin
from scf_snova_core.states import RET_CODE_RUNNING, RET_CODE_SUCCESS

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_scf_snova.hooks.scf import SCFHook

#: The task state store key of the invocation a try started.
INVOCATION_KEY = "scf_invocation"
#: What :meth:`SCFDurableInvocationMixin.get_job_status` answers.
RUNNING, SUCCEEDED, FAILED, OTHER = "RUNNING", "SUCCEEDED", "FAILED", "OTHER"
_EVENT_STATES = {None: RUNNING, "RUNNING": RUNNING, "FINISHED": SUCCEEDED}


class SCFDurableInvocationMixin(ResumableJobMixin):
    """The durable part of the invoke operator (see the module docstring).

    The operator provides ``function_name``, ``qualifier``, ``hook``, ``_send_invoke()``,
    ``_wait_async()``, ``_complete_async()`` and ``_complete_event()``.

    :param durable: record the invocation in the task state store and reattach to it on a later
        try (default ``True``).
    """

    external_id_key = INVOCATION_KEY
    function_name: str
    qualifier: str
    hook: SCFHook
    #: The encoded payload of the invocation to send.
    _encoded: str | None = None
    #: ``(request id, async-execution?, final status)`` read by :meth:`get_job_status`.
    _seen: tuple[str, bool, dict[str, Any] | None] | None = None
    #: ``(request id, outcome)`` once :meth:`poll_until_complete` has the task's outcome.
    _outcome: tuple[str, Any] | None = None

    def execute_durable(self, context: Context, encoded: str | None) -> Any:
        """Invoke (or reattach to the invocation an earlier try recorded) and wait for the run;
        returns the task's outcome and forgets the record."""
        self._encoded = encoded
        outcome = self.execute_resumable(context)
        forget_invocation(context)
        return outcome

    # -- ResumableJobMixin ---------------------------------------------------------------------
    def submit_job(self, context: Context) -> dict[str, Any] | None:
        invoked_at, result = self._send_invoke(self._encoded)  # type: ignore[attr-defined]
        request_id = result.get("FunctionRequestId")
        self.log.info("Async invocation accepted: FunctionRequestId %s", request_id)  # type: ignore[attr-defined]
        if not request_id:
            return None
        return {
            "function_name": self.function_name,
            "namespace": self.hook.namespace,
            "qualifier": self.qualifier,
            "request_id": request_id,
            "invoked_at": invoked_at,
        }

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """``RUNNING``, ``SUCCEEDED`` or ``FAILED`` for the recorded invocation; ``OTHER`` when
        the record is not one of this task's function."""
        if not isinstance(external_id, dict) or (
            external_id.get("function_name"),
            external_id.get("namespace"),
        ) != (self.function_name, self.hook.namespace):
            return OTHER
        request_id, invoked_at = external_id["request_id"], external_id.get("invoked_at")
        hook = self.hook
        if hook.is_async_run(self.function_name):
            event = hook.get_async_event_status(request_id)
            self._seen = (request_id, True, event)
            return _EVENT_STATES.get(event.get("Status"), FAILED)
        record = hook.get_request_status(self.function_name, request_id, invoked_at=invoked_at)
        self._seen = (request_id, False, record)
        if record is None or record.get("RetCode") == RET_CODE_RUNNING:
            return RUNNING  # accepted, not started yet, or running
        if record.get("RetCode") == RET_CODE_SUCCESS:
            return SUCCEEDED
        from airflow_scf_snova.hooks.scf_async import RetryFollower

        return FAILED if RetryFollower(hook, self.function_name).settled(record) else RUNNING

    def is_job_active(self, status: str) -> bool:
        return status == RUNNING

    def is_job_succeeded(self, status: str) -> bool:
        return status == SUCCEEDED

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        """Wait for the run (in the worker, or in the triggerer when ``deferrable``); returns
        the task's outcome."""
        request_id = external_id["request_id"]
        outcome = self._wait_async(request_id, external_id.get("invoked_at"))  # type: ignore[attr-defined]
        self._outcome = (request_id, outcome)
        return outcome

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        request_id, invoked_at = external_id["request_id"], external_id.get("invoked_at")
        if self._outcome is not None and self._outcome[0] == request_id:
            return self._outcome[1]
        seen = self._seen  # a run that had succeeded before this try
        if seen is None or seen[0] != request_id:
            self.get_job_status(external_id, context)
            seen = self._seen
        _, async_run, status = seen  # type: ignore[misc]
        if async_run:
            return self._complete_event(request_id, status or {}, invoked_at)  # type: ignore[attr-defined]
        return self._complete_async(request_id, status or {}, invoked_at)  # type: ignore[attr-defined]


def forget_invocation(context: Context) -> None:
    """Delete the recorded invocation (the task has its outcome)."""
    store = context.get("task_state_store")
    if store is not None:
        store.delete(INVOCATION_KEY)
