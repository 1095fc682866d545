"""Names Tencent Cloud (and SQL) accept: SCF functions, namespaces, handlers, triggers,
environment variables, COS buckets, regions and keys, and SQL identifiers.

Each rule is a compiled pattern (for callers that answer with their own error, such as the
emulator) and, where callers only need a verdict, a ``validate_*`` function that returns the value
or raises :class:`~scf_snova_core.errors.InvalidValueError` naming the input and the rule.

Sources: the SCF API 3.0 model docstrings (``tencentcloud-sdk-python-scf``, ``models.py``:
``CreateFunctionRequest.FunctionName``, ``.Handler``, ``.Namespace``, ``CreateTriggerRequest``) and
the COS bucket naming page (https://cloud.tencent.com/document/product/436/13312).
"""

from __future__ import annotations

import re

from .errors import InvalidValueError

#: Function names: letters, digits, ``-`` and ``_``; a letter first, not ``-``/``_`` last; 2-60.
FUNCTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$")
#: Namespaces: letters, digits, ``-`` and ``_``, up to 30 characters.
NAMESPACE = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
#: Each of the two parts of a ``<file>.<function>`` handler: starts and ends with a letter, 2-60.
HANDLER_PART = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_-]{0,58}[A-Za-z])$")
#: Environment variable names.
ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: Timer trigger names: a letter, then letters, digits, ``-`` and ``_``; up to 60.
TIMER_TRIGGER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,59}$")
#: The short part of a bucket name: lower-case letters, digits and ``-``, 1 to 50 characters, not
#: starting or ending with ``-`` (the COS SDK only checks the character set).
SHORT_BUCKET = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
#: A full bucket name, ``<name>-<appid>``.
FULL_BUCKET = re.compile(r"^(?P<name>[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?)-(?P<appid>\d+)$")
#: A short or a full bucket name.
BUCKET = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?(?:-\d+)?$")
#: A region, e.g. ``ap-guangzhou`` or ``na-siliconvalley``.
REGION = re.compile(r"^[a-z]{2,}(?:-[a-z0-9]+)+$")
#: A COS trigger's name: the bucket's domain, ``<name>-<appid>.cos.<region>.myqcloud.com``.
COS_TRIGGER_NAME = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9-]*-(?P<appid>\d+))\.cos\.(?P<region>[a-z0-9-]+)\.myqcloud\.com$"
)
#: The characters of a plain SQL identifier as the provider accepts it: letters, digits, ``_``
#: and ``$``, and any character from U+0080 to U+FFFF; not starting with a digit or ``$`` (quoted on
#: use all the same). Checked without a regular expression: compiling that character class costs
#: milliseconds, and DAG files import this module.
_IDENTIFIER_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$")
#: PostgreSQL's NAMEDATALEN - 1.
MAX_IDENTIFIER_BYTES = 63


