"""The asynchronous side of the SCF operators: how
:class:`~airflow_scf_snova.operators.scf.SCFInvokeFunctionOperator` waits for an asynchronous
(``Event``) invocation and what its ``on_kill`` can stop, and the asynchronous settings
:class:`~airflow_scf_snova.operators.scf.SCFDeployFunctionOperator` deploys.

SCF tracks two kinds of asynchronous runs differently (:mod:`airflow_scf_snova.hooks.scf_async`):

- an **ordinary function** is followed with ``GetRequestStatus``, from the time it was invoked,
  through SCF's retries: a failed attempt with a retry to come is logged and waited past, so the
  task ends with the outcome of the last attempt. SCF offers no way to stop such a run: ``on_kill``
  says so in the task log, and the run goes on (and is retried if it fails);
- an **async-execution function** (``AsyncRunEnable``) is followed with ``GetAsyncEventStatus``
  and never retried; ``on_kill`` stops its event with ``TerminateAsyncEvent`` (at once, or with
  SIGTERM when ``grace_shutdown``), and the task fails with the event ``ABORTED``.

``on_kill`` acts on the invocation the task is waiting for in the worker; a deferred wait runs in
the triggerer and is not stopped by it.

The deploy operator sets SCF's retries of a failed asynchronous run (``Event`` invokes, COS and
timer triggers): ``async_retries`` more attempts (SCF's default: 2) while the event is younger
than ``async_message_ttl`` seconds (default 21600), with ``UpdateFunctionEventInvokeConfig``
when they differ; ``dead_letter_config`` names a dead-letter queue. ``async_run`` (async
execution: up to 24 h, never retried) and ``trace`` (status tracing of its events) are chosen
at creation.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scf_snova_core.states import RET_CODE_RUNNING, SYNC

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    SCFFunctionExecutionError,
    TencentCloudError,
)

if TYPE_CHECKING:
    from airflow_scf_snova.hooks.scf import SCFHook

#: The statuses of an async-execution function's event (``GetAsyncEventStatus``).
EVENT_RUNNING, EVENT_FINISHED, EVENT_ABORTED = "RUNNING", "FINISHED", "ABORTED"


def check_async_settings(
    retries: int | None, message_ttl: int | None, async_run: bool, trace: bool
) -> None:
    """Refuse asynchronous settings SCF would refuse (before any call).

    :raises InvalidInputError: retries outside 0-2, a TTL that is not a positive number of
        seconds, retry settings for an async-execution function (never retried), or tracing
        without async execution.
    """
    if retries is not None and (isinstance(retries, bool) or retries not in range(3)):
        raise InvalidInputError(f"async_retries must be 0, 1 or 2, got {retries!r}")
    if message_ttl is not None and (
        isinstance(message_ttl, bool) or not isinstance(message_ttl, int) or message_ttl < 1
    ):
        raise InvalidInputError(f"async_message_ttl must be seconds (> 0), got {message_ttl!r}")
    if async_run and (retries is not None or message_ttl is not None):
        raise InvalidInputError(
            "an async-execution function (async_run) is never retried: drop async_retries and "
            "async_message_ttl"
        )
    if trace and not async_run:
        raise InvalidInputError("trace (TraceEnable) needs async_run (AsyncRunEnable)")


class SCFAsyncSettingsMixin:
    """The asynchronous settings of the deploy operator (see the module docstring)."""

    function_name: str
    async_retries: int | None
    async_message_ttl: int | None
    wait_timeout: float
    poll_interval: float
    scf_hook: SCFHook

    def _ensure_async_config(self, changed: bool) -> bool:
        """Set the async retry settings when they differ; returns whether they were sent."""
        if changed:  # sent once the function is Active again
            self.scf_hook.wait_for_function_status(
                self.function_name, timeout=self.wait_timeout, poll_interval=self.poll_interval
            )
        return self.scf_hook.ensure_event_invoke_config(
            self.function_name, self.async_retries, self.async_message_ttl
        )


class SCFAsyncInvocationMixin:
    """The asynchronous part of the invoke operator (see the module docstring).

    The operator provides ``function_name``, ``hook``, ``poll_interval``, ``wait_timeout``,
    ``deferrable``, ``grace_shutdown``, ``log_function_output``, ``hook_kwargs()``, ``defer()``,
    ``_complete_async()`` and ``_log_function_output()``.
    """

    function_name: str
    invocation_type: str
    qualifier: str
    hook: SCFHook
    poll_interval: float
    wait_timeout: float
    deferrable: bool
    grace_shutdown: bool
    log_function_output: bool
    #: ``(request id, async-execution?)`` of the asynchronous invocation being waited for.
    _async_invocation: tuple[str, bool] | None = None
    #: A synchronous invoke is in flight (it cannot be stopped).
    _sync_in_flight: bool = False

    def _send_invoke(self, encoded: str | None) -> tuple[float, dict[str, Any]]:
        """``Invoke`` with the operator's settings; returns when it was sent (epoch seconds)
        and the ``Result``."""
        invoked_at = time.time()
        self._sync_in_flight = self.invocation_type == SYNC
        try:
            return invoked_at, self.hook.invoke(
                self.function_name,
                payload=encoded,
                invocation_type=self.invocation_type,
                qualifier=self.qualifier,
            )
        finally:
            self._sync_in_flight = False

    def _wait_async(self, request_id: str, invoked_at: float) -> Any:
        """Wait for the asynchronous invocation ``request_id`` (invoked at ``invoked_at``, epoch
        seconds) and complete the task with its outcome, here or (``deferrable``) in the
        triggerer."""
        hook = self.hook
        async_run = hook.is_async_run(self.function_name)
        self._async_invocation = (request_id, async_run)
        waits = {
            "timeout": self.wait_timeout,
            "poll_interval": self.poll_interval,
            "max_poll_interval": max(self.poll_interval, 30.0),
        }
        if async_run:
            self.log.info(  # type: ignore[attr-defined]
                "%s runs in async-execution mode: following event %s with GetAsyncEventStatus",
                self.function_name,
                request_id,
            )
            if self.deferrable:
                event = hook.get_async_event_status(request_id)
                if event.get("Status") in (None, EVENT_RUNNING):
                    self._defer_async(request_id, invoked_at, async_run)
            else:
                event = hook.wait_for_async_event(request_id, **waits)
            return self._complete_event(request_id, event, invoked_at)
        if self.deferrable:
            from airflow_scf_snova.hooks.scf_async import RetryFollower

            status = hook.get_request_status(self.function_name, request_id, invoked_at=invoked_at)
            if not RetryFollower(hook, self.function_name).settled(status):
                self._defer_async(request_id, invoked_at, async_run)
        else:
            status = hook.wait_for_invocation(
                self.function_name, request_id, invoked_at=invoked_at, **waits
            )
        return self._complete_async(request_id, status, invoked_at)  # type: ignore[attr-defined]

    def _defer_async(self, request_id: str, invoked_at: float, async_run: bool) -> None:
        from airflow_scf_snova.triggers.scf import SCFInvocationCompleteTrigger

        self.defer(  # type: ignore[attr-defined]
            trigger=SCFInvocationCompleteTrigger(
                function_name=self.function_name,
                function_request_id=request_id,
                poll_interval=self.poll_interval,
                **self.hook_kwargs(),  # type: ignore[attr-defined]
                timeout=self.wait_timeout,
                invoked_at=invoked_at,
                async_run=async_run,
            ),
            method_name="execute_complete",
            kwargs={"invoked_at": invoked_at},
            timeout=timedelta(seconds=self.wait_timeout + 60),
        )

    def _complete_event(
        self, request_id: str, event: dict[str, Any], invoked_at: float | None
    ) -> Any:
        """The task's outcome from the final ``GetAsyncEventStatus`` of an async-execution
        function's event: the return value of a ``FINISHED`` one (when ``GetRequestStatus`` has
        it), a failure for ``FAILED`` and ``ABORTED``."""
        status, code = event.get("Status"), event.get("StatusCode")
        self.log.info(  # type: ignore[attr-defined]
            "SCF async event %s of %s ended %s (status code %s)",
            request_id,
            self.function_name,
            status,
            code,
        )
        if status != EVENT_ABORTED:
            record = self.hook.get_request_status(
                self.function_name, request_id, invoked_at=invoked_at
            )
            if record is not None and record.get("RetCode") != RET_CODE_RUNNING:
                return self._complete_async(request_id, record, invoked_at)  # type: ignore[attr-defined]
        if self.log_function_output:
            self._log_function_output(request_id, None, invoked_at)  # type: ignore[attr-defined]
        if status == EVENT_FINISHED:
            return None
        message = "the async event was terminated (ABORTED)" if status == EVENT_ABORTED else ""
        raise SCFFunctionExecutionError(
            self.function_name, request_id, code, message or f"the async event ended {status}"
        )

    def on_kill(self) -> None:
        """Stop what SCF allows: the running event of an async-execution function. Anything
        else keeps running on SCF, and the task log says so."""
        invocation = self._async_invocation
        if invocation is None:
            if self._sync_in_flight:
                self.log.warning(  # type: ignore[attr-defined]
                    "The synchronous invocation of SCF function %s cannot be stopped: it runs "
                    "on SCF until it ends (at most its Timeout)",
                    self.function_name,
                )
            return
        request_id, async_run = invocation
        if not async_run:
            self.log.warning(  # type: ignore[attr-defined]
                "SCF cannot stop invocation %s of %s: TerminateAsyncEvent serves only "
                "async-execution functions (AsyncRunEnable). The invocation keeps running on "
                "SCF, and SCF retries it if it fails",
                request_id,
                self.function_name,
            )
            return
        try:
            self.hook.terminate_async_event(
                self.function_name, request_id, grace_shutdown=self.grace_shutdown
            )
        except TencentCloudError as err:
            self.log.warning(  # type: ignore[attr-defined]
                "Could not terminate SCF async event %s of %s: %s",
                request_id,
                self.function_name,
                err,
            )
            return
        self.log.info(  # type: ignore[attr-defined]
            "Terminated SCF async event %s of %s%s",
            request_id,
            self.function_name,
            " (SIGTERM sent)" if self.grace_shutdown else "",
        )
