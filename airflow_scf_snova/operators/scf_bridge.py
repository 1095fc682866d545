"""Deploy the COS-to-asset bridge: an SCF function, bound to a bucket's COS trigger, that posts
each new object as an Airflow asset event, so DAGs scheduled on the asset run about a second
after the upload without listing the bucket.

.. seealso:: ``docs/push.md``
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.hooks.scf_triggers import DEFAULT_COS_EVENTS
from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator
from airflow_scf_snova.scf.bridge import FUNCTION_DIR, HANDLER
from airflow_scf_snova.scf.environment import mask_environment

if TYPE_CHECKING:
    from airflow.sdk import Connection, Context

#: The connection the bridge authenticates with by default.
DEFAULT_AIRFLOW_CONN_ID = "airflow_api"
DEFAULT_FUNCTION_NAME = "airflow-cos-asset-bridge"


def api_base_url(conn: Connection) -> str:
    """The api-server's base URL from an ``airflow_api`` connection: ``host`` may be a full URL
    (``https://airflow.internal:8080``) or a host name, with ``schema`` as the scheme (default
    ``http``) and ``port``.

    :raises InvalidInputError: the connection has no host.
    """
    host = (conn.host or "").rstrip("/")
    if not host:
        raise InvalidInputError(f"connection {conn.conn_id!r} needs host: the api-server's URL")
    if "://" not in host:
        host = f"{conn.schema or 'http'}://{host}"
        if conn.port:
            host = f"{host}:{conn.port}"
    return host


class SCFDeployCOSAssetBridgeOperator(SCFDeployFunctionOperator):
    """Deploy the provider's COS-to-asset bridge function and bind it to ``bucket``'s COS
    trigger, idempotently: an unchanged deploy changes nothing.

    The function (``airflow_scf_snova/scf/bridge/function/index.py``, shipped with the provider,
    stdlib only, ``Python3.9``) posts one event per new object to
    ``POST /api/v2/assets/events`` on the asset ``asset_uri``, with ``extra["payload"]`` shaped
    like :class:`~airflow_scf_snova.triggers.cos.COSObjectEventTrigger`'s events, and an
    idempotency key that keeps an SCF retry from posting an event twice.

    It authenticates as the user of the Airflow connection ``airflow_conn_id`` (``host``: the
    api-server's URL, reachable from the function's network; ``login``, ``password``: a user
    allowed to create and read asset events, and nothing else). The credentials reach the
    function as its environment (``AIRFLOW_API_PASSWORD`` is masked in logs; it is never
    templated, logged or returned).

    Returns what :class:`~airflow_scf_snova.operators.scf.SCFDeployFunctionOperator` returns,
    plus ``asset_uri``, ``trigger_name``, ``triggers_changed``.

    .. seealso:: ``docs/push.md`` (design, failure model, network and security set-up)

    :param bucket: the COS bucket (``name-appid``), same region as the function.
    :param prefix: only objects whose key starts with this (also the default asset's path).
    :param suffix: only objects whose key ends with this.
    :param asset_uri: the asset the events go to; default ``cos://<bucket>/<prefix>`` (normalised
        as Airflow stores it, without a trailing ``/``). A DAG must
        be scheduled on it (Airflow creates an asset when a DAG naming it is parsed); until then
        the function skips the objects.
    :param airflow_conn_id: the connection to Airflow's REST API.
    :param events: COS events that invoke the function.
    :param function_name: the function.
    :param async_retries: SCF's retries of a failed invocation (0-2).
    :param timeout: the function's timeout in seconds.
    :param vpc_config: the VPC and subnet from which the api-server is reachable.

    The other arguments are those of ``SCFDeployFunctionOperator`` except the code's
    (``code_dir``, ``handler``, ``runtime``, ``environment``...), which the bridge fixes.
    """

    template_fields: Sequence[str] = (
        *SCFDeployFunctionOperator.template_fields,
        "bucket",
        "prefix",
        "suffix",
        "asset_uri",
        "airflow_conn_id",
    )

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        suffix: str | None = None,
        asset_uri: str | None = None,
        airflow_conn_id: str = DEFAULT_AIRFLOW_CONN_ID,
        events: Sequence[str] = DEFAULT_COS_EVENTS,
        function_name: str = DEFAULT_FUNCTION_NAME,
        async_retries: int = 2,
        timeout: int = 30,
        **kwargs: Any,
    ) -> None:
        if not bucket:
            raise InvalidInputError("the bridge needs bucket")
        super().__init__(
            function_name=function_name,
            code_dir=str(FUNCTION_DIR),
            include_packages=("scf_snova_core",),
            handler=HANDLER,
            runtime="Python3.9",
            timeout=timeout,
            async_retries=async_retries,
            **kwargs,
        )
        self.bucket = bucket
        self.prefix = prefix
        self.suffix = suffix
        self.asset_uri = asset_uri
        self.airflow_conn_id = airflow_conn_id
        self.events = (events,) if isinstance(events, str) else tuple(events)

    def normalised_asset_uri(self) -> str:
        """The asset's URI as Airflow stores it (``cos://`` URIs lose their trailing ``/``): the
        function looks the asset up by exact match."""
        from airflow.sdk import Asset

        return Asset(self.asset_uri or f"cos://{self.bucket}/{self.prefix}").uri

    def bridge_environment(self) -> dict[str, str]:
        """The function's environment, from the connection (secret values masked)."""
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(self.airflow_conn_id)
        if not conn.login or not conn.password:
            raise InvalidInputError(
                f"connection {self.airflow_conn_id!r} needs login and password: the bridge's "
                "Airflow user"
            )
        environment = {
            "AIRFLOW_API_URL": api_base_url(conn),
            "AIRFLOW_API_USERNAME": conn.login,
            "AIRFLOW_API_PASSWORD": conn.password,
            "AIRFLOW_ASSET_URI": self.normalised_asset_uri(),
        }
        mask_environment(environment)
        return environment

    def execute(self, context: Context) -> dict[str, Any]:
        self.environment = self.bridge_environment()
        result = super().execute(context)
        change = self.hook.ensure_cos_triggers(
            self.function_name, self.bucket, self.events, prefix=self.prefix, suffix=self.suffix
        )
        self.log.info(
            "COS trigger %s on the bridge %s: %s",
            change.trigger_name,
            self.function_name,
            "changed" if change.changed else "unchanged",
        )
        return {
            **result,
            "asset_uri": self.environment["AIRFLOW_ASSET_URI"],
            "trigger_name": change.trigger_name,
            "triggers_changed": change.changed,
        }
