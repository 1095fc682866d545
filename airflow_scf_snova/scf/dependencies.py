"""Third-party packages for an SCF function, built for SCF's platform rather than the worker's.

SCF's Python 3.7+ runtimes offer only the standard library (the 3.6 and 2.7 ones add a fixed set
of old packages): everything else must be in the code package or a layer, built for CentOS 7
x86_64 (glibc 2.17) and the runtime's CPython. :func:`build_dependencies` installs requirements
that way with ``pip install --target``:

- wheels only, for ``--platform manylinux2014_x86_64 --implementation cp --python-version 3.9
  --abi cp39`` (for ``Python3.9``; each runtime its own), so a ``cp311`` or ``manylinux_2_28``
  wheel is never picked;
- a requirement that only exists as an sdist (``crcmod``, which ``cos-python-sdk-v5`` needs) is
  built into a wheel by the worker's pip **without a C compiler** (``CC=false``): a package with
  a pure-Python fallback (crcmod has one) yields a pure wheel, tagged ``py3-none-any`` and offered
  to the platform install; one that needs compiled code fails, with a message naming it;
- pip evaluates environment markers for the interpreter it runs on, not for the target, so a
  dependency declared only for older Pythons (``exceptiongroup; python_version < "3.11"``) would
  be missing: the installed metadata is checked against the target's markers and the missing
  requirements are added until nothing is missing;
- the result is cached under a key made of the requirements and the runtime: an unchanged build
  does no network work. Unpinned requirements stay at the version first resolved until the cache
  is cleared: pin them.

Runs ``python -m pip`` of the worker's environment (its index configuration applies). Pure
Python: no Airflow and no SDK imports.

Sources: SCF's Python runtime page (https://cloud.tencent.com/document/product/583/11061: no
built-in libraries from Python 3.7 on) and dependency page
(https://cloud.tencent.com/document/product/583/39780: functions run on CentOS 7).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

log = logging.getLogger(__name__)

#: Bumped whenever the build changes what lands in a dependency tree (part of the cache key).
BUILDER_VERSION = "1"
#: Overrides :func:`default_cache_dir`.
CACHE_ENV = "AIRFLOW_SCF_SNOVA_CACHE_DIR"
PLATFORM = "manylinux2014_x86_64"
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
_MAX_ROUNDS = 8
_NOT_FOUND = re.compile(r"No matching distribution found for (\S+)")
_URL_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")
_PIP_TIMEOUT = 1800


@dataclass(frozen=True)
class Target:
    """SCF's platform for one Python runtime.

    :ivar version: ``"3.9"``; :ivar abi: ``"cp39"``; :ivar full_version: the patch release the
        environment markers are evaluated with.
    """

    runtime: str
    version: str
    abi: str
    full_version: str

    def pip_options(self) -> list[str]:
        return [
            "--only-binary=:all:",
            f"--platform={PLATFORM}",
            "--implementation=cp",
            f"--python-version={self.version}",
            f"--abi={self.abi}",
        ]

    def marker_environment(self) -> dict[str, str]:
        return {
            "implementation_name": "cpython",
            "implementation_version": self.full_version,
            "os_name": "posix",
            "platform_machine": "x86_64",
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": self.full_version,
            "python_version": self.version,
            "sys_platform": "linux",
        }


#: The runtimes whose dependencies can be built (``Python2.7`` cannot: PyPI's packages left it).
TARGETS = {
    "Python3.6": Target("Python3.6", "3.6", "cp36m", "3.6.8"),
    "Python3.7": Target("Python3.7", "3.7", "cp37m", "3.7.9"),
    "Python3.9": Target("Python3.9", "3.9", "cp39", "3.9.2"),
    "Python3.10": Target("Python3.10", "3.10", "cp310", "3.10.12"),
}


class DependencyBuildError(RuntimeError):
    """The requirements cannot be installed for SCF's platform; the message says why."""


