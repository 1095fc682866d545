"""SCF layer ``backend``: the state machine over :mod:`.models`: functions, their status lifecycle,
versions and triggers.

Thread-safe; knows nothing about HTTP (:mod:`.responses` calls it). Transient statuses
(``Creating``, ``Updating``, ``Publishing``, ``Deleting``) settle lazily: every access first
completes the changes whose ``status_delay`` has passed, so no timer thread is needed and a delay
of ``0`` settles at once. Every change is saved through :class:`~.storage.ScfStorage`.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from scf_snova_core.limits import (
    SCF_MAX_COS_TRIGGERS_PER_BUCKET,
    SCF_MAX_FUNCTIONS_PER_NAMESPACE,
    SCF_MAX_TRIGGERS_PER_TYPE,
    SCF_MAX_VERSIONS,
)
from scf_snova_core.states import ACTIVE, LATEST, READY_STATES, TRANSIENT_STATES

from .exceptions import FailedOperation, LimitExceeded, ResourceInUse, ResourceNotFound
from .models import Function, FunctionConfig, Pending, Trigger, Version
from .storage import ScfStorage

_SETTLED_DESC = {
    ACTIVE: "",
    "CreateFailed": "Function creation failed",
    "UpdateFailed": "Function update failed",
}


class ScfBackend:
    """All functions of the emulator (one region; namespaces inside).

    :param storage: where state is saved and loaded from.
    :param status_delay: seconds a transient status lasts (changeable at run time; applies to
        changes started afterwards).
    :param clock: epoch seconds, replaceable in tests.
    :param on_triggers_changed: called (outside the lock) after triggers are added or removed.
    """

    def __init__(
        self,
        storage: ScfStorage,
        status_delay: float,
        clock: Callable[[], float] = time.time,
        on_triggers_changed: Callable[[], None] | None = None,
    ) -> None:
        self._storage = storage
        self.status_delay = max(0.0, status_delay)
        self._clock = clock
        self._lock = threading.RLock()
        self._functions: dict[tuple[str, str], Function] = {}
        self.on_triggers_changed = on_triggers_changed or (lambda: None)
        state = storage.load_state() or {}
        for data in state.get("functions", []):
            function = Function.from_dict(data)
            self._functions[function.key] = function

    # -- lifecycle ------------------------------------------------------------------------------
    def _save(self) -> None:
        self._storage.save_state({"functions": [f.to_dict() for f in self._functions.values()]})

    def _settle(self) -> None:
        now = self._clock()
        changed = False
        for function in list(self._functions.values()):
            pending = function.pending
            if pending is None or pending.settle_at > now:
                continue
            changed = True
            function.pending = None
            if pending.final_status == "Deleted":
                del self._functions[function.key]
                continue
            function.status = pending.final_status
            function.status_reasons = pending.reasons
            function.status_desc = _SETTLED_DESC.get(pending.final_status, "")
            if pending.publish is not None and function.status == ACTIVE:
                self._snapshot(function, pending.publish)
        if changed:
            self._save()

    def _begin(
        self,
        function: Function,
        status: str,
        final_status: str,
        reasons: list[dict[str, str]] | None = None,
        publish: str | None = None,
    ) -> None:
        function.status = status
        function.status_desc = ""
        function.pending = Pending(
            self._clock() + self.status_delay, final_status, reasons or [], publish
        )

    def _get(self, namespace: str, name: str) -> Function:
        self._settle()
        function = self._functions.get((namespace, name))
        if function is None:
            raise ResourceNotFound(
                "Function", f"function {name!r} does not exist in namespace {namespace!r}"
            )
        return function

    def _require_ready(self, function: Function, code: str, doing: str) -> None:
        if function.status not in READY_STATES:
            raise FailedOperation(
                code,
                f"cannot {doing} function {function.name!r} while its status is "
                f"{function.status}; retry when it is Active",
            )

    def _check_version_room(self, function: Function) -> None:
        """Refuse a publication that would exceed SCF's versions per function."""
        if len(function.versions) >= SCF_MAX_VERSIONS:
            raise LimitExceeded(
                "FunctionVersions",
                f"function {function.name!r} already has {len(function.versions)} versions, "
                f"SCF's limit ({SCF_MAX_VERSIONS}); delete old versions first",
            )

    def _snapshot(self, function: Function, description: str) -> Version:
        version = Version(str(function.next_version), function.config, description, self._clock())
        function.versions[version.number] = version
        function.next_version += 1
        return version

    # -- functions ------------------------------------------------------------------------------
    def create(
        self,
        namespace: str,
        name: str,
        config: FunctionConfig,
        tags: list[dict[str, str]],
        problem: str | None,
        settings: dict | None = None,
    ) -> None:
        """Create a function; it is ``Creating``, then ``Active`` (or ``CreateFailed`` with
        ``problem`` as its StatusReason).

        :param settings: its asynchronous settings (:data:`ASYNC_SETTINGS` fields).
        """
        with self._lock:
            self._settle()
            if (namespace, name) in self._functions:
                raise ResourceInUse("Function", f"function {name!r} already exists")
            count = sum(1 for key in self._functions if key[0] == namespace)
            if count >= SCF_MAX_FUNCTIONS_PER_NAMESPACE:
                raise LimitExceeded(
                    "Function",
                    f"namespace {namespace!r} already has {count} functions, SCF's limit "
                    f"({SCF_MAX_FUNCTIONS_PER_NAMESPACE}); delete functions first",
                )
            now = self._clock()
            function = Function(
                namespace=namespace,
                name=name,
                function_id=f"lam-{uuid.uuid4().hex[:8]}",
                config=config,
                status="Creating",
                tags=tags,
                add_time=now,
                mod_time=now,
                **_async_settings(settings),
            )
            reasons = [{"ErrorCode": "CreateFailed", "ErrorMessage": problem}] if problem else []
            self._begin(function, "Creating", "CreateFailed" if problem else ACTIVE, reasons)
            self._functions[function.key] = function
            self._save()

    def get(self, namespace: str, name: str) -> Function:
        """A copy of the function (safe to read without the lock)."""
        with self._lock:
            return copy.deepcopy(self._get(namespace, name))

    def list_all(self) -> list[Function]:
        """Copies of the functions of every namespace."""
        with self._lock:
            self._settle()
            return [copy.deepcopy(f) for f in self._functions.values()]

    def list(self, namespace: str) -> list[Function]:
        with self._lock:
            self._settle()
            return [copy.deepcopy(f) for f in self._functions.values() if f.namespace == namespace]

    def update_code(
        self,
        namespace: str,
        name: str,
        handler: str,
        code_sha256: str,
        code_size: int,
        problem: str | None,
        publish: bool,
    ) -> None:
        """Swap in new code (``Updating`` -> ``Active``). With ``problem`` the old code keeps
        serving and the function ends ``UpdateFailed``."""
        with self._lock:
            function = self._get(namespace, name)
            self._require_ready(function, "UpdateFunctionCode", "update the code of")
            if publish:
                self._check_version_room(function)
            if problem:
                reasons = [{"ErrorCode": "UpdateFailed", "ErrorMessage": problem}]
                self._begin(function, "Updating", "UpdateFailed", reasons)
            else:
                function.config = _replace(
                    function.config, handler=handler, code_sha256=code_sha256, code_size=code_size
                )
                self._begin(function, "Updating", ACTIVE, publish="" if publish else None)
            function.mod_time = self._clock()
            self._save()

    def update_configuration(
        self, namespace: str, name: str, changes: dict, publish: bool, settings: dict | None = None
    ) -> None:
        """Apply ``changes`` (FunctionConfig field names) to ``$LATEST``, and ``settings``
        (:data:`ASYNC_SETTINGS` fields) to the function."""
        with self._lock:
            function = self._get(namespace, name)
            self._require_ready(function, "UpdateFunctionConfiguration", "update")
            if publish:
                self._check_version_room(function)
            function.config = _replace(function.config, **changes)
            for field, value in _async_settings(settings).items():
                setattr(function, field, value)
            function.mod_time = self._clock()
            self._begin(function, "Updating", ACTIVE, publish="" if publish else None)
            self._save()

    def delete(self, namespace: str, name: str, qualifier: str | None) -> None:
        """Delete one version, or (no qualifier) the whole function: ``Deleting`` -> gone."""
        with self._lock:
            function = self._get(namespace, name)
            if qualifier and qualifier != LATEST:
                if qualifier not in function.versions:
                    raise ResourceNotFound(
                        "Version", f"version {qualifier!r} of function {name!r} does not exist"
                    )
                del function.versions[qualifier]
                function.triggers = [t for t in function.triggers if t.qualifier != qualifier]
                self._save()
            else:
                if function.status in TRANSIENT_STATES:
                    raise FailedOperation(
                        "DeleteFunction",
                        f"cannot delete function {name!r} while its status is {function.status}",
                    )
                self._begin(function, "Deleting", "Deleted")
                self._save()
        self.on_triggers_changed()

    def set_async_settings(self, namespace: str, name: str, **settings) -> None:
        """Change asynchronous settings of a function (:data:`ASYNC_SETTINGS` fields), e.g.
        ``async_trigger_config``; takes effect for invocations that fail from now on."""
        with self._lock:
            function = self._get(namespace, name)
            for field, value in _async_settings(settings).items():
                setattr(function, field, value)
            self._save()

    def publish(self, namespace: str, name: str, description: str) -> Version:
        """Snapshot ``$LATEST`` as the next version; the function passes through Publishing."""
        with self._lock:
            function = self._get(namespace, name)
            self._require_ready(function, "PublishVersion", "publish a version of")
            self._check_version_room(function)
            version = self._snapshot(function, description)
            self._begin(function, "Publishing", ACTIVE)
            self._save()
            return copy.deepcopy(version)

    def resolve(self, namespace: str, name: str, qualifier: str) -> tuple[Function, FunctionConfig]:
        """The function and the configuration to run for ``qualifier``.

        ``$LATEST`` needs the function Active (or UpdateFailed/PublishFailed, where the previous
        code keeps serving); a published version only needs the function not being created or
        deleted.
        """
        with self._lock:
            function = self._get(namespace, name)
            config = function.config_for(qualifier)
            if config is None:
                raise ResourceNotFound(
                    "Qualifier", f"version {qualifier!r} of function {name!r} does not exist"
                )
            busy = function.status not in READY_STATES
            if qualifier in function.versions:
                busy = function.status in ("Creating", "CreateFailed", "Deleting")
            if busy:
                raise FailedOperation(
                    "FunctionStatusError",
                    f"function {name!r} cannot be invoked while its status is {function.status}",
                )
            return copy.deepcopy(function), config

    # -- triggers -------------------------------------------------------------------------------
    def add_trigger(
        self,
        namespace: str,
        name: str,
        trigger: Trigger,
        event: str | None = None,
        check: Callable[[Function, list[Function]], None] | None = None,
    ) -> Trigger:
        """Bind a trigger. ``check(function, all_functions)`` may raise to refuse it."""
        with self._lock:
            function = self._get(namespace, name)
            self._require_ready(function, "CreateTrigger", "add a trigger to")
            if function.config_for(trigger.qualifier) is None:
                raise ResourceNotFound(
                    "Qualifier",
                    f"version {trigger.qualifier!r} of function {name!r} does not exist",
                )
            if function.find_trigger(trigger.name, trigger.type, event) is not None:
                raise ResourceInUse(
                    "Trigger", f"trigger {trigger.name!r} already exists on function {name!r}"
                )
            self._check_trigger_room(function, trigger)
            if check is not None:
                check(function, list(self._functions.values()))
            function.triggers.append(trigger)
            self._save()
        self.on_triggers_changed()
        return trigger

    def _check_trigger_room(self, function: Function, trigger: Trigger) -> None:
        """Refuse a trigger beyond SCF's quotas: triggers of one type per function, and COS
        triggers per bucket (all functions of the region)."""
        same_type = sum(1 for t in function.triggers if t.type == trigger.type)
        if same_type >= SCF_MAX_TRIGGERS_PER_TYPE:
            raise LimitExceeded(
                "Trigger",
                f"function {function.name!r} already has {same_type} {trigger.type} triggers, "
                f"SCF's limit per type ({SCF_MAX_TRIGGERS_PER_TYPE})",
            )
        if trigger.type == "cos":
            on_bucket = sum(
                1
                for f in self._functions.values()
                for t in f.triggers
                if t.type == "cos" and t.name == trigger.name
            )
            if on_bucket >= SCF_MAX_COS_TRIGGERS_PER_BUCKET:
                raise LimitExceeded(
                    "Trigger",
                    f"bucket {trigger.name} already has {on_bucket} COS triggers, SCF's limit "
                    f"per bucket ({SCF_MAX_COS_TRIGGERS_PER_BUCKET})",
                )

    def remove_trigger(
        self, namespace: str, name: str, trigger_name: str, type_: str, event: str | None
    ) -> None:
        with self._lock:
            function = self._get(namespace, name)
            trigger = function.find_trigger(trigger_name, type_, event)
            if trigger is None:
                raise ResourceNotFound(
                    "Trigger", f"trigger {trigger_name!r} ({type_}) does not exist on {name!r}"
                )
            function.triggers.remove(trigger)
            self._save()
        self.on_triggers_changed()

    def triggers(self, type_: str) -> list[tuple[str, str, Trigger]]:
        """``(namespace, function, trigger)`` for every enabled trigger of ``type_`` whose function
        is not being created or deleted."""
        with self._lock:
            self._settle()
            return [
                (f.namespace, f.name, copy.deepcopy(t))
                for f in self._functions.values()
                if f.status not in ("Creating", "CreateFailed", "Deleting")
                for t in f.triggers
                if t.type == type_ and t.enabled
            ]

    # -- housekeeping ---------------------------------------------------------------------------
    def code_in_use(self) -> set[str]:
        with self._lock:
            used = set()
            for function in self._functions.values():
                used.add(function.config.code_sha256)
                used.update(v.config.code_sha256 for v in function.versions.values())
            return used

    def reset(self) -> None:
        with self._lock:
            self._functions.clear()
            self._save()
        self.on_triggers_changed()


#: The asynchronous settings of a :class:`~.models.Function` (:mod:`.async_config`).
ASYNC_SETTINGS = frozenset({"async_run", "trace", "async_trigger_config", "dead_letter_config"})


def _async_settings(settings: dict | None) -> dict:
    unknown = set(settings or ()) - ASYNC_SETTINGS
    if unknown:
        raise ValueError(f"not asynchronous settings: {sorted(unknown)}")
    return dict(settings or {})


def _replace(config: FunctionConfig, **changes) -> FunctionConfig:
    if "environment" in changes:
        changes["environment"] = tuple(changes["environment"])
    return replace(config, **changes)
