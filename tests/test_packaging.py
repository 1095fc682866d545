"""What a release publishes: the sdist and the wheel of the provider and of its core.

Both are built from a clean copy of the repository, pass ``twine check --strict`` and carry the
LICENSE. The two wheels, installed (not editable) into a fresh virtualenv with their
dependencies from the package index, make ``airflow providers list`` show the provider.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROVIDER = "airflow-scf-snova"
CORE = "scf-snova-core"
EMULATOR_DIST = "scf-snova-emulator"
ENTRY_POINT = "airflow_scf_snova.get_provider_info:get_provider_info"
#: Where emulator files would lie in an artifact: its old home in the provider, its own package.
EMULATOR = ("airflow_scf_snova/emulator/", "scf_snova_emulator/")
#: Directories of the distributions a release publishes (devel/ is never published).
PUBLISHED = {PROVIDER: ROOT, CORE: ROOT / "core", EMULATOR_DIST: ROOT / "emulator"}


def _version(init: Path) -> str:
    return re.search(r'^__version__ = "([^"]+)"', init.read_text(encoding="utf-8"), re.M).group(1)


VERSION = _version(ROOT / "airflow_scf_snova" / "__init__.py")


def _run(*args, timeout: float = 300, **kwargs) -> str:
    result = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout


def _dist_dirs() -> list[Path]:
    """Every directory holding a distribution this repository publishes (emulator/ once it
    exists), whether or not the tests below build it."""
    found = {ROOT} | {p.parent for p in ROOT.glob("*/pyproject.toml")}
    return sorted(found - {ROOT / "devel"})


def test_every_published_distribution_carries_the_license():
    """A distribution built from its own directory can only package a LICENSE inside it, so
    every published directory besides the root holds a copy: it must stay the root's LICENSE."""
    license_text = (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in license_text and b"Version 2.0, January 2004" in license_text
    for directory in _dist_dirs():
        assert (directory / "LICENSE").is_file(), f"{directory.name}/LICENSE is missing"
        assert (directory / "LICENSE").read_bytes() == license_text, directory


# -- the artifacts -------------------------------------------------------------------------------


def _source_copy(destination: Path) -> Path:
    """The repository's files as git sees them (tracked and new, not ignored), without the
    egg-info, build/ and venvs of this checkout: a build here writes nothing into the checkout
    and cannot pick up a stale SOURCES.txt."""
    listed = _run("git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # deleted in the working tree but still in the index: skip
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict[str, dict[str, Path]]:
    """``{distribution: {"sdist": path, "wheel": path}}`` for the provider and the core.

    ``python -m build`` without ``--sdist``/``--wheel`` builds the sdist, then the wheel from
    the unpacked sdist, so an sdist that lacks a file the build needs fails here.
    ``--no-isolation``: an isolated build creates a virtualenv and downloads setuptools and
    wheel from the index for each of the four builds (tens of seconds, and one more network
    dependency); this environment already holds the build backend (``make install`` upgrades
    setuptools and wheel), and ``build`` still checks that ``[build-system] requires`` is
    satisfied in it (it fails with "Missing dependencies" otherwise).
    """
    work = tmp_path_factory.mktemp("packaging")
    source = _source_copy(work / "src")
    found = {}
    for name, directory in PUBLISHED.items():
        out = work / "dist" / name
        src = source / directory.relative_to(ROOT)
        _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src, timeout=600)
        sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
        assert len(sdists) == len(wheels) == 1, sorted(p.name for p in out.iterdir())
        found[name] = {"sdist": sdists[0], "wheel": wheels[0]}
    return found


def _wheel_metadata(wheel: Path) -> tuple[list[str], dict[str, bytes]]:
    """The wheel's file names and its ``.dist-info`` files by base path (``METADATA``, ...)."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = {
            n.split("/", 1)[1]: zf.read(n) for n in names if n.split("/")[0].endswith(".dist-info")
        }
    return names, info


def _metadata(info: dict[str, bytes]):
    return HeaderParser().parsestr(info["METADATA"].decode("utf-8"))


def _sdist_names(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as tf:
        return [m.name.split("/", 1)[1] for m in tf.getmembers() if "/" in m.name]


@pytest.mark.slow
def test_twine_check_strict_passes_on_every_artifact(artifacts):
    files = [path for built in artifacts.values() for path in built.values()]
    assert len(files) == 2 * len(PUBLISHED)
    output = _run(sys.executable, "-m", "twine", "check", "--strict", *files)
    assert output.count("PASSED") == len(files), output


@pytest.mark.slow
def test_artifacts_are_named_and_versioned_in_lockstep(artifacts):
    core_version = _version(ROOT / "core" / "scf_snova_core" / "__init__.py")
    assert core_version == VERSION, "the provider pins scf-snova-core to its own version"
    for name, built in artifacts.items():
        stem = f"{name.replace('-', '_')}-{VERSION}"
        assert built["sdist"].name == f"{stem}.tar.gz"
        assert built["wheel"].name == f"{stem}-py3-none-any.whl"


@pytest.mark.slow
def test_every_artifact_carries_the_license(artifacts):
    license_text = (ROOT / "LICENSE").read_bytes()
    for name, built in artifacts.items():
        _, info = _wheel_metadata(built["wheel"])
        metadata = _metadata(info)
        assert metadata["License-Expression"] == "Apache-2.0", name
        assert metadata.get_all("License-File") == ["LICENSE"], name
        assert info["licenses/LICENSE"] == license_text, name
        with tarfile.open(built["sdist"]) as tf:
            top = built["sdist"].name.removesuffix(".tar.gz")
            assert tf.extractfile(f"{top}/LICENSE").read() == license_text, name


@pytest.mark.slow
def test_provider_wheel_holds_the_package_its_entry_point_and_the_core_pin(artifacts):
    names, info = _wheel_metadata(artifacts[PROVIDER]["wheel"])
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"airflow_scf_snova"}
    for module in ("__init__.py", "get_provider_info.py", "hooks/scf.py", "operators/base.py"):
        assert f"airflow_scf_snova/{module}" in names
    # The COS-to-asset bridge's function: code the operator deploys, package data, not a module.
    bridge = "airflow_scf_snova/scf/bridge/function/index.py"
    assert bridge in names
    with zipfile.ZipFile(artifacts[PROVIDER]["wheel"]) as zf:
        assert zf.read(bridge) == (ROOT / bridge).read_bytes()
    metadata = _metadata(info)
    assert (metadata["Name"], metadata["Version"]) == (PROVIDER, VERSION)
    requires = metadata.get_all("Requires-Dist")
    assert f"{CORE}=={VERSION}" in requires
    assert not [r for r in requires if r.startswith("scf-snova-devel")], requires
    entry_points = configparser.ConfigParser()
    entry_points.read_string(info["entry_points.txt"].decode("utf-8"))
    assert dict(entry_points["apache_airflow_provider"]) == {"provider_info": ENTRY_POINT}


@pytest.mark.slow
def test_provider_artifacts_hold_no_emulator(artifacts):
    """The emulator is its own distribution (scf-snova-emulator): neither its old home in the
    provider nor its package may ship in the provider's wheel or sdist."""
    for kind in ("wheel", "sdist"):
        path = artifacts[PROVIDER][kind]
        names = _wheel_metadata(path)[0] if kind == "wheel" else _sdist_names(path)
        emulator = sorted(n for n in names if n.startswith(EMULATOR))
        assert emulator == [], f"the provider {kind} ships {len(emulator)} emulator files"


@pytest.mark.slow
def test_core_wheel_is_pure_and_stdlib_only(artifacts):
    names, info = _wheel_metadata(artifacts[CORE]["wheel"])
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"scf_snova_core"}
    assert "scf_snova_core/ledger.py" in names
    metadata = _metadata(info)
    assert (metadata["Name"], metadata["Version"]) == (CORE, VERSION)
    assert metadata["Requires-Python"] == ">=3.9"
    assert metadata.get_all("Requires-Dist") is None
    assert info["WHEEL"].decode().count("Root-Is-Purelib: true") == 1


