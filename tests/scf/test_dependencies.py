"""Requirements built for SCF's platform and runtime (real pip against the package index)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from scf_snova_emulator.scf.bootstrap import elf_problem

from airflow_scf_snova.scf.dependencies import (
    DependencyBuildError,
    _retag_pure,
    build_dependencies,
    missing_for_target,
    read_requirements,
    redact,
    target_for,
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("deps-cache")


def test_wheels_are_for_the_runtime_and_scfs_platform(cache):
    site = build_dependencies(["psycopg2-binary==2.9.12"], "Python3.9", cache)
    native = sorted(p.name for p in (site / "psycopg2").glob("*.so"))
    assert native == ["_psycopg.cpython-39-x86_64-linux-gnu.so"]  # not the worker's cp311
    libraries = [p for p in site.rglob("*.so*") if p.is_file()]
    assert libraries and all(elf_problem(p.read_bytes())[0] is None for p in libraries)
    manifest = json.loads((site.parent / "manifest.json").read_text())
    assert manifest["installed"] == {"psycopg2-binary": "2.9.12"}
    assert not (site / "bin").exists()


def test_a_pure_sdist_is_built_without_a_compiler(cache):
    site = build_dependencies(["cos-python-sdk-v5==1.9.44"], "Python3.9", cache)
    # crcmod exists only as an sdist; its C extension is left out, its pure fallback used
    assert (site / "crcmod" / "_crcfunpy.py").is_file()
    assert not list((site / "crcmod").glob("*.so"))
    assert (site / "qcloud_cos" / "__init__.py").is_file()
    installed = json.loads((site.parent / "manifest.json").read_text())["installed"]
    assert installed["cos-python-sdk-v5"] == "1.9.44" and installed["crcmod"] == "1.7"


def test_markers_are_evaluated_for_the_target_python(cache):
    site = build_dependencies(["anyio==4.4.0"], "Python3.9", cache)
    # pip evaluates `exceptiongroup; python_version < "3.11"` for the worker's Python 3.11
    assert (site / "exceptiongroup").is_dir()
    assert (site / "typing_extensions.py").is_file()
    assert missing_for_target(site, ["anyio==4.4.0"], target_for("Python3.9")) == []


def test_a_cached_build_needs_no_index(cache, monkeypatch):
    first = build_dependencies(["psycopg2-binary==2.9.12"], "Python3.9", cache)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    assert build_dependencies(["psycopg2-binary==2.9.12"], "Python3.9", cache) == first
    with pytest.raises(DependencyBuildError, match="2.9.11"):
        build_dependencies(["psycopg2-binary==2.9.11"], "Python3.9", cache)  # not cached


def test_a_package_that_needs_a_compiler_is_refused(cache):
    with pytest.raises(DependencyBuildError, match="does not build without a C compiler"):
        build_dependencies(["psycopg2==2.9.9"], "Python3.9", cache)


def test_compiled_wheels_are_not_retagged_pure(tmp_path):
    wheel = tmp_path / "x-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("x/_speed.cpython-311-x86_64-linux-gnu.so", b"\x7fELF")
        archive.writestr("x-1.0.dist-info/WHEEL", "Root-Is-Purelib: false\nTag: cp311\n")
        archive.writestr("x-1.0.dist-info/RECORD", "")
    with pytest.raises(DependencyBuildError, match="contains compiled code"):
        _retag_pure(wheel, tmp_path)


def test_runtimes_and_requirement_files(tmp_path):
    with pytest.raises(ValueError, match="cannot be built for runtime 'Python2.7'"):
        target_for("Python2.7")
    assert target_for("Python3.10").abi == "cp310"
    path = Path(tmp_path / "requirements.txt")
    path.write_text("# comment\npsycopg2-binary==2.9.12  # pinned\n\nsix\n")
    assert read_requirements(path) == ["psycopg2-binary==2.9.12", "six"]
    path.write_text("-r other.txt\n")
    with pytest.raises(ValueError, match="pip options are not supported"):
        read_requirements(path)


def test_url_credentials_never_reach_messages(cache, monkeypatch):
    monkeypatch.setenv("PIP_RETRIES", "0")  # the host does not exist: fail at once
    secret = "pkg @ https://builder:s3cr3t-token@example.invalid/pkg-1.0.tar.gz"
    assert redact(secret) == "pkg @ https://***@example.invalid/pkg-1.0.tar.gz"
    with pytest.raises(DependencyBuildError) as failure:
        build_dependencies([secret], "Python3.9", cache)
    assert "s3cr3t-token" not in str(failure.value)
