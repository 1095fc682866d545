"""SCF extra ``validation``: request parameters checked as the SDK's docstrings describe them.

Each function takes the raw JSON value and returns the normalised one or raises the typed error
the real API uses for that parameter. The naming rules are :mod:`scf_snova_core.names` patterns,
the ones the provider checks.
"""

from __future__ import annotations

import re

from scf_snova_core.names import ENV_KEY, FUNCTION_NAME, HANDLER_PART, NAMESPACE

from .exceptions import (
    InvalidParameter,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceNotFound,
)
from .interpreters import SCF_PYTHON_RUNTIMES

DEFAULT_NAMESPACE = "default"
#: Runtimes of other languages the real API accepts; the emulator cannot run them (the function
#: becomes CreateFailed).
OTHER_RUNTIMES = frozenset(
    {
        "Nodejs6.10",
        "Nodejs8.9",
        "Nodejs10.15",
        "Nodejs12.16",
        "Nodejs14.18",
        "Nodejs16.13",
        "Nodejs18.15",
        "Php5.6",
        "Php7",
        "Php7.4",
        "Php8.0",
        "Go1",
        "Java8",
        "Java11",
        "CustomRuntime",
    }
)
#: Memory sizes: 64, or 128-3072 in steps of 128 (MB).
MEMORY_SIZES = frozenset([64, *range(128, 3072 + 1, 128)])
#: Variables SCF sets itself; a function's Environment may not override them.
SYSTEM_VARIABLES = frozenset(
    {
        "SCF_FUNCTIONNAME",
        "SCF_FUNCTIONVERSION",
        "SCF_NAMESPACE",
        "SCF_RUNTIME",
        "SCF_MEMORYSIZE",
        "SCF_TIMEOUT",
        "TENCENTCLOUD_REGION",
        "TENCENTCLOUD_APPID",
        "TENCENTCLOUD_UIN",
        "TENCENTCLOUD_RUNENV",
        "USER_CODE_ROOT",
    }
)
MAX_ENVIRONMENT_BYTES = 4096
#: The shape of Tencent Cloud VPC and subnet ids (``vpc-2ari9m7h``, ``subnet-hhi88a58``).
VPC_ID = re.compile(r"^vpc-[0-9a-z]+$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-z]+$")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def string(params: dict, name: str, default: str | None = None, required: bool = False) -> str:
    """A string parameter; ``MissingParameter`` when required and absent."""
    value = params.get(name)
    if value is None or (required and value == ""):
        if required:
            raise MissingParameter(None, f"the parameter {name} is required")
        return default  # type: ignore[return-value]
    if not isinstance(value, str):
        raise InvalidParameter("Payload", f"{name} must be a string")
    return value


def integer(params: dict, name: str, default: int, low: int, high: int, code: str) -> int:
    """An integer parameter within ``[low, high]``; ``InvalidParameterValue.<code>`` otherwise."""
    value = params.get(name)
    if value is None:
        return default
    if not _is_int(value) or not low <= value <= high:
        raise InvalidParameterValue(code, f"{name} must be an integer in {low}-{high}")
    return value


def function_name(params: dict) -> str:
    name = string(params, "FunctionName", required=True)
    if not FUNCTION_NAME.match(name):
        raise InvalidParameter(
            "FunctionName",
            f"FunctionName {name!r} is invalid: 2-60 letters, digits, '-' and '_', starting with "
            "a letter and not ending with '-' or '_'",
        )
    return name


def namespace(params: dict) -> str:
    """The namespace; only ``default`` exists in the emulator."""
    value = string(params, "Namespace", DEFAULT_NAMESPACE) or DEFAULT_NAMESPACE
    if not NAMESPACE.match(value):
        raise InvalidParameterValue("Namespace", f"Namespace {value!r} is invalid")
    if value != DEFAULT_NAMESPACE:
        raise ResourceNotFound(
            "Namespace", f"namespace {value!r} does not exist (the emulator has only 'default')"
        )
    return value


def handler(value: object) -> str:
    if not isinstance(value, str) or value.count(".") < 1:
        raise InvalidParameterValue(
            "Handler", f"Handler {value!r} must look like 'file.function', e.g. index.main_handler"
        )
    module, _, function = value.rpartition(".")
    for part in (module, function):
        if not HANDLER_PART.match(part):
            raise InvalidParameterValue(
                "Handler",
                f"Handler {value!r}: {part!r} must be 2-60 letters, digits, '_' or '-', beginning "
                "and ending with a letter",
            )
    return value


def runtime(value: object) -> str:
    """A runtime SCF offers: one of :data:`SCF_PYTHON_RUNTIMES` (the SDK's list for
    ``CreateFunctionRequest.Runtime``) or of :data:`OTHER_RUNTIMES`."""
    if not isinstance(value, str) or (
        value not in SCF_PYTHON_RUNTIMES and value not in OTHER_RUNTIMES
    ):
        raise InvalidParameterValue(
            "Runtime",
            f"Runtime {value!r} is not a runtime SCF offers; its Python runtimes are "
            f"{', '.join(SCF_PYTHON_RUNTIMES)}",
        )
    return value


def runtime_problem(value: str) -> str | None:
    """Why the emulator cannot run functions of this other-language runtime, or ``None`` for a
    Python runtime (whose interpreter :mod:`.interpreters` finds)."""
    if value in SCF_PYTHON_RUNTIMES:
        return None
    return (
        f"runtime {value} is not supported by the emulator: it runs Python functions only "
        "(send Runtime, e.g. Python3.9; the API's default is Python2.7)"
    )


def memory_size(params: dict, default: int) -> int:
    value = params.get("MemorySize")
    if value is None:
        return default
    if not _is_int(value) or value not in MEMORY_SIZES:
        raise InvalidParameterValue(
            "MemorySize", f"MemorySize {value!r} must be 64, or 128-3072 in steps of 128 (MB)"
        )
    return value


