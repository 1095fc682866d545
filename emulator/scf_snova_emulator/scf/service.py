"""SCF layer ``service``: the entry point the server calls; wires the layers, the runtime, the
timers and the COS triggers together.

:meth:`ScfService.handle` serves one API 3.0 request: route it (:mod:`.urls`), check the
signature (:mod:`.auth`), consume injected faults, serve the action (:mod:`.responses` over
:mod:`.backend`) and answer in the envelope (:mod:`.wire`).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scf_snova_core.events import cos_event, timer_event
from scf_snova_core.limits import API_REQUEST_BODY_LIMIT

from ..config import EmulatorConfig
from ..faults import Faults
from ..http import Exchange
from ..types import ObjectEvent
from . import triggers as rules
from . import urls
from .auth import Tc3Verifier
from .backend import ScfBackend
from .exceptions import (
    InternalError,
    InvalidParameter,
    MissingParameter,
    RequestLimitExceeded,
    RequestSizeLimitExceeded,
    ResourceNotFound,
    ScfError,
    UnsupportedOperation,
    UnsupportedRegion,
)
from .interpreters import Interpreters
from .invocations import InvocationHistory
from .invoker import Invoker
from .layers import LayerRegistry
from .models import Trigger
from .responses import ScfResponses
from .retries import AsyncRetries
from .runtime import PythonRuntime
from .scheduler import TimerScheduler
from .storage import ScfStorage
from .wire import new_request_id, send

if TYPE_CHECKING:
    from ..cos.service import CosService

log = logging.getLogger(__name__)


class ScfService:
    """SCF API 3.0 (version 2018-04-16) on the emulator's HTTP server.

    :param config: the emulator's settings (keys, region, appid, status delay, timers).
    :param faults: injected faults (throttling, latency).
    :param root: the directory SCF state lives in.
    :param cos: the COS emulator (code packages from COS, COS triggers).
    """

    def __init__(self, config: EmulatorConfig, faults: Faults, root: Path, cos: CosService) -> None:
        self._config = config
        self._faults = faults
        self._cos = cos
        self.storage = ScfStorage(root)
        self.scheduler = TimerScheduler(lambda: self.backend.triggers("timer"), self._fire_due)
        self.backend = ScfBackend(
            self.storage, config.status_delay, on_triggers_changed=self.scheduler.poke
        )
        self.history = InvocationHistory(self.storage)
        self.layers = LayerRegistry(self.storage, lambda: self.backend.status_delay)
        interpreters = Interpreters(config.interpreters, config.runtimes_dir)
        runtime = PythonRuntime(interpreters, self.storage.exec_root)
        self.invoker = Invoker(config, self.storage, self.history, runtime)
        self.retries = AsyncRetries(self.backend, self.history, self.invoker, config.retry_interval)
        self.verifier = Tc3Verifier(config.secret_id, config.secret_key, config.token)
        self.responses = ScfResponses(
            config, self.backend, self.storage, self.invoker, self.history, cos, self.layers
        )

    def start(self) -> None:
        """Subscribe to COS events, start the retries and (with ``config.timers``) the timer
        scheduler."""
        self.storage.forget_code(self.backend.code_in_use() | self.layers.code_in_use())
        self._cos.add_listener(self._on_object_event)
        self.retries.start()
        if self._config.timers:
            self.scheduler.start()

    # -- the API --------------------------------------------------------------------------------
    def handle(self, exchange: Exchange) -> None:
        request_id = new_request_id()
        try:
            fields = self._serve(exchange)
        except ScfError as error:
            log.debug("SCF error %s: %s", error.code, error.message)
            send(exchange, request_id, error=error)
        except Exception as exc:
            log.exception("SCF emulator failed on %s", exchange.headers.get("X-TC-Action"))
            send(exchange, request_id, error=InternalError(None, f"emulator error: {exc!r}"))
        else:
            send(exchange, request_id, fields)

    def _serve(self, exchange: Exchange) -> dict:
        self._faults.delay("scf")
        body = exchange.read_body()
        if len(body) > API_REQUEST_BODY_LIMIT:
            raise RequestSizeLimitExceeded(
                None,
                f"the request body is {len(body)} bytes; API 3.0 accepts at most "
                f"{API_REQUEST_BODY_LIMIT} (upload a large code package to COS instead)",
            )
        action = urls.action(exchange.headers)
        if exchange.method != "POST":
            raise UnsupportedOperation(
                None, "the emulator serves POST with a JSON body only (the SDK's default)"
            )
        self.verifier.verify(exchange.method, exchange.raw_query, exchange.headers, body)
        region = (exchange.headers.get("X-TC-Region") or "").strip()
        if not region:
            raise MissingParameter(None, "the X-TC-Region header is required for SCF")
        if region != self._config.region:
            raise UnsupportedRegion(
                None, f"region {region} is not served; the emulator serves {self._config.region}"
            )
        if self._faults.take_throttle(action):
            raise RequestLimitExceeded(None, "request rate limit exceeded (injected fault)")
        try:
            params = json.loads(body or b"{}")
        except ValueError as exc:
            raise InvalidParameter("Payload", f"the body is not JSON: {exc}") from exc
        if not isinstance(params, dict):
            raise InvalidParameter("Payload", "the body must be a JSON object")
        return self.responses.dispatch(action, params)

    # -- triggers -------------------------------------------------------------------------------
    def fire_timer(self, namespace: str, function_name: str, trigger_name: str) -> str:
        """Fire a timer trigger now (asynchronously); returns the FunctionRequestId.

        Works whether or not the trigger is enabled (it is a test hook).
        """
        function = self.backend.get(namespace, function_name)
        trigger = function.find_trigger(trigger_name, "timer")
        if trigger is None:
            raise ResourceNotFound(
                "Trigger", f"timer {trigger_name!r} does not exist on {function_name!r}"
            )
        return self._fire_timer(namespace, function_name, trigger, None)

    def _fire_timer(
        self, namespace: str, name: str, trigger: Trigger, when: datetime | None
    ) -> str:
        function, config = self.backend.resolve(namespace, name, trigger.qualifier)
        event = timer_event(trigger.name, trigger.custom_argument, when)
        record = self.invoker.invoke(function, config, trigger.qualifier, event, "timer", False)
        return record.request_id

    def _fire_due(self, namespace: str, name: str, trigger: Trigger, when: datetime) -> None:
        try:
            self._fire_timer(namespace, name, trigger, when)
        except ScfError as error:
            log.info("timer %s of %s skipped: %s", trigger.name, name, error.message)

    def _on_object_event(self, event: ObjectEvent) -> None:
        for namespace, name, trigger in self.backend.triggers("cos"):
            try:
                bucket = rules.cos_bucket(trigger.name, self._config.appid, self._config.region)
            except ScfError:
                continue
            if bucket != event.bucket or not rules.rule_matches(trigger.cos_rule, event):
                continue
            payload = cos_event(
                bucket=event.bucket,
                key=event.key,
                size=event.size,
                etag=event.etag,
                region=self._config.region,
                event_name=event.event_name,
                event_time=event.event_time,
                content_type=event.content_type,
                request_id=event.request_id,
                meta=event.meta,
                function_name=name,
                namespace=namespace,
                qualifier=trigger.qualifier,
                source_ip=event.source_ip,
                authorization=event.authorization,
            )
            try:
                function, config = self.backend.resolve(namespace, name, trigger.qualifier)
                self.invoker.invoke(function, config, trigger.qualifier, payload, "cos", False)
            except ScfError as error:
                log.info("COS trigger of %s skipped: %s", name, error.message)

    # -- lifecycle ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every function, trigger and invocation (kills running functions, drops
        scheduled retries)."""
        self.retries.clear()
        self.invoker.stop_running()
        self.history.clear()
        self.backend.reset()
        self.layers.reset()
        self.storage.clear()
        self.verifier.reset()

    def close(self) -> None:
        """Stop the timers and the retries; kill running invocations and mark them failed."""
        self.scheduler.stop()
        self.retries.stop()
        self.invoker.close()
        self.storage.close()
