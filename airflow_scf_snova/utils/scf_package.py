"""Deterministic SCF code packages: the same files always give the same zip bytes and hash.

A deploy compares the package hash with the one recorded on the function and skips the code
upload when they match, so the zip must not depend on when or where it was built:

- entries are sorted by their POSIX path inside the archive;
- every entry carries the same timestamp (1980-01-01 00:00:00, the zip epoch);
- permissions are normalised: ``0644``, or ``0755`` when the source file is executable (a
  ``CustomRuntime`` ``bootstrap`` needs its execute bit);
- ``__pycache__`` directories and ``*.pyc``/``*.pyo`` files are skipped; directories get no
  entries of their own; symbolic links are followed.

Pure Python: no Airflow and no SDK imports.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: The fixed timestamp of every entry: the earliest a zip file can record.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
SKIPPED_DIRS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
_FILE_MODE = 0o644
_EXEC_MODE = 0o755


@dataclass(frozen=True)
class CodePackage:
    """A code package ready to upload.

    :ivar data: the zip bytes (``None`` for code that stays in COS).
    :ivar sha256: the hex SHA-256 the deploy compares with the deployed one.
    :ivar source: where it came from, for log messages (a directory, a file or a COS URL).
    """

    data: bytes | None
    sha256: str
    source: str

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else 0


def iter_package_files(code_dir: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """``(name in the archive, path on disk)`` for every file to package, sorted by name.

    :param code_dir: the directory whose *contents* go to the root of the zip.
    """
    root = Path(code_dir)
    if not root.is_dir():
        raise NotADirectoryError(f"code directory {str(root)!r} does not exist")
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
        for filename in filenames:
            if filename.endswith(SKIPPED_SUFFIXES):
                continue
            path = Path(dirpath, filename)
            files.append((path.relative_to(root).as_posix(), path))
    files.sort(key=lambda item: item[0])
    return files


def zip_directory(code_dir: str | os.PathLike[str]) -> bytes:
    """The deterministic zip of a directory's contents (see the module docstring).

    :param code_dir: the directory; ``index.py`` in it ends up at the root of the zip.
    :raises NotADirectoryError: when ``code_dir`` is not a directory.
    :raises ValueError: when it holds no file to package.
    """
    files = iter_package_files(code_dir)
    if not files:
        raise ValueError(f"code directory {str(code_dir)!r} has no files to package")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so that external_attr carries the mode
            executable = path.stat().st_mode & stat.S_IXUSR
            info.external_attr = (stat.S_IFREG | (_EXEC_MODE if executable else _FILE_MODE)) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=6)
    return buffer.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package_directory(code_dir: str | os.PathLike[str]) -> CodePackage:
    """Zip ``code_dir`` deterministically and hash the result."""
    data = zip_directory(code_dir)
    return CodePackage(data=data, sha256=sha256_hex(data), source=str(code_dir))


def package_zip_file(zip_file: str | os.PathLike[str]) -> CodePackage:
    """Read a ready-made zip (its bytes are uploaded and hashed as they are).

    :raises ValueError: when the file is not a zip archive.
    """
    data = Path(zip_file).read_bytes()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError(f"{str(zip_file)!r} is not a zip file")
    return CodePackage(data=data, sha256=sha256_hex(data), source=str(zip_file))