@pytest.mark.slow
def test_emulator_wheel_is_its_own_package_pinned_to_the_core(artifacts):
    names, info = _wheel_metadata(artifacts[EMULATOR_DIST]["wheel"])
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"scf_snova_emulator"}
    assert "scf_snova_emulator/__main__.py" in names
    metadata = _metadata(info)
    assert (metadata["Name"], metadata["Version"]) == (EMULATOR_DIST, VERSION)
    assert f"{CORE}=={VERSION}" in (metadata.get_all("Requires-Dist") or [])


@pytest.mark.slow
def test_provider_sdist_ships_no_tests(artifacts):
    names = _sdist_names(artifacts[PROVIDER]["sdist"])
    assert "setup.py" in names and "README.md" in names
    assert "airflow_scf_snova/scf/bridge/function/index.py" in names  # the wheel is built from it
    assert not [n for n in names if n.startswith("tests/")]


# -- installed from the wheels -------------------------------------------------------------------


def _user_env(home: Path, venv: Path) -> dict[str, str]:
    """A user's shell: nothing of this test session's Airflow set-up (AIRFLOW_HOME, the
    session's database and connections), nor its virtualenv or sys.path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIRFLOW")
        and key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["AIRFLOW_HOME"] = str(home)
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    return env


@pytest.fixture(scope="module")
def installed(artifacts, tmp_path_factory) -> dict:
    """A fresh virtualenv (no system site-packages) with the two wheels installed, and the
    environment of a user with a fresh AIRFLOW_HOME.

    Dependencies come from the package index, constrained to the versions this test
    environment runs: the wheels' own requirements decide what is installed, the constraints
    only fix which versions, so the installed set is the one the suite tested, the resolver
    never backtracks. ``--no-compile``: byte-compiling all of Airflow costs more time than the
    few modules the checks below import compile on first use.
    """
    work = tmp_path_factory.mktemp("installed")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=work)
    python = venv / "bin" / "python"
    frozen = _run(sys.executable, "-m", "pip", "freeze", "--exclude-editable")
    constraints = work / "constraints.txt"
    constraints.write_text("".join(f"{line}\n" for line in frozen.splitlines() if "==" in line))
    env = _user_env(work / "airflow-home", venv)
    wheels = [artifacts[PROVIDER]["wheel"], artifacts[CORE]["wheel"]]
    pip = (python, "-m", "pip", "install", "-q", "--no-compile", "-c", constraints)
    _run(*pip, *wheels, env=env, cwd=work, timeout=900)
    return {"python": python, "venv": venv, "env": env, "cwd": work}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheels_install_as_regular_packages(installed):
    """Imported from the virtualenv's site-packages, not from this checkout."""
    code = (
        "import json, airflow_scf_snova, scf_snova_core;"
        "print(json.dumps([airflow_scf_snova.__file__, scf_snova_core.__file__]))"
    )
    out = _run(installed["python"], "-c", code, env=installed["env"], cwd=installed["cwd"])
    for path in map(Path, json.loads(out)):
        assert path.is_relative_to(installed["venv"]) and "site-packages" in path.parts, path
    listed = _run(installed["python"], "-m", "pip", "list", "--editable", env=installed["env"])
    assert "airflow-scf-snova" not in listed and "scf-snova-core" not in listed, listed


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_airflow_providers_list_shows_the_installed_provider(installed):
    airflow = installed["venv"] / "bin" / "airflow"
    out = _run(
        airflow, "providers", "list", "-o", "json", env=installed["env"], cwd=installed["cwd"]
    )
    # Airflow may write start-up log lines to stdout before the JSON document.
    providers = json.loads(next(line for line in out.splitlines() if line.startswith("[")))
    ours = [p for p in providers if p["package_name"] == PROVIDER]
    assert [p["version"] for p in ours] == [VERSION], providers


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_module_the_provider_info_names_imports_in_the_installed_provider(installed):
    """A module that needs a development-only package (the emulator, scf_snova_devel, pytest)
    passes every in-repository test but fails for a user: import them all from the wheels."""
    code = """
import importlib, json
from airflow_scf_snova.get_provider_info import get_provider_info
info = get_provider_info()
modules = set()
for kind in ("hooks", "operators", "sensors", "triggers"):
    for entry in info.get(kind, []):
        modules.update(entry["python-modules"])
modules.update(entry["python-module"] for entry in info.get("transfers", []))
dotted = [c["hook-class-name"] for c in info["connection-types"]] + info.get("extra-links", [])
dotted += [a[k] for a in info.get("asset-uris", []) for k in ("handler", "factory") if k in a]
for name in sorted(modules):
    importlib.import_module(name)
for path in dotted:
    module, _, attr = path.rpartition(".")
    getattr(importlib.import_module(module), attr)
print(json.dumps(sorted(modules) + sorted(dotted)))
"""
    out = _run(installed["python"], "-c", code, env=installed["env"], cwd=installed["cwd"])
    imported = json.loads(out.splitlines()[-1])
    assert "airflow_scf_snova.hooks.scf" in imported
    assert "airflow_scf_snova.hooks.snova.SnovaHook" in imported


