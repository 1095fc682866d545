"""SCF layer ``models``: the SCF emulator's state as plain objects: functions, versions, triggers
and invocations.

The rules over them live in :mod:`.backend`. No HTTP and no API field names here, except where a
value is stored exactly as the API takes it (Environment variables, Tags). Every object
round-trips through ``to_dict``/``from_dict`` for :mod:`.storage`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from scf_snova_core.states import DEFAULT_ALIAS, LATEST


def _from_dict(cls, data: dict):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class FunctionConfig:
    """What a version snapshots: code and configuration.

    :param code_sha256: the package in the storage (hex SHA-256 of the zip).
    :param environment: ``[{"Key", "Value"}]`` exactly as configured.
    :param vpc_id: ``VpcConfig.VpcId`` (empty: no VPC).
    :param subnet_id: ``VpcConfig.SubnetId`` (empty: no VPC).
    :param layers: the bound layer versions in binding order, ``{"LayerName", "LayerVersion",
        "CodeSha256"}`` (the digest of the layer's content in the storage).
    """

    handler: str
    runtime: str
    memory_size: int
    timeout: int
    description: str
    environment: tuple[dict[str, str], ...]
    code_sha256: str
    code_size: int
    type: str = "Event"
    init_timeout: int = 65
    vpc_id: str = ""
    subnet_id: str = ""
    layers: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["environment"] = list(self.environment)
        data["layers"] = list(self.layers)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FunctionConfig:
        config = _from_dict(cls, data)
        return replace(config, environment=tuple(config.environment), layers=tuple(config.layers))

    @property
    def layer_digests(self) -> list[str]:
        return [layer["CodeSha256"] for layer in self.layers]

    @property
    def variables(self) -> dict[str, str]:
        return {item["Key"]: item["Value"] for item in self.environment}


@dataclass
class Version:
    """A published version: an immutable snapshot of ``$LATEST``."""

    number: str
    config: FunctionConfig
    description: str
    add_time: float

    def to_dict(self) -> dict:
        return {**asdict(self), "config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> Version:
        return cls(**{**data, "config": FunctionConfig.from_dict(data["config"])})


@dataclass
class LayerVersion:
    """One version of a layer: an immutable zip unpacked into a function's ``/opt``.

    :param code_sha256: the content in the storage (hex SHA-256 of the zip).
    :param settle_at: when a ``Publishing`` version becomes ``Active`` (epoch seconds).
    """

    name: str
    version: int
    code_sha256: str
    code_size: int
    compatible_runtimes: list[str]
    description: str
    license_info: str
    tags: list[dict[str, str]]
    add_time: float
    settle_at: float = 0.0

    def status(self, now: float) -> str:
        return "Active" if now >= self.settle_at else "Publishing"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LayerVersion:
        return _from_dict(cls, data)


@dataclass
class Trigger:
    """A timer or COS trigger bound to one function.

    :param desc: the normalised TriggerDesc: the cron expression for timers, the JSON text
        ``{"event": ..., "filter": {...}}`` for COS.
    """

    name: str
    type: str
    desc: str
    qualifier: str
    enabled: bool
    custom_argument: str
    description: str
    add_time: float
    mod_time: float
    resource_id: str

    @property
    def cos_rule(self) -> dict:
        """``{"event", "filter": {"Prefix", "Suffix"}}`` of a COS trigger."""
        return json.loads(self.desc)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Trigger:
        return _from_dict(cls, data)


@dataclass
class Pending:
    """A status change that completes at ``settle_at`` (epoch seconds).

    :param final_status: ``Active``, ``CreateFailed``, ``UpdateFailed`` or ``Deleted``.
    :param reasons: the StatusReasons to show once settled.
    :param publish: publish a version when settling Active (``Publish="TRUE"``, PublishVersion);
        the value is the version's description.
    """

    settle_at: float
    final_status: str
    reasons: list[dict[str, str]] = field(default_factory=list)
    publish: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Pending:
        return _from_dict(cls, data)


@dataclass
class Function:
    """One function (its ``$LATEST``), with its versions and triggers."""

    namespace: str
    name: str
    function_id: str
    config: FunctionConfig
    status: str
    tags: list[dict[str, str]]
    add_time: float
    mod_time: float
    status_desc: str = ""
    status_reasons: list[dict[str, str]] = field(default_factory=list)
    versions: dict[str, Version] = field(default_factory=dict)
    next_version: int = 1
    triggers: list[Trigger] = field(default_factory=list)
    pending: Pending | None = None
    #: Asynchronous settings (:mod:`.async_config`): async execution and status tracing (chosen
    #: at creation), the async retry settings as set (``None``: SCF's defaults) and the
    #: dead-letter queue.
    async_run: bool = False
    trace: bool = False
    async_trigger_config: dict | None = None
    dead_letter_config: dict | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def config_for(self, qualifier: str) -> FunctionConfig | None:
        """The configuration of ``$LATEST``, ``$DEFAULT`` (= ``$LATEST``) or a version."""
        if qualifier in (LATEST, DEFAULT_ALIAS, ""):
            return self.config
        version = self.versions.get(qualifier)
        return version.config if version else None

    def find_trigger(self, name: str, type_: str, event: str | None = None) -> Trigger | None:
        for trigger in self.triggers:
            if trigger.name == name and trigger.type == type_:
                if event is None or trigger.type != "cos" or trigger.cos_rule["event"] == event:
                    return trigger
        return None

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["config"] = self.config.to_dict()
        data["versions"] = {k: v.to_dict() for k, v in self.versions.items()}
        data["triggers"] = [t.to_dict() for t in self.triggers]
        data["pending"] = self.pending.to_dict() if self.pending else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Function:
        function = _from_dict(cls, data)
        function.config = FunctionConfig.from_dict(data["config"])
        function.versions = {k: Version.from_dict(v) for k, v in data["versions"].items()}
        function.triggers = [Trigger.from_dict(t) for t in data["triggers"]]
        function.pending = Pending.from_dict(data["pending"]) if data.get("pending") else None
        return function


def attempt_key(request_id: str, retry_num: int = 0) -> str:
    """The key of one attempt of an invocation: its request id, with ``.retry<n>`` for retries."""
    return request_id if not retry_num else f"{request_id}.retry{retry_num}"


@dataclass
class Invocation:
    """One execution (one attempt) of a function.

    :param trigger: ``api``, ``timer`` or ``cos``.
    :param invocation_type: ``RequestResponse`` (sync) or ``Event`` (async).
    :param status: ``running``, ``success``, ``failed`` or ``timeout``.
    :param status_code: the runtime status: 200 success, 430 user error, 433 timeout,
        434 memory, 405 process exited.
    :param ret_msg: the JSON-encoded return value, or the error JSON on failure.
    :param err_msg: the error JSON on failure, else empty.
    :param log: the complete log (START ... Report).
    :param start_time: epoch seconds.
    :param mem_usage: peak resident memory in bytes.
    :param retry_num: 0 for the first attempt, then 1, 2... for SCF's retries of a failed
        asynchronous invocation; every attempt keeps the request id.
    :param queued_at: when the event was accepted (epoch seconds; its ``MsgTTL`` counts from it).
    :param end_time: when the attempt ended (epoch seconds; 0 while it runs).
    :param retry_at: when the retry of this failed attempt is due (0: none is scheduled).
    :param async_run: an invocation of an async-execution function (an async event).
    :param terminated: stopped by ``TerminateAsyncEvent``.
    """

    request_id: str
    namespace: str
    function_name: str
    qualifier: str
    trigger: str
    invocation_type: str
    event: object
    status: str = "running"
    status_code: int = 0
    ret_msg: str = ""
    err_msg: str = ""
    log: str = ""
    start_time: float = 0.0
    duration_ms: float = 0.0
    mem_usage: int = 0
    retry_num: int = 0
    queued_at: float = 0.0
    end_time: float = 0.0
    retry_at: float = 0.0
    async_run: bool = False
    terminated: bool = False

    @property
    def finished(self) -> bool:
        return self.status != "running"

    @property
    def key(self) -> str:
        return attempt_key(self.request_id, self.retry_num)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Invocation:
        return _from_dict(cls, data)
