"""Lazy hook construction shared by operators, sensors and triggers.

DAG files import operators at parse time, so an operator names its hook class as a dotted path
and builds it on first use, in ``execute``; nothing SDK-related is imported at parse time.
"""

from __future__ import annotations

from functools import cached_property
from importlib import import_module
from typing import Any, ClassVar


def import_string(path: str) -> Any:
    """Import ``package.module.Name`` and return ``Name``."""
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


class TencentCloudHookMixin:
    """Gives an operator or sensor a cached ``hook`` built from ``hook_class_path``.

    Subclasses set ``hook_class_path`` (e.g. ``"airflow_scf_snova.hooks.scf.SCFHook"``) and the
    attributes ``tencentcloud_conn_id`` and ``region`` (and ``namespace`` for SCF).
    """

    hook_class_path: ClassVar[str]
    tencentcloud_conn_id: str
    region: str | None

    def hook_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the hook; SCF operators add ``namespace``."""
        return {"tencentcloud_conn_id": self.tencentcloud_conn_id, "region": self.region}

    @cached_property
    def hook(self):
        """The hook, built on first use (never at DAG-parse time)."""
        return import_string(self.hook_class_path)(**self.hook_kwargs())
