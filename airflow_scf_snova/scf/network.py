"""A function's network: the VPC and subnet it is deployed in.

``CreateFunction``/``UpdateFunctionConfiguration`` take, and ``GetFunction`` returns,
``VpcConfig: {"VpcId": ..., "SubnetId": ...}``; a function deployed in a VPC reaches what the VPC
reaches (a Snova cluster, usually) and, without a NAT gateway, nothing on the internet. Source:
the ``VpcConfig`` model of ``tencentcloud-sdk-python-scf`` and SCF's page on deploying functions in
a VPC (https://cloud.tencent.com/document/product/583/19704).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_scf_snova.exceptions import InvalidInputError

#: The keys a deploy's ``vpc_config`` may use: the API's, or snake case.
_ALIASES = {"VpcId": ("VpcId", "vpc_id"), "SubnetId": ("SubnetId", "subnet_id")}


def vpc_config_param(vpc_config: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The ``VpcConfig`` to send for a deploy's ``vpc_config``.

    :param vpc_config: ``None`` (the function's network is left as it is), or the VPC and subnet:
        ``{"VpcId": "vpc-...", "SubnetId": "subnet-..."}`` (or ``vpc_id``/``subnet_id``).
    :raises InvalidInputError: not a mapping, unknown keys, or a VPC without a subnet (or the
        reverse): SCF takes both together.
    """
    if vpc_config is None:
        return None
    if not isinstance(vpc_config, Mapping):
        raise InvalidInputError(
            f'vpc_config must be a mapping like {{"VpcId": ..., "SubnetId": ...}}, got '
            f"{type(vpc_config).__name__}"
        )
    known = {alias for aliases in _ALIASES.values() for alias in aliases}
    unknown = sorted(str(key) for key in vpc_config if key not in known)
    if unknown:
        raise InvalidInputError(f"vpc_config has unknown keys {unknown}: use VpcId and SubnetId")
    param = {}
    for field, aliases in _ALIASES.items():
        values = [vpc_config[alias] for alias in aliases if vpc_config.get(alias)]
        if len(values) != 1 or not isinstance(values[0], str):
            raise InvalidInputError(
                f"vpc_config needs exactly one {field} (a string): SCF deploys a function into "
                "a VPC and one of its subnets together"
            )
        param[field] = values[0].strip()
    return param


def deployed_vpc_config(function: Mapping[str, Any]) -> dict[str, str]:
    """``{"VpcId", "SubnetId"}`` of a ``GetFunction`` answer (empty strings: no VPC)."""
    current = function.get("VpcConfig") or {}
    return {"VpcId": current.get("VpcId") or "", "SubnetId": current.get("SubnetId") or ""}
