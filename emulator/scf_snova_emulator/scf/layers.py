"""SCF extra ``layers``: layer versions, their rules, and the layer actions.

A layer version is an immutable zip that SCF unpacks into ``/opt`` of every function it is bound
to, in binding order, later layers overwriting earlier ones. :class:`LayerRegistry` holds the
versions (thread-safe, saved to ``layers.json`` through :class:`~.storage.ScfStorage`);
:class:`LayerActions` serves ``PublishLayerVersion``, ``GetLayerVersion``, ``ListLayers``,
``ListLayerVersions`` and ``DeleteLayerVersion``, and checks the ``Layers`` parameter of
``CreateFunction``/``UpdateFunctionConfiguration`` (:meth:`LayerActions.bind`).

Rules, from the SDK's docstrings (``tencentcloud.scf.v20180416.models``) and SCF's quota page
(https://cloud.tencent.com/document/product/583/11637), stricter where they are silent:

- ``LayerName``: 1-64 letters, digits, ``-`` and ``_``, a letter first, not ending in ``-``/``_``
  (``InvalidParameterValue.LayerName``);
- ``CompatibleRuntimes``: 1-5 of the function runtimes
  (``InvalidParameterValue.CompatibleRuntimes``);
- each publish makes the next version, ``Publishing`` for the emulator's status delay, then
  ``Active``; 20 layers per region (``LimitExceeded.Layers``), 200 versions per layer
  (``LimitExceeded.LayerVersions``);
- a function binds at most 5 layer versions (``LimitExceeded.Layers``), each existing
  (``ResourceNotFound.Layer``/``.LayerVersion``), ``Active`` and listing the function's runtime
  (``InvalidParameterValue.Layers``; stricter: SCF documents no behaviour);
  ``[{"LayerName": "", "LayerVersion": 0}]`` unbinds all;
- a version bound to a function (any version of it) cannot be deleted
  (``ResourceInUse.LayerVersion``; stricter).
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Callable

from .exceptions import (
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceInUse,
    ResourceNotFound,
)
from .models import LayerVersion
from .storage import ScfStorage

LAYER_NAME = re.compile(r"^[A-Za-z]([A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$")
MAX_LAYERS = 20
MAX_LAYER_VERSIONS = 200
MAX_BOUND_LAYERS = 5
MAX_COMPATIBLE_RUNTIMES = 5


class LayerRegistry:
    """Every layer version of the emulator.

    :param storage: where ``layers.json`` and the contents live.
    :param delay: seconds a new version stays ``Publishing`` (read at each publish).
    :param clock: epoch seconds.
    """

    def __init__(
        self,
        storage: ScfStorage,
        delay: Callable[[], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._delay = delay
        self._clock = clock
        self._lock = threading.Lock()
        state = storage.load_layers() or {}
        self._versions = {
            (v["name"], v["version"]): LayerVersion.from_dict(v) for v in state.get("versions", [])
        }
        self._next = dict(state.get("next", {}))

    def _save(self) -> None:
        self._storage.save_layers(
            {"versions": [v.to_dict() for v in self._versions.values()], "next": self._next}
        )

    def publish(self, version: LayerVersion) -> LayerVersion:
        """Store ``version`` under the layer's next number (its ``version`` is ignored)."""
        with self._lock:
            names = {name for name, _ in self._versions}
            if version.name not in names and len(names) >= MAX_LAYERS:
                raise LimitExceeded("Layers", f"a region holds at most {MAX_LAYERS} layers")
            count = sum(1 for name, _ in self._versions if name == version.name)
            if count >= MAX_LAYER_VERSIONS:
                raise LimitExceeded(
                    "LayerVersions", f"a layer holds at most {MAX_LAYER_VERSIONS} versions"
                )
            number = self._next.get(version.name, 1)
            self._next[version.name] = number + 1
            version.version = number
            version.settle_at = self._clock() + self._delay()
            self._versions[(version.name, number)] = version
            self._save()
            return copy.deepcopy(version)

    def get(self, name: str, number: int) -> LayerVersion:
        with self._lock:
            if not any(n == name for n, _ in self._versions):
                raise ResourceNotFound("Layer", f"layer {name!r} does not exist")
            version = self._versions.get((name, number))
            if version is None:
                raise ResourceNotFound(
                    "LayerVersion", f"version {number} of layer {name!r} does not exist"
                )
            return copy.deepcopy(version)

    def versions(self, name: str | None = None) -> list[LayerVersion]:
        """Versions (of one layer, or all), newest first."""
        with self._lock:
            found = [v for v in self._versions.values() if name is None or v.name == name]
        return sorted(copy.deepcopy(found), key=lambda v: (v.name, -v.version))

    def delete(self, name: str, number: int, in_use: Callable[[str, int], bool]) -> None:
        self.get(name, number)
        if in_use(name, number):
            raise ResourceInUse(
                "LayerVersion", f"version {number} of layer {name!r} is bound to a function"
            )
        with self._lock:
            self._versions.pop((name, number), None)
            self._save()

    def now(self) -> float:
        return self._clock()

    def code_in_use(self) -> set[str]:
        with self._lock:
            return {v.code_sha256 for v in self._versions.values()}

    def reset(self) -> None:
        with self._lock:
            self._versions.clear()
            self._next.clear()
            self._save()