def timeout(params: dict, default: int, maximum: int = 900) -> int:
    """The Timeout in seconds: 1-900, or up to ``maximum`` (86400 for async-execution
    functions)."""
    value = params.get("Timeout")
    if value is None:
        return default
    if not _is_int(value):
        raise InvalidParameterValue(None, f"Timeout {value!r} must be an integer (seconds)")
    if not 1 <= value <= maximum:
        raise LimitExceeded("Timeout", f"Timeout {value} must be within 1-{maximum} seconds")
    return value


def environment(params: dict) -> list[dict[str, str]] | None:
    """The ``Environment.Variables`` list; ``None`` when not sent, ``[]`` for the clear sentinel
    ``[{"Key": "", "Value": ""}]``."""
    value = params.get("Environment")
    if value is None:
        return None
    variables = value.get("Variables") if isinstance(value, dict) else None
    if variables is None:
        variables = []
    if not isinstance(variables, list) or not all(
        isinstance(v, dict) and isinstance(v.get("Key", ""), str) for v in variables
    ):
        raise InvalidParameterValue(
            "Environment", 'Environment must be {"Variables": [{"Key": ..., "Value": ...}]}'
        )
    if variables == [{"Key": "", "Value": ""}]:
        return []
    result = []
    seen = set()
    for item in variables:
        key, val = item.get("Key", ""), item.get("Value", "")
        if not isinstance(val, str) or not ENV_KEY.match(key):
            raise InvalidParameterValue(
                "Environment", f"environment variable {key!r} is invalid (letters, digits, '_')"
            )
        if key in SYSTEM_VARIABLES:
            raise InvalidParameterValue(
                "EnvironmentSystemProtect", f"{key} is a system variable and cannot be set"
            )
        if key in seen:
            raise InvalidParameterValue("Environment", f"environment variable {key} is repeated")
        seen.add(key)
        result.append({"Key": key, "Value": val})
    size = sum(len(v["Key"].encode()) + len(v["Value"].encode()) for v in result)
    if size > MAX_ENVIRONMENT_BYTES:
        raise InvalidParameterValue(
            "EnvironmentExceededLimit", f"environment variables take {size} bytes; keep within 4KB"
        )
    return result


def tags(params: dict) -> list[dict[str, str]]:
    value = params.get("Tags") or []
    if not isinstance(value, list) or not all(
        isinstance(t, dict) and isinstance(t.get("Key"), str) and isinstance(t.get("Value"), str)
        for t in value
    ):
        raise InvalidParameterValue(None, 'Tags must be a list of {"Key": str, "Value": str}')
    return [{"Key": t["Key"], "Value": t["Value"]} for t in value]


def function_type(params: dict) -> str:
    value = string(params, "Type", "Event") or "Event"
    if value == "HTTP":
        raise InvalidParameterValue(
            "Type", "web functions (Type=HTTP) are not supported by the emulator; use Event"
        )
    if value != "Event":
        raise InvalidParameterValue("Type", f"Type {value!r} must be Event or HTTP")
    return value


def description(params: dict, default: str = "") -> str:
    value = string(params, "Description", default)
    if value is not None and len(value) > 1000:
        raise InvalidParameterValue("Description", "Description is longer than 1000 characters")
    return value  # type: ignore[return-value]


def flag(params: dict, name: str) -> bool:
    """A ``"TRUE"``/``"FALSE"`` flag (the API's booleans are strings)."""
    value = params.get(name)
    if value is None:
        return False
    if value not in ("TRUE", "FALSE"):
        raise InvalidParameterValue(None, f'{name} must be the string "TRUE" or "FALSE"')
    return value == "TRUE"


def paging(params: dict, default_limit: int = 20, max_limit: int = 100) -> tuple[int, int]:
    offset = integer(params, "Offset", 0, 0, 10_000_000, "Offset")
    limit = integer(params, "Limit", default_limit, 0, max_limit, "Limit")
    return offset, limit


def order(params: dict, name: str = "Order", default: str = "DESC") -> bool:
    """``True`` for descending order."""
    value = string(params, name, default) or default
    if value.upper() not in ("ASC", "DESC"):
        raise InvalidParameterValue("Order", f"{name} must be ASC or DESC")
    return value.upper() == "DESC"


def vpc_config(params: dict) -> tuple[str, str] | None:
    """``(VpcId, SubnetId)`` of ``VpcConfig``, or ``None`` when it is not sent.

    Both ids are required together and must look like Tencent ids (stricter than the API's
    text, which only says "VPC id" and "subnet id"). An empty pair is refused: no Tencent page
    says whether it removes the VPC.
    """
    value = params.get("VpcConfig")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParameterValue("Vpc", 'VpcConfig must be {"VpcId": ..., "SubnetId": ...}')
    vpc_id, subnet_id = value.get("VpcId") or "", value.get("SubnetId") or ""
    if not isinstance(vpc_id, str) or not isinstance(subnet_id, str):
        raise InvalidParameterValue("Vpc", "VpcId and SubnetId must be strings")
    if not vpc_id and not subnet_id:
        raise InvalidParameterValue(
            "Vpc",
            "an empty VpcConfig is refused: what it does is not documented (the emulator does "
            "not guess that it removes the VPC)",
        )
    if not (VPC_ID.match(vpc_id) and SUBNET_ID.match(subnet_id)):
        raise InvalidParameterValue(
            "Vpc",
            f"VpcConfig needs both a VpcId like vpc-xxxxxxxx and a SubnetId like "
            f"subnet-xxxxxxxx, got VpcId={vpc_id!r}, SubnetId={subnet_id!r}",
        )
    return vpc_id, subnet_id
