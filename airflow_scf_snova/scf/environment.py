"""A function's environment variables: what a deploy accepts, masks, sends and reads back.

``GetFunction`` answers and ``CreateFunction``/``UpdateFunctionConfiguration`` requests carry the
variables as ``{"Variables": [{"Key": ..., "Value": ...}]}``; here they are plain dicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scf_snova_core.names import ENV_KEY

from airflow_scf_snova.exceptions import InvalidInputError

#: The environment variable where a deploy records the SHA-256 of the deployed code package.
#: SCF cannot change a function's tags after creation through its API, so the hash lives in the
#: function's configuration, next to the variables it describes.
CODE_HASH_VARIABLE = "AIRFLOW_SCF_CODE_SHA256"
#: Environment keys whose values are masked in logs (case-insensitive substring match).
SECRET_KEY_PATTERN = re.compile(
    r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE|DSN|CONN", re.IGNORECASE
)


def mask_environment(environment: Mapping[str, Any] | None) -> None:
    """Register as secrets the values whose key looks secret (``PASSWORD``, ``SECRET``,
    ``TOKEN``, ``KEY``...). Values taken from a connection's password are masked by Airflow when
    the connection is read."""
    if not environment:
        return
    from airflow.sdk.log import mask_secret

    for key, value in environment.items():
        if value not in (None, "") and SECRET_KEY_PATTERN.search(str(key)):
            mask_secret(str(value))


def normalise_environment(environment: Mapping[str, Any] | None) -> dict[str, str]:
    """Validate function environment variables and turn scalar values into strings.

    :raises InvalidInputError: a key SCF rejects, the reserved :data:`CODE_HASH_VARIABLE`, or a
        value that is not a string, number or boolean.
    """
    if environment is None:
        return {}
    if not isinstance(environment, Mapping):
        raise InvalidInputError(f"environment must be a dict, got {type(environment).__name__}")
    result: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not ENV_KEY.match(key):
            raise InvalidInputError(
                f"environment variable name {key!r} is invalid: use letters, digits and '_', "
                "starting with a letter"
            )
        if key == CODE_HASH_VARIABLE:
            raise InvalidInputError(f"{CODE_HASH_VARIABLE} is reserved for the deploy's code hash")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        elif value is None:
            value = ""
        elif not isinstance(value, str):
            raise InvalidInputError(
                f"environment variable {key!r} must be a string, number or boolean, got "
                f"{type(value).__name__}"
            )
        result[key] = value
    return result


def environment_variables(function: Mapping[str, Any]) -> dict[str, str]:
    """The ``Environment.Variables`` of a ``GetFunction`` response as a dict."""
    variables = (function.get("Environment") or {}).get("Variables") or []
    return {v["Key"]: v.get("Value", "") for v in variables if v.get("Key")}


def environment_param(variables: Mapping[str, str]) -> dict[str, list[dict[str, str]]]:
    """The ``Environment`` request field for ``variables``; an empty dict clears them all."""
    if not variables:
        # SCF ignores an empty list; one empty pair is how its own tools clear the variables.
        return {"Variables": [{"Key": "", "Value": ""}]}
    return {"Variables": [{"Key": k, "Value": v} for k, v in variables.items()]}
