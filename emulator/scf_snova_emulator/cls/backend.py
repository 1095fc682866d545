"""CLS layer ``backend``: the topics and the records in them.

The emulator has one logset and one topic, the ones SCF creates for function logs:
"SCF 专用日志集和日志主题分别以 SCF_logset 和 SCF_logtopic 为前缀命名" (*the dedicated logset and
topic are named with the prefixes SCF_logset and SCF_logtopic*;
https://www.tencentcloud.com/zh/document/product/583/39328).
Their ids are UUIDs, made once and kept with the emulator's state.

Batches are kept per key, the value of :data:`KEY_FIELD` (SCF's request id), which is how SCF's
logs are searched; the oldest keys are forgotten beyond :data:`MAX_KEYS`.
"""

from __future__ import annotations

import random
import string
import threading
import time
import uuid

from ..scf.exceptions import ResourceNotFound
from .models import LogBatch, LogTopic
from .storage import ClsStorage

#: The field batches are filed under.
KEY_FIELD = "SCF_RequestId"
#: Keys (requests) kept; the oldest are dropped first.
MAX_KEYS = 20_000


def _suffix() -> str:
    return "".join(random.choices(string.ascii_letters, k=8))


class ClsBackend:
    """Topics and log batches.

    :param storage: where they are saved.
    :param max_keys: how many keys to keep.
    """

    def __init__(self, storage: ClsStorage, max_keys: int = MAX_KEYS) -> None:
        self._storage = storage
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._topics = {t.topic_id: t for t in storage.load_topics()}
        if not self._topics:
            self._create_default_topic()
        loaded = storage.load_batches()
        ordered = sorted(loaded.items(), key=lambda item: min(b.seq for b in item[1] or [_EMPTY]))
        self._batches: dict[str, list[LogBatch]] = dict(ordered)
        self._seq = max((b.seq for bs in self._batches.values() for b in bs), default=0)

    def _create_default_topic(self) -> None:
        topic = LogTopic(
            logset_id=str(uuid.uuid4()),
            logset_name=f"SCF_logset_{_suffix()}",
            topic_id=str(uuid.uuid4()),
            topic_name=f"SCF_logtopic_{_suffix()}",
            create_time=time.time(),
        )
        self._topics = {topic.topic_id: topic}
        self._storage.save_topics([topic])

    def default_topic(self) -> LogTopic:
        """The topic SCF ships function logs to."""
        with self._lock:
            return next(iter(self._topics.values()))

    def topic(self, topic_id: str) -> LogTopic:
        """:raises ResourceNotFound: ``TopicNotExist``."""
        with self._lock:
            topic = self._topics.get(topic_id)
        if topic is None:
            raise ResourceNotFound("TopicNotExist", f"log topic {topic_id!r} does not exist")
        return topic

    def append(self, batch: LogBatch) -> None:
        """Store a batch (numbered in the order of arrival)."""
        key = str(batch.fields.get(KEY_FIELD, ""))
        with self._lock:
            self._seq += 1
            batch.seq = self._seq
            batches = self._batches.setdefault(key, [])
            batches.append(batch)
            self._storage.save_batches(key, batches)
            while len(self._batches) > self._max_keys:
                oldest = next(iter(self._batches))
                del self._batches[oldest]
                self._storage.delete_batches(oldest)

    def has_key(self, key: str) -> bool:
        with self._lock:
            return key in self._batches

    def batches(self, topic_id: str, keys: frozenset[str] | None = None) -> list[LogBatch]:
        """The batches of a topic, in the order of arrival; only those of ``keys`` when given."""
        with self._lock:
            if keys is None:
                groups = list(self._batches.values())
            else:
                groups = [self._batches[k] for k in keys if k in self._batches]
            found = [b for group in groups for b in group if b.topic_id == topic_id]
        return sorted(found, key=lambda b: b.seq)

    def reset(self) -> None:
        """Forget every record (the topics stay)."""
        with self._lock:
            self._batches.clear()
            self._storage.clear_logs()


_EMPTY = LogBatch(topic_id="", time_ms=0, pkg_id="", fields={}, line_fields=(), lines=[])
