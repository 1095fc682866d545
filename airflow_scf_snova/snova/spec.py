"""What a load or an export is asked to do, validated once: :class:`LoadSpec`, :class:`ExportSpec`
and the checks they are made of (and those of a least-privilege role's arguments).

The transfers run the same checks in ``__init__`` on the arguments that are already literal, and
build a spec at ``execute`` once everything is rendered. Nothing here imports a database driver:
operator modules import this module when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scf_snova_core import loads
from scf_snova_core.formats import LoadFormat, validate_reject_limit
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE
from scf_snova_core.names import split_table_name, validate_identifier

from airflow_scf_snova.exceptions import InvalidInputError, invalid_input

#: How an export writes: ``COPY ... TO STDOUT`` through the worker, or a writable external table.
EXPORT_METHODS = ("copy", "external_table")
#: Bytes per multipart part of an export.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: Objects per transaction of an ``append`` load with the ``copy`` method (``docs/snova.md``).
DEFAULT_BATCH_SIZE = 50
#: A batch closes once its objects hold this many bytes, so large objects keep one each.
DEFAULT_BATCH_BYTES = 16 * 1024 * 1024


def check_choice(value: Any, choices: Sequence[str], what: str) -> str:
    """``value`` if it is one of ``choices``; :class:`InvalidInputError` naming ``what``."""
    with invalid_input():
        return loads.check_choice(value, choices, what)


def check_table(value: Any) -> str:
    """A ``table`` or ``schema.table`` made of plain identifiers, or :class:`InvalidInputError`."""
    with invalid_input():
        split_table_name(value)
    return value


def check_names(value: Any, what: str) -> list[str] | None:
    """``None``, or a non-empty list of distinct plain identifiers.

    :param value: the list.
    :param what: the argument's name (``columns``, ``upsert_keys``), for the message.
    """
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise InvalidInputError(f"{what} must be a non-empty list of names, got {value!r}")
    with invalid_input():
        names = [validate_identifier(item, what.rstrip("s")) for item in value]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInputError(f"{what} name(s) {duplicates!r} appear more than once")
    return names


def check_upsert_keys(mode: str, keys: list[str] | None, columns: list[str] | None) -> None:
    """``upsert_keys`` go with ``mode="upsert"`` (and only with it), among ``columns`` if given."""
    if mode == "upsert" and not keys:
        raise InvalidInputError("mode='upsert' needs upsert_keys")
    if keys and mode != "upsert":
        raise InvalidInputError("upsert_keys only apply to mode='upsert'")
    if keys and columns:
        missing = [k for k in keys if k not in columns]
        if missing:
            raise InvalidInputError(f"upsert_keys {missing!r} are not in columns")


def check_positive(value: Any, what: str) -> int:
    """A positive ``int`` (not a ``bool``), or :class:`InvalidInputError` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{what} must be a positive integer, got {value!r}")
    return value


def check_reject_limit(value: Any) -> int | None:
    """``None`` or a positive ``int``, or :class:`InvalidInputError`."""
    with invalid_input():
        return validate_reject_limit(value)


def load_format(**options: Any) -> LoadFormat:
    """A :class:`~scf_snova_core.formats.LoadFormat`, or :class:`InvalidInputError`."""
    with invalid_input():
        return LoadFormat(**options)


def check_export_options(method: str, fmt: LoadFormat) -> None:
    """An export method, and a format it can write."""
    check_choice(method, EXPORT_METHODS, "method")
    if method == "external_table" and fmt.header:
        raise InvalidInputError(
            "method='external_table' cannot write a header line: pass header=False"
        )