def default_cache_dir() -> Path:
    """``$AIRFLOW_SCF_SNOVA_CACHE_DIR``, else ``$XDG_CACHE_HOME/airflow-scf-snova``
    (``~/.cache/airflow-scf-snova``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "airflow-scf-snova"


def target_for(runtime: str) -> Target:
    """The :class:`Target` of an SCF runtime.

    :raises ValueError: not a Python runtime whose dependencies can be built.
    """
    try:
        return TARGETS[runtime]
    except KeyError:
        raise ValueError(
            f"dependencies cannot be built for runtime {runtime!r}; supported: {', '.join(TARGETS)}"
        ) from None


def read_requirements(path: str | os.PathLike[str]) -> list[str]:
    """The requirement lines of a requirements file (comments and blank lines dropped;
    ``-r``/``-c`` and other options are refused: list the requirements themselves)."""
    lines = []
    for raw in Path(path).read_text("utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise ValueError(f"{path}: pip options are not supported here: {line!r}")
        lines.append(line)
    return lines


def cache_key(requirements: Sequence[str], target: Target) -> str:
    """What identifies a dependency tree: the requirements (in order), the runtime, the build."""
    text = json.dumps([BUILDER_VERSION, target.runtime, PLATFORM, list(requirements)])
    return hashlib.sha256(text.encode()).hexdigest()


def _pip(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    log.debug("Running %s", " ".join(command))
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=_PIP_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def redact(text: str) -> str:
    """``text`` with the credentials of URLs (``https://user:token@host``) replaced by ``***``."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def _tail(completed: subprocess.CompletedProcess, lines: int = 15) -> str:
    text = (completed.stderr or "") + (completed.stdout or "")
    kept = [line for line in text.splitlines() if "WARNING: Location" not in line]
    return redact("\n".join(kept[-lines:]))


def _retag_pure(wheel: Path, dest: Path) -> Path:
    """Copy a wheel that holds no compiled file into ``dest`` as ``py3-none-any``.

    :raises DependencyBuildError: it holds compiled files.
    """
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        native = [n for n in names if n.endswith(NATIVE_SUFFIXES)]
        if native:
            raise DependencyBuildError(
                f"{wheel.name} contains compiled code ({native[0]}) even without a C compiler"
            )
        dist, version = wheel.name.split("-")[:2]
        out = dest / f"{dist}-{version}-py3-none-any.whl"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as result:
            records = []
            for name in names:
                data = archive.read(name)
                if name.endswith(".dist-info/WHEEL"):
                    text = re.sub(r"(?m)^(Root-Is-Purelib|Tag):.*\n?", "", data.decode())
                    data = (
                        text.rstrip("\n") + "\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                    ).encode()
                if name.endswith(".dist-info/RECORD"):
                    record_name = name
                    continue
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                records.append(f"{name},sha256={digest.decode()},{len(data)}")
                result.writestr(name, data)
            records.append(f"{record_name},,")
            result.writestr(record_name, "\n".join(records) + "\n")
    out.write_bytes(buffer.getvalue())
    return out


def _build_pure_wheel(requirement: str, work: Path, local: Path) -> None:
    """Build ``requirement`` from its sdist with no C compiler into a pure wheel in ``local``."""
    built = work / f"built-{hashlib.sha256(requirement.encode()).hexdigest()[:12]}"
    env = {**os.environ, "CC": "false", "CXX": "false", "LDSHARED": "false"}
    completed = _pip(
        [
            "wheel",
            "--no-deps",
            "--no-binary=:all:",
            "--no-cache-dir",
            "--wheel-dir",
            str(built),
            requirement,
        ],
        env,
    )
    wheels = list(built.glob("*.whl")) if built.is_dir() else []
    if completed.returncode != 0 or len(wheels) != 1:
        raise DependencyBuildError(
            f"{redact(requirement)} has no wheel for SCF's platform ({PLATFORM}) and its source "
            f"distribution does not build without a C compiler:\n{_tail(completed)}"
        )
    log.info("Built %s from its sdist without a C compiler (pure Python)", wheels[0].name)
    _retag_pure(wheels[0], local)


def _host_sdists(requirements: Sequence[str], work: Path) -> list[str]:
    """``name==version`` of the sdists a resolution on this interpreter would install."""
    req_file = work / "host-requirements.txt"
    req_file.write_text("\n".join(requirements) + "\n", "utf-8")
    completed = _pip(
        ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-"]
        + ["-r", str(req_file)]
    )
    if completed.returncode != 0:
        return []  # the platform install below reports what is wrong
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        return []
    sdists = []
    for item in report.get("install", []):
        url = (item.get("download_info") or {}).get("url", "")
        if url and not url.split("#")[0].endswith(".whl"):
            meta = item.get("metadata", {})
            sdists.append(f"{meta.get('name')}=={meta.get('version')}")
    return sdists


def _installed(site: Path) -> dict[str, tuple[str, list[str]]]:
    """``{canonical name: (version, Requires-Dist lines)}`` of what ``site`` holds."""
    found = {}
    for metadata in site.glob("*.dist-info/METADATA"):
        message = Parser().parsestr(metadata.read_text("utf-8", "replace"), headersonly=True)
        name = _canonical(message.get("Name", ""))
        found[name] = (message.get("Version", ""), message.get_all("Requires-Dist") or [])
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_for_target(site: Path, requirements: Iterable[str], target: Target) -> list[str]:
    """Requirements that the target's environment markers ask for and ``site`` lacks."""
    from packaging.requirements import Requirement

    installed = _installed(site)
    extras: dict[str, set[str]] = {}
    for line in requirements:
        requirement = Requirement(line)
        extras.setdefault(_canonical(requirement.name), set()).update(requirement.extras)
    missing: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for name, (_, requires) in installed.items():
            for line in requires:
                requirement = Requirement(line)
                wanted = extras.get(name, set()) | {""}
                marker = requirement.marker
                environment = target.marker_environment()
                if marker and not any(
                    marker.evaluate({**environment, "extra": extra}) for extra in wanted
                ):
                    continue
                dep = _canonical(requirement.name)
                new_extras = set(requirement.extras) - extras.get(dep, set())
                if new_extras:
                    extras.setdefault(dep, set()).update(new_extras)
                    changed = True
                if dep not in installed and dep not in missing:
                    extra_text = (
                        f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
                    )
                    missing[dep] = f"{requirement.name}{extra_text}{requirement.specifier}"
    return list(missing.values())


def _install(requirements: Sequence[str], target: Target, work: Path, local: Path) -> Path:
    """One platform install into a fresh directory, building sdist-only requirements pure."""
    site = work / f"site-{len(list(work.glob('site-*')))}"
    req_file = work / "requirements.txt"
    req_file.write_text("\n".join(requirements) + "\n", "utf-8")
    tried: set[str] = set()
    while True:
        shutil.rmtree(site, ignore_errors=True)
        completed = _pip(
            ["install", "--target", str(site), "--no-compile", "--no-warn-script-location"]
            + ["--find-links", str(local), *target.pip_options(), "-r", str(req_file)]
        )
        if completed.returncode == 0:
            return site
        match = _NOT_FOUND.search(completed.stderr or "")
        if match is None or match.group(1) in tried:
            raise DependencyBuildError(
                f"pip cannot install {redact(', '.join(requirements))} for SCF's {target.runtime} "
                f"({PLATFORM}, {target.abi}):\n{_tail(completed)}"
            )
        tried.add(match.group(1))
        _build_pure_wheel(match.group(1), work, local)


def build_dependencies(
    requirements: Sequence[str], runtime: str, cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Install ``requirements`` for SCF's platform and ``runtime``; returns the directory whose
    contents go to the root of a code package (or a layer). Cached (see the module docstring).

    :param requirements: requirement specifiers, e.g. ``["psycopg2-binary==2.9.10"]``.
    :param runtime: the SCF runtime, e.g. ``Python3.9``.
    :param cache_dir: the cache (default :func:`default_cache_dir`).
    :raises ValueError: the runtime is not supported, or no requirement is given.
    :raises DependencyBuildError: pip failed; the message carries its last lines.
    """
    target = target_for(runtime)
    requirements = [r.strip() for r in requirements if r.strip()]
    if not requirements:
        raise ValueError("no requirements to build")
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    final = root / "deps" / cache_key(requirements, target)
    if (final / "manifest.json").is_file():
        log.info("Dependencies for %s from the cache: %s", runtime, final)
        return final / "site"
    final.parent.mkdir(parents=True, exist_ok=True)
    log.info("Building %s for SCF's %s (%s)", redact(", ".join(requirements)), runtime, PLATFORM)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        local = work / "pure-wheels"
        local.mkdir()
        for sdist in _host_sdists(requirements, work):
            try:
                _build_pure_wheel(sdist, work, local)
            except DependencyBuildError as err:  # a wheel may still exist for the target
                log.debug("%s", err)
        wanted = list(requirements)
        for _ in range(_MAX_ROUNDS):
            site = _install(wanted, target, work, local)
            missing = missing_for_target(site, wanted, target)
            if not missing:
                break
            log.info("Adding what %s's markers require: %s", runtime, redact(", ".join(missing)))
            wanted += missing
        else:
            raise DependencyBuildError(
                f"the requirements of {runtime} did not settle: {redact(str(wanted))}"
            )
        shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts for the worker's Python
        installed = {name: version for name, (version, _) in _installed(site).items()}
        out = work / "out"
        out.mkdir()
        site.rename(out / "site")
        manifest = {"runtime": runtime, "requirements": requirements, "installed": installed}
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1), "utf-8")
        try:
            out.rename(final)
        except OSError:  # another build finished first
            if not (final / "manifest.json").is_file():
                raise
    pins = ", ".join(f"{name}=={version}" for name, version in sorted(installed.items()))
    log.info("Dependencies for %s: %s", runtime, pins)
    return final / "site"
