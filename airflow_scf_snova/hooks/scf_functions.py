"""SCF functions: the function calls of :class:`~airflow_scf_snova.hooks.scf.SCFHook`
(``GetFunction``, ``ListFunctions``, ``CreateFunction``, ``UpdateFunctionCode``,
``UpdateFunctionConfiguration``, ``DeleteFunction``, ``PublishVersion``), the waits for a
function's status, and :meth:`~SCFFunctionsMixin.ensure_function`, which creates a function or
updates it to match a definition.

Create, update, publish and delete return at once on SCF; the function's ``Status`` says when
the work is done (``Creating`` -> ``Active``, or a ``*Failed`` status with ``StatusReasons``).
A wait polls ``GetFunction`` with a growing pause until its target, a failure or a deadline.

Sources: the models of ``tencentcloud-sdk-python-scf`` (API 2018-04-16) and the ``GetFunction``
status table (https://cloud.tencent.com/document/api/583/115197).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from scf_snova_core.names import split_bucket
from scf_snova_core.states import ACTIVE, FAILED_STATES, TRANSIENT_STATES

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    SCFFunctionStateError,
    SCFWaitTimeoutError,
    invalid_input,
)
from airflow_scf_snova.hooks.scf_client import SCFClientHook
from airflow_scf_snova.hooks.scf_layers import UNBIND_ALL
from airflow_scf_snova.scf.environment import (
    CODE_HASH_VARIABLE,
    environment_param,
    environment_variables,
)
from airflow_scf_snova.scf.network import deployed_vpc_config, vpc_config_param


def _dead_letter(config: Mapping[str, Any] | None) -> tuple[str, ...]:
    """A ``DeadLetterConfig`` to compare (an absent one and an empty one are the same)."""
    return tuple(str((config or {}).get(k) or "") for k in ("Type", "Name", "FilterType"))


def status_reasons(function: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``StatusReasons`` of a ``GetFunction`` response as ``(ErrorCode, ErrorMessage)`` pairs."""
    return [
        (str(r.get("ErrorCode") or ""), str(r.get("ErrorMessage") or ""))
        for r in function.get("StatusReasons") or []
    ]


