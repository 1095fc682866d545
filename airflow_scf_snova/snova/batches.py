"""How an ``append`` load groups objects into transactions (``LoadSpec.batch_size`` and
``batch_bytes``); :class:`~airflow_scf_snova.snova.loader.SnovaLoader` runs the transactions.

A batch is a run of consecutive objects, in load order, that commit together: at most
``batch_size`` of them, closed as soon as their sizes add up to ``batch_bytes`` (an object larger
than that is a batch of its own). Fewer commits, one advisory lock and one ledger lookup per
batch are what make many small objects fast; a batch holds the table's load lock for as long as
it runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scf_snova_core.objects import COSObject


def plan_batches(
    objects: Sequence[COSObject], batch_size: int, batch_bytes: int
) -> Iterator[list[COSObject]]:
    """Consecutive runs of ``objects``, each one transaction.

    :param objects: the objects, in load order.
    :param batch_size: at most this many objects per batch.
    :param batch_bytes: a batch closes once its objects' sizes reach this many bytes.
    """
    batch: list[COSObject] = []
    held = 0
    for obj in objects:
        batch.append(obj)
        held += obj.size or 0
        if len(batch) >= batch_size or held >= batch_bytes:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch
