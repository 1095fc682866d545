"""Dataset namespaces and names, following OpenLineage's naming convention.

COS is blob storage named like S3 and GCS in the convention: the namespace is
``cos://{bucket}`` (the full ``name-appid`` bucket name, unique across Tencent Cloud) and the
name is the object key; a prefix (a folder of objects) is named by the prefix without its
trailing ``/``, and the whole bucket by ``/``. Snova is PostgreSQL on the wire: the namespace is
``postgres://{host}:{port}`` and the name ``{database}.{schema}.{table}``. A local file is
``file://{host}`` and its absolute path.

Nothing here imports OpenLineage.
"""

from __future__ import annotations

import os
import socket

#: The namespace scheme of COS datasets.
COS_SCHEME = "cos"


def cos_namespace(bucket: str) -> str:
    """``cos://{bucket}``.

    :param bucket: the full bucket name (``name-appid``).
    """
    return f"{COS_SCHEME}://{bucket.lower()}"


def cos_object_name(key: str) -> str:
    """The dataset name of one object: its key, without a leading ``/``.

    :param key: the object key.
    """
    return key.lstrip("/")


def cos_prefix_name(prefix: str | None) -> str:
    """The dataset name of every object under ``prefix``: the prefix without its trailing ``/``,
    or ``/`` for the whole bucket.

    :param prefix: the prefix (``None`` or empty: the bucket).
    """
    name = (prefix or "").strip("/")
    return name or "/"


def postgres_namespace(host: str | None, port: int | None, default_port: int = 5432) -> str:
    """``postgres://{host}:{port}``.

    :param host: the server's host name, as the connection gives it.
    :param port: the port; ``default_port`` when ``None``.
    :param default_port: PostgreSQL's.
    """
    return f"postgres://{host or 'localhost'}:{port or default_port}"


def table_name(database: str, schema: str, table: str) -> str:
    """``{database}.{schema}.{table}``."""
    return f"{database}.{schema}.{table}"


def local_file(path: str | os.PathLike[str]) -> tuple[str, str]:
    """``(file://{host}, absolute path)`` of a file on this machine.

    :param path: the file.
    """
    return f"file://{socket.gethostname()}", os.path.abspath(os.fspath(path))
