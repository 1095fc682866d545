"""SCF layer ``storage``: the SCF emulator's state on disk, so that it survives a restart.

Layout under ``root``::

    state.json                 functions, versions, triggers (one JSON document)
    code/<sha256>.zip          code packages, content-addressed (shared by versions)
    unpacked/<sha256>/         a package extracted once, what invocations import from
    invocations/<key>.json     one record per attempt of an invocation, with its complete log
                               (key: the request id, ``.retry<n>`` added for retries)
    runs/<id>/                 scratch space of a running invocation (request, result, output)

Every file is written to a temporary name and renamed over the old one, so a crash (or a kill)
leaves either the old or the new version, never half a file. (No fsync: this is a test tool.)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
import zipfile
from pathlib import Path

from .models import attempt_key


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: Path, value) -> None:
    write_atomic(path, json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8"))


class ScfStorage:
    """Files of one SCF emulator.

    :param root: the directory (created when missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._state = self.root / "state.json"
        self._code = self.root / "code"
        self._unpacked = self.root / "unpacked"
        self._invocations = self.root / "invocations"
        self._runs = self.root / "runs"
        for directory in (self._code, self._unpacked, self._invocations, self._runs):
            directory.mkdir(parents=True, exist_ok=True)

    # -- functions, versions, triggers ---------------------------------------------------------
    def load_state(self) -> dict | None:
        if not self._state.exists():
            return None
        return json.loads(self._state.read_text("utf-8"))

    def save_state(self, state: dict) -> None:
        write_json(self._state, state)

    # -- code ---------------------------------------------------------------------------------
    def put_code(self, data: bytes) -> str:
        """Store a zip; returns its hex SHA-256 (the name it is stored under)."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._code / f"{digest}.zip"
        if not path.exists():
            write_atomic(path, data)
        return digest

    def has_code(self, digest: str) -> bool:
        return (self._code / f"{digest}.zip").exists()

    def code_dir(self, digest: str) -> Path:
        """The package extracted (once; concurrent callers are safe) and ready to import."""
        target = self._unpacked / digest
        if target.is_dir():
            return target
        data = (self._code / f"{digest}.zip").read_bytes()
        tmp = self._unpacked / f".{digest}.{uuid.uuid4().hex}"
        extract_zip(data, tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another invocation extracted it first
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def forget_code(self, keep: set[str]) -> None:
        """Delete packages no function or version references any more."""
        for path in self._code.glob("*.zip"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)
                shutil.rmtree(self._unpacked / path.stem, ignore_errors=True)

    # -- invocations --------------------------------------------------------------------------
    def save_invocation(self, record: dict) -> None:
        key = attempt_key(record["request_id"], record.get("retry_num") or 0)
        write_json(self._invocations / f"{key}.json", record)

    def delete_invocation(self, key: str) -> None:
        """Delete the record of one attempt (:func:`~.models.attempt_key`)."""
        (self._invocations / f"{key}.json").unlink(missing_ok=True)

    def load_invocations(self) -> list[dict]:
        records = []
        for path in self._invocations.glob("*.json"):
            try:
                records.append(json.loads(path.read_text("utf-8")))
            except (OSError, ValueError):
                continue  # a record being replaced by a crashed writer: skip it
        return records

    def run_dir(self, request_id: str) -> Path:
        path = self._runs / request_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def drop_run_dir(self, request_id: str) -> None:
        shutil.rmtree(self._runs / request_id, ignore_errors=True)

    # -- everything ---------------------------------------------------------------------------
    def clear(self) -> None:
        """Delete all state (the control API's reset)."""
        self._state.unlink(missing_ok=True)
        for directory in (self._code, self._unpacked, self._invocations, self._runs):
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True, exist_ok=True)


def extract_zip(data: bytes, dest: Path) -> None:
    """Extract a zip into ``dest``, refusing members that would land outside it."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            target = (root / member.filename).resolve()
            if root != target and root not in target.parents:
                raise ValueError(f"zip member {member.filename!r} escapes the package")
        archive.extractall(root)
