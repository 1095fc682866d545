"""SCF layer ``service``: the entry point the server calls; wires the layers, the runtime, the
timers and the COS triggers together.

:meth:`ScfService.handle` serves one API 3.0 request (:class:`~..api3.ApiService`: route it
(:mod:`.urls`), check the signature (:mod:`.auth`), consume injected faults), serves the action
(:mod:`.responses` over :mod:`.backend`) and answers in the envelope (:mod:`.wire`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scf_snova_core.events import cos_event, timer_event

from ..api3 import ApiService
from ..config import EmulatorConfig
from ..faults import Faults
from ..types import ObjectEvent
from . import triggers as rules
from .backend import ScfBackend
from .exceptions import (
    ResourceNotFound,
    ScfError,
)
from .interpreters import Interpreters
from .invocations import InvocationHistory
from .invoker import Invoker
from .layers import LayerRegistry
from .logship import LogShipper, cls_sink
from .models import Trigger
from .responses import ScfResponses
from .retries import AsyncRetries
from .runtime import PythonRuntime
from .scheduler import TimerScheduler
from .storage import ScfStorage

if TYPE_CHECKING:
    from ..cls.backend import ClsBackend
    from ..cos.service import CosService

log = logging.getLogger(__name__)


class ScfService(ApiService):
    """SCF API 3.0 (version 2018-04-16) on the emulator's HTTP server.

    :param config: the emulator's settings (keys, region, appid, status delay, timers).
    :param faults: injected faults (throttling, latency).
    :param root: the directory SCF state lives in.
    :param cos: the COS emulator (code packages from COS, COS triggers).
    :param logs: the CLS emulator every run's log lines are shipped to (none: not shipped).
    """

    def __init__(
        self,
        config: EmulatorConfig,
        faults: Faults,
        root: Path,
        cos: CosService,
        logs: ClsBackend | None = None,
    ) -> None:
        super().__init__(config, faults)
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
        shipper = LogShipper(
            cls_sink(logs.append, lambda: logs.default_topic().topic_id) if logs else None
        )
        self.invoker = Invoker(config, self.storage, self.history, runtime, shipper=shipper)
        self.retries = AsyncRetries(self.backend, self.history, self.invoker, config.retry_interval)
        self.responses = ScfResponses(
            config, self.backend, self.storage, self.invoker, self.history, cos, self.layers, logs
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
    def dispatch(self, action: str, params: dict) -> dict:
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
