"""The base of every operator (and, through :mod:`airflow_scf_snova.sensors.base`, every sensor)
that talks to Tencent Cloud through a ``tencentcloud`` connection.

Modelled on the Amazon provider's ``AwsBaseOperator[LambdaHook]``: a subclass names its hook class
once, as a class attribute, and gets

- the connection arguments, declared here only: ``tencentcloud_conn_id`` and ``region``
  (``namespace`` is added by the SCF operators' base, :class:`~.scf.SCFBaseOperator`);
- uniform template fields through :func:`tencentcloud_template_fields`;
- :attr:`~TencentCloudBaseOperator.hook`, built on first use from :meth:`hook_kwargs`, never at
  DAG-parse time (hook modules import their SDK inside the hook, so naming the class here costs
  a DAG file nothing).

A class that uses a second hook (a transfer) names both explicitly, e.g. ``cos_hook`` and
``snova_hook``, and does not use the ambiguous :attr:`hook` in its own code.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseOperator, conf

from airflow_scf_snova.hooks.base import TencentCloudBaseHook

TencentCloudHookT = TypeVar("TencentCloudHookT", bound=TencentCloudBaseHook)

#: The connection fields every Tencent Cloud operator and sensor templates.
CONNECTION_TEMPLATE_FIELDS = ("tencentcloud_conn_id", "region")


def tencentcloud_template_fields(*fields: str) -> tuple[str, ...]:
    """``fields`` followed by the connection fields, without repeats, in a stable order."""
    return tuple(dict.fromkeys((*fields, *CONNECTION_TEMPLATE_FIELDS)))


def default_deferrable() -> bool:
    """``[operators] default_deferrable``: the default of every ``deferrable`` argument."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def is_templated(value: Any) -> bool:
    """Whether ``value`` is known only at run time: a Jinja string, or an ``XComArg`` (anything
    that is not a plain value), possibly inside a list or tuple. Validation of such a value waits
    until it is rendered."""
    if value is None or isinstance(value, (bool, int, float, dict)):
        return False
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, (list, tuple)):
        return any(is_templated(item) for item in value)
    return True


class TencentCloudBaseOperator(BaseOperator, Generic[TencentCloudHookT]):
    """An operator acting through one Tencent Cloud hook.

    Subclasses set :attr:`hook_class` (e.g. ``hook_class = SCFHook``) and extend
    :attr:`template_fields` with :func:`tencentcloud_template_fields`.

    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    hook_class: ClassVar[type[TencentCloudBaseHook]]
    template_fields: Sequence[str] = CONNECTION_TEMPLATE_FIELDS

    def __init__(
        self,
        *,
        tencentcloud_conn_id: str = TencentCloudBaseHook.default_conn_name,
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self.region = region

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hook_class = cls.__dict__.get("hook_class")
        if hook_class is not None and not (
            isinstance(hook_class, type) and issubclass(hook_class, TencentCloudBaseHook)
        ):
            raise TypeError(
                f"{cls.__name__}.hook_class must be a TencentCloudBaseHook subclass, "
                f"got {hook_class!r}"
            )

    def hook_kwargs(self) -> dict[str, Any]:
        """The hook's keyword arguments (the SCF base adds ``namespace``)."""
        return {"tencentcloud_conn_id": self.tencentcloud_conn_id, "region": self.region}

    @cached_property
    def hook(self) -> TencentCloudHookT:
        """The hook, built on first use (never at DAG-parse time)."""
        return self.hook_class(**self.hook_kwargs())  # type: ignore[return-value]
