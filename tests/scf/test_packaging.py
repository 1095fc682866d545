"""Deterministic SCF code packages: same files, same bytes."""

from __future__ import annotations

import io
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from airflow_scf_snova.scf.packaging import (
    ZIP_EPOCH,
    package_directory,
    package_zip_file,
    zip_directory,
)


@pytest.fixture
def code(tmp_path):
    root = tmp_path / "code"
    (root / "lib").mkdir(parents=True)
    (root / "index.py").write_text("def main_handler(event, context):\n    return 1\n")
    (root / "lib" / "util.py").write_text("X = 1\n")
    (root / "bootstrap").write_text("#!/bin/sh\n")
    (root / "bootstrap").chmod(0o700)
    return root


def test_same_files_give_the_same_bytes_whatever_their_history(code, tmp_path):
    first = zip_directory(code)
    copy = tmp_path / "copy"
    shutil.copytree(code, copy)  # new inodes, new creation order
    os.utime(copy / "index.py", (0, 2_000_000_000))
    (copy / "lib" / "util.py").chmod(0o600)
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "index.cpython-311.pyc").write_bytes(b"\x00compiled")
    (copy / "lib" / "util.pyc").write_bytes(b"\x00compiled")
    assert zip_directory(copy) == first
    assert package_directory(copy).sha256 == package_directory(code).sha256


def test_entries_are_sorted_with_fixed_times_and_modes(code):
    with zipfile.ZipFile(io.BytesIO(zip_directory(code))) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["bootstrap", "index.py", "lib/util.py"]
    assert {i.date_time for i in infos} == {ZIP_EPOCH}
    modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
    assert modes == {"bootstrap": 0o755, "index.py": 0o644, "lib/util.py": 0o644}


def test_a_content_change_changes_the_hash(code):
    before = package_directory(code).sha256
    (code / "lib" / "util.py").write_text("X = 2\n")
    assert package_directory(code).sha256 != before


def test_bad_sources_are_reported(tmp_path):
    with pytest.raises(NotADirectoryError):
        zip_directory(tmp_path / "missing")
    (tmp_path / "empty" / "__pycache__").mkdir(parents=True)
    with pytest.raises(ValueError, match="no files"):
        zip_directory(tmp_path / "empty")
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(ValueError, match="not a zip"):
        package_zip_file(tmp_path / "not.zip")


def test_a_ready_made_zip_is_used_as_it_is(code, tmp_path):
    path = tmp_path / "pkg.zip"
    path.write_bytes(zip_directory(code))
    package = package_zip_file(path)
    assert package.data == path.read_bytes()
    assert package.sha256 == package_directory(code).sha256


def test_included_packages_are_copied_from_the_environment(code):
    import scf_snova_core

    installed = Path(scf_snova_core.__file__).parent
    data = zip_directory(code, ["scf_snova_core"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        copied = {n: archive.read(n) for n in names if n.startswith("scf_snova_core/")}
    assert names == sorted(names)
    expected = sorted(p.name for p in installed.glob("*.py"))
    assert sorted(n.split("/", 1)[1] for n in copied) == expected
    for name, content in copied.items():
        assert content == (installed / name.split("/", 1)[1]).read_bytes()
    # Deterministic, and part of the hash.
    assert zip_directory(code, ["scf_snova_core"]) == data
    with_core = package_directory(code, ["scf_snova_core"])
    assert with_core.sha256 != package_directory(code).sha256
    assert with_core.source == f"{code} + scf_snova_core"


def test_included_packages_must_be_pure_python_and_not_already_there(code, tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "native").mkdir(parents=True)
    (site / "native" / "__init__.py").write_text("")
    (site / "native" / "_speedups.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    (site / "single.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(ValueError, match="not pure Python"):
        zip_directory(code, ["native"])
    with pytest.raises(ValueError, match="not installed"):
        zip_directory(code, ["no_such_package_here"])
    with pytest.raises(ValueError, match="top-level"):
        zip_directory(code, ["scf_snova_core.names"])
    with zipfile.ZipFile(io.BytesIO(zip_directory(code, ["single"]))) as archive:
        assert archive.read("single.py") == b"X = 1\n"
    (code / "scf_snova_core").mkdir()
    (code / "scf_snova_core" / "__init__.py").write_text("")
    with pytest.raises(ValueError, match="already has 'scf_snova_core'"):
        zip_directory(code, ["scf_snova_core"])
