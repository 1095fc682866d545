"""SCF layers: the layer calls of :class:`~airflow_scf_snova.hooks.scf.SCFHook`
(``PublishLayerVersion``, ``GetLayerVersion``, ``ListLayers``, ``ListLayerVersions``,
``DeleteLayerVersion``), the wait for a new version to be ``Active``, and :func:`layer_refs`,
which turns a deploy's ``layers`` argument into the API's ``Layers``.

A layer version is an immutable zip that SCF unpacks into ``/opt`` of the functions it is bound
to (``PYTHONPATH`` holds ``/opt``, so packages go at the root of the zip); bound in order, later
layers win. A new version is ``Publishing`` until SCF settles it.

Sources: the models of ``tencentcloud-sdk-python-scf`` (API 2018-04-16) and the layer status
table (https://cloud.tencent.com/document/api/583/115197).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    TencentCloudError,
)
from airflow_scf_snova.hooks.scf_client import SCFClientHook

#: Layer statuses that end a wait for ``Active`` with an error.
LAYER_FAILED_STATES = frozenset({"PublishFailed", "DeleteFailed", "Deleting"})
#: ``Layers`` that unbind every layer (the SDK's ``LayerVersionSimple`` docstring).
UNBIND_ALL = [{"LayerName": "", "LayerVersion": 0}]


def layer_refs(layers: Iterable[Any]) -> list[dict[str, Any]]:
    """``[{"LayerName", "LayerVersion"}]`` from ``("name", 3)`` pairs, ``"name:3"`` strings or
    dicts with those keys (versions may be digit strings, e.g. rendered from XCom).

    :raises InvalidInputError: a malformed item.
    """
    refs = []
    for item in layers:
        if isinstance(item, Mapping):
            name, version = item.get("LayerName"), item.get("LayerVersion")
        elif isinstance(item, str):
            name, _, version = item.rpartition(":")
        else:
            try:
                name, version = item
            except (TypeError, ValueError):
                name = version = None
        try:
            number = int(str(version))
        except ValueError:
            number = 0
        if not isinstance(name, str) or not name or number < 1:
            raise InvalidInputError(
                f"a layer is (name, version), 'name:version' or a LayerName/LayerVersion dict "
                f"with a version of 1 or more, got {item!r}"
            )
        refs.append({"LayerName": name, "LayerVersion": number})
    return refs


class SCFLayersMixin(SCFClientHook):
    """The layer part of :class:`~airflow_scf_snova.hooks.scf.SCFHook`."""

    def publish_layer_version(
        self,
        layer_name: str,
        content: dict[str, str],
        compatible_runtimes: Iterable[str],
        description: str | None = None,
        license_info: str | None = None,
    ) -> int:
        """``PublishLayerVersion``; returns the new version number (``Publishing`` at first:
        wait with :meth:`wait_for_layer_version`).

        :param content: a ``Code`` object, from ``zip_code`` or ``cos_code``.
        :param compatible_runtimes: e.g. ``["Python3.9"]``.
        """
        response = self.call(
            "PublishLayerVersion",
            {
                "LayerName": layer_name,
                "CompatibleRuntimes": list(compatible_runtimes),
                "Content": content,
                "Description": description,
                "LicenseInfo": license_info,
            },
        )
        return int(response["LayerVersion"])

    def get_layer_version(self, layer_name: str, layer_version: int) -> dict[str, Any]:
        """``GetLayerVersion``: ``Status``, ``CodeSha256``, ``CompatibleRuntimes``...

        :raises ResourceNotFoundError: no such layer or version.
        """
        return self.call(
            "GetLayerVersion", {"LayerName": layer_name, "LayerVersion": int(layer_version)}
        )

    def list_layers(
        self, compatible_runtime: str | None = None, search_key: str | None = None
    ) -> list[dict[str, Any]]:
        """``ListLayers``, every page: the newest version of each layer."""
        params = {"CompatibleRuntime": compatible_runtime, "SearchKey": search_key}
        return self.list_all("ListLayers", params, "Layers")

    def list_layer_versions(self, layer_name: str) -> list[dict[str, Any]]:
        """``ListLayerVersions``: the versions of a layer, newest first; ``[]`` when the layer
        does not exist."""
        try:
            response = self.call("ListLayerVersions", {"LayerName": layer_name})
        except ResourceNotFoundError:
            return []
        return sorted(response.get("LayerVersions") or [], key=lambda v: -v["LayerVersion"])

    def delete_layer_version(self, layer_name: str, layer_version: int) -> None:
        """``DeleteLayerVersion`` (refused while a function binds it)."""
        self.call(
            "DeleteLayerVersion", {"LayerName": layer_name, "LayerVersion": int(layer_version)}
        )

    def wait_for_layer_version(
        self,
        layer_name: str,
        layer_version: int,
        timeout: float = 600,
        poll_interval: float = 1.0,
        max_poll_interval: float = 15.0,
    ) -> dict[str, Any]:
        """Poll ``GetLayerVersion`` until the version is ``Active``; returns it.

        :raises TencentCloudError: the version failed to publish.
        :raises SCFWaitTimeoutError: the deadline passed.
        """

        def check() -> dict[str, Any] | None:
            version = self.get_layer_version(layer_name, layer_version)
            status = version.get("Status")
            if status == "Active":
                return version
            if status in LAYER_FAILED_STATES:
                raise TencentCloudError(
                    f"version {layer_version} of SCF layer {layer_name!r} is {status}"
                )
            self.log.info(
                "SCF layer %s version %s is %s; waiting for Active",
                layer_name,
                layer_version,
                status,
            )
            return None

        return self._poll(  # type: ignore[attr-defined]
            check,
            timeout,
            poll_interval,
            max_poll_interval,
            f"version {layer_version} of SCF layer {layer_name!r} did not become Active",
        )