def layer_name(params: dict, required: bool = True) -> str:
    value = params.get("LayerName")
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not LAYER_NAME.match(value):
        raise InvalidParameterValue(
            "LayerName",
            f"LayerName {value!r} is invalid: 1-64 letters, digits, '-' and '_', starting with a "
            "letter and not ending with '-' or '_'",
        )
    return value


def layer_number(params: dict) -> int:
    value = params.get("LayerVersion")
    if value is None:
        raise MissingParameter("LayerVersion", "the parameter LayerVersion is required")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidParameterValue("LayerVersion", "LayerVersion must be a positive integer")
    return value


def layer_version_info(version: LayerVersion, now: float) -> dict:
    """A ``LayerVersionInfo`` (ListLayers, ListLayerVersions, GetFunction's ``Layers``)."""
    from .wire import api_time

    return {
        "CompatibleRuntimes": list(version.compatible_runtimes),
        "AddTime": api_time(version.add_time),
        "Description": version.description,
        "LicenseInfo": version.license_info,
        "LayerVersion": version.version,
        "LayerName": version.name,
        "Status": version.status(now),
        "Stamp": "",
        "Tags": [dict(t) for t in version.tags],
    }


class LayerActionsMixin:
    """The layer actions of :class:`~.responses.ScfResponses` (which provides ``_layers``,
    ``_storage``, ``_backend`` and ``_code_bytes``)."""

    _layers: LayerRegistry
    _storage: ScfStorage

    def publish_layer_version(self, p: dict) -> dict:
        from . import validation as v

        name = layer_name(p)
        runtimes = p.get("CompatibleRuntimes")
        if not isinstance(runtimes, list) or not runtimes:
            raise MissingParameter("CompatibleRuntimes", "CompatibleRuntimes lists the runtimes")
        if len(runtimes) > MAX_COMPATIBLE_RUNTIMES:
            raise InvalidParameterValue(
                "CompatibleRuntimes", f"at most {MAX_COMPATIBLE_RUNTIMES} CompatibleRuntimes"
            )
        for runtime in runtimes:
            try:
                v.runtime(runtime)
            except InvalidParameterValue as exc:
                raise InvalidParameterValue("CompatibleRuntimes", exc.message) from exc
        if not isinstance(p.get("Content"), dict):
            raise MissingParameter("Content", "the parameter Content is required")
        data = self._code_bytes(p["Content"])  # type: ignore[attr-defined]
        version = LayerVersion(
            name=name,
            version=0,
            code_sha256=self._storage.put_code(data),
            code_size=len(data),
            compatible_runtimes=list(dict.fromkeys(runtimes)),
            description=v.description(p),
            license_info=v.string(p, "LicenseInfo", "") or "",
            tags=v.tags(p),
            add_time=self._layers.now(),
        )
        return {"LayerVersion": self._layers.publish(version).version}

    def get_layer_version(self, p: dict) -> dict:
        version = self._layers.get(layer_name(p), layer_number(p))
        info = layer_version_info(version, self._layers.now())
        del info["Stamp"], info["Tags"]
        return {**info, "CodeSha256": version.code_sha256, "Location": ""}

    def list_layers(self, p: dict) -> dict:
        from . import validation as v

        offset, limit = v.paging(p)
        runtime = v.string(p, "CompatibleRuntime")
        search = (v.string(p, "SearchKey") or "").lower()
        latest: dict[str, LayerVersion] = {}
        for version in self._layers.versions():
            if runtime and runtime not in version.compatible_runtimes:
                continue
            if search and search not in version.name.lower():
                continue
            latest.setdefault(version.name, version)  # newest first per layer
        now = self._layers.now()
        layers = [layer_version_info(x, now) for x in latest.values()]
        return {"Layers": layers[offset : offset + limit], "TotalCount": len(layers)}

    def list_layer_versions(self, p: dict) -> dict:
        name = layer_name(p)
        runtimes = p.get("CompatibleRuntime") or []
        versions = self._layers.versions(name)
        if not versions:
            raise ResourceNotFound("Layer", f"layer {name!r} does not exist")
        now = self._layers.now()
        return {
            "LayerVersions": [
                layer_version_info(x, now)
                for x in versions
                if not runtimes or set(runtimes) & set(x.compatible_runtimes)
            ]
        }

    def delete_layer_version(self, p: dict) -> dict:
        name, number = layer_name(p), layer_number(p)

        def in_use(layer: str, version: int) -> bool:
            for function in self._backend.list_all():  # type: ignore[attr-defined]
                configs = [function.config, *(x.config for x in function.versions.values())]
                for config in configs:
                    bound = {(b["LayerName"], b["LayerVersion"]) for b in config.layers}
                    if (layer, version) in bound:
                        return True
            return False

        self._layers.delete(name, number, in_use)
        return {}

    def _bind_layers(self, p: dict, runtime: str) -> tuple[dict, ...] | None:
        """The ``Layers`` parameter checked and resolved; ``None`` when not sent, ``()`` to
        unbind every layer."""
        value = p.get("Layers")
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            raise InvalidParameterValue("Layers", "Layers is a list of {LayerName, LayerVersion}")
        if all(x.get("LayerName") == "" for x in value):
            return ()
        if len(value) > MAX_BOUND_LAYERS:
            raise LimitExceeded("Layers", f"a function binds at most {MAX_BOUND_LAYERS} layers")
        bound = []
        now = self._layers.now()
        for item in value:
            version = self._layers.get(layer_name(item), layer_number(item))
            label = f"version {version.version} of layer {version.name!r}"
            if version.status(now) != "Active":
                raise InvalidParameterValue("Layers", f"{label} is {version.status(now)}")
            if runtime not in version.compatible_runtimes:
                raise InvalidParameterValue(
                    "Layers",
                    f"{label} is for {', '.join(version.compatible_runtimes)}, not {runtime}",
                )
            bound.append(
                {
                    "LayerName": version.name,
                    "LayerVersion": version.version,
                    "CodeSha256": version.code_sha256,
                }
            )
        return tuple(bound)

    def _layer_views(self, layers: tuple[dict, ...]) -> list[dict]:
        now = self._layers.now()
        views = []
        for bound in layers:
            try:
                version = self._layers.get(bound["LayerName"], bound["LayerVersion"])
            except ResourceNotFound:
                continue
            views.append(layer_version_info(version, now))
        return views