def check_role_arguments(
    role: Any, load_tables: Any, read_tables: Any, modes: Any, ledger_table: Any
) -> None:
    """Validate the arguments of :func:`~airflow_scf_snova.snova.roles.ensure_role`
    (:class:`InvalidInputError` naming the bad one)."""
    with invalid_input():
        validate_identifier(role, "role")
    for what, tables in (("load_tables", load_tables), ("read_tables", read_tables)):
        if isinstance(tables, str) or not isinstance(tables, (list, tuple)):
            raise InvalidInputError(f"{what} must be a list of table names, got {tables!r}")
        for table in tables:
            check_table(table)
    if not load_tables and not read_tables:
        raise InvalidInputError("give load_tables or read_tables: the role would have no use")
    if isinstance(modes, str) or not isinstance(modes, (list, tuple)) or not modes:
        raise InvalidInputError(f"modes must be a non-empty list of load modes, got {modes!r}")
    for mode in modes:
        check_choice(mode, loads.MODES, "mode")
    check_table(ledger_table)


@dataclass(frozen=True)
class LoadSpec:
    """What to load where, and how; validated on construction.

    :param table: the target, ``table`` or ``schema.table``.
    :param fmt: the file format.
    :param mode: ``append``, ``replace`` or ``upsert``
        (:data:`scf_snova_core.loads.MODES`).
    :param method: ``auto``, ``copy`` or ``external_table``
        (:data:`scf_snova_core.loads.METHODS`).
    :param columns: the file's columns, in order; ``None`` means all of the table's.
    :param upsert_keys: the key columns for ``upsert``.
    :param reject_limit: rows that may be rejected per object; ``None`` rejects none.
    :param ledger_table: the ledger.
    :param dag_id: recorded in the ledger.
    :param run_id: recorded in the ledger.
    :param task_id: recorded in the ledger.
    :param batch_size: at most this many objects per transaction (``append`` mode, ``copy``
        method; the other layouts load one object per transaction).
    :param batch_bytes: a batch closes once its objects hold this many bytes.
    :raises InvalidInputError: any of them is invalid.
    """

    table: str
    fmt: LoadFormat = LoadFormat()
    mode: str = "append"
    method: str = "auto"
    columns: Sequence[str] | None = None
    upsert_keys: Sequence[str] | None = None
    reject_limit: int | None = None
    ledger_table: str = DEFAULT_LEDGER_TABLE
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_bytes: int = DEFAULT_BATCH_BYTES

    def __post_init__(self) -> None:
        check_positive(self.batch_size, "batch_size")
        check_positive(self.batch_bytes, "batch_bytes")
        check_table(self.table)
        check_table(self.ledger_table)
        check_choice(self.mode, loads.MODES, "mode")
        check_choice(self.method, loads.METHODS, "method")
        columns = check_names(self.columns, "columns")
        check_upsert_keys(self.mode, check_names(self.upsert_keys, "upsert_keys"), columns)
        check_reject_limit(self.reject_limit)
        if not isinstance(self.fmt, LoadFormat):
            raise InvalidInputError(f"fmt must be a LoadFormat, got {self.fmt!r}")


@dataclass(frozen=True)
class ExportSpec:
    """A query to write to one COS object (or, with ``external_table``, under one prefix).

    :param sql: the query; a trailing ``;`` is removed.
    :param bucket: the bucket, ``name`` or ``name-appid``.
    :param key: the object key (the output prefix with ``external_table``).
    :param fmt: the file format (``header`` is written with ``copy`` only).
    :param method: ``copy`` or ``external_table``.
    :param part_size: bytes per multipart part.
    :raises InvalidInputError: any of them is invalid.
    """

    sql: str
    bucket: str
    key: str
    fmt: LoadFormat = LoadFormat()
    method: str = "copy"
    part_size: int = DEFAULT_PART_SIZE

    def __post_init__(self) -> None:
        check_export_options(self.method, self.fmt)
        if not isinstance(self.sql, str) or not self.query:
            raise InvalidInputError("sql must be a non-empty query")
        if not isinstance(self.key, str) or not self.key:
            raise InvalidInputError(f"key must be a non-empty string, got {self.key!r}")
        if self.method == "copy" and self.key.endswith("/"):
            raise InvalidInputError(f"key {self.key!r} does not name an object")

    @property
    def query(self) -> str:
        """The query without surrounding blanks and trailing semicolons."""
        return self.sql.strip().rstrip(";").strip()
