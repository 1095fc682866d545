"""SCF extra ``invoker``: build the SCF context and environment, run the function (:mod:`.runtime`),
record the outcome (:mod:`.invocations`) and ship its log lines to CLS (:mod:`.logship`).

Synchronous invocations run in a thread of their own that the calling (HTTP) thread waits for, at
most :attr:`Invoker.sync_timeout` seconds: "接口超时时间为 300s，更长超时时间请使用异步调用"
(*the call times out after 300 s; use an async invoke for longer*;
``InvokeRequest.InvocationType``, SDK 3.1.100). Past it the call fails with
``FailedOperation.InvokeFunction`` (SCF documents no code: a stricter assumption) while the run
goes on and is recorded. A sync run's return value may be at most 6 MB; a larger one fails the
run with status 407, "The size of response exceeds the upper limit (6MB)"
(https://cloud.tencent.com/document/product/583/42611). Asynchronous ones (``Event`` invokes,
timers, COS triggers) run in a bounded thread pool.

Every invocation of an async-execution function is asynchronous (SCF answers it at once with the
request id). When an asynchronous attempt ends, :attr:`Invoker.on_async_attempt` decides on its
retry (:mod:`.retries`); :meth:`Invoker.retry` runs it. :meth:`Invoker.terminate` stops a running
event (``TerminateAsyncEvent``): the attempt then ends with status 439, "User process exit when
running", unless the function handled the SIGTERM of a graceful stop and returned.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from scf_snova_core.limits import LOG_TAIL_BYTES, SYNC_INVOKE_MAX_SECONDS, SYNC_RESPONSE_LIMIT
from scf_snova_core.states import ASYNC, DEFAULT_ALIAS, LATEST, SYNC

from ..config import EmulatorConfig
from .exceptions import FailedOperation
from .invocations import InvocationHistory
from .logship import PLATFORM, LogShipper, join_lines, log_lines
from .models import Function, FunctionConfig, Invocation
from .runtime import PythonRuntime, RunRequest, error_json
from .storage import ScfStorage

log = logging.getLogger(__name__)

#: The account UIN functions see (``context["tencentcloud_uin"]``, ``TENCENTCLOUD_UIN``).
UIN = "100000000001"
#: Concurrent asynchronous invocations.
ASYNC_WORKERS = 4
#: The status of an execution stopped by ``TerminateAsyncEvent`` (583/63969).
TERMINATED_STATUS = 439
TERMINATED_MESSAGE = "User process exit when running"


#: A sync return value above :data:`SYNC_RESPONSE_LIMIT` fails the run with this status.
RESPONSE_TOO_LARGE = (407, "The size of response exceeds the upper limit (6MB)")


def format_log(
    request_id: str, output: str, duration_ms: float, memory_size: int, mem_usage: int
) -> str:
    """The log in SCF's ``START ... END ... Report`` layout."""
    return join_lines(log_lines(request_id, output, duration_ms, memory_size, mem_usage))


