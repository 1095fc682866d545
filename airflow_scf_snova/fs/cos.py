"""``cos://`` for Airflow's object storage: ``ObjectStoragePath("cos://bucket/key",
conn_id="tencentcloud_default")``.

Airflow's providers manager imports this module (listed under ``filesystems`` in the provider
info) and calls :func:`get_fs` with the path's connection id. The filesystem is
:class:`airflow_scf_snova.cos.filesystem.COSFileSystem`; it is imported on first use only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_scf_snova.cos.filesystem import COSFileSystem

#: The URL schemes this module serves.
schemes = ["cos"]


def get_fs(conn_id: str | None, storage_options: dict[str, Any] | None = None) -> COSFileSystem:
    """The filesystem for ``conn_id`` (``tencentcloud_default`` when ``None``).

    :param conn_id: a ``tencentcloud`` connection.
    :param storage_options: keyword arguments of :class:`COSFileSystem`: ``region`` and
        ``block_size`` (bytes per read block and per uploaded part).
    """
    from airflow_scf_snova.cos.filesystem import COSFileSystem

    return COSFileSystem(conn_id=conn_id, **(storage_options or {}))
