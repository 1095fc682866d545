"""Operators for Tencent Cloud SCF: deploy, invoke and delete functions; create and delete their
timer and COS triggers.

All share one vocabulary (``function_name``, ``namespace``, ``qualifier``, ``payload``,
``invocation_type``, ``poll_interval``, ``deferrable``, ``tencentcloud_conn_id``, ``region``) and
build their :class:`~airflow_scf_snova.hooks.scf.SCFHook` on first use, never at DAG-parse time.
Nothing here imports an SDK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowException

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    SCFFunctionExecutionError,
    SCFFunctionStateError,
    SCFWaitTimeoutError,
    TencentCloudError,
)
from airflow_scf_snova.links.scf import SCFFunctionLink, SCFFunctionLogsLink
from airflow_scf_snova.utils.mixins import TencentCloudHookMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_scf_snova.hooks.scf import SCFHook
    from airflow_scf_snova.utils.scf_package import CodePackage

#: The colour of every SCF task in the UI (Tencent Cloud blue).
SCF_UI_COLOR = "#0052d9"
SCF_UI_FGCOLOR = "#ffffff"
#: The environment variable where a deploy records the SHA-256 of the deployed code package.
#: SCF cannot change a function's tags after creation through its API, so the hash lives in the
#: function's configuration, next to the variables it describes.
CODE_HASH_VARIABLE = "AIRFLOW_SCF_CODE_SHA256"
#: Environment keys whose values are masked in logs (case-insensitive substring match).
SECRET_KEY_PATTERN = re.compile(
    r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE|DSN|CONN", re.IGNORECASE
)
_ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DEFAULT_DEFERRABLE = "default_deferrable"


def _deferrable_default() -> bool:
    return conf.getboolean("operators", _DEFAULT_DEFERRABLE, fallback=False)


def _looks_templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class _SCFOperatorMixin(TencentCloudHookMixin):
    """Hook construction for every SCF operator and sensor (adds the namespace)."""

    hook_class_path = "airflow_scf_snova.hooks.scf.SCFHook"
    namespace: str | None

    def hook_kwargs(self) -> dict[str, Any]:
        return {**super().hook_kwargs(), "namespace": self.namespace}

    @property
    def scf_hook(self) -> SCFHook:
        return self.hook


def mask_environment(environment: Mapping[str, Any] | None) -> None:
    """Register as secrets the values whose key looks secret (``PASSWORD``, ``SECRET``,
    ``TOKEN``, ``KEY``...). Values taken from a connection's password are masked by Airflow when
    the connection is read."""
    if not environment:
        return
    from airflow.sdk.log import mask_secret

    for key, value in environment.items():
        if value not in (None, "") and SECRET_KEY_PATTERN.search(str(key)):
            mask_secret(str(value))


def normalise_environment(environment: Mapping[str, Any] | None) -> dict[str, str]:
    """Validate function environment variables and turn scalar values into strings.

    :raises InvalidInputError: a key SCF rejects, the reserved :data:`CODE_HASH_VARIABLE`, or a
        value that is not a string, number or boolean.
    """
    if environment is None:
        return {}
    if not isinstance(environment, Mapping):
        raise InvalidInputError(f"environment must be a dict, got {type(environment).__name__}")
    result: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not _ENV_KEY.match(key):
            raise InvalidInputError(
                f"environment variable name {key!r} is invalid: use letters, digits and '_', "
                "starting with a letter"
            )
        if key == CODE_HASH_VARIABLE:
            raise InvalidInputError(f"{CODE_HASH_VARIABLE} is reserved for the deploy's code hash")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        elif value is None:
            value = ""
        elif not isinstance(value, str):
            raise InvalidInputError(
                f"environment variable {key!r} must be a string, number or boolean, got "
                f"{type(value).__name__}"
            )
        result[key] = value
    return result


def scf_template_fields(*fields: str) -> tuple[str, ...]:
    """The templated fields of an SCF operator: ``function_name``, then ``fields``, then the
    namespace and connection fields every SCF operator has."""
    return ("function_name", *fields, "namespace", "tencentcloud_conn_id", "region")


class SCFBaseOperator(_SCFOperatorMixin, BaseOperator):
    """What every SCF operator takes: the function, its namespace and the connection. The
    :class:`~airflow_scf_snova.hooks.scf.SCFHook` is built on first use (``self.scf_hook``).

    :param function_name: the function.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields()
    ui_color = SCF_UI_COLOR
    ui_fgcolor = SCF_UI_FGCOLOR

    def __init__(
        self,
        *,
        function_name: str,
        namespace: str | None = None,
        tencentcloud_conn_id: str = "tencentcloud_default",
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.function_name = function_name
        self.namespace = namespace
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self.region = region


class SCFDeployFunctionOperator(SCFBaseOperator):
    """Create an SCF function, or update it to match this definition.

    The code comes from exactly one of ``code_dir`` (zipped deterministically: sorted entries,
    fixed timestamps and permissions, no ``__pycache__``/``*.pyc``), ``zip_file``, or
    ``cos_bucket`` + ``cos_key``. Its SHA-256 (for COS: of the bucket, key and ETag) is kept in
    the function's environment as ``AIRFLOW_SCF_CODE_SHA256``; when it equals the package's and
    the handler is unchanged, ``UpdateFunctionCode`` is skipped. The configuration (memory,
    timeout, description, environment) is then set to exactly these values, updated only when it
    differs, after waiting for the function to be ``Active`` again. Runtime cannot change after
    creation (delete the function first).

    Returns ``{"function_name", "namespace", "status", "code_sha256", "created",
    "code_updated", "configuration_updated", "version"}``; ``version`` is the published version
    (only with ``publish``, and only when something changed).

    .. seealso:: ``docs/scf.md`` ("Deploy a function")

    :param function_name: the function (2-60 letters, digits, ``-``, ``_``; starts with a letter).
    :param code_dir: a directory whose contents become the root of the package.
    :param zip_file: a ready-made zip.
    :param cos_bucket: the bucket of a zip in COS (``name-appid`` or ``name``); with ``cos_key``.
    :param cos_key: the key of that zip.
    :param handler: ``<file>.<function>``, e.g. ``index.main_handler``.
    :param runtime: e.g. ``Python3.9`` (fixed at creation).
    :param memory_size: MB: 64, or 128-3072 in steps of 128.
    :param timeout: the function's timeout in seconds (1-900).
    :param environment: environment variables (templated; values may come from connections such
        as ``"{{ conn.snova_default.password }}"``). Values whose key looks secret (PASSWORD,
        SECRET, TOKEN, KEY...) and connection passwords are masked in logs. ``None`` means none.
    :param description: the function's description.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param publish: publish a version after a change.
    :param wait_for_active: wait until the function is ``Active`` after the last change (the
        waits between steps always happen).
    :param deferrable: do that last wait in the triggerer.
    :param poll_interval: seconds between status polls.
    :param wait_timeout: seconds to wait for each status change.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields(
        "code_dir",
        "zip_file",
        "cos_bucket",
        "cos_key",
        "handler",
        "runtime",
        "environment",
        "description",
    )
    template_fields_renderers = {"environment": "json"}
    operator_extra_links = (SCFFunctionLink(),)

    def __init__(
        self,
        *,
        code_dir: str | None = None,
        zip_file: str | None = None,
        cos_bucket: str | None = None,
        cos_key: str | None = None,
        handler: str = "index.main_handler",
        runtime: str = "Python3.9",
        memory_size: int = 128,
        timeout: int = 3,
        environment: dict[str, Any] | None = None,
        description: str | None = None,
        publish: bool = False,
        wait_for_active: bool = True,
        deferrable: bool = _deferrable_default(),
        poll_interval: float = 1.0,
        wait_timeout: float = 600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        sources = [code_dir is not None, zip_file is not None, cos_bucket is not None]
        if sum(sources) != 1:
            raise InvalidInputError(
                "give exactly one code source: code_dir, zip_file, or cos_bucket with cos_key"
            )
        if (cos_bucket is None) != (cos_key is None):
            raise InvalidInputError("cos_bucket and cos_key go together")
        self.code_dir = code_dir
        self.zip_file = zip_file
        self.cos_bucket = cos_bucket
        self.cos_key = cos_key
        self.handler = handler
        self.runtime = runtime
        self.memory_size = memory_size
        self.timeout = timeout
        self.environment = environment
        self.description = description
        self.publish = publish
        self.wait_for_active = wait_for_active
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def render_template_fields(self, context: Context, jinja_env=None) -> None:
        super().render_template_fields(context, jinja_env)
        # Before the rendered fields are stored or anything is logged.
        mask_environment(self.environment)

    # -- steps -----------------------------------------------------------------------------------
    def _package(self) -> CodePackage:
        from airflow_scf_snova.utils import scf_package

        try:
            if self.code_dir is not None:
                return scf_package.package_directory(self.code_dir)
            if self.zip_file is not None:
                return scf_package.package_zip_file(self.zip_file)
        except (OSError, ValueError) as err:
            raise InvalidInputError(f"cannot package the function code: {err}") from err
        etag = self.scf_hook.cos_object_etag(self.cos_bucket, self.cos_key)  # type: ignore[arg-type]
        source = f"cos://{self.cos_bucket}/{self.cos_key}"
        return scf_package.CodePackage(
            data=None, sha256=scf_package.sha256_hex(f"{source}#{etag}".encode()), source=source
        )

    def _code(self, package: CodePackage) -> dict[str, str]:
        if package.data is not None:
            return self.scf_hook.zip_code(package.data)
        return self.scf_hook.cos_code(self.cos_bucket, self.cos_key)  # type: ignore[arg-type]

    def _wait_active(self) -> dict[str, Any]:
        return self.scf_hook.wait_for_function_status(
            self.function_name,
            ("Active",),
            timeout=self.wait_timeout,
            poll_interval=self.poll_interval,
        )

    def _create(self, package: CodePackage, environment: dict[str, str], description: str) -> None:
        self.scf_hook.create_function(
            self.function_name,
            self._code(package),
            handler=self.handler,
            runtime=self.runtime,
            memory_size=self.memory_size,
            timeout=self.timeout,
            environment=environment,
            description=description,
        )
        self.log.info("Created SCF function %s", self.function_name)

    def _check_updatable(self, current: dict[str, Any]) -> dict[str, Any]:
        from airflow_scf_snova.hooks.scf import TRANSIENT_STATES, status_reasons

        if current.get("Status") in TRANSIENT_STATES:
            current = self._wait_active()
        if current.get("Status") == "CreateFailed":
            self.log.error(
                "SCF function %s failed to be created; it cannot be updated: delete it and "
                "deploy again",
                self.function_name,
            )
            raise SCFFunctionStateError(self.function_name, "CreateFailed", status_reasons(current))
        if current.get("Runtime") and current["Runtime"] != self.runtime:
            raise InvalidInputError(
                f"SCF function {self.function_name!r} runs {current['Runtime']}; the runtime "
                f"cannot change to {self.runtime} after creation: delete the function first"
            )
        return current

    def _update_code(self, current: dict[str, Any], package: CodePackage) -> bool:
        from airflow_scf_snova.hooks.scf import environment_variables

        deployed_hash = environment_variables(current).get(CODE_HASH_VARIABLE)
        if deployed_hash == package.sha256 and current.get("Handler") == self.handler:
            self.log.info(
                "The code of SCF function %s is unchanged (sha256 %s): no code update",
                self.function_name,
                package.sha256,
            )
            return False
        self.scf_hook.update_function_code(self.function_name, self._code(package), self.handler)
        self.log.info(
            "Updated the code of SCF function %s (deployed sha256: %s)",
            self.function_name,
            deployed_hash or "unknown",
        )
        self._wait_active()  # SCF refuses a configuration update while the code is updating
        return True

    def _update_configuration(
        self, current: dict[str, Any], environment: dict[str, str], description: str
    ) -> bool:
        from airflow_scf_snova.hooks.scf import environment_variables

        if (
            current.get("MemorySize") == self.memory_size
            and current.get("Timeout") == self.timeout
            and (current.get("Description") or "") == description
            and environment_variables(current) == environment
        ):
            return False
        self.scf_hook.update_function_configuration(
            self.function_name,
            description=description,
            memory_size=self.memory_size,
            timeout=self.timeout,
            environment=environment,
        )
        self.log.info("Updated the configuration of SCF function %s", self.function_name)
        return True

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.scf_hook
        mask_environment(self.environment)
        user_env = normalise_environment(self.environment)
        package = self._package()
        namespace = hook.namespace
        desired_env = {**user_env, CODE_HASH_VARIABLE: package.sha256}
        description = self.description or ""
        SCFFunctionLink.persist(context, self, hook.region, namespace, self.function_name)
        self.log.info(
            "Deploying SCF function %s (namespace %s) from %s: %d bytes, sha256 %s; "
            "environment keys: %s",
            self.function_name,
            namespace,
            package.source,
            package.size,
            package.sha256,
            ", ".join(sorted(user_env)) or "none",
        )
        result: dict[str, Any] = {
            "function_name": self.function_name,
            "namespace": namespace,
            "code_sha256": package.sha256,
            "created": False,
            "code_updated": False,
            "configuration_updated": False,
            "version": None,
        }
        try:
            current = hook.get_function(self.function_name)
        except ResourceNotFoundError:
            current = None
        if current is None:
            self._create(package, desired_env, description)
            result.update(created=True, code_updated=True, configuration_updated=True)
        else:
            current = self._check_updatable(current)
            result["code_updated"] = self._update_code(current, package)
            result["configuration_updated"] = self._update_configuration(
                current, desired_env, description
            )

        changed = result["code_updated"] or result["configuration_updated"]
        if self.publish and changed:
            self._wait_active()
            published = hook.publish_version(self.function_name, description or None)
            result["version"] = published.get("FunctionVersion")
            self.log.info(
                "Published version %s of SCF function %s", result["version"], self.function_name
            )
        if not changed and not result["version"]:
            result["status"] = (current or {}).get("Status")
            return result
        return self._finish(result)

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        status = self.scf_hook.get_function_status(self.function_name)
        if status == "Active" or not self.wait_for_active:
            result["status"] = status
            return result
        if self.deferrable:
            from airflow_scf_snova.triggers.scf import SCFFunctionStateTrigger

            self.defer(
                trigger=SCFFunctionStateTrigger(
                    function_name=self.function_name,
                    target_states=("Active",),
                    namespace=self.namespace,
                    tencentcloud_conn_id=self.tencentcloud_conn_id,
                    region=self.region,
                    poll_interval=self.poll_interval,
                    timeout=self.wait_timeout,
                ),
                method_name="execute_complete",
                kwargs={"result": result},
                timeout=timedelta(seconds=self.wait_timeout + 60),
            )
        result["status"] = self._wait_active()["Status"]
        return result

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Resume after the status trigger fired."""
        result = dict(result or {})
        _raise_for_status_event(self.function_name, event)
        result["status"] = event["function_status"]  # type: ignore[index]
        return result


def _raise_for_status_event(function_name: str, event: dict[str, Any] | None) -> None:
    if not event:
        raise AirflowException(f"SCF function {function_name!r}: the trigger sent no event")
    if event.get("status") == "success":
        return
    status = event.get("function_status")
    if status and status.endswith("Failed"):
        reasons = [tuple(r) for r in event.get("status_reasons") or []]
        raise SCFFunctionStateError(function_name, status, reasons)  # type: ignore[arg-type]
    if event.get("timed_out"):
        raise SCFWaitTimeoutError(event.get("message", "timed out"))
    raise TencentCloudError(
        event.get("message", f"waiting for SCF function {function_name!r} failed")
    )


class SCFInvokeFunctionOperator(SCFBaseOperator):
    """Invoke an SCF function and push its return value to XCom.

    ``RequestResponse`` (sync) returns the function's return value (``RetMsg`` decoded from
    JSON). The function's complete log goes to the task log: when the 4 KB ``Tail`` is cut, the
    whole log is fetched by ``FunctionRequestId`` with ``GetFunctionLogs``. A failed execution
    (user exception 430, timeout 433, memory 434) raises
    :class:`~airflow_scf_snova.exceptions.SCFFunctionExecutionError`, an
    ``AirflowFailException``: the task fails without retrying, since a retry would run the
    function again. The SDK client never re-sends a sync invoke.

    ``Event`` (async) returns the ``FunctionRequestId`` at once, or, with
    ``wait_for_completion``, polls ``GetRequestStatus`` until the run ends (in the triggerer when
    ``deferrable``) and then behaves like a sync invoke.

    .. seealso:: ``docs/scf.md`` ("Invoke a function")

    :param function_name: the function.
    :param payload: the event: a dict (or any JSON value) or a JSON string (templated). Checked
        before the call: JSON, at most 6 MB (sync) or 128 KB (async).
    :param invocation_type: ``RequestResponse`` or ``Event``.
    :param qualifier: ``$LATEST``, a version number or an alias.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param wait_for_completion: for ``Event``: wait for the run to end.
    :param deferrable: wait in the triggerer (``Event`` with ``wait_for_completion`` only).
    :param poll_interval: seconds between ``GetRequestStatus`` polls.
    :param wait_timeout: seconds to wait for an async run.
    :param log_function_output: write the function's log into the task log.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields("payload", "invocation_type", "qualifier")
    template_fields_renderers = {"payload": "json"}
    operator_extra_links = (SCFFunctionLink(), SCFFunctionLogsLink())

    def __init__(
        self,
        *,
        payload: Any = None,
        invocation_type: str = "RequestResponse",
        qualifier: str = "$LATEST",
        wait_for_completion: bool = True,
        deferrable: bool = _deferrable_default(),
        poll_interval: float = 5.0,
        wait_timeout: float = 3600,
        log_function_output: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not _looks_templated(invocation_type) and invocation_type not in (
            "RequestResponse",
            "Event",
        ):
            raise InvalidInputError(
                f"invocation_type must be RequestResponse or Event, got {invocation_type!r}"
            )
        self.payload = payload
        self.invocation_type = invocation_type
        self.qualifier = qualifier
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.log_function_output = log_function_output

    def execute(self, context: Context) -> Any:
        from airflow_scf_snova.hooks.scf import encode_payload

        encoded = encode_payload(self.payload, self.invocation_type)  # fails before any call
        hook = self.scf_hook
        SCFFunctionLink.persist(context, self, hook.region, hook.namespace, self.function_name)
        self.log.info(
            "Invoking SCF function %s:%s (namespace %s, %s) with a %d-byte payload",
            self.function_name,
            self.qualifier,
            hook.namespace,
            self.invocation_type,
            len(encoded.encode("utf-8")) if encoded else 0,
        )
        result = hook.invoke(
            self.function_name,
            payload=encoded,
            invocation_type=self.invocation_type,
            qualifier=self.qualifier,
        )
        request_id = result.get("FunctionRequestId")
        if self.invocation_type == "RequestResponse":
            return self._complete(
                request_id,
                result.get("RetMsg"),
                result.get("ErrMsg"),
                result.get("InvokeResult"),
                tail=result.get("Log"),
            )
        self.log.info("Async invocation accepted: FunctionRequestId %s", request_id)
        if not self.wait_for_completion:
            return request_id
        if self.deferrable:
            status = hook.get_request_status(self.function_name, request_id)
            if status is None or status.get("RetCode") == 1:
                from airflow_scf_snova.triggers.scf import SCFInvocationCompleteTrigger

                self.defer(
                    trigger=SCFInvocationCompleteTrigger(
                        function_name=self.function_name,
                        function_request_id=request_id,
                        namespace=self.namespace,
                        tencentcloud_conn_id=self.tencentcloud_conn_id,
                        region=self.region,
                        poll_interval=self.poll_interval,
                        timeout=self.wait_timeout,
                    ),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=self.wait_timeout + 60),
                )
        else:
            status = hook.wait_for_invocation(
                self.function_name,
                request_id,
                timeout=self.wait_timeout,
                poll_interval=self.poll_interval,
                max_poll_interval=max(self.poll_interval, 30.0),
            )
        return self._complete_async(request_id, status)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the invocation trigger fired: log, return value or failure."""
        if not event:
            raise AirflowException("the SCF invocation trigger sent no event")
        request_id = event.get("function_request_id")
        if event.get("ret_code") is None:  # the wait itself failed
            if event.get("timed_out"):
                raise SCFWaitTimeoutError(event.get("message", "timed out"))
            raise TencentCloudError(event.get("message", "waiting for the SCF invocation failed"))
        return self._complete_async(
            request_id, {"RetCode": event["ret_code"], "RetMsg": event.get("ret_msg")}
        )

    # -- results ---------------------------------------------------------------------------------
    def _complete_async(self, request_id: str, status: dict[str, Any]) -> Any:
        ret_code = status.get("RetCode")
        failed = ret_code not in (0, None)
        return self._complete(
            request_id,
            status.get("RetMsg"),
            status.get("RetMsg") if failed else "",
            -1 if failed else 0,
            tail=None,
        )

    def _complete(
        self,
        request_id: str | None,
        ret_msg: str | None,
        err_msg: str | None,
        invoke_result: int | None,
        tail: str | None,
    ) -> Any:
        from airflow_scf_snova.hooks.scf import decode_return_value, function_error

        record = self._log_function_output(request_id, tail) if self.log_function_output else None
        error = function_error(ret_msg, err_msg, invoke_result)
        if error is not None:
            status_code = error.status_code
            if status_code is None and record and record.get("RetCode") not in (0, 2, None):
                status_code = record["RetCode"]  # GetFunctionLogs carries the runtime status
            raise SCFFunctionExecutionError(
                self.function_name, request_id, status_code, error.message, error.stack_trace
            )
        return decode_return_value(ret_msg)

    def _log_function_output(
        self, request_id: str | None, tail: str | None
    ) -> dict[str, Any] | None:
        """Write the function's log to the task log; returns the ``FunctionLog`` record when the
        complete log had to be fetched."""
        from airflow_scf_snova.hooks.scf import is_log_truncated

        log_text, record = tail, None
        if request_id and (tail is None or is_log_truncated(tail)):
            try:
                record = self.scf_hook.get_invocation_log(
                    self.function_name, request_id, timeout=max(self.poll_interval * 3, 5.0)
                )
            except TencentCloudError as err:
                self.log.warning("Could not fetch the complete function log: %s", err)
                record = None
            if record and record.get("Log"):
                log_text = record["Log"]
            elif tail:
                self.log.warning("Only the last 4 KB of the function log are available")
        if log_text:
            self.log.info(
                "SCF function log (FunctionRequestId %s):\n%s", request_id, log_text.rstrip("\n")
            )
        return record


class SCFDeleteFunctionOperator(SCFBaseOperator):
    """Delete an SCF function (with its versions and triggers), or one published version.

    :param function_name: the function.
    :param qualifier: a version to delete; ``None`` deletes the whole function.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param ignore_if_missing: succeed when the function does not exist.
    :param wait_for_completion: wait until the function is gone.
    :param poll_interval: seconds between status polls.
    :param wait_timeout: seconds to wait.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields("qualifier")

    def __init__(
        self,
        *,
        qualifier: str | None = None,
        ignore_if_missing: bool = True,
        wait_for_completion: bool = True,
        poll_interval: float = 1.0,
        wait_timeout: float = 600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.qualifier = qualifier
        self.ignore_if_missing = ignore_if_missing
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def execute(self, context: Context) -> bool:
        """:return: whether something was deleted."""
        hook = self.scf_hook
        try:
            hook.delete_function(self.function_name, qualifier=self.qualifier)
        except ResourceNotFoundError:
            if not self.ignore_if_missing:
                raise
            self.log.info("SCF function %s does not exist: nothing to delete", self.function_name)
            return False
        self.log.info(
            "Deleting SCF function %s%s",
            self.function_name,
            f" version {self.qualifier}" if self.qualifier else "",
        )
        if self.wait_for_completion and not self.qualifier:
            hook.wait_for_function_deleted(
                self.function_name, timeout=self.wait_timeout, poll_interval=self.poll_interval
            )
        return True


def _trigger_desc_dict(trigger: Mapping[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(trigger.get("TriggerDesc") or "{}")
    except ValueError:
        return {"cron": trigger.get("TriggerDesc") or ""}
    return value if isinstance(value, dict) else {}


def _cos_definition(desc: Mapping[str, Any]) -> tuple[str, str, str]:
    flt = desc.get("filter") or {}
    return (str(desc.get("event") or ""), flt.get("Prefix") or "", flt.get("Suffix") or "")


class SCFCreateTriggerOperator(SCFBaseOperator):
    """Bind a timer or COS trigger to a function, idempotently.

    Re-running with the same definition changes nothing; a changed definition replaces the old
    trigger (it is deleted, then created again).

    **Timer**: ``cron`` is a 7-field SCF cron (``second minute hour day month week year``), a
    5-field crontab or an Airflow preset such as ``@daily``, converted by
    :func:`scf_snova_core.cron.to_scf_cron`; what SCF cannot express is rejected.
    ``custom_argument`` becomes the event's ``Message``.

    **COS**: the trigger's name is the bucket's domain ``<name>-<appid>.cos.<region>.myqcloud.com``
    and its description ``{"event": ..., "filter": {"Prefix": ..., "Suffix": ...}}``. SCF takes one
    event per trigger: with several ``events`` one trigger per event is bound to the same bucket,
    and COS triggers on that bucket with an event no longer listed are removed.

    Returns ``{"function_name", "namespace", "trigger_name", "trigger_type", "qualifier",
    "triggers", "changed"}`` (``triggers``: the ``TriggerDesc`` of each bound trigger).

    .. seealso:: ``docs/scf.md`` ("Timer and COS triggers")

    :param function_name: the function.
    :param trigger_name: the timer's name (letters, digits, ``-``, ``_``; starts with a letter).
        For COS it is derived from ``bucket`` and may be omitted.
    :param trigger_type: ``timer`` or ``cos``.
    :param cron: the timer's schedule.
    :param custom_argument: the timer's ``Message`` (a dict is sent as JSON text).
    :param bucket: the COS bucket (``name-appid`` or ``name``), same region as the function.
    :param events: COS events, e.g. ``("cos:ObjectCreated:*",)``.
    :param prefix: only keys starting with this.
    :param suffix: only keys ending with this.
    :param enabled: whether the trigger fires.
    :param qualifier: the version or alias the trigger invokes.
    :param description: the trigger's description.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields(
        "trigger_name",
        "cron",
        "custom_argument",
        "bucket",
        "prefix",
        "suffix",
        "qualifier",
    )
    operator_extra_links = (SCFFunctionLink(),)

    def __init__(
        self,
        *,
        trigger_name: str | None = None,
        trigger_type: str = "timer",
        cron: str | None = None,
        custom_argument: str | dict | None = None,
        bucket: str | None = None,
        events: Sequence[str] = ("cos:ObjectCreated:*",),
        prefix: str | None = None,
        suffix: str | None = None,
        enabled: bool = True,
        qualifier: str = "$LATEST",
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if trigger_type not in ("timer", "cos"):
            raise InvalidInputError(f"trigger_type must be 'timer' or 'cos', got {trigger_type!r}")
        if trigger_type == "timer":
            if not trigger_name or cron is None:
                raise InvalidInputError("a timer trigger needs trigger_name and cron")
            if not _looks_templated(cron):
                _scf_cron(cron)  # reject at parse time what SCF cannot run
        else:
            if not bucket:
                raise InvalidInputError("a COS trigger needs bucket")
            if isinstance(events, str):
                events = (events,)
            if not events:
                raise InvalidInputError("a COS trigger needs at least one event")
        self.trigger_name = trigger_name
        self.trigger_type = trigger_type
        self.cron = cron
        self.custom_argument = custom_argument
        self.bucket = bucket
        self.events = tuple(events)
        self.prefix = prefix
        self.suffix = suffix
        self.enabled = enabled
        self.qualifier = qualifier
        self.description = description

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.scf_hook
        SCFFunctionLink.persist(context, self, hook.region, hook.namespace, self.function_name)
        existing = hook.list_triggers(self.function_name)
        if self.trigger_type == "timer":
            name, bound, changed = self._timer(existing)
        else:
            name, bound, changed = self._cos(existing)
        return {
            "function_name": self.function_name,
            "namespace": hook.namespace,
            "trigger_name": name,
            "trigger_type": self.trigger_type,
            "qualifier": self.qualifier,
            "triggers": bound,
            "changed": changed,
        }

    def _custom_argument(self) -> str:
        if isinstance(self.custom_argument, Mapping | list):
            return json.dumps(self.custom_argument, ensure_ascii=False)
        return "" if self.custom_argument is None else str(self.custom_argument)

    def _same_binding(self, trigger: Mapping[str, Any]) -> bool:
        return (
            bool(trigger.get("Enable")) == self.enabled
            and (trigger.get("Qualifier") or "$LATEST") == self.qualifier
            and (self.description is None or (trigger.get("Description") or "") == self.description)
        )

    def _timer(self, existing: list[dict[str, Any]]) -> tuple[str, list[str], bool]:
        hook = self.scf_hook
        name = self.trigger_name
        cron = _scf_cron(self.cron)  # type: ignore[arg-type]
        custom = self._custom_argument()
        for trigger in [t for t in existing if t.get("TriggerName") == name]:
            if trigger.get("Type") != "timer":
                raise InvalidInputError(
                    f"function {self.function_name!r} already has a {trigger.get('Type')} trigger "
                    f"named {name!r}"
                )
            same = (
                " ".join(str(_trigger_desc_dict(trigger).get("cron", "")).split()) == cron
                and (trigger.get("CustomArgument") or "") == custom
                and self._same_binding(trigger)
            )
            if same:
                self.log.info("Timer trigger %s (%s) is already bound: unchanged", name, cron)
                return name, [cron], False  # type: ignore[return-value]
            self.log.info("Timer trigger %s changed: replacing it", name)
            hook.delete_trigger(
                self.function_name,
                name,
                "timer",
                qualifier=trigger.get("Qualifier"),  # type: ignore[arg-type]
            )
        hook.create_trigger(
            self.function_name,
            name,  # type: ignore[arg-type]
            "timer",
            cron,
            qualifier=self.qualifier,
            enabled=self.enabled,
            custom_argument=custom or None,
            description=self.description,
        )
        self.log.info("Bound timer trigger %s (%s) to %s", name, cron, self.function_name)
        return name, [cron], True  # type: ignore[return-value]

    def _cos(self, existing: list[dict[str, Any]]) -> tuple[str, list[str], bool]:
        hook = self.scf_hook
        name = cos_trigger_name(self.bucket, hook.appid, hook.region)  # type: ignore[arg-type]
        if self.trigger_name and self.trigger_name != name:
            raise InvalidInputError(
                f"a COS trigger is named after its bucket's domain ({name}), not "
                f"{self.trigger_name!r}; omit trigger_name"
            )
        wanted = {
            event: (event, self.prefix or "", self.suffix or "")
            for event in dict.fromkeys(self.events)
        }
        keep: set[str] = set()
        changed = False
        for trigger in [t for t in existing if t.get("TriggerName") == name]:
            definition = _cos_definition(_trigger_desc_dict(trigger))
            event = definition[0]
            if (
                wanted.get(event) == definition
                and self._same_binding(trigger)
                and event not in keep
            ):
                keep.add(event)
                continue
            self.log.info("COS trigger %s for %s is not wanted as it is: deleting it", name, event)
            hook.delete_trigger(
                self.function_name,
                name,
                "cos",
                trigger_desc=trigger.get("TriggerDesc"),
                qualifier=trigger.get("Qualifier"),
            )
            changed = True
        descs = []
        for event, (_, prefix, suffix) in wanted.items():
            desc = json.dumps(
                {"event": event, "filter": {"Prefix": prefix, "Suffix": suffix}},
                separators=(",", ":"),
            )
            descs.append(desc)
            if event in keep:
                continue
            hook.create_trigger(
                self.function_name,
                name,
                "cos",
                desc,
                qualifier=self.qualifier,
                enabled=self.enabled,
                description=self.description,
            )
            self.log.info("Bound COS trigger %s (%s) to %s", name, event, self.function_name)
            changed = True
        if not changed:
            self.log.info("COS trigger %s is already bound as defined: unchanged", name)
        return name, descs, changed


class SCFDeleteTriggerOperator(SCFBaseOperator):
    """Remove a timer trigger by name, or the COS triggers of a bucket (all, or those of
    ``events``).

    :param function_name: the function.
    :param trigger_name: the timer's name (for COS: derived from ``bucket``).
    :param trigger_type: ``timer`` or ``cos``.
    :param bucket: the COS bucket.
    :param events: for COS, only the triggers of these events (default: all).
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param ignore_if_missing: succeed when there is nothing to delete.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields("trigger_name", "bucket")

    def __init__(
        self,
        *,
        trigger_name: str | None = None,
        trigger_type: str = "timer",
        bucket: str | None = None,
        events: Sequence[str] | None = None,
        ignore_if_missing: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if trigger_type not in ("timer", "cos"):
            raise InvalidInputError(f"trigger_type must be 'timer' or 'cos', got {trigger_type!r}")
        if trigger_type == "timer" and not trigger_name:
            raise InvalidInputError("deleting a timer trigger needs trigger_name")
        if trigger_type == "cos" and not bucket:
            raise InvalidInputError("deleting COS triggers needs bucket")
        self.trigger_name = trigger_name
        self.trigger_type = trigger_type
        self.bucket = bucket
        self.events = tuple(events) if events else None
        self.ignore_if_missing = ignore_if_missing

    def execute(self, context: Context) -> int:
        """:return: how many triggers were deleted."""
        hook = self.scf_hook
        name = (
            cos_trigger_name(self.bucket, hook.appid, hook.region)  # type: ignore[arg-type]
            if self.trigger_type == "cos"
            else self.trigger_name
        )
        try:
            existing = hook.list_triggers(self.function_name)
        except ResourceNotFoundError:
            if not self.ignore_if_missing:
                raise
            existing = []
        matching = [
            t
            for t in existing
            if t.get("TriggerName") == name
            and t.get("Type") == self.trigger_type
            and (self.events is None or _cos_definition(_trigger_desc_dict(t))[0] in self.events)
        ]
        if not matching and not self.ignore_if_missing:
            raise ResourceNotFoundError(
                "ResourceNotFound.Trigger",
                f"function {self.function_name!r} has no {self.trigger_type} trigger {name!r}",
            )
        for trigger in matching:
            hook.delete_trigger(
                self.function_name,
                name,  # type: ignore[arg-type]
                self.trigger_type,
                trigger_desc=trigger.get("TriggerDesc") if self.trigger_type == "cos" else None,
                qualifier=trigger.get("Qualifier"),
            )
        self.log.info("Deleted %d %s trigger(s) %s", len(matching), self.trigger_type, name)
        return len(matching)


def cos_trigger_name(bucket: str, appid: str | None, region: str) -> str:
    """The ``TriggerName`` of a COS trigger: the bucket's domain.

    :raises InvalidInputError: a short bucket name and no ``appid`` to complete it.
    """
    from scf_snova_core.names import split_bucket

    try:
        name, bucket_appid = split_bucket(bucket.strip(), appid)
    except ValueError as err:
        raise InvalidInputError(str(err)) from err
    return f"{name}-{bucket_appid}.cos.{region}.myqcloud.com"


def _scf_cron(cron: str) -> str:
    from scf_snova_core.cron import CronError, to_scf_cron

    try:
        return to_scf_cron(cron)
    except CronError as err:
        raise InvalidInputError(f"invalid timer schedule: {err}") from err