def log_tail(text: str, limit: int = LOG_TAIL_BYTES) -> str:
    """The last ``limit`` bytes of a log (what ``LogType=Tail`` returns)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", errors="ignore")


class Invoker:
    """Runs functions and records every invocation in the history.

    :param config: the emulator's settings (region, appid).
    :param storage: code packages and scratch directories.
    :param history: where invocations are recorded.
    :param runtime: what runs the code.
    :param shipper: where the log lines of every run go (CLS).
    :ivar sync_timeout: seconds a sync invoke waits for its run (SCF: 300).
    """

    def __init__(
        self,
        config: EmulatorConfig,
        storage: ScfStorage,
        history: InvocationHistory,
        runtime: PythonRuntime | None = None,
        workers: int = ASYNC_WORKERS,
        shipper: LogShipper | None = None,
    ) -> None:
        self._config = config
        self._storage = storage
        self._history = history
        self._shipper = shipper or LogShipper()
        self.sync_timeout: float = SYNC_INVOKE_MAX_SECONDS
        self._runtime = runtime or PythonRuntime()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scf-async")
        self._closed = False
        #: Called under the history's lock when an asynchronous attempt ended (set by
        #: :class:`~.retries.AsyncRetries`); may schedule its retry.
        self.on_async_attempt: Callable[[Invocation], None] | None = None

    def runtime_problem(self, runtime: str) -> str | None:
        """Why functions of this Python runtime cannot run (no interpreter), or ``None``."""
        return self._runtime.interpreters.problem(runtime)

    def invoke(
        self,
        function: Function,
        config: FunctionConfig,
        qualifier: str,
        event: object,
        trigger: str = "api",
        sync: bool = True,
    ) -> Invocation:
        """Run ``function`` with ``event``.

        :param qualifier: as requested; ``$DEFAULT`` runs ``$LATEST``.
        :param trigger: ``api``, ``timer`` or ``cos`` (recorded).
        :param sync: wait for the result; otherwise return the running record at once (always,
            for an async-execution function).
        """
        label = LATEST if qualifier in (DEFAULT_ALIAS, "", None) else qualifier
        sync = sync and not function.async_run
        now = time.time()
        record = Invocation(
            request_id=str(uuid.uuid4()),
            namespace=function.namespace,
            function_name=function.name,
            qualifier=label,
            trigger=trigger,
            invocation_type=SYNC if sync else ASYNC,
            event=event,
            start_time=now,
            queued_at=now,
            async_run=function.async_run,
        )
        self._history.add(record)
        self._shipper.started(record)
        if sync:
            return self._run_sync(record, function, config)
        self._submit(record, function, config)
        return Invocation.from_dict(record.to_dict())

    def retry(self, previous: Invocation, function: Function, config: FunctionConfig) -> None:
        """Run the next attempt of the failed asynchronous attempt ``previous`` (same request
        id, event, trigger and qualifier; ``retry_num`` + 1) with ``config``."""
        record = Invocation(
            request_id=previous.request_id,
            namespace=previous.namespace,
            function_name=previous.function_name,
            qualifier=previous.qualifier,
            trigger=previous.trigger,
            invocation_type=ASYNC,
            event=previous.event,
            start_time=time.time(),
            retry_num=previous.retry_num + 1,
            queued_at=previous.queued_at or previous.start_time,
        )
        if self._history.replace_retry(previous.key, record):
            self._submit(record, function, config)

    def _submit(self, record: Invocation, function: Function, config: FunctionConfig) -> None:
        try:
            if self._closed:
                raise RuntimeError("closed")
            self._pool.submit(self._execute_logged, record, function, config)
        except RuntimeError:
            self._fail(record, "the emulator is stopping; the invocation was not run")

    def terminate(self, request_id: str, graceful: bool = False) -> bool:
        """Stop the running event ``request_id``: kill its process, or (``graceful``) send it
        SIGTERM. Returns ``False`` when it is not running (any more)."""
        if self._history.mark_terminated(request_id) is None:
            return False
        self._runtime.terminate(request_id, graceful)
        return True

    def _run_sync(self, record: Invocation, function: Function, config: FunctionConfig):
        """Run in a thread of its own and wait for it at most :attr:`sync_timeout` seconds.

        :raises FailedOperation: ``InvokeFunction``, when the run outlasts the wait.
        """
        outcome: dict = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["record"] = self._execute(record, function, config)
            except Exception as exc:
                outcome["error"] = exc
                self._fail(record, "the emulator failed to run the function")
            finally:
                done.set()

        limit = self.sync_timeout
        threading.Thread(target=run, name=f"scf-sync-{record.request_id[:8]}", daemon=True).start()
        if not done.wait(limit):
            raise FailedOperation(
                "InvokeFunction",
                f"the sync invocation {record.request_id} of {function.name} did not end within "
                f"{limit:g} s, the longest a sync Invoke waits; it goes on running. Invoke "
                "functions that may run longer with InvocationType=Event",
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["record"]

    def _execute_logged(self, record: Invocation, function: Function, config: FunctionConfig):
        try:
            self._execute(record, function, config)
        except Exception:
            log.exception("async invocation %s of %s failed", record.request_id, function.name)
            self._fail(record, "the emulator failed to run the function")

    def _fail(self, record: Invocation, message: str) -> None:
        record.status = "failed"
        record.status_code = 405
        record.err_msg = record.ret_msg = error_json(record.request_id, 405, message)
        record.log = f"START RequestId: {record.request_id}\n{message}\n"
        record.end_time = time.time()
        self._shipper.finished(record, [(PLATFORM, message)])
        self._history.update(record)

    def _execute(self, record: Invocation, function: Function, config: FunctionConfig):
        self._shipper.started(record)  # each attempt's START (once: invoke() ships the first)
        run_dir = self._storage.run_dir(record.request_id)
        try:
            request = RunRequest(
                request_id=record.request_id,
                runtime=config.runtime,
                code_dir=self._storage.code_dir(config.code_sha256),
                opt_dir=self._storage.layers_dir(config.layer_digests),
                run_dir=run_dir,
                handler=config.handler,
                event=record.event,
                context=self._context(record, function, config),
                env=self._environment(record, function, config),
                timeout=config.timeout,
                init_timeout=config.init_timeout,
                memory_size=config.memory_size,
            )
            outcome = self._runtime.run(request)
        finally:
            self._storage.drop_run_dir(record.request_id)
        lines = log_lines(
            record.request_id,
            outcome.output,
            outcome.duration_ms,
            config.memory_size,
            outcome.mem_usage,
        )
        with self._history.lock:  # the outcome, and the retry it calls for, seen as one change
            record.status = outcome.status
            record.status_code = outcome.status_code
            record.ret_msg = outcome.ret_msg
            record.err_msg = outcome.err_msg
            if record.terminated and outcome.status != "success":
                record.status = "failed"
                record.status_code = TERMINATED_STATUS
                error = error_json(record.request_id, TERMINATED_STATUS, TERMINATED_MESSAGE)
                record.ret_msg = record.err_msg = error
            record.duration_ms = round(outcome.duration_ms, 3)
            record.mem_usage = outcome.mem_usage
            too_large = len(outcome.ret_msg.encode()) > SYNC_RESPONSE_LIMIT
            if record.invocation_type == SYNC and too_large:
                code, message = RESPONSE_TOO_LARGE
                record.status, record.status_code = "failed", code
                record.ret_msg = record.err_msg = error_json(record.request_id, code, message)
            record.log = join_lines(lines)
            record.end_time = time.time()
            # Shipped first: once a run shows as finished, its whole log can be searched.
            self._shipper.finished(record, lines)
            if record.invocation_type == ASYNC and self.on_async_attempt and not self._closed:
                self.on_async_attempt(record)
            self._history.update(record)
        log.debug("invocation %s of %s: %s", record.request_id, function.name, record.status)
        return Invocation.from_dict(record.to_dict())

    def _system_variables(self, record: Invocation, config: FunctionConfig) -> dict[str, str]:
        return {
            "SCF_FUNCTIONNAME": record.function_name,
            "SCF_FUNCTIONVERSION": record.qualifier,
            "SCF_NAMESPACE": record.namespace,
            "SCF_RUNTIME": config.runtime,
            "SCF_MEMORYSIZE": str(config.memory_size),
            "SCF_TIMEOUT": str(config.timeout),
            "TENCENTCLOUD_REGION": self._config.region,
            "TENCENTCLOUD_APPID": str(self._config.appid),
            "TENCENTCLOUD_UIN": UIN,
            "TENCENTCLOUD_RUNENV": "SCF",
        }

    def _environment(self, record: Invocation, function: Function, config: FunctionConfig):
        env = dict(config.variables)
        env.update(self._system_variables(record, config))
        env["USER_CODE_ROOT"] = str(self._storage.code_dir(config.code_sha256))
        return env

    def _context(self, record: Invocation, function: Function, config: FunctionConfig) -> dict:
        visible = {**config.variables, "SCF_NAMESPACE": record.namespace}
        return {
            "memory_limit_in_mb": config.memory_size,
            "time_limit_in_ms": config.timeout * 1000,
            "request_id": record.request_id,
            "environment": json.dumps(visible, ensure_ascii=False),
            "environ": ";".join(f"{k}={v}" for k, v in visible.items()),
            "function_version": record.qualifier,
            "function_name": record.function_name,
            "namespace": record.namespace,
            "tencentcloud_region": self._config.region,
            "tencentcloud_appid": str(self._config.appid),
            "tencentcloud_uin": UIN,
        }

    def stop_running(self) -> None:
        """Kill the functions running now (a reset); queued ones still run."""
        self._runtime.stop_all()

    def close(self) -> None:
        """Kill running functions, drop queued ones, mark both failed."""
        self._closed = True
        self._runtime.close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._history.interrupt_running("the emulator stopped while the function was running")
