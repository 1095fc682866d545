"""Greenplum ``cos_ext`` external tables: DDL built from validated parts, safe to log redacted.

Snova reads and writes COS in parallel from every segment through external tables whose
``LOCATION`` carries the API key in clear text (Tencent's syntax:
https://cloud.tencent.com/document/product/878/34875)::

    CREATE READABLE EXTERNAL TABLE name (col type, ...)
      LOCATION ('cos://<bucket>-<appid>.cos.<region>.myqcloud.com/<prefix>
                 secretId=<id> secretKey=<key> [compressType=gzip]')   -- one line in reality
      FORMAT 'CSV' (HEADER QUOTE '"' DELIMITER ',' NULL '')
      ENCODING 'UTF8'
      [LOG ERRORS SEGMENT REJECT LIMIT n ROWS]

So the statement is a secret. This module builds it as a :class:`ExternalTableDDL` whose
:meth:`~ExternalTableDDL.redacted` text is what gets logged; the real text exists only at the
moment of ``cursor.execute`` (never through a logging helper such as Airflow's
``DbApiHook.run``), and :func:`~.sql.redact` also scrubs database error messages that might quote
the statement.

Facts that shape the design (same page):

- only ONE URL per ``LOCATION``, and the URL's path is a **prefix**: ``data/a.csv`` also reads
  ``data/a.csv.bak``. A loader that wants exactly one object must check that no other key
  starts with that object's key (see :func:`prefix_collisions`);
- parameters are space separated, so a key containing whitespace cannot be expressed;
- the option is ``compressType`` (not Alibaba's ``compressiontype``); reads also auto-detect gzip;
- there is no session-token parameter, so temporary (STS) credentials cannot be used.

Invalid parts raise :class:`~.errors.InvalidValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import InvalidValueError
from .names import FULL_BUCKET, REGION
from .sql import quote_identifier, quote_table, redact

if TYPE_CHECKING:
    from psycopg2.sql import Composable

    from .formats import LoadFormat
    from .objects import COSObject


@dataclass(frozen=True)
class CosExtLocation:
    """The one-URL ``LOCATION`` string of a ``cos_ext`` table (COS V5 URL style).

    :param bucket: the full bucket name, ``name-appid``.
    :param prefix: the object key prefix (a full key names one object, see module docs).
    :param region: the COS region, which must be the cluster's region.
    :param secret_id: the SecretId.
    :param secret_key: the SecretKey.
    :param compress_type: ``gzip`` or ``None``.
    :param https: ``False`` to read over HTTP; ``None`` keeps the default (HTTPS).
    """

    bucket: str
    prefix: str
    region: str
    secret_id: str = field(repr=False)
    secret_key: str = field(repr=False)
    compress_type: str | None = None
    https: bool | None = None

    def __post_init__(self) -> None:
        if not FULL_BUCKET.match(self.bucket or ""):
            raise InvalidValueError(
                f"cos_ext needs a full bucket name (name-appid), got {self.bucket!r}"
            )
        if not REGION.match(self.region or ""):
            raise InvalidValueError(f"invalid COS region {self.region!r}")
        if not self.prefix or any(ch.isspace() for ch in self.prefix) or "'" in self.prefix:
            raise InvalidValueError(
                f"object key {self.prefix!r} cannot be named in a cos_ext LOCATION (it is empty or "
                "contains whitespace or a quote); use method='copy'"
            )
        for what, value in (("SecretId", self.secret_id), ("SecretKey", self.secret_key)):
            if not value or any(ch.isspace() or ch in "'\"" for ch in value):
                raise InvalidValueError(f"the {what} cannot be used in a cos_ext LOCATION")
        if self.compress_type not in (None, "gzip"):
            raise InvalidValueError(
                f"compressType must be gzip or unset, got {self.compress_type!r}"
            )

    @property
    def url(self) -> str:
        """``cos://<bucket>-<appid>.cos.<region>.myqcloud.com/<prefix>`` (no secrets)."""
        return f"cos://{self.bucket}.cos.{self.region}.myqcloud.com/{self.prefix}"

    def render(self) -> str:
        """The full parameter string, secrets included: only for ``cursor.execute``."""
        params = [self.url, f"secretId={self.secret_id}", f"secretKey={self.secret_key}"]
        if self.compress_type:
            params.append(f"compressType={self.compress_type}")
        if self.https is not None:
            params.append(f"https={'true' if self.https else 'false'}")
        return " ".join(params)

    @property
    def secrets(self) -> tuple[str, str]:
        return (self.secret_id, self.secret_key)


