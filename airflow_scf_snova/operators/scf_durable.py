"""Durable SCF tasks: what the invoke and deploy operators record in Airflow's task state store,
and how a later try of the task reattaches to the work an earlier try started.

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

A deploy (:class:`~airflow_scf_snova.operators.scf.SCFDeployFunctionOperator`) records under
:data:`DEPLOY_KEY` what it changed as soon as SCF accepted each change (created, code,
configuration, published version) with the code's hash. A later try converges the function as
before (it waits out a pending change and sends nothing already deployed), and adds what the
earlier try of the same code did: its result reports those changes, a version the earlier try
did not get to publish is published, and the wait for ``Active`` follows.

Each record is deleted once the task has its outcome, so clearing a finished task runs the
function again. The invoke's ``durable=False`` turns its record off. A synchronous invoke
(``RequestResponse``) is not durable: its request id is known only with its result. Without a
task state store (``execute`` called outside a task run) the invoke is not durable and a warning
says so.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import ResumableJobMixin
from scf_snova_core.states import ACTIVE, RET_CODE_RUNNING, RET_CODE_SUCCESS

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import Context

    from airflow_scf_snova.hooks.scf import SCFHook
    from airflow_scf_snova.hooks.scf_functions import FunctionChange

#: The task state store key of the invocation a try started.
INVOCATION_KEY = "scf_invocation"
#: The task state store key of the changes a deploy's try made.
DEPLOY_KEY = "scf_deploy"
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
    #: The invocation's ``FunctionRequestId`` (read by the lineage facets).
    function_request_id: str | None = None

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
        self.function_request_id = request_id  # what lineage reports of a reattached run
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


class SCFDurableDeployMixin:
    """The durable part of the deploy operator (see the module docstring). The operator
    provides ``function_name``, ``publish``, ``description``, ``wait_timeout``,
    ``poll_interval`` and ``scf_hook``."""

    function_name: str
    publish: bool
    description: str | None
    wait_for_completion: bool
    deferrable: bool
    wait_timeout: float
    poll_interval: float
    scf_hook: SCFHook

    def ensure_durably(
        self,
        context: Context,
        code_sha256: str,
        ensure: Callable[[Callable[[FunctionChange], None]], FunctionChange],
    ) -> FunctionChange:
        """Run ``ensure(on_change)`` (the hook's ``ensure_function``), recording each change as
        it is accepted, and add what an earlier try of the same code recorded."""
        from dataclasses import replace

        store = context.get("task_state_store")
        earlier = self._earlier_change(store.get(DEPLOY_KEY) if store else None, code_sha256)
        namespace = self.scf_hook.namespace

        def record(change: FunctionChange) -> None:
            if store is not None:
                done = _merged(earlier, change) if earlier else change
                store.set(
                    DEPLOY_KEY, _deploy_record(self.function_name, namespace, code_sha256, done)
                )

        change = ensure(record)
        if earlier is None:
            return change
        change = _merged(earlier, change)
        if self.publish and change.changed and change.version is None:
            self.scf_hook.wait_for_function_status(
                self.function_name, timeout=self.wait_timeout, poll_interval=self.poll_interval
            )
            version = self.scf_hook.publish_version(self.function_name, self.description or None)
            change = replace(change, version=version.get("FunctionVersion"))
            record(change)
            self.log.info(  # type: ignore[attr-defined]
                "Published version %s of SCF function %s", change.version, self.function_name
            )
        return change

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        """Wait (in the worker, or deferred) until a changed function is ``Active``."""
        status = self.scf_hook.get_function_status(self.function_name)
        if status == ACTIVE or not self.wait_for_completion:
            result["status"] = status
            return result
        if self.deferrable:
            from airflow_scf_snova.triggers.scf import SCFFunctionStateTrigger

            self.defer(  # type: ignore[attr-defined]
                trigger=SCFFunctionStateTrigger(
                    function_name=self.function_name,
                    target_states=(ACTIVE,),
                    **self.hook_kwargs(),  # type: ignore[attr-defined]
                    poll_interval=self.poll_interval,
                    timeout=self.wait_timeout,
                ),
                method_name="execute_complete",
                kwargs={"result": result},
                timeout=timedelta(seconds=self.wait_timeout + 60),
            )
        function = self.scf_hook.wait_for_function_status(
            self.function_name,
            (ACTIVE,),
            timeout=self.wait_timeout,
            poll_interval=self.poll_interval,
        )
        result["status"] = function["Status"]
        return result

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Resume after the status trigger fired."""
        from airflow_scf_snova.triggers.scf import raise_for_state_event

        result = dict(result or {})
        result["status"] = raise_for_state_event(self.function_name, event)
        return forget_deploy(context, result)

    def _earlier_change(self, stored: Any, code_sha256: str) -> FunctionChange | None:
        from airflow_scf_snova.hooks.scf_functions import FunctionChange

        if not isinstance(stored, dict) or (
            stored.get("function_name"),
            stored.get("namespace"),
            stored.get("code_sha256"),
        ) != (self.function_name, self.scf_hook.namespace, code_sha256):
            return None
        earlier = FunctionChange(
            created=bool(stored.get("created")),
            code_updated=bool(stored.get("code_updated")),
            configuration_updated=bool(stored.get("configuration_updated")),
            version=stored.get("version"),
        )
        self.log.info(  # type: ignore[attr-defined]
            "Resuming the deploy of SCF function %s an earlier try started: %s",
            self.function_name,
            earlier,
        )
        return earlier


def _merged(earlier: FunctionChange, change: FunctionChange) -> FunctionChange:
    """What two tries did together (the later one's status)."""
    from dataclasses import replace

    merged = replace(
        change,
        created=earlier.created or change.created,
        code_updated=earlier.code_updated or change.code_updated,
        configuration_updated=earlier.configuration_updated or change.configuration_updated,
        version=change.version or earlier.version,
    )
    return replace(merged, status=None) if merged.changed else merged


def _deploy_record(
    function_name: str, namespace: str, code_sha256: str, change: FunctionChange
) -> dict[str, Any]:
    return {
        "function_name": function_name,
        "namespace": namespace,
        "code_sha256": code_sha256,
        "created": change.created,
        "code_updated": change.code_updated,
        "configuration_updated": change.configuration_updated,
        "version": change.version,
    }


def forget_deploy(context: Context, result: dict[str, Any]) -> dict[str, Any]:
    """Delete the recorded deploy (the task has its outcome); returns ``result``."""
    store = context.get("task_state_store")
    if store is not None:
        store.delete(DEPLOY_KEY)
    return result
