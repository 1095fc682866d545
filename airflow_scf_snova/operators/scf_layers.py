"""Operator for SCF layers: publish a layer version from a directory, a zip, COS, or
requirements built for SCF's platform.

Bind what it publishes with ``SCFDeployFunctionOperator(layers=[...])``. Nothing here imports an
SDK.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.hooks.scf import SCFHook
from airflow_scf_snova.operators.base import (
    TencentCloudBaseOperator,
    tencentcloud_template_fields,
)
from airflow_scf_snova.operators.scf import SCF_UI_COLOR, SCF_UI_FGCOLOR
from airflow_scf_snova.operators.scf_code import SCFCodeSourceMixin

if TYPE_CHECKING:
    from airflow.sdk import Context


def _same_content(published: str, sha256_hex: str) -> bool:
    """Whether a layer's ``CodeSha256`` (hex or base64) is this hex digest."""
    if published.lower() == sha256_hex:
        return True
    try:
        return base64.b64decode(published, validate=True).hex() == sha256_hex
    except ValueError:
        return False


class SCFPublishLayerOperator(SCFCodeSourceMixin, TencentCloudBaseOperator[SCFHook]):
    """Publish a version of an SCF layer, unless its newest version already has this content.

    SCF unpacks a layer into ``/opt`` of the functions bound to it, and ``/opt`` is on their
    ``PYTHONPATH``: put packages at the root of the layer. The content is exactly one of
    ``content_dir`` (zipped deterministically, with ``include_packages``), ``zip_file``,
    ``cos_bucket`` + ``cos_key``, or only ``requirements``/``requirements_file`` (installed for
    SCF's platform and the runtime's Python, as the deploy operator does; then
    ``compatible_runtimes`` names exactly one runtime, the one they are built for). A layer too
    large for one API request goes through COS (``code_bucket``).

    The newest version is reused when its content hash, runtimes and description are these.
    Returns ``{"layer_name", "layer_version", "code_sha256", "published"}``; pass
    ``(layer_name, layer_version)`` to the deploy operator's ``layers``.

    :param layer_name: 1-64 letters, digits, ``-`` and ``_``, starting with a letter.
    :param compatible_runtimes: the runtimes that may bind it, e.g. ``["Python3.9"]``.
    :param content_dir: a directory whose contents become the root of the layer.
    :param include_packages: with ``content_dir``: pure-Python packages of the worker's
        environment to add.
    :param zip_file: a ready-made zip.
    :param cos_bucket: the bucket of a zip in COS; with ``cos_key``.
    :param cos_key: the key of that zip.
    :param requirements: requirement specifiers built for SCF's platform into the layer.
    :param requirements_file: instead of ``requirements``: a requirements file.
    :param description: the version's description.
    :param license_info: the layer's licence.
    :param code_bucket: where a layer too large to send inline is staged (default: the
        connection's ``code_bucket`` extra).
    :param code_prefix: the key prefix of staged layers.
    :param dependency_cache: where built requirements are cached.
    :param wait_for_completion: wait until the new version is ``Active``.
    :param poll_interval: seconds between status polls.
    :param wait_timeout: seconds to wait.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    hook_class = SCFHook
    code_dir_attribute = "content_dir"
    template_fields: Sequence[str] = tencentcloud_template_fields(
        "layer_name",
        "content_dir",
        "zip_file",
        "cos_bucket",
        "cos_key",
        "requirements",
        "requirements_file",
        "compatible_runtimes",
        "description",
        "code_bucket",
    )
    ui_color = SCF_UI_COLOR
    ui_fgcolor = SCF_UI_FGCOLOR

    def __init__(
        self,
        *,
        layer_name: str,
        compatible_runtimes: Sequence[str] = ("Python3.9",),
        content_dir: str | None = None,
        description: str | None = None,
        license_info: str | None = None,
        wait_for_completion: bool = True,
        poll_interval: float = 1.0,
        wait_timeout: float = 600,
        **kwargs: Any,
    ) -> None:
        # The other content arguments: SCFCodeSourceMixin.
        super().__init__(code_dir=content_dir, requirements_alone=True, **kwargs)
        self.content_dir = content_dir
        if isinstance(compatible_runtimes, str):
            compatible_runtimes = [compatible_runtimes]
        self.layer_name = layer_name
        self.compatible_runtimes = list(compatible_runtimes)
        self.description = description
        self.license_info = license_info
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    @property
    def scf_hook(self) -> SCFHook:
        return self.hook

    def execute(self, context: Context) -> dict[str, Any]:
        runtimes = list(self.compatible_runtimes)
        if (self.requirements or self.requirements_file) and len(runtimes) != 1:
            raise InvalidInputError(
                "a layer built from requirements is for one runtime: give exactly one of "
                f"compatible_runtimes, got {runtimes}"
            )
        package = self.build_package(runtimes[0])
        hook = self.scf_hook
        description = self.description or ""
        for newest in hook.list_layer_versions(self.layer_name)[:1]:
            current = hook.get_layer_version(self.layer_name, newest["LayerVersion"])
            same = (
                package.data is not None
                and _same_content(current.get("CodeSha256") or "", package.sha256)
                and sorted(current.get("CompatibleRuntimes") or []) == sorted(runtimes)
                and (current.get("Description") or "") == description
            )
            if same:
                self.log.info(
                    "SCF layer %s version %s already has this content (sha256 %s)",
                    self.layer_name,
                    newest["LayerVersion"],
                    package.sha256,
                )
                return self._result(int(newest["LayerVersion"]), package.sha256, False)
        version = hook.publish_layer_version(
            self.layer_name,
            self.code_param(package, f"layers/{self.layer_name}"),
            runtimes,
            description=self.description,
            license_info=self.license_info,
        )
        self.log.info(
            "Published version %s of SCF layer %s from %s (%d bytes, sha256 %s)",
            version,
            self.layer_name,
            package.source,
            package.size,
            package.sha256,
        )
        if self.wait_for_completion:
            hook.wait_for_layer_version(
                self.layer_name,
                version,
                timeout=self.wait_timeout,
                poll_interval=self.poll_interval,
            )
        return self._result(version, package.sha256, True)

    def _result(self, version: int, sha256: str, published: bool) -> dict[str, Any]:
        return {
            "layer_name": self.layer_name,
            "layer_version": version,
            "code_sha256": sha256,
            "published": published,
        }
