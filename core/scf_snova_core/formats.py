"""The file format of a COS-to-Snova load or a Snova-to-COS export, validated once.

One :class:`LoadFormat` renders both dialects that read or write CSV/TEXT in Snova:

- the ``COPY`` option list (``FORMAT csv, HEADER true, DELIMITER ',' ...``), and
- the Greenplum external-table ``FORMAT 'CSV' (HEADER DELIMITER ',' ...)`` clause
  (see :mod:`.cos_ext`).

Rendering builds :mod:`psycopg2.sql` objects, so ``psycopg2`` is imported inside the functions:
operator modules import this module at DAG-parse time for validation only. Invalid values raise
:class:`~.errors.InvalidValueError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InvalidValueError

if TYPE_CHECKING:
    from psycopg2.sql import Composable

FORMATS = ("csv", "text")
COMPRESSIONS = (None, "gzip")
#: Encoding names as PostgreSQL and Greenplum spell them (``UTF8``, ``LATIN1``, ``GB18030``...).
_ENCODING = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: PostgreSQL 17 added ``ON_ERROR ignore``; 18 added ``REJECT_LIMIT``.
PG_ON_ERROR = 170000
PG_REJECT_LIMIT = 180000


def _single_char(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise InvalidValueError(f"{what} must be a single character, got {value!r}")
    if value in "\r\n":
        raise InvalidValueError(f"{what} must not be a newline")
    return value


def validate_reject_limit(value: Any) -> int | None:
    """``None`` or a positive ``int`` (not ``bool``); raise :class:`InvalidValueError` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"reject_limit must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class LoadFormat:
    """A validated CSV or TEXT format.

    :param format: ``csv`` or ``text`` (PostgreSQL's tab/backslash format).
    :param delimiter: one character.
    :param header: whether the first line is a header (skipped on load, written on export).
    :param null_string: the string that means NULL; ``None`` keeps the server default
        (unquoted empty for CSV, ``\\N`` for TEXT).
    :param quote: the CSV quote character; ``None`` keeps ``"``. Not allowed with TEXT.
    :param encoding: the file's encoding, as the server names it.
    :param compression: ``None`` or ``gzip``.
    """

    format: str = "csv"
    delimiter: str = ","
    header: bool = False
    null_string: str | None = None
    quote: str | None = None
    encoding: str = "UTF8"
    compression: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise InvalidValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        _single_char(self.delimiter, "delimiter")
        if not isinstance(self.header, bool):
            raise InvalidValueError(f"header must be True or False, got {self.header!r}")
        if self.null_string is not None and (
            not isinstance(self.null_string, str) or "\n" in self.null_string
        ):
            raise InvalidValueError(
                f"null_string must be a one-line string, got {self.null_string!r}"
            )
        if self.quote is not None:
            if self.format != "csv":
                raise InvalidValueError("quote is only allowed with format='csv'")
            _single_char(self.quote, "quote")
            if self.quote == self.delimiter:
                raise InvalidValueError("quote and delimiter must differ")
        if not isinstance(self.encoding, str) or not _ENCODING.match(self.encoding):
            raise InvalidValueError(f"encoding {self.encoding!r} is not a valid encoding name")
        if self.compression not in COMPRESSIONS:
            raise InvalidValueError(f"compression must be None or 'gzip', got {self.compression!r}")

    # -- COPY ----------------------------------------------------------------------------------
    def copy_options(
        self,
        *,
        header: bool | None = None,
        ignore_errors: bool = False,
        reject_limit: int | None = None,
    ) -> Composable:
        """The parenthesised ``COPY`` option list.

        :param header: overrides :attr:`header` (exports choose their own).
        :param ignore_errors: add ``ON_ERROR ignore`` (PostgreSQL 17+).
        :param reject_limit: add ``REJECT_LIMIT n`` (PostgreSQL 18+, needs ``ignore_errors``).
        """
        from psycopg2 import sql

        header = self.header if header is None else header
        options = [sql.SQL("FORMAT {}").format(sql.SQL(self.format))]
        if header:
            options.append(sql.SQL("HEADER true"))
        options.append(sql.SQL("DELIMITER {}").format(sql.Literal(self.delimiter)))
        if self.null_string is not None:
            options.append(sql.SQL("NULL {}").format(sql.Literal(self.null_string)))
        if self.quote is not None:
            options.append(sql.SQL("QUOTE {}").format(sql.Literal(self.quote)))
        options.append(sql.SQL("ENCODING {}").format(sql.Literal(self.encoding)))
        if ignore_errors:
            options.append(sql.SQL("ON_ERROR ignore"))
            if reject_limit is not None:
                options.append(sql.SQL("REJECT_LIMIT {}").format(sql.Literal(int(reject_limit))))
        return sql.SQL("({})").format(sql.SQL(", ").join(options))

    # -- Greenplum external tables ---------------------------------------------------------------
    def external_format_clause(self, *, writable: bool = False) -> Composable:
        """``FORMAT 'CSV' (HEADER QUOTE '"' DELIMITER ',' NULL '')`` in the order of Tencent's
        ``cos_ext`` syntax (https://cloud.tencent.com/document/product/878/34875): CSV ``HEADER,
        QUOTE, DELIMITER, NULL``; TEXT ``HEADER, DELIMITER, NULL``. Writable tables take no
        ``HEADER`` (the syntax has none).

        :param writable: render for ``CREATE WRITABLE EXTERNAL TABLE``.
        """
        from psycopg2 import sql

        if writable and self.header:
            raise InvalidValueError(
                "Greenplum writable external tables cannot write a header line; use header=False "
                "or method='copy'"
            )
        parts: list[Composable] = []
        if self.header:
            parts.append(sql.SQL("HEADER"))
        if self.format == "csv" and self.quote is not None:
            parts.append(sql.SQL("QUOTE {}").format(sql.Literal(self.quote)))
        parts.append(sql.SQL("DELIMITER {}").format(sql.Literal(self.delimiter)))
        if self.null_string is not None:
            parts.append(sql.SQL("NULL {}").format(sql.Literal(self.null_string)))
        return sql.SQL("FORMAT {} ({})").format(
            sql.Literal(self.format.upper()), sql.SQL(" ").join(parts)
        )
