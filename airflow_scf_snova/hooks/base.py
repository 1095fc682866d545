"""The ``tencentcloud`` connection: credentials, region, appid, namespace and endpoint override.

SCF and COS hooks subclass :class:`TencentCloudBaseHook`; it owns connection parsing and endpoint
resolution so that the service hooks only build their client. No SDK is imported at module level:
DAG files import operators, operators import this module only when they build a hook.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from airflow_scf_snova.exceptions import TencentCloudConnectionError

if TYPE_CHECKING:
    from airflow.sdk import Connection

DEFAULT_REGION = "ap-guangzhou"
DEFAULT_NAMESPACE = "default"
#: Seconds the SCF SDK waits for an answer unless a call needs longer (sync invokes do).
DEFAULT_SCF_REQUEST_TIMEOUT = 60


class TencentCloudCredentials(NamedTuple):
    """An API key pair, with the session token of temporary credentials."""

    secret_id: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never print the key or the token
        return f"TencentCloudCredentials(secret_id={self.secret_id!r}, secret_key='***')"


class Endpoint(NamedTuple):
    """A parsed endpoint override, e.g. ``http://127.0.0.1:9100``."""

    scheme: str
    host: str
    port: int | None

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    @classmethod
    def parse(cls, value: str) -> Endpoint:
        """Parse ``scheme://host[:port]``; a bare ``host[:port]`` means https."""
        text = value.strip()
        parts = urlsplit(text if "://" in text else f"https://{text}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TencentCloudConnectionError(
                f"endpoint {value!r} is not of the form http(s)://host[:port]"
            )
        if parts.path not in ("", "/") or parts.query:
            raise TencentCloudConnectionError(f"endpoint {value!r} must not have a path or query")
        try:
            port = parts.port
        except ValueError as err:
            raise TencentCloudConnectionError(f"endpoint {value!r} has an invalid port") from err
        return cls(parts.scheme, parts.hostname, port)


class TencentCloudConfig(NamedTuple):
    """Everything a client needs, parsed from one ``tencentcloud`` connection."""

    credentials: TencentCloudCredentials
    region: str
    appid: str | None
    namespace: str
    endpoint: Endpoint | None
    #: The ``code_bucket`` extra: where deploys stage code packages too large to send inline.
    code_bucket: str | None = None


def parse_connection(
    conn: Connection, region: str | None = None, namespace: str | None = None
) -> TencentCloudConfig:
    """Validate a ``tencentcloud`` connection and parse it.

    :param conn: the Airflow connection.
    :param region: overrides the connection's ``region`` extra.
    :param namespace: overrides the connection's ``namespace`` extra.
    """
    extra = conn.extra_dejson
    secret_id = (conn.login or "").strip()
    secret_key = conn.password or ""
    if not secret_id or not secret_key:
        raise TencentCloudConnectionError(
            f"connection {conn.conn_id!r} needs a SecretId (login) and a SecretKey (password)"
        )
    if secret_key != secret_key.strip():
        raise TencentCloudConnectionError(
            f"the SecretKey of connection {conn.conn_id!r} has leading or trailing spaces"
        )
    token = extra.get("token") or None
    _mask(secret_key)
    if token:
        _mask(token)
    appid = extra.get("appid")
    appid = str(appid).strip() if appid not in (None, "") else None
    if appid is not None and not appid.isdigit():
        raise TencentCloudConnectionError(
            f"the appid of connection {conn.conn_id!r} must be digits, got {appid!r}"
        )
    endpoint_text = extra.get("endpoint")
    endpoint = Endpoint.parse(endpoint_text) if endpoint_text else None
    return TencentCloudConfig(
        credentials=TencentCloudCredentials(secret_id, secret_key, token),
        region=region or extra.get("region") or DEFAULT_REGION,
        appid=appid,
        namespace=namespace or extra.get("namespace") or DEFAULT_NAMESPACE,
        endpoint=endpoint,
        code_bucket=extra.get("code_bucket") or None,
    )


def _quiet_sdk_logger() -> None:
    sdk_logger = logging.getLogger("tencentcloud_sdk_common")
    if sdk_logger.level == logging.NOTSET:
        # At DEBUG the SDK dumps every request and response whole: the X-TC-Token header,
        # function environments (passwords) in CreateFunction bodies and GetFunction answers,
        # function logs in SearchLog answers. Configure the "tencentcloud_sdk_common" logger
        # yourself to see them.
        sdk_logger.setLevel(logging.INFO)