def prefix_collisions(obj_key: str, listing: Iterable[COSObject], limit: int = 5) -> list[str]:
    """Keys in ``listing`` (a listing of prefix ``obj_key``) other than ``obj_key`` itself: the
    objects an external table located at ``obj_key`` would read too.

    :param obj_key: the key to load.
    :param listing: objects whose keys start with ``obj_key``.
    :param limit: stop after this many collisions.
    """
    found: list[str] = []
    for item in listing:
        if item.key != obj_key and item.key.startswith(obj_key):
            found.append(item.key)
            if len(found) >= limit:
                break
    return found


@dataclass(frozen=True)
class ExternalTableDDL:
    """``CREATE [READABLE|WRITABLE] EXTERNAL TABLE`` for one ``cos_ext`` location.

    :param name: the external table's (validated) name, ``schema.table`` or ``table``.
    :param columns: ``(column, type)`` pairs; types come from the server's catalog
        (``format_type``), column names are validated identifiers.
    :param location: where the data is.
    :param fmt: the file format.
    :param writable: build a writable (export) table instead of a readable one.
    :param reject_limit: readable only: ``LOG ERRORS SEGMENT REJECT LIMIT n ROWS``.
    """

    name: str
    columns: Sequence[tuple[str, str]]
    location: CosExtLocation
    fmt: LoadFormat
    writable: bool = False
    reject_limit: int | None = None

    def __post_init__(self) -> None:
        if not self.columns:
            raise InvalidValueError("an external table needs at least one column")
        if self.writable and self.reject_limit is not None:
            raise InvalidValueError("reject_limit applies to readable external tables only")

    def composed(self, location_text: str) -> Composable:
        """The statement as :mod:`psycopg2.sql` with ``location_text`` as the LOCATION literal."""
        from psycopg2 import sql

        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(quote_identifier(column), sql.SQL(type_text))
            for column, type_text in self.columns
        )
        parts: list[Composable] = [
            sql.SQL("CREATE {} EXTERNAL TABLE {} ({})").format(
                sql.SQL("WRITABLE" if self.writable else "READABLE"),
                quote_table(self.name),
                columns,
            ),
            sql.SQL("LOCATION ({})").format(sql.Literal(location_text)),
            self.fmt.external_format_clause(writable=self.writable),
            sql.SQL("ENCODING {}").format(sql.Literal(self.fmt.encoding)),
        ]
        if self.reject_limit is not None:
            parts.append(
                sql.SQL("LOG ERRORS SEGMENT REJECT LIMIT {} ROWS").format(
                    sql.Literal(int(self.reject_limit))
                )
            )
        if self.writable:
            parts.append(sql.SQL("DISTRIBUTED RANDOMLY"))
        return sql.SQL(" ").join(parts)

    def render(self, context) -> str:
        """The executable statement, secrets included. ``context``: a psycopg2 connection or
        cursor (quoting depends on its settings). Never log this."""
        return self.composed(self.location.render()).as_string(context)

    def redacted(self, context) -> str:
        """The statement with the secrets replaced by ``***``: safe to log."""
        return redact(self.render(context), self.location.secrets)

    def drop(self) -> Composable:
        """``DROP EXTERNAL TABLE IF EXISTS name``."""
        from psycopg2 import sql

        return sql.SQL("DROP EXTERNAL TABLE IF EXISTS {}").format(quote_table(self.name))
