"""Operators for Tencent Cloud SCF functions: deploy, invoke and delete.

The operators that bind and remove a function's timer and COS triggers are in
:mod:`airflow_scf_snova.operators.scf_triggers`. All share one vocabulary (``function_name``,
``namespace``, ``qualifier``, ``payload``, ``invocation_type``, ``poll_interval``,
``wait_for_completion``, ``deferrable``, ``tencentcloud_conn_id``, ``region``) through
:class:`SCFBaseOperator`, and build their :class:`~airflow_scf_snova.hooks.scf.SCFHook` on first
use, never at DAG-parse time. Nothing here imports an SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException
from scf_snova_core.states import (
    INVOCATION_TYPES,
    LATEST,
    SYNC,
)

from airflow_scf_snova.deprecations import warn_renamed
from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    SCFFunctionExecutionError,
    SCFWaitTimeoutError,
    TencentCloudError,
)
from airflow_scf_snova.hooks.scf import SCFHook
from airflow_scf_snova.hooks.scf_layers import layer_refs
from airflow_scf_snova.lineage.scf import SCFInvokeLineageMixin
from airflow_scf_snova.links.scf import SCFFunctionLink, SCFFunctionLogsLink
from airflow_scf_snova.operators.base import (
    TencentCloudBaseOperator,
    default_deferrable,
    is_templated,
    tencentcloud_template_fields,
)
from airflow_scf_snova.operators.scf_async import (
    SCFAsyncInvocationMixin,
    SCFAsyncSettingsMixin,
    check_async_settings,
)
from airflow_scf_snova.operators.scf_code import SCFCodeSourceMixin
from airflow_scf_snova.operators.scf_durable import (
    SCFDurableDeployMixin,
    SCFDurableInvocationMixin,
    forget_deploy,
    forget_invocation,
)
from airflow_scf_snova.scf.environment import (
    mask_environment,
    normalise_environment,
)
from airflow_scf_snova.scf.network import vpc_config_param

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_scf_snova.hooks.scf_logs import InvocationLog
#: The colour of every SCF task in the UI (Tencent Cloud blue).
SCF_UI_COLOR = "#0052d9"
SCF_UI_FGCOLOR = "#ffffff"
#: The operators of :mod:`airflow_scf_snova.operators.scf_triggers`, also importable from here.
_TRIGGER_OPERATORS = frozenset(
    ("SCFCreateTimerTriggerOperator", "SCFCreateCOSTriggerOperator", "SCFCreateTriggerOperator")
    + ("SCFDeleteTriggerOperator",)
)


def __getattr__(name: str) -> Any:
    # The trigger operators live in their own module; they stay importable from this one.
    if name in _TRIGGER_OPERATORS:
        from airflow_scf_snova.operators import scf_triggers

        return getattr(scf_triggers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def scf_template_fields(*fields: str) -> tuple[str, ...]:
    """The templated fields of an SCF operator or sensor: ``function_name``, then ``fields``,
    then ``namespace`` and the connection fields."""
    return tencentcloud_template_fields("function_name", *fields, "namespace")


class SCFBaseOperator(TencentCloudBaseOperator[SCFHook]):
    """What every SCF operator (and :class:`~airflow_scf_snova.sensors.scf.SCFFunctionStateSensor`)
    takes: the function, its namespace and the connection. The hook (``self.hook``, an
    :class:`~airflow_scf_snova.hooks.scf.SCFHook`) is built on first use.

    :param function_name: the function.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    hook_class = SCFHook
    template_fields: Sequence[str] = scf_template_fields()
    ui_color = SCF_UI_COLOR
    ui_fgcolor = SCF_UI_FGCOLOR

    def __init__(self, *, function_name: str, namespace: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.function_name = function_name
        self.namespace = namespace

    def hook_kwargs(self) -> dict[str, Any]:
        return {**super().hook_kwargs(), "namespace": self.namespace}

    @property
    def scf_hook(self) -> SCFHook:
        """The SCF hook (the same as ``self.hook``)."""
        return self.hook


class SCFDeployFunctionOperator(
    SCFDurableDeployMixin, SCFCodeSourceMixin, SCFAsyncSettingsMixin, SCFBaseOperator
):
    """Create an SCF function, or update it to match this definition.

    The code comes from exactly one of ``code_dir`` (zipped deterministically: sorted entries,
    fixed timestamps and permissions, no ``__pycache__``/``*.pyc``; ``include_packages`` adds
    pure-Python packages of the worker's environment), ``zip_file``, or ``cos_bucket`` +
    ``cos_key``. With ``code_dir``, ``requirements`` or ``requirements_file`` name third-party
    packages: they are installed for SCF's platform and the runtime's Python (manylinux2014
    x86_64 wheels for ``cp39`` on ``Python3.9``, not the worker's), cached, and added to the
    root of the package. A package too large for one API request (about 7.4 MB of zip) goes
    through COS (``code_bucket``). See :mod:`airflow_scf_snova.operators.scf_code`.

    The package's SHA-256 (for COS: of the bucket, key and ETag) is kept in the function's
    environment as ``AIRFLOW_SCF_CODE_SHA256``; when it equals the package's and the handler is
    unchanged, ``UpdateFunctionCode`` is skipped. The configuration (memory, timeout,
    description, environment, and ``layers`` when given) is then set to exactly these values,
    updated only when it differs, after waiting for the function to be ``Active`` again. Runtime
    cannot change after creation (delete the function first).

    The asynchronous settings (SCF's retries of failed async runs, async execution) are
    described in :mod:`airflow_scf_snova.operators.scf_async`; ``async_run`` and ``trace`` are
    chosen at creation and cannot change afterwards.

    Returns ``{"function_name", "namespace", "status", "code_sha256", "created",
    "code_updated", "configuration_updated", "version"}`` (with ``async_config_updated`` when
    async retry settings are given); ``version`` is the published version (only with
    ``publish``, and only when something changed).

    What a try changed is recorded in the task state store: a later try of the same code (after
    the worker died mid-wait) reports those changes too, publishes the version the earlier try
    did not get to, and waits for ``Active`` (:mod:`airflow_scf_snova.operators.scf_durable`).

    .. seealso:: ``docs/scf.md`` ("Deploy a function"), ``docs/durable-execution.md``

    :param function_name: the function (2-60 letters, digits, ``-``, ``_``; starts with a letter).
    :param code_dir: a directory whose contents become the root of the package.
    :param include_packages: with ``code_dir``: top-level pure-Python packages of the worker's
        environment copied into the package under their own name, e.g.
        ``("scf_snova_core",)``; part of the package, hence of its hash.
    :param zip_file: a ready-made zip.
    :param cos_bucket: the bucket of a zip in COS (``name-appid`` or ``name``); with ``cos_key``.
    :param cos_key: the key of that zip.
    :param requirements: with ``code_dir``: requirement specifiers, e.g.
        ``["psycopg2-binary==2.9.10"]``, built for SCF's platform and ``runtime`` into the package.
    :param requirements_file: instead of ``requirements``: a requirements file (relative paths
        are inside ``code_dir``).
    :param layers: layer versions to bind, in order: ``("name", 3)`` pairs, ``"name:3"`` or
        ``{"LayerName", "LayerVersion"}`` (templated); ``None`` leaves the bound layers alone,
        ``[]`` unbinds them.
    :param code_bucket: where a package too large to send inline is staged (``name-appid`` or
        ``name``; same region); default: the connection's ``code_bucket`` extra.
    :param code_prefix: the key prefix of staged packages.
    :param dependency_cache: where built requirements and packages are cached (default:
        ``$AIRFLOW_SCF_SNOVA_CACHE_DIR`` or ``~/.cache/airflow-scf-snova``).
    :param handler: ``<file>.<function>``, e.g. ``index.main_handler``.
    :param runtime: e.g. ``Python3.9`` (fixed at creation).
    :param memory_size: MB: 64, or 128-3072 in steps of 128.
    :param timeout: the function's timeout in seconds (1-900).
    :param environment: environment variables (templated; values may come from connections such
        as ``"{{ conn.snova_default.password }}"``). Values whose key looks secret (PASSWORD,
        SECRET, TOKEN, KEY...) and connection passwords are masked in logs. ``None`` means none.
    :param description: the function's description.
    :param vpc_config: deploy it in a VPC: ``{"VpcId": "vpc-...", "SubnetId": "subnet-..."}``
        (both together); ``None`` leaves the function's network as it is.
    :param namespace: the SCF namespace (the connection's when ``None``).
    :param publish: publish a version after a change.
    :param async_retries: SCF's retries of a failed async run, 0-2 (``None``: leave as is).
    :param async_message_ttl: seconds an async event may wait for retries (``None``: leave).
    :param dead_letter_config: ``{"Type", "Name", "FilterType"}`` (``None``: leave as is).
    :param async_run: async-execution mode (``AsyncRunEnable``).
    :param trace: status tracing of its events (``TraceEnable``; needs ``async_run``).
    :param wait_for_completion: wait until the function is ``Active`` after the last change (the
        waits between steps always happen).
    :param deferrable: do that last wait in the triggerer.
    :param poll_interval: seconds between status polls.
    :param wait_timeout: seconds to wait for each status change.
    :param wait_for_active: deprecated name of ``wait_for_completion``.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = scf_template_fields(
        "code_dir",
        "zip_file",
        "cos_bucket",
        "cos_key",
        "requirements",
        "requirements_file",
        "layers",
        "code_bucket",
        "handler",
        "runtime",
        "environment",
        "description",
        "vpc_config",
    )
    template_fields_renderers = {"environment": "json", "vpc_config": "json"}
    operator_extra_links = (SCFFunctionLink(),)

    def __init__(
        self,
        *,
        layers: Sequence[Any] | None = None,
        handler: str = "index.main_handler",
        runtime: str = "Python3.9",
        memory_size: int = 128,
        timeout: int = 3,
        environment: dict[str, Any] | None = None,
        description: str | None = None,
        vpc_config: dict[str, str] | None = None,
        publish: bool = False,
        async_retries: int | None = None,
        async_message_ttl: int | None = None,
        dead_letter_config: dict[str, str] | None = None,
        async_run: bool = False,
        trace: bool = False,
        wait_for_completion: bool = True,
        deferrable: bool = default_deferrable(),
        poll_interval: float = 1.0,
        wait_timeout: float = 600,
        wait_for_active: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)  # the code arguments: SCFCodeSourceMixin
        check_async_settings(async_retries, async_message_ttl, async_run, trace)
        if wait_for_active is not None:
            warn_renamed(type(self).__name__, "wait_for_active", "wait_for_completion")
            wait_for_completion = wait_for_active
        self.layers = layers
        self.handler = handler
        self.runtime = runtime
        self.memory_size = memory_size
        self.timeout = timeout
        self.environment = environment
        self.description = description
        self.vpc_config = vpc_config
        vpc_config_param(vpc_config)  # both ids or none, at DAG-parse time
        self.publish = publish
        self.async_retries = async_retries
        self.async_message_ttl = async_message_ttl
        self.dead_letter_config = dead_letter_config
        self.async_run = async_run
        self.trace = trace
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def render_template_fields(self, context: Context, jinja_env=None) -> None:
        super().render_template_fields(context, jinja_env)
        # Before the rendered fields are stored or anything is logged.
        mask_environment(self.environment)

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.scf_hook
        mask_environment(self.environment)
        environment = normalise_environment(self.environment)
        layers = None if self.layers is None else layer_refs(self.layers)
        package = self.build_package(self.runtime)
        namespace = hook.namespace
        SCFFunctionLink.persist(context, self, hook.region, namespace, self.function_name)
        self.log.info(
            "Deploying SCF function %s (namespace %s) from %s: %d bytes, sha256 %s; "
            "environment keys: %s",
            self.function_name,
            namespace,
            package.source,
            package.size,
            package.sha256,
            ", ".join(sorted(environment)) or "none",
        )
        change = self.ensure_durably(
            context,
            package.sha256,
            lambda on_change: hook.ensure_function(
                self.function_name,
                lambda: self.code_param(package, self.function_name),
                package.sha256,
                on_change=on_change,
                handler=self.handler,
                runtime=self.runtime,
                memory_size=self.memory_size,
                timeout=self.timeout,
                environment=environment,
                description=self.description or "",
                publish=self.publish,
                wait_timeout=self.wait_timeout,
                poll_interval=self.poll_interval,
                vpc_config=self.vpc_config,
                layers=layers,
                async_run=self.async_run,
                trace=self.trace,
                dead_letter_config=self.dead_letter_config,
            ),
        )
        result: dict[str, Any] = {
            "function_name": self.function_name,
            "namespace": namespace,
            "code_sha256": package.sha256,
            "created": change.created,
            "code_updated": change.code_updated,
            "configuration_updated": change.configuration_updated,
            "version": change.version,
        }
        if self.async_retries is not None or self.async_message_ttl is not None:
            result["async_config_updated"] = self._ensure_async_config(change.changed)
        if not change.changed:
            result["status"] = change.status
            return forget_deploy(context, result)
        return forget_deploy(context, self._finish(result))


class SCFInvokeFunctionOperator(
    SCFInvokeLineageMixin, SCFDurableInvocationMixin, SCFAsyncInvocationMixin, SCFBaseOperator
):
    """Invoke an SCF function and push its return value to XCom.

    ``RequestResponse`` (sync) returns the function's return value (``RetMsg`` decoded from
    JSON). The function's complete log goes to the task log, whole and through Airflow's secret
    masking: the 4 KB ``Tail`` the invoke returns when it holds the whole log, otherwise every
    line read from CLS by ``FunctionRequestId``. A failed execution (``InvokeResult`` 1: the
    user code raised, 430; -1: timeout 433, memory 434, response above 6 MB 407...) raises
    :class:`~airflow_scf_snova.exceptions.SCFFunctionExecutionError`, an
    ``AirflowFailException``: the task fails without retrying, since a retry would run the
    function again. The SDK client never re-sends a sync invoke, and a sync invoke that SCF
    stops waiting for (after 300 s; the function goes on running) fails the same way.

    ``Event`` (async) returns the ``FunctionRequestId`` at once, or, with
    ``wait_for_completion``, waits until the run is over, through SCF's retries (in the
    triggerer when ``deferrable``; ``GetRequestStatus`` searched from a minute before the
    invoke), and then behaves like a sync invoke, its log read from CLS. Such a wait is durable:
    the invocation is recorded in the task state store, and a later try of the task reattaches
    to it instead of invoking again (:mod:`airflow_scf_snova.operators.scf_durable`,
    ``docs/durable-execution.md``). ``on_kill`` terminates
    the event of an async-execution function; SCF cannot stop other runs
    (:mod:`airflow_scf_snova.operators.scf_async`).

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
    :param grace_shutdown: ``on_kill`` stops an async-execution event with SIGTERM (the
        function may clean up) instead of at once.
    :param durable: for a waited-for ``Event`` invoke: record the invocation in the task state
        store and reattach to it on a later try.
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
        invocation_type: str = SYNC,
        qualifier: str = LATEST,
        wait_for_completion: bool = True,
        deferrable: bool = default_deferrable(),
        poll_interval: float = 5.0,
        wait_timeout: float = 3600,
        log_function_output: bool = True,
        grace_shutdown: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not is_templated(invocation_type) and invocation_type not in INVOCATION_TYPES:
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
        self.grace_shutdown = grace_shutdown

    def execute(self, context: Context) -> Any:
        from airflow_scf_snova.scf.payloads import encode_payload

        encoded = encode_payload(self.payload, self.invocation_type)  # fails before any call
        hook = self.hook
        SCFFunctionLink.persist(context, self, hook.region, hook.namespace, self.function_name)
        self.log.info(
            "Invoking SCF function %s:%s (namespace %s, %s) with a %d-byte payload",
            self.function_name,
            self.qualifier,
            hook.namespace,
            self.invocation_type,
            len(encoded.encode("utf-8")) if encoded else 0,
        )
        if self.log_function_output and self.invocation_type == SYNC:
            hook.prefetch_log_settings(self.function_name)  # while the run goes on
        if self.invocation_type != SYNC and self.wait_for_completion:
            return self.execute_durable(context, encoded)
        invoked_at, result = self._send_invoke(encoded)
        request_id = result.get("FunctionRequestId")
        if self.invocation_type == SYNC:
            return self._complete(request_id, result, invoked_at)
        self.log.info("Async invocation accepted: FunctionRequestId %s", request_id)
        return request_id

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        invoked_at: float | None = None,
    ) -> Any:
        """Resume after the invocation trigger fired: log, return value or failure."""
        outcome = self._event_outcome(event, invoked_at)
        forget_invocation(context)
        return outcome

    def _event_outcome(self, event: dict[str, Any] | None, invoked_at: float | None) -> Any:
        if not event:
            raise AirflowException("the SCF invocation trigger sent no event")
        request_id = event.get("function_request_id")
        if event.get("event_status"):  # an async-execution function's event ended
            status = {"Status": event["event_status"], "StatusCode": event.get("status_code")}
            return self._complete_event(request_id, status, invoked_at)
        if event.get("ret_code") is None:  # the wait itself failed
            if event.get("timed_out"):
                raise SCFWaitTimeoutError(event.get("message", "timed out"))
            raise TencentCloudError(event.get("message", "waiting for the SCF invocation failed"))
        return self._complete_async(
            request_id, {"RetCode": event["ret_code"], "RetMsg": event.get("ret_msg")}, invoked_at
        )

    # -- results ---------------------------------------------------------------------------------
    def _complete_async(
        self, request_id: str, status: dict[str, Any], invoked_at: float | None
    ) -> Any:
        ret_msg = status.get("RetMsg")
        failed = {"ErrMsg": ret_msg, "InvokeResult": -1} if status.get("RetCode") else {}
        return self._complete(request_id, {"RetMsg": ret_msg, **failed}, invoked_at)

    def _complete(
        self, request_id: str | None, result: dict[str, Any], invoked_at: float | None
    ) -> Any:
        """Log the run's output, then return its value or raise its failure.

        :param result: ``RetMsg``, ``ErrMsg``, ``InvokeResult`` and (sync) the ``Log`` tail.
        """
        from airflow_scf_snova.scf.payloads import decode_return_value, function_error

        log = None
        if self.log_function_output:
            log = self._log_function_output(request_id, result.get("Log"), invoked_at)
        ret_msg = result.get("RetMsg")
        error = function_error(ret_msg, result.get("ErrMsg"), result.get("InvokeResult"))
        if error is None:
            return decode_return_value(ret_msg)
        # Without a status in the error object, the CLS records carry the runtime status.
        status_code = error.status_code or (log.status_code if log else None)
        raise SCFFunctionExecutionError(
            self.function_name, request_id, status_code, error.message, error.stack_trace
        )

    def _log_function_output(
        self, request_id: str | None, tail: str | None, invoked_at: float | None
    ) -> InvocationLog | None:
        """Write the function's complete log to the task log as one record, once the function's
        secret-looking environment values are masked; returns the CLS log when it was read."""
        text, log = self.hook.complete_log(
            self.function_name,
            request_id,
            tail,
            invoked_at=invoked_at,
            timeout=max(self.poll_interval * 3, 5.0),
        )
        if text:
            self.hook.mask_function_secrets(self.function_name)
            self.log.info(
                "SCF function log (FunctionRequestId %s):\n%s", request_id, text.rstrip("\n")
            )
        return log


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
        hook = self.hook
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
