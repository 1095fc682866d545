"""CLS layer ``storage``: topics and log records on disk, so that they survive a restart.

Layout under ``root``::

    topics.json          the logsets and topics
    logs/<key>.json      the batches of one key (for SCF: one request id, every attempt)

Files are replaced atomically, as in :mod:`..scf.storage`.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..scf.storage import write_json
from .models import LogBatch, LogTopic

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class ClsStorage:
    """Files of one CLS emulator.

    :param root: the directory (created when missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._topics = self.root / "topics.json"
        self._logs = self.root / "logs"
        self._logs.mkdir(parents=True, exist_ok=True)

    def load_topics(self) -> list[LogTopic]:
        if not self._topics.exists():
            return []
        return [LogTopic.from_dict(t) for t in json.loads(self._topics.read_text("utf-8"))]

    def save_topics(self, topics: list[LogTopic]) -> None:
        write_json(self._topics, [t.to_dict() for t in topics])

    def _path(self, key: str) -> Path:
        return self._logs / f"{_SAFE.sub('_', key) or '_'}.json"

    def save_batches(self, key: str, batches: list[LogBatch]) -> None:
        write_json(self._path(key), {"key": key, "batches": [b.to_dict() for b in batches]})

    def delete_batches(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def load_batches(self) -> dict[str, list[LogBatch]]:
        """Every key's batches; a file a crashed writer left unreadable is skipped."""
        found: dict[str, list[LogBatch]] = {}
        for path in self._logs.glob("*.json"):
            try:
                data = json.loads(path.read_text("utf-8"))
                found[data["key"]] = [LogBatch.from_dict(b) for b in data["batches"]]
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return found

    def clear_logs(self) -> None:
        shutil.rmtree(self._logs, ignore_errors=True)
        self._logs.mkdir(parents=True, exist_ok=True)
