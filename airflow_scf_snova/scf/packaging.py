"""Deterministic SCF code packages: the same files always give the same zip bytes and hash.

A deploy compares the package hash with the one recorded on the function and skips the code
upload when they match, so the zip must not depend on when or where it was built:

- entries are sorted by their POSIX path inside the archive;
- every entry carries the same timestamp (1980-01-01 00:00:00, the zip epoch);
- permissions are normalised: ``0644``, or ``0755`` when the source file is executable (a
  ``CustomRuntime`` ``bootstrap`` needs its execute bit);
- ``__pycache__`` directories and ``*.pyc``/``*.pyo`` files are skipped; directories get no
  entries of their own; symbolic links are followed.

A package may also carry pure-Python packages of the environment that builds it
(``include_packages``, e.g. ``scf_snova_core``): their files are copied from where the
environment imports them, under the package's name at the root of the zip, so the function
imports them as it imports its own modules. They are part of the zip, hence of its hash: a new
version of an included package is a new package.

Third-party dependencies built for SCF's platform (:mod:`.dependencies`) join the root of the
zip too (``dependencies_dir``). Such a zip is large and slow to compress, so the finished zip is
kept in a cache under a key made of every code and included file (name and content) and of the
dependency tree's directory (itself named by its requirements and runtime): an unchanged package
is read back, not rebuilt.

Pure Python: no Airflow and no SDK imports.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: The fixed timestamp of every entry: the earliest a zip file can record.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
SKIPPED_DIRS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
#: Files that make a package not pure Python (compiled extension modules).
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
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


def iter_included_files(name: str) -> list[tuple[str, Path]]:
    """``(name in the archive, path on disk)`` of every file of the pure-Python package (or
    module) ``name`` as this environment imports it, under ``name/`` (or as ``name.py``).

    :param name: a top-level package or module, e.g. ``scf_snova_core``.
    :raises ValueError: not a top-level name, not importable here, a namespace package, or a
        package with compiled extension modules.
    """
    if not name.isidentifier():
        raise ValueError(f"{name!r} is not a top-level package name")
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ValueError(f"package {name!r} is not installed in this environment")
    locations = list(spec.submodule_search_locations or [])
    if locations:
        if len(locations) != 1 or not spec.origin:
            raise ValueError(f"package {name!r} is a namespace package: name its parts instead")
        files = [(f"{name}/{inner}", path) for inner, path in iter_package_files(locations[0])]
    elif spec.origin and spec.origin.endswith(".py"):
        files = [(f"{name}.py", Path(spec.origin))]
    else:
        raise ValueError(f"{name!r} is not a pure-Python package or module ({spec.origin})")
    native = [inner for inner, _ in files if inner.endswith(NATIVE_SUFFIXES)]
    if native:
        raise ValueError(f"package {name!r} is not pure Python: it contains {native[0]}")
    return files


def _top(name: str) -> str:
    return name.split("/", 1)[0].removesuffix(".py")


def _archive_files(
    code_dir: str | os.PathLike[str],
    include_packages: Iterable[str],
    dependencies_dir: str | os.PathLike[str] | None = None,
) -> list[tuple[str, Path]]:
    files = iter_package_files(code_dir)
    if not files:
        raise ValueError(f"code directory {str(code_dir)!r} has no files to package")
    tops = {_top(name) for name, _ in files}
    for package in dict.fromkeys(include_packages):
        if package in tops:
            raise ValueError(
                f"code directory {str(code_dir)!r} already has {package!r}: include it either "
                "there or with include_packages, not both"
            )
        files.extend(iter_included_files(package))
    if dependencies_dir is not None:
        tops = {_top(name) for name, _ in files}
        dependencies = iter_package_files(dependencies_dir)
        clash = sorted({_top(name) for name, _ in dependencies} & tops)
        if clash:
            raise ValueError(
                f"{clash[0]!r} is both in the code (or include_packages) and in the "
                "requirements: keep one"
            )
        files.extend(dependencies)
    files.sort(key=lambda item: item[0])
    return files


def zip_directory(
    code_dir: str | os.PathLike[str],
    include_packages: Iterable[str] = (),
    dependencies_dir: str | os.PathLike[str] | None = None,
) -> bytes:
    """The deterministic zip of a directory's contents (see the module docstring).

    :param code_dir: the directory; ``index.py`` in it ends up at the root of the zip.
    :param include_packages: pure-Python packages of this environment to add at the root.
    :param dependencies_dir: a directory of installed dependencies to add at the root.
    :raises NotADirectoryError: when ``code_dir`` is not a directory.
    :raises ValueError: when it holds no file to package, or a package cannot be included.
    """
    return _zip_files(_archive_files(code_dir, include_packages, dependencies_dir))


def _zip_files(files: list[tuple[str, Path]]) -> bytes:
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
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def package_directory(
    code_dir: str | os.PathLike[str],
    include_packages: Iterable[str] = (),
    dependencies_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> CodePackage:
    """Zip ``code_dir`` (with ``include_packages`` and the installed ``dependencies_dir``)
    deterministically and hash the result.

    :param cache_dir: with ``dependencies_dir``: keep the zip under ``packages/`` there and read
        it back when nothing changed.
    """
    included = list(dict.fromkeys(include_packages))
    files = _archive_files(code_dir, included, dependencies_dir)
    source = " + ".join([str(code_dir), *included])
    if dependencies_dir is None or cache_dir is None:
        data = _zip_files(files)
        return CodePackage(data=data, sha256=sha256_hex(data), source=source)
    source += " + dependencies"
    deps = Path(dependencies_dir).resolve()
    key = hashlib.sha256(f"{deps}\n".encode())
    for name, path in files:
        if deps not in path.resolve().parents:
            key.update(f"{name}\n{sha256_hex(path.read_bytes())}\n".encode())
    cached = Path(cache_dir) / "packages" / f"{key.hexdigest()}.zip"
    if cached.is_file():
        data = cached.read_bytes()
    else:
        data = _zip_files(files)
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, cached)
    return CodePackage(data=data, sha256=sha256_hex(data), source=source)


def package_zip_file(zip_file: str | os.PathLike[str]) -> CodePackage:
    """Read a ready-made zip (its bytes are uploaded and hashed as they are).

    :raises ValueError: when the file is not a zip archive.
    """
    data = Path(zip_file).read_bytes()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError(f"{str(zip_file)!r} is not a zip file")
    return CodePackage(data=data, sha256=sha256_hex(data), source=str(zip_file))