def test_make_test_compat_installs_the_declared_minimum():
    """``make test-compat`` runs on the lower bounds setup.py declares for Airflow and the
    providers: a raised bound without a raised compat pin (or the reverse) fails here."""
    setup_text = (ROOT / "setup.py").read_text()
    declared = dict(re.findall(r'"(apache-airflow[\w-]*)>=([\d.]+)"', setup_text))
    makefile = (ROOT / "Makefile").read_text()
    pins = dict(re.findall(r"^COMPAT_(\w+) := ([\d.]+)$", makefile, re.M))
    assert set(pins) == {"AIRFLOW", "POSTGRES", "COMMON_SQL", "OPENLINEAGE", "COMMON_IO"}
    assert declared == {
        "apache-airflow": pins["AIRFLOW"],
        "apache-airflow-providers-postgres": pins["POSTGRES"],
        "apache-airflow-providers-common-sql": pins["COMMON_SQL"],
        "apache-airflow-providers-openlineage": pins["OPENLINEAGE"],  # the openlineage extra
        "apache-airflow-providers-common-io": pins["COMMON_IO"],  # the common.io extra
    }
    for variable, name in (
        ("POSTGRES", "postgres"),
        ("COMMON_SQL", "common-sql"),
        ("OPENLINEAGE", "openlineage"),
        ("COMMON_IO", "common-io"),
    ):
        assert f"'apache-airflow-providers-{name}==$(COMPAT_{variable})'" in makefile
    assert "'apache-airflow==$(COMPAT_AIRFLOW)'" in makefile