def _check(pattern: re.Pattern, value: object, what: str, rule: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidValueError(f"invalid {what} {value!r}: {rule}")
    return value


def validate_function_name(name: object) -> str:
    """An SCF function name, or :class:`InvalidValueError`."""
    return _check(
        FUNCTION_NAME,
        name,
        "SCF function name",
        "2-60 letters, digits, '-' and '_', starting with a letter and not ending with '-' or '_'",
    )


def validate_namespace(name: object) -> str:
    """An SCF namespace, or :class:`InvalidValueError`."""
    return _check(NAMESPACE, name, "SCF namespace", "1-30 letters, digits, '-' and '_'")


def validate_timer_trigger_name(name: object) -> str:
    """A timer trigger's name, or :class:`InvalidValueError`."""
    return _check(
        TIMER_TRIGGER_NAME,
        name,
        "timer trigger name",
        "1-60 letters, digits, '-' and '_', starting with a letter",
    )


def validate_env_key(name: object) -> str:
    """A function environment variable's name, or :class:`InvalidValueError`."""
    rule = "letters, digits and '_', starting with a letter"
    return _check(ENV_KEY, name, "environment variable name", rule)


def split_bucket(bucket: str, appid: str | None = None) -> tuple[str, str]:
    """Split ``name-appid`` into ``(name, appid)``; a short name takes ``appid`` as given.

    :raises InvalidValueError: a full name of another APPID, or a short name and no ``appid``.
    """
    name, sep, tail = bucket.rpartition("-")
    if sep and tail.isdigit():
        if appid and tail != str(appid):
            raise InvalidValueError(f"bucket {bucket!r} does not belong to appid {appid}")
        return name, tail
    if not appid:
        raise InvalidValueError(f"bucket {bucket!r} has no -appid suffix and no appid was given")
    return bucket, str(appid)


def full_bucket_name(bucket: str, appid: str | None = None) -> str:
    """``name`` -> ``name-<appid>``; a full ``name-appid`` is kept as it is.

    :raises InvalidValueError: the name breaks COS's rules, or it is short and ``appid`` is empty.
    """
    name = (bucket or "").strip() if isinstance(bucket, str) else ""
    if FULL_BUCKET.match(name):
        return name
    if not SHORT_BUCKET.match(name):
        raise InvalidValueError(
            f"invalid COS bucket name {bucket!r}: use lower-case letters, digits and '-' "
            "(1-50 characters, not starting or ending with '-'), optionally followed by -<appid>"
        )
    if not appid:
        raise InvalidValueError(f"bucket {bucket!r} has no -<appid> suffix and no appid is known")
    return f"{name}-{appid}"


def validate_region(region: object) -> str:
    """A region such as ``ap-guangzhou``, or :class:`InvalidValueError`."""
    return _check(REGION, region, "region", "like ap-guangzhou")


def cos_bucket_domain(bucket: str, appid: str | None, region: str) -> str:
    """``<name>-<appid>.cos.<region>.myqcloud.com``: the bucket's domain, which is also the name
    of an SCF COS trigger on it."""
    name, bucket_appid = split_bucket(full_bucket_name(bucket, appid))
    return f"{name}-{bucket_appid}.cos.{validate_region(region)}.myqcloud.com"


def check_object_key(key: object) -> str:
    """Return ``key`` if the COS SDK will address exactly that object.

    :raises InvalidValueError: the key is empty or starts with ``/``: the SDK strips one leading
        ``/`` (``/a.csv`` would read or overwrite ``a.csv``, and ``/`` is the bucket itself).
    """
    if not isinstance(key, str) or not key:
        raise InvalidValueError(f"invalid COS object key {key!r}: a key is a non-empty string")
    if key.startswith("/"):
        raise InvalidValueError(
            f"invalid COS object key {key!r}: keys cannot start with '/' (the COS SDK strips it "
            f"and would address {key[1:]!r} instead)"
        )
    return key


def parse_cos_url(url: str) -> tuple[str, str]:
    """``cos://bucket/path/to/key`` -> ``("bucket", "path/to/key")``.

    The key is taken literally (not percent-decoded): COS keys may contain ``%``.

    :param url: the URL; ``cos://bucket`` and ``cos://bucket/`` give an empty key.
    :raises InvalidValueError: not a ``cos://`` URL, or no bucket.
    """
    scheme, sep, rest = (url or "").partition("://")
    if not sep or scheme.lower() != "cos":
        raise InvalidValueError(f"{url!r} is not a cos://bucket/key URL")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InvalidValueError(f"{url!r} names no bucket")
    return bucket, key


def _is_plain_identifier(name: str) -> bool:
    if name[0] in "0123456789$":
        return False
    return all(ch in _IDENTIFIER_ASCII or 0x80 <= ord(ch) <= 0xFFFF for ch in name)


def validate_identifier(name: object, what: str = "identifier") -> str:
    """Return ``name`` if it is a safe, plain SQL identifier; raise :class:`InvalidValueError`
    naming the input otherwise. Quoting (``psycopg2.sql.Identifier``) is still applied on use.

    :param name: the identifier, without quotes.
    :param what: what it names, for the message (``table``, ``column``, ...).
    """
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"{what} name must be a non-empty string, got {name!r}")
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise InvalidValueError(f"{what} name {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes")
    if not _is_plain_identifier(name):
        raise InvalidValueError(
            f"{what} name {name!r} may contain only letters, digits, '_' and '$' and must not "
            "start with a digit"
        )
    return name


def split_table_name(table: object) -> tuple[str | None, str]:
    """Split ``schema.table`` (or ``table``) and validate both parts."""
    parts = table.split(".") if isinstance(table, str) else [table]
    if len(parts) == 1:
        return None, validate_identifier(parts[0], "table")
    if len(parts) == 2:
        return validate_identifier(parts[0], "schema"), validate_identifier(parts[1], "table")
    raise InvalidValueError(f"table name {table!r} must be 'table' or 'schema.table'")
