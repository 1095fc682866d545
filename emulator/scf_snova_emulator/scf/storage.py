"""SCF layer ``storage``: the SCF emulator's state on disk, so that it survives a restart.

Layout under ``root``::

    state.json                 functions, versions, triggers (one JSON document)
    layers.json                layer versions
    code/<sha256>.zip          code packages and layer contents, content-addressed
    invocations/<key>.json     one record per attempt of an invocation, with its complete log
                               (key: the request id, ``.retry<n>`` added for retries)
    runs/<id>/                 scratch space of a running invocation (request, result, output)

What functions read lives apart, in the *sandbox* (``exec_root``, a fresh temporary directory
every user can enter, removed by :meth:`ScfStorage.close`), so that functions running as an
unprivileged user reach it wherever the data directory is::

    code/<sha256>/             a package extracted once (SCF's /var/user), read-only
    opt/<sha256>/              a function's layers extracted in binding order (SCF's /opt)

Every file is written to a temporary name and renamed over the old one, so a crash (or a kill)
leaves either the old or the new version, never half a file. (No fsync: this is a test tool.)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
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
        self._invocations = self.root / "invocations"
        self._runs = self.root / "runs"
        for directory in (self._code, self._invocations, self._runs):
            directory.mkdir(parents=True, exist_ok=True)
        self.exec_root = Path(tempfile.mkdtemp(prefix="scf-snova-sandbox-"))
        self.exec_root.chmod(0o755)
        self._unpacked = self.exec_root / "code"
        self._opt = self.exec_root / "opt"
        for directory in (self._unpacked, self._opt):
            directory.mkdir(mode=0o755)

    # -- functions, versions, triggers ---------------------------------------------------------
    def load_state(self) -> dict | None:
        if not self._state.exists():
            return None
        return json.loads(self._state.read_text("utf-8"))

    def save_state(self, state: dict) -> None:
        write_json(self._state, state)

    def load_layers(self) -> dict | None:
        path = self.root / "layers.json"
        return json.loads(path.read_text("utf-8")) if path.exists() else None

    def save_layers(self, state: dict) -> None:
        write_json(self.root / "layers.json", state)

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

    def code_bytes(self, digest: str) -> bytes:
        return (self._code / f"{digest}.zip").read_bytes()

    def _extracted(self, parent: Path, name: str, digests: Sequence[str]) -> Path:
        target = parent / name
        if target.is_dir():
            return target
        tmp = parent / f".{name}.{uuid.uuid4().hex}"
        for digest in digests:  # later zips overwrite earlier ones, as later layers win on SCF
            extract_zip(self.code_bytes(digest), tmp)
        make_read_only(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another invocation extracted it first
            remove_tree(tmp)
        return target

    def code_dir(self, digest: str) -> Path:
        """The package extracted, read-only (once; concurrent callers are safe)."""
        return self._extracted(self._unpacked, digest, [digest])

    def layers_dir(self, digests: Sequence[str]) -> Path | None:
        """The layers (zip digests in binding order) extracted into one read-only directory,
        later layers overwriting earlier ones; ``None`` without layers."""
        if not digests:
            return None
        name = hashlib.sha256(":".join(digests).encode()).hexdigest()
        return self._extracted(self._opt, name, list(digests))

    def forget_code(self, keep: set[str]) -> None:
        """Delete packages no function, version or layer references any more."""
        for path in self._code.glob("*.zip"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)
                remove_tree(self._unpacked / path.stem)

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
        (self.root / "layers.json").unlink(missing_ok=True)
        for directory in (self._code, self._invocations, self._runs):
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True, exist_ok=True)
        for directory in (self._unpacked, self._opt):
            remove_tree(directory)
            directory.mkdir(mode=0o755)

    def close(self) -> None:
        """Remove the sandbox (extracted code and layers)."""
        remove_tree(self.exec_root)


def make_read_only(root: Path) -> None:
    """Make a tree read-only for everyone (``0555`` directories, ``0444`` files, ``0555`` for
    files with an execute bit): SCF's code directory cannot be written."""
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            path = os.path.join(dirpath, filename)
            if not os.path.islink(path):
                executable = os.stat(path).st_mode & 0o111
                os.chmod(path, 0o555 if executable else 0o444)
        os.chmod(dirpath, 0o555)


def remove_tree(path: Path) -> None:
    """Delete a tree, read-only directories included."""
    if not os.path.lexists(path):
        return

    def writable_then_retry(function, name, _exc) -> None:
        parent = os.path.dirname(name)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        function(name)

    shutil.rmtree(path, onerror=writable_then_retry)


def extract_zip(data: bytes, dest: Path) -> None:
    """Extract a zip into ``dest``, refusing members that would land outside it; a member whose
    Unix mode has an execute bit keeps it."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            target = (root / member.filename).resolve()
            if root != target and root not in target.parents:
                raise ValueError(f"zip member {member.filename!r} escapes the package")
        archive.extractall(root)
        for member in archive.infolist():
            if not member.is_dir() and (member.external_attr >> 16) & 0o111:
                path = root / member.filename
                path.chmod(path.stat().st_mode | 0o111)
