"""Triggers that wait on SCF in the triggerer: a function status, and an async invocation.

Both poll through the synchronous :class:`~airflow_scf_snova.hooks.scf.SCFHook` in a worker
thread (``asyncio.to_thread``; the SDK's async client needs the ``httpx`` extra, which is not a
dependency). Each yields exactly one event::

    {"status": "success" | "error", "message": str, "function_name": str, "namespace": str, ...}

API failures and deadlines become ``"error"`` events (the operator's ``execute_complete`` raises),
so a trigger never dies with an exception the task cannot explain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent
from scf_snova_core.states import ACTIVE, FAILED_STATES, RET_CODE_SUCCESS

from airflow_scf_snova.exceptions import (
    ResourceNotFoundError,
    SCFFunctionStateError,
    SCFWaitTimeoutError,
    TencentCloudError,
)
from airflow_scf_snova.hooks.base import TencentCloudBaseHook
from airflow_scf_snova.hooks.scf_async import EVENT_FINISHED, EVENT_RUNNING, RetryFollower
from airflow_scf_snova.hooks.scf_functions import status_reasons

if TYPE_CHECKING:
    from airflow_scf_snova.hooks.scf import SCFHook

DEFAULT_CONN_ID = TencentCloudBaseHook.default_conn_name


def raise_for_state_event(function_name: str, event: dict[str, Any] | None) -> str:
    """The function's status from a :class:`SCFFunctionStateTrigger` success event; any other
    event raises what it reports.

    :raises SCFFunctionStateError: the function reached a ``*Failed`` status (with its reasons).
    :raises SCFWaitTimeoutError: the trigger's deadline passed.
    :raises TencentCloudError: the wait itself failed (an API error), or there was no event.
    """
    if not event:
        raise AirflowException(f"SCF function {function_name!r}: the trigger sent no event")
    if event.get("status") == "success":
        return event["function_status"]
    status = event.get("function_status")
    if status and status.endswith("Failed"):
        reasons = [(str(code), str(message)) for code, message in event.get("status_reasons") or []]
        raise SCFFunctionStateError(function_name, status, reasons)
    if event.get("timed_out"):
        raise SCFWaitTimeoutError(event.get("message", "timed out"))
    raise TencentCloudError(
        event.get("message", f"waiting for SCF function {function_name!r} failed")
    )


class _SCFTrigger(BaseTrigger):
    """Shared arguments, serialisation and the hook of the SCF triggers.

    :param function_name: the function.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    :param poll_interval: seconds between two polls.
    :param timeout: seconds after which the trigger gives up with an ``error`` event.
    """

    def __init__(
        self,
        function_name: str,
        namespace: str | None = None,
        tencentcloud_conn_id: str = DEFAULT_CONN_ID,
        region: str | None = None,
        poll_interval: float = 5.0,
        timeout: float = 3600.0,
    ) -> None:
        super().__init__()
        self.function_name = function_name
        self.namespace = namespace
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self.region = region
        self.poll_interval = poll_interval
        self.timeout = timeout

    def _kwargs(self) -> dict[str, Any]:
        return {
            "function_name": self.function_name,
            "namespace": self.namespace,
            "tencentcloud_conn_id": self.tencentcloud_conn_id,
            "region": self.region,
            "poll_interval": self.poll_interval,
            "timeout": self.timeout,
        }

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", self._kwargs()

    @cached_property
    def hook(self) -> SCFHook:
        from airflow_scf_snova.hooks.scf import SCFHook

        return SCFHook(
            tencentcloud_conn_id=self.tencentcloud_conn_id,
            region=self.region,
            namespace=self.namespace,
        )

    def _event(self, status: str, message: str, **fields: Any) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "message": message,
                "function_name": self.function_name,
                "namespace": self.namespace,
                **fields,
            }
        )


class SCFFunctionStateTrigger(_SCFTrigger):
    """Wait until a function's ``Status`` is one of ``target_states``.

    Success event: ``{"status": "success", "function_status": "Active", ...}``. Error events: a
    ``*Failed`` status (with ``status_reasons``), an API error, or the deadline. A function that
    does not exist (yet) is waited for like any other non-target status.

    :param target_states: the statuses to wait for.
    """

    def __init__(
        self,
        function_name: str,
        target_states: Sequence[str] = (ACTIVE,),
        namespace: str | None = None,
        tencentcloud_conn_id: str = DEFAULT_CONN_ID,
        region: str | None = None,
        poll_interval: float = 5.0,
        timeout: float = 3600.0,
    ) -> None:
        super().__init__(
            function_name, namespace, tencentcloud_conn_id, region, poll_interval, timeout
        )
        self.target_states = list(target_states)

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "target_states": self.target_states}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = time.monotonic() + self.timeout
        status = None
        while True:
            try:
                function = await asyncio.to_thread(
                    self.hook.get_function, self.function_name, self.namespace
                )
                status = function.get("Status")
            except ResourceNotFoundError:
                function, status = {}, None
            except TencentCloudError as err:
                yield self._event("error", f"polling SCF function status failed: {err}")
                return
            if status in self.target_states:
                yield self._event(
                    "success",
                    f"SCF function {self.function_name!r} is {status}",
                    function_status=status,
                )
                return
            if status in FAILED_STATES:
                reasons = [list(reason) for reason in status_reasons(function)]
                yield self._event(
                    "error",
                    f"SCF function {self.function_name!r} is {status}",
                    function_status=status,
                    status_reasons=reasons,
                )
                return
            if time.monotonic() >= deadline:
                yield self._event(
                    "error",
                    f"SCF function {self.function_name!r} did not become "
                    f"{'/'.join(self.target_states)} within {self.timeout:g} s "
                    f"(last status: {status or 'not found'})",
                    function_status=status,
                    timed_out=True,
                )
                return
            self.log.info(
                "SCF function %s is %s; waiting for %s",
                self.function_name,
                status or "not found",
                "/".join(self.target_states),
            )
            await asyncio.sleep(self.poll_interval)


class SCFInvocationCompleteTrigger(_SCFTrigger):
    """Wait until an async (``Event``) invocation is over.

    An ordinary function's invocation is followed with ``GetRequestStatus`` (from a minute before
    ``invoked_at``) through SCF's retries: it is over when an attempt succeeds or the last retry
    fails. The event carries the outcome of the last attempt: ``function_request_id``, ``ret_code``
    (0 success, -1 failed), ``ret_msg``, ``retry_num`` and ``duration`` (ms); ``status`` is
    ``success`` only when ``ret_code`` is 0.

    An async-execution function's event (``async_run``) is followed with ``GetAsyncEventStatus``
    until it is no longer ``RUNNING``; the event carries ``event_status`` (``FINISHED``,
    ``ABORTED``, ``FAILED``), ``status_code`` and ``invoked_at``.

    An API error or the deadline gives an ``error`` event without ``ret_code``/``event_status``.

    :param function_request_id: the ``FunctionRequestId`` the async invoke returned.
    :param invoked_at: when the invoke was sent (epoch seconds; ``GetRequestStatus`` searches
        from a minute before); ``None`` searches the last day.
    :param async_run: the function runs in async-execution mode.
    """

    def __init__(
        self,
        function_name: str,
        function_request_id: str,
        namespace: str | None = None,
        tencentcloud_conn_id: str = DEFAULT_CONN_ID,
        region: str | None = None,
        poll_interval: float = 5.0,
        timeout: float = 3600.0,
        invoked_at: float | None = None,
        async_run: bool = False,
    ) -> None:
        super().__init__(
            function_name, namespace, tencentcloud_conn_id, region, poll_interval, timeout
        )
        self.function_request_id = function_request_id
        self.invoked_at = invoked_at
        self.async_run = async_run

    def _kwargs(self) -> dict[str, Any]:
        return {
            **super()._kwargs(),
            "function_request_id": self.function_request_id,
            "invoked_at": self.invoked_at,
            "async_run": self.async_run,
        }

    def _poll(self, follower: RetryFollower) -> dict[str, Any] | None:
        """The final status, or ``None`` while the invocation is not over (runs in a thread)."""
        if self.async_run:
            status = self.hook.get_async_event_status(self.function_request_id)
            return None if status.get("Status") in (None, EVENT_RUNNING) else status
        record = self.hook.get_request_status(
            self.function_name, self.function_request_id, self.namespace, self.invoked_at
        )
        return record if follower.settled(record) else None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = time.monotonic() + self.timeout
        follower = RetryFollower(self.hook, self.function_name, self.namespace)
        while True:
            try:
                record = await asyncio.to_thread(self._poll, follower)
            except TencentCloudError as err:
                yield self._event(
                    "error",
                    f"polling SCF invocation {self.function_request_id} failed: {err}",
                    function_request_id=self.function_request_id,
                )
                return
            if record is not None and self.async_run:
                status = record.get("Status")
                yield self._event(
                    "success" if status == EVENT_FINISHED else "error",
                    f"SCF async event {self.function_request_id} of {self.function_name!r} "
                    f"ended {status}",
                    function_request_id=self.function_request_id,
                    event_status=status,
                    status_code=record.get("StatusCode"),
                    invoked_at=self.invoked_at,
                )
                return
            if record is not None:
                ret_code = record.get("RetCode")
                succeeded = ret_code == RET_CODE_SUCCESS
                finished = "succeeded" if succeeded else "failed"
                yield self._event(
                    "success" if succeeded else "error",
                    f"SCF invocation {self.function_request_id} of {self.function_name!r} "
                    f"{finished}",
                    function_request_id=self.function_request_id,
                    ret_code=ret_code,
                    ret_msg=record.get("RetMsg") or "",
                    retry_num=record.get("RetryNum") or 0,
                    duration=record.get("Duration"),
                )
                return
            if time.monotonic() >= deadline:
                yield self._event(
                    "error",
                    f"SCF invocation {self.function_request_id} of {self.function_name!r} did "
                    f"not finish within {self.timeout:g} s",
                    function_request_id=self.function_request_id,
                    timed_out=True,
                )
                return
            await asyncio.sleep(self.poll_interval)
