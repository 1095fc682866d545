"""SCF layer ``responses``: one method per action, request parameters in, response fields out.

``CreateFunction`` is served by :meth:`ScfResponses.create_function`, and so on (:mod:`.urls`
names them). A method validates the parsed JSON body (:mod:`.validation`), asks the backend
(:mod:`.backend`) or the invoker (:mod:`.invoker`), and returns the fields of ``Response`` without
``RequestId``, rendered by :mod:`.wire`; it raises :class:`~.exceptions.ScfError` for API errors.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from scf_snova_core.apitime import parse_api_time
from scf_snova_core.limits import (
    ASYNC_PAYLOAD_LIMIT,
    REQUEST_STATUS_DEFAULT_LOOKBACK,
    REQUEST_STATUS_MAX_WINDOW,
    SYNC_PAYLOAD_LIMIT,
)
from scf_snova_core.states import ASYNC, DEFAULT_ALIAS, INVOCATION_TYPES, LATEST, SYNC

from ..config import EmulatorConfig
from . import async_config, urls
from . import triggers as rules
from . import validation as v
from .async_events import AsyncEventActions
from .backend import ScfBackend
from .code import check_zip, decode_zip, handler_problem
from .exceptions import (
    InvalidParameter,
    InvalidParameterValue,
    MissingParameter,
    ResourceNotFound,
)
from .invocations import InvocationHistory
from .invoker import Invoker, log_tail
from .layers import LayerActionsMixin, LayerRegistry
from .models import FunctionConfig, Trigger
from .storage import ScfStorage
from .wire import (
    function_summary,
    function_view,
    request_status_view,
    result_view,
    trigger_view,
)

if TYPE_CHECKING:
    from ..cls.backend import ClsBackend
    from ..cos.service import CosService


class ScfResponses(LayerActionsMixin, AsyncEventActions):
    """The SCF actions (the layer actions are :class:`~.layers.LayerActionsMixin`'s, the
    asynchronous ones in :mod:`.async_events`).

    :param config: the emulator's settings.
    :param backend: functions, versions and triggers.
    :param storage: code packages.
    :param invoker: runs functions.
    :param history: recorded invocations.
    :param cos: the COS emulator (code from COS, COS triggers).
    :param layers: the layer versions.
    :param logs: the CLS emulator, which holds the functions' log topic (none: GetFunction shows
        no topic).
    :ivar clock: epoch seconds, the "now" of ``GetRequestStatus``'s default window (replaceable
        in tests).
    """

    def __init__(
        self,
        config: EmulatorConfig,
        backend: ScfBackend,
        storage: ScfStorage,
        invoker: Invoker,
        history: InvocationHistory,
        cos: CosService,
        layers: LayerRegistry,
        logs: ClsBackend | None = None,
    ) -> None:
        self._layers = layers
        self._config = config
        self._backend = backend
        self._storage = storage
        self._invoker = invoker
        self._history = history
        self._cos = cos
        self._logs = logs
        self.clock: Callable[[], float] = time.time

    def _log_topic(self) -> tuple[str, str]:
        """The CLS logset and topic every function's logs go to."""
        if self._logs is None:
            return ("", "")
        topic = self._logs.default_topic()
        return (topic.logset_id, topic.topic_id)

    def _check_log_topic(self, p: dict) -> None:
        """``ClsLogsetId``/``ClsTopicId``, when given, must name the topic the emulator ships logs
        to: it has no other, and ignoring them would send the logs somewhere else."""
        logset_id, topic_id = self._log_topic()
        for field, known in (("ClsLogsetId", logset_id), ("ClsTopicId", topic_id)):
            value = p.get(field)
            if value not in (None, "", known):
                raise InvalidParameterValue(
                    "Cls",
                    f"{field} {value!r} is not a CLS {field[3:-2].lower()} of the emulator "
                    f"(its functions log to {known!r})",
                )

    def dispatch(self, action: str, params: dict) -> dict:
        """Serve ``action`` with the parsed JSON body ``params``; returns the response fields."""
        return getattr(self, urls.method_name(action))(params)

    # -- code -----------------------------------------------------------------------------------
    def _code_bytes(self, code: dict) -> bytes:
        if code.get("ZipFile"):
            return decode_zip(code["ZipFile"])
        bucket, key = code.get("CosBucketName"), code.get("CosObjectName")
        if not (bucket and key):
            raise MissingParameter("Code", "Code needs ZipFile, or CosBucketName and CosObjectName")
        region = code.get("CosBucketRegion") or self._config.region
        if region != self._config.region:
            raise InvalidParameterValue(
                "CosBucketRegion", f"CosBucketRegion {region} differs from {self._config.region}"
            )
        from ..cos.exceptions import NoSuchBucket, NoSuchKey

        full = f"{bucket}-{self._config.appid}"
        try:
            with self._cos.open_object(full, key.lstrip("/")) as stream:
                data = stream.read()
        except NoSuchBucket as exc:
            raise ResourceNotFound(
                "Cos", f"bucket {full} does not exist (CosBucketName is the name without -appid)"
            ) from exc
        except NoSuchKey as exc:
            raise ResourceNotFound("CosObject", f"object {key} does not exist in {full}") from exc
        return check_zip(data)

    def _runtime_problem(self, runtime: str) -> str | None:
        return v.runtime_problem(runtime) or self._invoker.runtime_problem(runtime)

    # -- functions ------------------------------------------------------------------------------
    def create_function(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        if not isinstance(p.get("Code"), dict):
            raise MissingParameter("Code", "the parameter Code is required")
        self._check_log_topic(p)
        data = self._code_bytes(p["Code"])
        handler = v.handler(p.get("Handler", "index.main_handler"))
        runtime = v.runtime(p.get("Runtime", "Python2.7"))
        layers = self._bind_layers(p, runtime) or ()
        problem = self._runtime_problem(runtime) or handler_problem(data, handler, runtime)
        vpc_id, subnet_id = v.vpc_config(p) or ("", "")
        async_run, trace = async_config.async_flags(p)
        settings = {
            "async_run": async_run,
            "trace": trace,
            "dead_letter_config": async_config.dead_letter_config(p.get("DeadLetterConfig")),
        }
        config = FunctionConfig(
            handler=handler,
            runtime=runtime,
            memory_size=v.memory_size(p, 128),
            timeout=v.timeout(p, 3, _max_timeout(async_run)),
            description=v.description(p),
            environment=tuple(v.environment(p) or ()),
            code_sha256=self._storage.put_code(data),
            code_size=len(data),
            type=v.function_type(p),
            init_timeout=v.integer(p, "InitTimeout", 65, 1, 300, "InitTimeout"),
            vpc_id=vpc_id,
            subnet_id=subnet_id,
            layers=layers,
        )
        self._backend.create(namespace, name, config, v.tags(p), problem, settings)
        return {}

    def get_function(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        qualifier = v.string(p, "Qualifier", LATEST) or LATEST
        function = self._backend.get(namespace, name)
        config = function.config_for(qualifier)
        if config is None:
            raise ResourceNotFound(
                "Version", f"version {qualifier!r} of function {name!r} does not exist"
            )
        view = function_view(function, config, qualifier, self._log_topic())
        return {**view, "Layers": self._layer_views(config.layers)}

    def update_function_code(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        code = p.get("Code") if isinstance(p.get("Code"), dict) else p
        data = self._code_bytes(code)
        function = self._backend.get(namespace, name)
        handler = v.handler(p["Handler"]) if p.get("Handler") else function.config.handler
        runtime = function.config.runtime
        problem = self._runtime_problem(runtime) or handler_problem(data, handler, runtime)
        sha = self._storage.put_code(data)
        publish = v.flag(p, "Publish")
        self._backend.update_code(namespace, name, handler, sha, len(data), problem, publish)
        return {}

    def update_function_configuration(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        function = self._backend.get(namespace, name)
        current = function.config
        self._check_log_topic(p)
        runtime = p.get("Runtime")
        if runtime is not None and runtime != current.runtime:
            raise InvalidParameterValue("Runtime", "Runtime cannot be changed after creation")
        changes: dict = {}
        if "Description" in p:
            changes["description"] = v.description(p)
        if "MemorySize" in p:
            changes["memory_size"] = v.memory_size(p, current.memory_size)
        if "Timeout" in p:
            changes["timeout"] = v.timeout(p, current.timeout, _max_timeout(function.async_run))
        if "InitTimeout" in p:
            changes["init_timeout"] = v.integer(p, "InitTimeout", 65, 1, 300, "InitTimeout")
        environment = v.environment(p)
        if environment is not None:
            changes["environment"] = environment
        vpc = v.vpc_config(p)
        if vpc is not None:
            changes["vpc_id"], changes["subnet_id"] = vpc
        layers = self._bind_layers(p, current.runtime)
        if layers is not None:
            changes["layers"] = layers
        settings = {}
        if p.get("DeadLetterConfig") is not None:
            settings["dead_letter_config"] = async_config.dead_letter_config(p["DeadLetterConfig"])
        self._backend.update_configuration(namespace, name, changes, v.flag(p, "Publish"), settings)
        return {}

    def delete_function(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        self._backend.delete(namespace, name, v.string(p, "Qualifier"))
        return {}

    def list_functions(self, p: dict) -> dict:
        namespace = v.namespace(p)
        offset, limit = v.paging(p)
        descending = v.order(p, "Order", "ASC")
        order_by = v.string(p, "Orderby", "AddTime") or "AddTime"
        keys = {"AddTime": "add_time", "ModTime": "mod_time", "FunctionName": "name"}
        if order_by not in keys:
            raise InvalidParameterValue(
                "Orderby", "Orderby must be AddTime, ModTime or FunctionName"
            )
        functions = self._backend.list(namespace)
        search = (v.string(p, "SearchKey") or "").lower()
        if search:
            functions = [f for f in functions if search in f.name.lower()]
        description = v.string(p, "Description")
        if description:
            functions = [f for f in functions if description in f.config.description]
        for flt in p.get("Filters") or []:
            functions = [f for f in functions if _function_filter(flt)(f)]
        functions.sort(key=lambda f: getattr(f, keys[order_by]), reverse=descending)
        return {
            "Functions": [function_summary(f) for f in functions[offset : offset + limit]],
            "TotalCount": len(functions),
        }

    def publish_version(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        version = self._backend.publish(namespace, name, v.description(p))
        config = version.config
        return {
            "FunctionVersion": version.number,
            "CodeSize": config.code_size,
            "MemorySize": config.memory_size,
            "Description": version.description,
            "Handler": config.handler,
            "Timeout": config.timeout,
            "Runtime": config.runtime,
            "Namespace": namespace,
        }

    # -- invocations ----------------------------------------------------------------------------
    def _event(self, p: dict, field: str, code: str, limit: int) -> object:
        text = p.get(field)
        if text is None or text == "":
            return {}
        if not isinstance(text, str):
            raise InvalidParameterValue(code, f"{field} must be a JSON string")
        if len(text.encode("utf-8")) > limit:
            raise InvalidParameter(
                "RequestTooLarge", f"{field} is larger than {limit} bytes, the limit for this call"
            )
        try:
            return json.loads(text)
        except ValueError as exc:
            raise InvalidParameterValue(code, f"{field} is not valid JSON: {exc}") from exc

    def _run(self, p: dict, qualifier: str, event: object, sync: bool) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        log_type = v.string(p, "LogType", "None") or "None"
        if log_type not in ("None", "Tail"):
            raise InvalidParameterValue(None, "LogType must be None or Tail")
        function, config = self._backend.resolve(namespace, name, qualifier)
        record = self._invoker.invoke(function, config, qualifier, event, "api", sync)
        return {"Result": result_view(record, log_tail(record.log) if log_type == "Tail" else "")}

    def invoke(self, p: dict) -> dict:
        invocation_type = v.string(p, "InvocationType", SYNC) or SYNC
        if invocation_type not in INVOCATION_TYPES:
            raise InvalidParameterValue("InvokeType", f"InvocationType must be {SYNC} or {ASYNC}")
        sync = invocation_type == SYNC
        limit = SYNC_PAYLOAD_LIMIT if sync else ASYNC_PAYLOAD_LIMIT
        event = self._event(p, "ClientContext", "ClientContext", limit)
        return self._run(p, v.string(p, "Qualifier", LATEST) or LATEST, event, sync)

    def invoke_function(self, p: dict) -> dict:
        event = self._event(p, "Event", "Param", SYNC_PAYLOAD_LIMIT)
        return self._run(p, v.string(p, "Qualifier", DEFAULT_ALIAS) or DEFAULT_ALIAS, event, True)

    def get_request_status(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        request_id = v.string(p, "FunctionRequestId", required=True)
        started_in = _status_window(p, self.clock())
        records = self._history.select(
            lambda r: (
                r.request_id == request_id
                and r.function_name == name
                and r.namespace == namespace
                and started_in(r.start_time)
            )
        )
        records.sort(key=lambda r: r.retry_num)  # one record per attempt, the first one first
        return {"TotalCount": len(records), "Data": [request_status_view(r) for r in records]}

    # -- triggers -------------------------------------------------------------------------------
    def create_trigger(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        trigger_name = v.string(p, "TriggerName", required=True)
        type_ = v.string(p, "Type", required=True)
        desc = v.string(p, "TriggerDesc")
        enable = v.string(p, "Enable", "OPEN") or "OPEN"
        if enable not in ("OPEN", "CLOSE"):
            raise InvalidParameterValue("Enable", "Enable must be OPEN or CLOSE")
        custom = v.string(p, "CustomArgument", "") or ""
        if len(custom.encode("utf-8")) > rules.MAX_CUSTOM_ARGUMENT:
            raise InvalidParameterValue(None, "CustomArgument is larger than 4KB")
        check = None
        event = None
        if type_ == "timer":
            rules.timer_name(trigger_name)
            desc = rules.timer_cron(desc)
        elif type_ == "cos":
            bucket = rules.cos_bucket(trigger_name, self._config.appid, self._config.region)
            self._require_bucket(bucket)
            rule = rules.cos_rule(desc)
            desc, event = rules.dump_rule(rule), rule["event"]
            check = functools.partial(rules.check_conflict, trigger_name, rule)
        else:
            raise InvalidParameterValue(
                "Type", f"trigger Type {type_!r} is not supported by the emulator (timer, cos)"
            )
        now = time.time()
        trigger = Trigger(
            name=trigger_name,
            type=type_,
            desc=desc,  # type: ignore[arg-type]
            qualifier=v.string(p, "Qualifier", LATEST) or LATEST,
            enabled=enable == "OPEN",
            custom_argument=custom,
            description=v.description(p),
            add_time=now,
            mod_time=now,
            resource_id=f"trigger-{uuid.uuid4().hex[:12]}",
        )
        self._backend.add_trigger(namespace, name, trigger, event, check)
        return {"TriggerInfo": trigger_view(trigger)}

    def _require_bucket(self, bucket: str) -> None:
        from ..cos.exceptions import NoSuchBucket, NoSuchKey

        try:
            self._cos.open_object(bucket, ".scf-emulator-bucket-probe").close()
        except NoSuchKey:
            pass
        except NoSuchBucket as exc:
            raise ResourceNotFound("Cos", f"bucket {bucket} does not exist") from exc

    def delete_trigger(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        trigger_name = v.string(p, "TriggerName", required=True)
        type_ = v.string(p, "Type", required=True)
        event = None
        if type_ == "cos":
            event = rules.cos_rule(v.string(p, "TriggerDesc"))["event"]
        self._backend.remove_trigger(namespace, name, trigger_name, type_, event)
        return {}

    def list_triggers(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        offset, limit = v.paging(p)
        order_by = v.string(p, "OrderBy", "mod_time") or "mod_time"
        if order_by not in ("add_time", "mod_time"):
            raise InvalidParameterValue("OrderBy", "OrderBy must be add_time or mod_time")
        descending = v.order(p, "Order", "DESC")
        found = self._backend.get(namespace, name).triggers
        for flt in p.get("Filters") or []:
            field = {"Qualifier": "qualifier", "TriggerName": "name", "Description": "description"}
            attr = field.get(flt.get("Name"))
            if attr is None:
                raise InvalidParameterValue("Filters", f"unknown filter {flt.get('Name')!r}")
            found = [t for t in found if getattr(t, attr) in (flt.get("Values") or [])]
        found.sort(key=lambda t: getattr(t, order_by), reverse=descending)
        return {
            "TotalCount": len(found),
            "Triggers": [trigger_view(t, info=True) for t in found[offset : offset + limit]],
        }


def _max_timeout(async_run: bool) -> int:
    return async_config.ASYNC_RUN_MAX_TIMEOUT if async_run else 900


def _function_filter(flt: dict) -> Callable:
    name, values = flt.get("Name", ""), flt.get("Values") or []
    if name == "Status":
        return lambda f: f.status in values
    if name == "Runtime":
        return lambda f: f.config.runtime in values
    if name == "Type":
        return lambda f: f.config.type in values
    if name in ("AsyncRunEnable", "TraceEnable"):
        attr = "async_run" if name == "AsyncRunEnable" else "trace"
        return lambda f: ("TRUE" if getattr(f, attr) else "FALSE") in values
    if name.startswith("tag-"):
        key = name[4:]
        return lambda f: any(t["Key"] == key and t["Value"] in values for t in f.tags)
    raise InvalidParameterValue("Filters", f"filter {name!r} is not supported by the emulator")


def _api_time(p: dict, field: str, code: str) -> float | None:
    text = p.get(field)
    if text in (None, ""):
        return None
    try:
        return parse_api_time(text)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterValue(
            code, f"{field} must be 'YYYY-MM-DD HH:MM:SS' (UTC+8), got {text!r}"
        ) from exc


def _status_window(p: dict, now: float) -> Callable[[float], bool]:
    """Which start times ``GetRequestStatus`` finds: from ``StartTime`` (default: 15 minutes ago)
    to ``EndTime`` (default: now; a given ``EndTime`` includes its whole second). With
    ``StartTime``, ``EndTime`` is required and must be later; the window may span at most one day
    (a stricter assumption: SCF documents no maximum).
    """
    start = _api_time(p, "StartTime", "StartTime")
    end = _api_time(p, "EndTime", "DateTime")
    if start is not None:
        if end is None:
            raise InvalidParameterValue(
                "StartTimeOrEndTime", "with StartTime, EndTime is required too (GetRequestStatus)"
            )
        if end <= start:
            raise InvalidParameterValue(
                "StartTime", f"EndTime {p['EndTime']} must be later than StartTime {p['StartTime']}"
            )
        if end - start > REQUEST_STATUS_MAX_WINDOW:
            raise InvalidParameterValue(
                "StartTime",
                f"StartTime {p['StartTime']} and EndTime {p['EndTime']} are more than a day apart",
            )
    first = now - REQUEST_STATUS_DEFAULT_LOOKBACK if start is None else start
    last = now if end is None else end + 1
    return lambda t: first <= t < last
