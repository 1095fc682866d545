"""The emulator's control plane: test hooks in Python and as JSON over HTTP under ``/_emulator/``.

No signature is needed, but only loopback clients are served. HTTP routes::

    GET    /_emulator/health                  {"status": "ok", "endpoint", "region", "appid"}
    POST   /_emulator/reset                   forget all functions, triggers, invocations,
                                              log records, buckets and objects; clear faults
                                              and request counters
    POST   /_emulator/timers/fire             {"function_name", "trigger_name", "namespace"}
                                              -> {"request_id"}
    GET    /_emulator/invocations?function_name=&namespace=   -> {"invocations": [...]}
                                              (one per attempt: SCF's retries keep the
                                              request id and count ``retry_num``)
    POST   /_emulator/invocations/wait        {"count", "function_name", "namespace", "timeout",
                                               "final"} -> {"invocations": [...]} (408 on
                                              timeout); ``final`` counts only attempts with no
                                              retry to come (one per settled invocation)
    POST   /_emulator/retries/release         start every scheduled retry now -> {"released"}
    GET    /_emulator/faults                  the current fault budgets
    POST   /_emulator/faults                  {"throttle": {"count", "actions"},
                                               "cos_errors": {"count", "status", "operations"},
                                               "drop_connections": {"count", "after_bytes"},
                                               "latency": {"seconds", "service"}}
    DELETE /_emulator/faults                  clear every fault
    GET    /_emulator/stats                   {"cos": {"LIST": n, "GET": n, ...},
                                               "cos_operations": {"list_objects": n, ...},
                                               "scf": {"Invoke": n, ...}, "cls": {...}}: the
                                              requests served since the last reset
    DELETE /_emulator/stats                   zero the counters
    GET    /_emulator/settings                {"reject_replays", "status_delay", "retry_interval",
                                               "sync_invoke_timeout"}
    POST   /_emulator/settings                {"reject_replays": bool, "status_delay": seconds,
                                               "retry_interval": seconds,
                                               "sync_invoke_timeout": seconds}

Errors answer 4xx with ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from .http import Exchange
from .scf.exceptions import ScfError
from .scf.models import Invocation

if TYPE_CHECKING:
    from .server import EmulatorServer

PREFIX = "/_emulator"


def invocation_dict(record: Invocation) -> dict:
    """An invocation as the control API shows it (``start_time`` in epoch seconds)."""
    return {
        "request_id": record.request_id,
        "namespace": record.namespace,
        "function_name": record.function_name,
        "qualifier": record.qualifier,
        "trigger": record.trigger,
        "invocation_type": record.invocation_type,
        "event": record.event,
        "status": record.status,
        "status_code": record.status_code,
        "ret_msg": record.ret_msg,
        "err_msg": record.err_msg,
        "log": record.log,
        "start_time": record.start_time,
        "duration_ms": record.duration_ms,
        "mem_usage": record.mem_usage,
        "retry_num": record.retry_num,
        "retry_at": record.retry_at,
        "queued_at": record.queued_at,
        "end_time": record.end_time,
        "async_run": record.async_run,
        "terminated": record.terminated,
    }


class _ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Control:
    """Test hooks of one :class:`~.server.EmulatorServer`.

    :param server: the emulator being controlled.
    """

    def __init__(self, server: EmulatorServer) -> None:
        self._server = server

    # -- Python API -----------------------------------------------------------------------------
    def health(self) -> dict:
        config = self._server.config
        return {
            "status": "ok",
            "endpoint": self._server.endpoint,
            "region": config.region,
            "appid": config.appid,
        }

    def settings(self) -> dict:
        scf = self._server.scf
        return {
            "reject_replays": scf.verifier.reject_replays,
            "status_delay": scf.backend.status_delay,
            "retry_interval": scf.retries.interval,
            "sync_invoke_timeout": scf.invoker.sync_timeout,
        }

    def reset(self) -> None:
        """Forget every function, trigger, invocation, log record, bucket and object; clear all
        faults."""
        self._server.scf.reset()
        self._server.cls.reset()
        self._server.cos.reset()
        self._server.faults.reset()
        self._server.stats.reset()

    def stats(self) -> dict[str, dict[str, int]]:
        """The requests served since the last reset: ``{service: {name: count}}`` (see
        :class:`~.stats.Stats`)."""
        return self._server.stats.snapshot()

    def reset_stats(self) -> None:
        self._server.stats.reset()

    def fire_timer(self, function_name: str, trigger_name: str, namespace: str = "default") -> str:
        """Fire a timer trigger now, asynchronously; returns its FunctionRequestId."""
        return self._server.scf.fire_timer(namespace, function_name, trigger_name)

    def invocations(self, function_name: str | None = None, namespace: str = "default") -> list:
        """Every recorded invocation attempt (of ``function_name``, or all), oldest first."""
        records = self._server.scf.history.select(_matcher(function_name, namespace))
        return [invocation_dict(r) for r in records]

    def wait_for_invocations(
        self,
        count: int,
        function_name: str | None = None,
        timeout: float = 30,
        namespace: str = "default",
        final: bool = False,
    ) -> list[dict]:
        """Block until ``count`` invocation attempts (of ``function_name``, or any) have
        finished.

        :param final: count only attempts no retry follows: the last attempt of each settled
            invocation (a failed asynchronous attempt with SCF's retry to come does not count).
        :returns: all finished matching attempts, oldest first (at least ``count``).
        :raises TimeoutError: when fewer finished within ``timeout`` seconds.
        """
        records = self._server.scf.history.wait_finished(
            count, _matcher(function_name, namespace), timeout, final
        )
        return [invocation_dict(r) for r in records]

    def set_retry_interval(self, seconds: float) -> None:
        """Seconds between a failed asynchronous attempt and its retry, for failures from now on
        (SCF waits 60 s)."""
        self._server.scf.retries.interval = seconds

    def release_retries(self) -> int:
        """Start every scheduled retry now, whatever its due time; returns how many."""
        return self._server.scf.retries.release()

    def reject_replays(self, enabled: bool = True) -> None:
        """Refuse a TC3 signature seen before within 300 s (off by default; see
        :class:`~.scf.auth.Tc3Verifier`)."""
        for verifier in (self._server.scf.verifier, self._server.cls.verifier):
            verifier.reject_replays = enabled
            verifier.reset()

    def set_status_delay(self, seconds: float) -> None:
        """Seconds functions stay Creating/Updating/Publishing/Deleting, for changes started from
        now on (to simulate slow deployments, or to catch a function mid-update)."""
        self._server.scf.backend.status_delay = max(0.0, float(seconds))

    def set_sync_invoke_timeout(self, seconds: float) -> None:
        """Seconds a sync invoke waits for its run before it fails with
        ``FailedOperation.InvokeFunction`` (SCF: 300); lower it to test that limit quickly."""
        self._server.scf.invoker.sync_timeout = max(0.0, float(seconds))

    def throttle(self, count: int, actions: list[str] | None = None) -> None:
        self._server.faults.throttle(count, actions)

    def cos_errors(self, count: int, status: int = 503, operations: list[str] | None = None):
        self._server.faults.cos_errors(count, status, operations)

    def drop_connections(self, count: int, after_bytes: int = 1024) -> None:
        self._server.faults.drop_connections(count, after_bytes)

    def latency(self, seconds: float, service: str = "all") -> None:
        self._server.faults.latency(seconds, service)

    def clear_faults(self) -> None:
        self._server.faults.reset()

    # -- HTTP -----------------------------------------------------------------------------------
    def handle(self, exchange: Exchange) -> None:
        try:
            if not _is_loopback(exchange.client_ip):
                raise _ControlError(403, "Forbidden", "the control API serves loopback only")
            status, payload = self._route(exchange)
        except _ControlError as err:
            status, payload = err.status, {"error": {"code": err.code, "message": err.message}}
        except ScfError as err:
            status = 404 if err.family == "ResourceNotFound" else 409
            payload = {"error": {"code": err.code, "message": err.message}}
        except TimeoutError as err:
            status, payload = 408, {"error": {"code": "Timeout", "message": str(err)}}
        body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
        exchange.respond(status, {"Content-Type": "application/json"}, body)

    def _route(self, exchange: Exchange) -> tuple[int, dict]:
        path = exchange.path[len(PREFIX) :].rstrip("/")
        method = exchange.method
        if (method, path) == ("GET", "/health"):
            return 200, self.health()
        if (method, path) == ("POST", "/reset"):
            self.reset()
            return 200, {"reset": True}
        if (method, path) == ("POST", "/timers/fire"):
            body = _json_body(exchange)
            request_id = self.fire_timer(
                _required(body, "function_name"),
                _required(body, "trigger_name"),
                body.get("namespace", "default"),
            )
            return 200, {"request_id": request_id}
        if (method, path) == ("GET", "/invocations"):
            query = dict(parse_qsl(exchange.raw_query))
            found = self.invocations(query.get("function_name"), query.get("namespace", "default"))
            return 200, {"invocations": found}
        if (method, path) == ("POST", "/invocations/wait"):
            body = _json_body(exchange)
            found = self.wait_for_invocations(
                int(_required(body, "count")),
                body.get("function_name"),
                float(body.get("timeout", 30)),
                body.get("namespace", "default"),
                bool(body.get("final", False)),
            )
            return 200, {"invocations": found}
        if (method, path) == ("POST", "/retries/release"):
            return 200, {"released": self.release_retries()}
        if (method, path) == ("GET", "/stats"):
            return 200, self.stats()
        if (method, path) == ("DELETE", "/stats"):
            self.reset_stats()
            return 200, self.stats()
        if path == "/faults":
            return self._faults(exchange)
        if (method, path) == ("GET", "/settings"):
            return 200, self.settings()
        if (method, path) == ("POST", "/settings"):
            body = _json_body(exchange)
            if "reject_replays" in body:
                self.reject_replays(bool(body["reject_replays"]))
            if "status_delay" in body:
                self.set_status_delay(body["status_delay"])
            if "retry_interval" in body:
                self.set_retry_interval(float(body["retry_interval"]))
            if "sync_invoke_timeout" in body:
                self.set_sync_invoke_timeout(body["sync_invoke_timeout"])
            return 200, self.settings()
        raise _ControlError(404, "NotFound", f"no control route {method} {exchange.path}")

    def _faults(self, exchange: Exchange) -> tuple[int, dict]:
        faults = self._server.faults
        if exchange.method == "DELETE":
            faults.reset()
        elif exchange.method == "POST":
            body = _json_body(exchange)
            setters = {
                "throttle": faults.throttle,
                "cos_errors": faults.cos_errors,
                "drop_connections": faults.drop_connections,
                "latency": faults.latency,
            }
            for name, args in body.items():
                if name not in setters or not isinstance(args, dict):
                    raise _ControlError(400, "InvalidFault", f"unknown fault {name!r}")
                try:
                    setters[name](**args)
                except TypeError as exc:
                    raise _ControlError(400, "InvalidFault", f"{name}: {exc}") from exc
        elif exchange.method != "GET":
            raise _ControlError(405, "MethodNotAllowed", "use GET, POST or DELETE")
        return 200, faults.snapshot()


def _matcher(function_name: str | None, namespace: str):
    return lambda r: (
        r.namespace == namespace and (function_name is None or r.function_name == function_name)
    )


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _json_body(exchange: Exchange) -> dict:
    raw = exchange.read_body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise _ControlError(400, "InvalidJSON", f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _ControlError(400, "InvalidJSON", "the body must be a JSON object")
    return body


def _required(body: dict, name: str):
    if body.get(name) in (None, ""):
        raise _ControlError(400, "MissingParameter", f"{name} is required")
    return body[name]