@dataclass(frozen=True)
class FunctionChange:
    """What :meth:`SCFFunctionsMixin.ensure_function` did.

    :param created: the function was created.
    :param code_updated: its code was sent (always on creation).
    :param configuration_updated: its configuration was set (always on creation).
    :param version: the version published, if any.
    :param status: the function's status when nothing changed (``None`` after a change: SCF is
        then still working on it).
    """

    created: bool = False
    code_updated: bool = False
    configuration_updated: bool = False
    version: str | None = None
    status: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the code or the configuration was sent."""
        return self.code_updated or self.configuration_updated


class SCFFunctionsMixin(SCFClientHook):
    """The function part of :class:`~airflow_scf_snova.hooks.scf.SCFHook`: the function calls,
    the waits for a function's status, and :meth:`ensure_function`."""

    def get_function(
        self, function_name: str, namespace: str | None = None, qualifier: str | None = None
    ) -> dict[str, Any]:
        """``GetFunction``: configuration, ``Status``, ``Environment``, ``Triggers``...

        :raises ResourceNotFoundError: no such function (or qualifier).
        """
        return self.call(
            "GetFunction",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Qualifier": qualifier,
            },
        )

    def function_exists(self, function_name: str, namespace: str | None = None) -> bool:
        try:
            self.get_function(function_name, namespace)
        except ResourceNotFoundError:
            return False
        return True

    def get_function_status(
        self, function_name: str, namespace: str | None = None, qualifier: str | None = None
    ) -> str:
        return self.get_function(function_name, namespace, qualifier)["Status"]

    def list_functions(
        self,
        namespace: str | None = None,
        search_key: str | None = None,
        filters: dict[str, Iterable[str]] | None = None,
        page_size: int = 100,
    ) -> list[dict[str, Any]]:
        """``ListFunctions``, every page.

        :param search_key: fuzzy match on the function name.
        :param filters: e.g. ``{"Status": ["Active"], "tag-team": ["data"]}``.
        """
        params = {
            "Namespace": self._ns(namespace),
            "SearchKey": search_key,
            "Filters": [{"Name": name, "Values": list(values)} for name, values in filters.items()]
            if filters
            else None,
        }
        return self.list_all("ListFunctions", params, "Functions", page_size)

    def zip_code(self, zip_bytes: bytes) -> dict[str, str]:
        """A ``Code`` object carrying a zip package."""
        return {"ZipFile": base64.b64encode(zip_bytes).decode("ascii")}

    def cos_code(self, bucket: str, key: str) -> dict[str, str]:
        """A ``Code`` object pointing at a zip in COS (same region as the function).

        :param bucket: ``name-appid``, or ``name`` with the connection's ``appid``.
        :param key: the object key.
        """
        with invalid_input():
            name, _ = split_bucket(bucket, self.appid)
        return {
            "CosBucketName": name,  # SCF wants the bucket name without -appid
            "CosObjectName": "/" + key.lstrip("/"),
            "CosBucketRegion": self.region,
        }

    def create_function(
        self,
        function_name: str,
        code: dict[str, str],
        handler: str,
        runtime: str,
        memory_size: int = 128,
        timeout: int = 3,
        environment: dict[str, str] | None = None,
        description: str | None = None,
        namespace: str | None = None,
        tags: dict[str, str] | None = None,
        function_type: str = "Event",
        vpc_config: Mapping[str, str] | None = None,
        layers: list[dict[str, Any]] | None = None,
        async_run: bool = False,
        trace: bool = False,
        dead_letter_config: dict[str, str] | None = None,
    ) -> None:
        """``CreateFunction``; the function is ``Creating`` until SCF settles it (wait with
        :meth:`wait_for_function_status`).

        :param code: from :meth:`zip_code` or :meth:`cos_code`.
        :param environment: variables as a dict (sent as ``Variables`` Key/Value pairs).
        :param vpc_config: ``{"VpcId", "SubnetId"}`` to deploy it in a VPC (see
            :func:`~airflow_scf_snova.scf.network.vpc_config_param`).
        :param layers: ``[{"LayerName", "LayerVersion"}]`` to bind, in order
            (:func:`~airflow_scf_snova.hooks.scf_layers.layer_refs`).
        :param async_run: async-execution mode (``AsyncRunEnable``; fixed at creation).
        :param trace: status tracing of its async events (``TraceEnable``; needs ``async_run``).
        :param dead_letter_config: ``{"Type", "Name", "FilterType"}`` of a dead-letter queue.
        """
        self.call(
            "CreateFunction",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Code": code,
                "CodeSource": "Cos" if "CosObjectName" in code else "ZipFile",
                "Handler": handler,
                "Runtime": runtime,  # always sent: SCF defaults to Python2.7
                "MemorySize": memory_size,
                "Timeout": timeout,
                "Environment": environment_param(environment) if environment else None,
                "Description": description,
                "Type": function_type,
                "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()] or None,
                "VpcConfig": vpc_config_param(vpc_config),
                "Layers": layers or None,
                "AsyncRunEnable": "TRUE" if async_run else None,
                "TraceEnable": "TRUE" if trace else None,
                "DeadLetterConfig": dead_letter_config,
            },
        )

    def update_function_code(
        self,
        function_name: str,
        code: dict[str, str],
        handler: str | None = None,
        namespace: str | None = None,
        publish: bool = False,
    ) -> None:
        """``UpdateFunctionCode`` (the function must be Active; it becomes ``Updating``)."""
        self.call(
            "UpdateFunctionCode",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Code": code,
                "CodeSource": "Cos" if "CosObjectName" in code else "ZipFile",
                "Handler": handler,
                "Publish": "TRUE" if publish else None,
            },
        )

    def update_function_configuration(
        self,
        function_name: str,
        namespace: str | None = None,
        description: str | None = None,
        memory_size: int | None = None,
        timeout: int | None = None,
        environment: dict[str, str] | None = None,
        publish: bool = False,
        vpc_config: Mapping[str, str] | None = None,
        layers: list[dict[str, Any]] | None = None,
        dead_letter_config: dict[str, str] | None = None,
    ) -> None:
        """``UpdateFunctionConfiguration``; ``None`` leaves a field unchanged, an empty
        ``environment`` dict clears every variable, empty ``layers`` unbinds every layer."""
        self.call(
            "UpdateFunctionConfiguration",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Description": description,
                "MemorySize": memory_size,
                "Timeout": timeout,
                "Environment": None if environment is None else environment_param(environment),
                "Publish": "TRUE" if publish else None,
                "VpcConfig": vpc_config_param(vpc_config),
                "Layers": None if layers is None else (layers or UNBIND_ALL),
                "DeadLetterConfig": dead_letter_config,
            },
        )

    def delete_function(
        self, function_name: str, namespace: str | None = None, qualifier: str | None = None
    ) -> None:
        """``DeleteFunction``: one version, or (no qualifier) the function and all versions."""
        self.call(
            "DeleteFunction",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Qualifier": qualifier,
            },
        )

    def publish_version(
        self, function_name: str, description: str | None = None, namespace: str | None = None
    ) -> dict[str, Any]:
        """``PublishVersion``; returns ``FunctionVersion`` (e.g. ``"3"``) and the snapshot."""
        return self.call(
            "PublishVersion",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Description": description,
            },
        )

    def ensure_function(
        self,
        function_name: str,
        code: dict[str, str] | Callable[[], dict[str, str]],
        code_sha256: str,
        *,
        handler: str,
        runtime: str,
        memory_size: int = 128,
        timeout: int = 3,
        environment: dict[str, str] | None = None,
        description: str = "",
        publish: bool = False,
        namespace: str | None = None,
        wait_timeout: float = 600,
        poll_interval: float = 1.0,
        vpc_config: Mapping[str, str] | None = None,
        layers: list[dict[str, Any]] | None = None,
        async_run: bool = False,
        trace: bool = False,
        dead_letter_config: dict[str, str] | None = None,
        on_change: Callable[[FunctionChange], None] | None = None,
    ) -> FunctionChange:
        """Create the function, or update it to match this definition; publish a version after a
        change when asked.

        The code's hash is kept in the function's environment
        (:data:`~airflow_scf_snova.scf.environment.CODE_HASH_VARIABLE`): when it equals
        ``code_sha256`` and the handler is unchanged, the code is not sent. The configuration is
        then set to exactly these values, only when it differs, once the code update is done.
        A function that is still changing is waited for first.

        :param code: from :meth:`zip_code` or :meth:`cos_code`, or a callable returning it (called
            only when the code is sent, e.g. to stage a large package in COS first).
        :param code_sha256: the hash of that code.
        :param environment: the variables of the function (``None``: none).
        :param vpc_config: the VPC and subnet to deploy it in, ``{"VpcId", "SubnetId"}``
            (``None``: its network is left as it is; SCF documents no way to leave a VPC).
        :param layers: the layers to bind, in order (``None``: leave them as they are).
        :param async_run: async-execution mode and ``trace`` status tracing, set at creation.
        :param dead_letter_config: the dead-letter queue (``None``: leave it as it is).
        :param on_change: called with what was done so far as soon as SCF accepted each change
            (the creation, the code, the configuration, the published version), before any wait.
        :raises SCFFunctionStateError: the function's creation had failed (delete it first).
        :raises InvalidInputError: a different runtime, async-execution mode or tracing (all
            fixed at creation).
        """
        variables = {**(environment or {}), CODE_HASH_VARIABLE: code_sha256}
        started = on_change or (lambda change: None)
        vpc = vpc_config_param(vpc_config)

        def wait_active() -> dict[str, Any]:
            return self.wait_for_function_status(
                function_name,
                namespace=namespace,
                timeout=wait_timeout,
                poll_interval=poll_interval,
            )

        try:
            current: dict[str, Any] | None = self.get_function(function_name, namespace)
        except ResourceNotFoundError:
            current = None
        if current is None:
            self.create_function(
                function_name,
                code() if callable(code) else code,
                handler,
                runtime,
                memory_size=memory_size,
                timeout=timeout,
                environment=variables,
                description=description,
                namespace=namespace,
                vpc_config=vpc,
                layers=layers,
                async_run=async_run,
                trace=trace,
                dead_letter_config=dead_letter_config,
            )
            self.log.info("Created SCF function %s", function_name)
            change = FunctionChange(created=True, code_updated=True, configuration_updated=True)
            started(change)
        else:
            if current.get("Status") in TRANSIENT_STATES:
                current = wait_active()
            self._check_updatable(function_name, current, runtime, async_run, trace)
            deployed = environment_variables(current)
            change = FunctionChange(status=current.get("Status"))
            if deployed.get(CODE_HASH_VARIABLE) != code_sha256 or current.get("Handler") != handler:
                sent = code() if callable(code) else code
                self.update_function_code(function_name, sent, handler, namespace)
                self.log.info(
                    "Updated the code of SCF function %s (deployed sha256: %s)",
                    function_name,
                    deployed.get(CODE_HASH_VARIABLE) or "unknown",
                )
                change = replace(change, code_updated=True)
                started(change)
                wait_active()  # SCF refuses a configuration update while the code is updating
            else:
                self.log.info(
                    "The code of SCF function %s is unchanged (sha256 %s): no code update",
                    function_name,
                    code_sha256,
                )
            deployed_vpc = deployed_vpc_config(current)
            bound = [
                {"LayerName": x.get("LayerName"), "LayerVersion": x.get("LayerVersion")}
                for x in current.get("Layers") or []
            ]
            configuration = (memory_size, timeout, description, variables, vpc or deployed_vpc)
            layers_differ = layers is not None and layers != bound
            dead_letter_changed = dead_letter_config is not None and _dead_letter(
                dead_letter_config
            ) != _dead_letter(current.get("DeadLetterConfig"))
            if (
                layers_differ
                or dead_letter_changed
                or configuration
                != (
                    current.get("MemorySize"),
                    current.get("Timeout"),
                    current.get("Description") or "",
                    deployed,
                    deployed_vpc,
                )
            ):
                self.update_function_configuration(
                    function_name,
                    namespace,
                    description,
                    memory_size,
                    timeout,
                    variables,
                    vpc_config=vpc if vpc != deployed_vpc else None,
                    layers=layers if layers_differ else None,
                    dead_letter_config=dead_letter_config if dead_letter_changed else None,
                )
                self.log.info("Updated the configuration of SCF function %s", function_name)
                change = replace(change, configuration_updated=True)
                started(change)
        if change.changed:
            change = replace(change, status=None)
            if publish:
                wait_active()
                version = self.publish_version(function_name, description or None, namespace)
                change = replace(change, version=version.get("FunctionVersion"))
                started(change)
                self.log.info(
                    "Published version %s of SCF function %s", change.version, function_name
                )
        return change

    def _check_updatable(
        self,
        function_name: str,
        current: dict[str, Any],
        runtime: str,
        async_run: bool = False,
        trace: bool = False,
    ) -> None:
        if current.get("Status") == "CreateFailed":
            self.log.error(
                "SCF function %s failed to be created; it cannot be updated: delete it and "
                "deploy again",
                function_name,
            )
            raise SCFFunctionStateError(function_name, "CreateFailed", status_reasons(current))
        if current.get("Runtime") and current["Runtime"] != runtime:
            raise InvalidInputError(
                f"SCF function {function_name!r} runs {current['Runtime']}; the runtime cannot "
                f"change to {runtime} after creation: delete the function first"
            )
        for field, wanted in (("AsyncRunEnable", async_run), ("TraceEnable", trace)):
            deployed = current.get(field) == "TRUE"
            if deployed != wanted:
                raise InvalidInputError(
                    f"SCF function {function_name!r} has {field}={'TRUE' if deployed else 'FALSE'};"
                    f" it is chosen at creation and cannot change to "
                    f"{'TRUE' if wanted else 'FALSE'}: delete the function first"
                )

    # -- waiting for a status ---------------------------------------------------------------------
    def wait_for_function_status(
        self,
        function_name: str,
        target_states: Collection[str] = (ACTIVE,),
        namespace: str | None = None,
        timeout: float = 600,
        poll_interval: float = 1.0,
        max_poll_interval: float = 15.0,
    ) -> dict[str, Any]:
        """Poll ``GetFunction`` until its ``Status`` is one of ``target_states``.

        :param timeout: the deadline in seconds.
        :param poll_interval: the first pause between polls; it grows by half each time up to
            ``max_poll_interval``.
        :return: the last ``GetFunction`` response.
        :raises SCFFunctionStateError: the function reached a ``*Failed`` status not waited for.
        :raises SCFWaitTimeoutError: the deadline passed.
        """

        def check() -> dict[str, Any] | None:
            function = self.get_function(function_name, namespace)
            status = function.get("Status")
            if status in target_states:
                return function
            if status in FAILED_STATES:
                raise SCFFunctionStateError(function_name, status, status_reasons(function))
            self.log.info(
                "SCF function %s is %s; waiting for %s",
                function_name,
                status,
                "/".join(target_states),
            )
            return None

        return self._poll(
            check,
            timeout,
            poll_interval,
            max_poll_interval,
            f"SCF function {function_name!r} did not become {'/'.join(target_states)}",
        )

    def wait_for_function_deleted(
        self,
        function_name: str,
        namespace: str | None = None,
        timeout: float = 600,
        poll_interval: float = 1.0,
        max_poll_interval: float = 15.0,
    ) -> None:
        """Poll ``GetFunction`` until the function is gone.

        :raises SCFFunctionStateError: deletion failed (``DeleteFailed``).
        """

        def check() -> bool | None:
            try:
                function = self.get_function(function_name, namespace)
            except ResourceNotFoundError:
                return True
            if function.get("Status") == "DeleteFailed":
                raise SCFFunctionStateError(function_name, "DeleteFailed", status_reasons(function))
            return None

        self._poll(
            check,
            timeout,
            poll_interval,
            max_poll_interval,
            f"SCF function {function_name!r} was not deleted",
        )

    def _poll(
        self,
        check: Callable[[], Any],
        timeout: float,
        poll_interval: float,
        max_poll_interval: float,
        timeout_message: str,
    ) -> Any:
        deadline = time.monotonic() + timeout
        delay = poll_interval
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SCFWaitTimeoutError(f"{timeout_message} within {timeout:g} s")
            time.sleep(min(delay, remaining))
            delay = min(max_poll_interval, delay * 1.5)
