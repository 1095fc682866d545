"""Where the code of a function or a layer comes from, and how it reaches SCF.

:class:`SCFCodeSourceMixin` gives the deploy operator
(:class:`~airflow_scf_snova.operators.scf.SCFDeployFunctionOperator`) and the layer operator
(:class:`~airflow_scf_snova.operators.scf_layers.SCFPublishLayerOperator`) one vocabulary:

- the code: exactly one of ``code_dir`` (zipped deterministically, with ``include_packages``),
  ``zip_file``, or ``cos_bucket`` + ``cos_key`` (a zip already in COS);
- third-party packages: ``requirements`` (a list) or ``requirements_file``, built for SCF's
  platform and the runtime's Python (:mod:`airflow_scf_snova.scf.dependencies`) and added to the
  root of the package; cached, so an unchanged package is rebuilt without network;
- the upload: inline (``ZipFile``) when the request stays within API 3.0's 10 MB body, otherwise
  through COS: the zip is put at ``<code_prefix><name>/<sha256>.zip`` in ``code_bucket`` (default:
  the connection's ``code_bucket`` extra; same region) and SCF reads it from there. The staged
  object is kept: the key is the package's hash, so an unchanged package is not uploaded twice
  (expire the prefix with a COS lifecycle rule if you like).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from scf_snova_core.limits import API_REQUEST_BODY_LIMIT

from airflow_scf_snova.exceptions import InvalidInputError

if TYPE_CHECKING:
    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.hooks.scf import SCFHook
    from airflow_scf_snova.scf.packaging import CodePackage

#: Room left in the request body for the other parameters of a create or update.
REQUEST_OVERHEAD = 64 * 1024
#: The largest zip sent inline: its base64 text plus the other parameters fit in one request.
INLINE_ZIP_LIMIT = (API_REQUEST_BODY_LIMIT - REQUEST_OVERHEAD) * 3 // 4
DEFAULT_CODE_PREFIX = "scf-code/"


class SCFCodeSourceMixin(BaseOperator):
    """The code arguments and steps shared by the deploy and layer operators (see the module
    docstring); put it first among the bases. The operator provides ``scf_hook``,
    ``tencentcloud_conn_id`` and ``region``.

    :param code_dir: the directory to package (the operator may call it otherwise, see
        :attr:`code_dir_attribute`).
    :param include_packages: with ``code_dir``: pure-Python packages of the worker's
        environment to add at the root.
    :param zip_file: a ready-made zip.
    :param cos_bucket: the bucket of a zip in COS; with ``cos_key``.
    :param cos_key: the key of that zip.
    :param requirements: requirement specifiers built for SCF's platform into the package.
    :param requirements_file: instead of ``requirements``: a requirements file (relative paths
        are inside ``code_dir``).
    :param code_bucket: where a package too large to send inline is staged.
    :param code_prefix: the key prefix of staged packages.
    :param dependency_cache: where built requirements and packages are cached.
    :param requirements_alone: requirements may be the whole content (a layer).
    """

    #: The attribute holding the directory to package; the operator sets it in its ``__init__``.
    code_dir_attribute = "code_dir"
    scf_hook: SCFHook
    tencentcloud_conn_id: str
    region: str | None

    def __init__(
        self,
        *,
        code_dir: str | None = None,
        include_packages: Sequence[str] = (),
        zip_file: str | None = None,
        cos_bucket: str | None = None,
        cos_key: str | None = None,
        requirements: Sequence[str] | None = None,
        requirements_file: str | None = None,
        code_bucket: str | None = None,
        code_prefix: str = DEFAULT_CODE_PREFIX,
        dependency_cache: str | None = None,
        requirements_alone: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        name = self.code_dir_attribute
        sources = [code_dir is not None, zip_file is not None, cos_bucket is not None]
        alone = requirements_alone and bool(requirements or requirements_file)
        if sum(sources) != 1 and not (alone and not any(sources)):
            raise InvalidInputError(
                f"give exactly one code source: {name}, zip_file, or cos_bucket with cos_key"
            )
        if (cos_bucket is None) != (cos_key is None):
            raise InvalidInputError("cos_bucket and cos_key go together")
        if isinstance(include_packages, str):
            include_packages = (include_packages,)
        if include_packages and code_dir is None:
            raise InvalidInputError(f"include_packages needs {name} (it adds to a built package)")
        if isinstance(requirements, str):
            raise InvalidInputError("requirements is a list of requirement specifiers")
        if requirements is not None and requirements_file is not None:
            raise InvalidInputError("give requirements or requirements_file, not both")
        if (requirements or requirements_file) and any(sources[1:]):
            raise InvalidInputError(
                "requirements are built into a new package: they do not go with zip_file or "
                "cos_bucket"
            )
        if self.code_dir_attribute == "code_dir":
            self.code_dir = code_dir
        self.include_packages = tuple(include_packages)
        self.zip_file = zip_file
        self.cos_bucket = cos_bucket
        self.cos_key = cos_key
        self.requirements = requirements
        self.requirements_file = requirements_file
        self.code_bucket = code_bucket
        self.code_prefix = code_prefix
        self.dependency_cache = dependency_cache

    @property
    def _source_dir(self) -> str | None:
        return getattr(self, self.code_dir_attribute)

    @cached_property
    def cos_hook(self) -> COSHook:
        """The COS hook for code in COS and staged packages (same connection and region)."""
        from airflow_scf_snova.hooks.cos import COSHook

        return COSHook(tencentcloud_conn_id=self.tencentcloud_conn_id, region=self.region)

    def _cos_source(self) -> tuple[str, str]:
        if self.cos_bucket is None or self.cos_key is None:
            raise InvalidInputError("cos_bucket and cos_key go together")
        return self.cos_bucket, self.cos_key

    def _requirement_lines(self) -> list[str]:
        from airflow_scf_snova.scf.dependencies import read_requirements

        if self.requirements_file is None:
            return [str(r) for r in self.requirements or []]
        path = Path(self.requirements_file)
        if not path.is_absolute() and self._source_dir is not None:
            path = Path(self._source_dir) / path
        try:
            return read_requirements(path)
        except (OSError, ValueError) as err:
            raise InvalidInputError(f"cannot read the requirements file: {err}") from err

    def build_package(self, runtime: str) -> CodePackage:
        """The package: the code source, with the requirements built for ``runtime`` (alone,
        for a layer of requirements only)."""
        from airflow_scf_snova.scf import dependencies, packaging

        code_dir = self._source_dir
        try:
            requirements = self._requirement_lines()
            if requirements:
                cache = self.dependency_cache or dependencies.default_cache_dir()
                site = dependencies.build_dependencies(requirements, runtime, cache)
                if code_dir is None:
                    return packaging.package_directory(site)
                return packaging.package_directory(code_dir, self.include_packages, site, cache)
            if code_dir is not None:
                return packaging.package_directory(code_dir, self.include_packages)
            if self.zip_file is not None:
                return packaging.package_zip_file(self.zip_file)
        except dependencies.DependencyBuildError as err:
            raise InvalidInputError(f"cannot build the requirements for {runtime}: {err}") from err
        except (OSError, ValueError) as err:
            raise InvalidInputError(f"cannot package the code: {err}") from err
        bucket, key = self._cos_source()
        etag = self.cos_hook.head_object(bucket, key).etag
        source = f"cos://{bucket}/{key}"
        digest = packaging.sha256_hex(f"{source}#{etag}".encode())
        return packaging.CodePackage(data=None, sha256=digest, source=source)

    def code_param(self, package: CodePackage, name: str) -> dict[str, Any]:
        """The ``Code`` (or ``Content``) object for ``package``: inline, or staged in COS when
        too large for one request.

        :param name: names the staged object (the function or layer).
        :raises InvalidInputError: too large and no ``code_bucket``.
        """
        hook = self.scf_hook
        if package.data is None:
            return hook.cos_code(*self._cos_source())
        if len(package.data) <= INLINE_ZIP_LIMIT:
            return {"ZipFile": base64.b64encode(package.data).decode("ascii")}
        bucket = self.code_bucket or hook.conn_config.code_bucket
        if not bucket:
            raise InvalidInputError(
                f"the package from {package.source} is {package.size} bytes: above the "
                f"{INLINE_ZIP_LIMIT} bytes SCF accepts inline (10 MB request bodies): give "
                "code_bucket (or the connection's code_bucket extra) to upload it through COS"
            )
        key = f"{self.code_prefix}{name}/{package.sha256}.zip"
        if self.cos_hook.object_exists(bucket, key):
            self.log.info("The package is already staged at cos://%s/%s", bucket, key)
        else:
            self.log.info("Staging the %d-byte package at cos://%s/%s", package.size, bucket, key)
            self.cos_hook.put_object(bucket, key, package.data)
        return hook.cos_code(bucket, key)