def _mask(value: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(value)


class TencentCloudBaseHook(BaseHook):
    """Interact with Tencent Cloud through a ``tencentcloud`` connection.

    The connection holds the SecretId as login and the SecretKey as password; extras: ``region``
    (default ``ap-guangzhou``), ``appid``, ``token`` (temporary credentials), ``namespace`` (SCF,
    default ``default``) and ``endpoint``, one override such as ``http://127.0.0.1:9100`` that
    points both the SCF and the COS client at the emulator. As a URI::

        tencentcloud://AKIDxxx:secret@/?region=ap-guangzhou&appid=1250000000&endpoint=http%3A%2F%2F127.0.0.1%3A9100

    :param tencentcloud_conn_id: the connection id.
    :param region: overrides the connection's region.
    :param namespace: overrides the connection's SCF namespace.
    """

    conn_name_attr = "tencentcloud_conn_id"
    default_conn_name = "tencentcloud_default"
    conn_type = "tencentcloud"
    hook_name = "Tencent Cloud"

    def __init__(
        self,
        tencentcloud_conn_id: str = default_conn_name,
        region: str | None = None,
        namespace: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self._region_override = region
        self._namespace_override = namespace

    @cached_property
    def conn_config(self) -> TencentCloudConfig:
        """The parsed connection (fetched once, on first use; never in ``__init__``)."""
        conn = self.get_connection(self.tencentcloud_conn_id)
        return parse_connection(conn, self._region_override, self._namespace_override)

    @property
    def credentials(self) -> TencentCloudCredentials:
        return self.conn_config.credentials

    @property
    def region(self) -> str:
        return self.conn_config.region

    @property
    def appid(self) -> str | None:
        return self.conn_config.appid

    @property
    def namespace(self) -> str:
        return self.conn_config.namespace

    @property
    def endpoint(self) -> Endpoint | None:
        return self.conn_config.endpoint

    # -- SDK configuration (SDKs imported here, lazily) ---------------------------------------
    def scf_client_profile(self, request_timeout: int = DEFAULT_SCF_REQUEST_TIMEOUT):
        """A ``tencentcloud`` ``ClientProfile``: TC3 signing, no retries (the hooks retry what is
        safe to retry), region breaker off, and the endpoint override applied.

        :param request_timeout: seconds to wait for a response.
        """
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile

        http = HttpProfile(reqTimeout=request_timeout)
        if self.endpoint is not None:
            http.scheme = self.endpoint.scheme
            http.endpoint = self.endpoint.netloc
        return ClientProfile(httpProfile=http, language="en-US")

    def sdk_credential(self):
        """A ``tencentcloud.common.credential.Credential`` for the connection's key pair."""
        from tencentcloud.common import credential

        creds = self.credentials
        return credential.Credential(creds.secret_id, creds.secret_key, creds.token)

    def build_scf_client(self, request_timeout: int = DEFAULT_SCF_REQUEST_TIMEOUT):
        """A new ``ScfClient`` (service hooks cache one; this builds one per call)."""
        from tencentcloud.scf.v20180416.scf_client import ScfClient

        _quiet_sdk_logger()
        return ScfClient(
            self.sdk_credential(), self.region, self.scf_client_profile(request_timeout)
        )

    def build_cls_client(self, request_timeout: int = DEFAULT_SCF_REQUEST_TIMEOUT):
        """A new CLS ``ClsClient`` (API 2020-10-16), where SCF ships function logs; with an
        endpoint override it goes to the same host as SCF (the emulator serves both)."""
        from tencentcloud.cls.v20201016.cls_client import ClsClient

        _quiet_sdk_logger()
        return ClsClient(
            self.sdk_credential(), self.region, self.scf_client_profile(request_timeout)
        )

    def cos_config(self, timeout: int | None = None):
        """A ``qcloud_cos.CosConfig``. With an endpoint override the SDK connects to its host and
        port and still names the bucket in the Host header, which is how the emulator (and any
        gateway) tells buckets apart.

        :param timeout: per-request timeout in seconds (the SDK's default is 30).
        """
        from qcloud_cos import CosConfig

        creds = self.credentials
        kwargs: dict[str, Any] = {
            "Region": self.region,
            "SecretId": creds.secret_id,
            "SecretKey": creds.secret_key,
            "Token": creds.token,
            "Timeout": timeout,
        }
        # No ``Appid``: the hooks pass full ``name-appid`` bucket names, and with an Appid the SDK
        # appends ``-<appid>`` to any bucket not ending with it, so a bucket of another APPID
        # (shared through a bucket policy) would silently become ``theirs-<appid>-<our appid>``.
        if self.endpoint is not None:
            kwargs.update(
                Scheme=self.endpoint.scheme,
                IP=self.endpoint.host,
                Port=self.endpoint.port or (80 if self.endpoint.scheme == "http" else 443),
            )
        else:
            kwargs["Scheme"] = "https"
        return CosConfig(**kwargs)

    def test_connection(self) -> tuple[bool, str]:
        """Sign and send one cheap call (SCF ``ListFunctions``, limit 1) with the connection."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.scf.v20180416 import models

        try:
            request = models.ListFunctionsRequest()
            request.Limit = 1
            request.Namespace = self.namespace
            response = self.build_scf_client(request_timeout=15).ListFunctions(request)
        except TencentCloudConnectionError as err:
            return False, str(err)
        except TencentCloudSDKException as err:
            return (
                False,
                f"{err.get_code()}: {err.get_message()} (RequestId: {err.get_request_id()})",
            )
        return (
            True,
            f"Connection works: {response.TotalCount} function(s) in namespace {self.namespace!r}",
        )
