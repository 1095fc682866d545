"""Greenplum ``cos_ext`` external tables: DDL built from validated parts, and redaction.

Snova reads and writes COS in parallel from every segment through external tables whose
``LOCATION`` carries the API key in clear text (tencent-apis.md 5.1)::

    CREATE READABLE EXTERNAL TABLE name (col type, ...)
      LOCATION ('cos://<bucket>-<appid>.cos.<region>.myqcloud.com/<prefix>
                 secretId=<id> secretKey=<key> [compressType=gzip]')   -- one line in reality
      FORMAT 'CSV' (HEADER QUOTE '"' DELIMITER ',' NULL '')
      ENCODING 'UTF8'
      [LOG ERRORS SEGMENT REJECT LIMIT n ROWS]

So the statement is a secret. This module builds it as a :class:`ExternalTableDDL` whose
:meth:`~ExternalTableDDL.redacted` text is what gets logged; the real text exists only at the
moment of ``cursor.execute`` (never through ``DbApiHook.run``, which logs SQL), and
:func:`redact` also scrubs database error messages that might quote the statement.

Facts that shape the design (tencent-apis.md 5.1):

- only ONE URL per ``LOCATION``, and the URL's path is a **prefix**: ``data/a.csv`` also reads
  ``data/a.csv.bak``. A loader that wants exactly one object must check that no other key
  starts with that object's key (see :func:`prefix_collisions`);
- parameters are space separated, so a key containing whitespace cannot be expressed;
- the option is ``compressType`` (not Alibaba's ``compressiontype``); reads also auto-detect gzip;
- there is no session-token parameter, so temporary (STS) credentials cannot be used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_scf_snova.exceptions import InvalidInputError

if TYPE_CHECKING:
    from psycopg2.sql import Composable
    from scf_snova_core.objects import COSObject

    from airflow_scf_snova.utils.load_format import LoadFormat

REDACTED = "***"
#: ``secretId=...`` / ``secretKey=...`` up to the next space or quote, any case.
_SECRET_PARAM = re.compile(r"(?i)\b(secret_?(?:id|key)\s*=\s*)[^\s'\"]*")
_REGION = re.compile(r"^[a-z]{2,}(?:-[a-z0-9]+)+$")
_FULL_BUCKET = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?-\d+$")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every ``secretId=``/``secretKey=`` value and every given secret replaced by
    ``***``. Applied to logged DDL and to database errors raised while it ran.

    :param text: the text.
    :param secrets: literal values to remove wherever they appear.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


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
        if not _FULL_BUCKET.match(self.bucket or ""):
            raise InvalidInputError(
                f"cos_ext needs a full bucket name (name-appid), got {self.bucket!r}"
            )
        if not _REGION.match(self.region or ""):
            raise InvalidInputError(f"invalid COS region {self.region!r}")
        if not self.prefix or any(ch.isspace() for ch in self.prefix) or "'" in self.prefix:
            raise InvalidInputError(
                f"object key {self.prefix!r} cannot be named in a cos_ext LOCATION (it is empty or "
                "contains whitespace or a quote); use method='copy'"
            )
        for what, value in (("SecretId", self.secret_id), ("SecretKey", self.secret_key)):
            if not value or any(ch.isspace() or ch in "'\"" for ch in value):
                raise InvalidInputError(f"the {what} cannot be used in a cos_ext LOCATION")
        if self.compress_type not in (None, "gzip"):
            raise InvalidInputError(
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
            raise InvalidInputError("an external table needs at least one column")
        if self.writable and self.reject_limit is not None:
            raise InvalidInputError("reject_limit applies to readable external tables only")

    def composed(self, location_text: str) -> Composable:
        """The statement as :mod:`psycopg2.sql` with ``location_text`` as the LOCATION literal."""
        from psycopg2 import sql

        from airflow_scf_snova.hooks.snova import SnovaHook

        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(SnovaHook.quote_identifier(column), sql.SQL(type_text))
            for column, type_text in self.columns
        )
        parts: list[Composable] = [
            sql.SQL("CREATE {} EXTERNAL TABLE {} ({})").format(
                sql.SQL("WRITABLE" if self.writable else "READABLE"),
                SnovaHook.quote_table(self.name),
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

        from airflow_scf_snova.hooks.snova import SnovaHook

        return sql.SQL("DROP EXTERNAL TABLE IF EXISTS {}").format(SnovaHook.quote_table(self.name))
