"""SCF extra ``interpreters``: which Python interpreter runs the functions of each SCF runtime.

SCF runs a ``Python3.9`` function on CPython 3.9, and so does the emulator: a runtime is mapped to
an interpreter of exactly its version, found in this order:

1. the one configured for it (``EmulatorConfig.interpreters``, CLI ``--python Python3.9=PATH``);
2. the one :mod:`scf_snova_emulator.provision` installed under :func:`default_runtimes_dir`;
3. the emulator's own interpreter, when its version is the runtime's;
4. ``python3.N`` on ``PATH``.

Each candidate is started once (``-I -S``) to read its version; a configured interpreter of
another version is an error, never a fallback. With no interpreter for a runtime, functions of
that runtime cannot be created (the caller turns :meth:`Interpreters.problem` into a
``CreateFailed`` StatusReason): running them on another Python would let code pass here that
fails on SCF.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

#: The Python runtimes SCF offers (``CreateFunctionRequest.Runtime`` in the SCF SDK's models).
SCF_PYTHON_RUNTIMES = ("Python2.7", "Python3.6", "Python3.7", "Python3.9", "Python3.10")
#: The file :mod:`scf_snova_emulator.provision` writes into each runtime it installs.
RUNTIME_MARKER = "scf-runtime.json"
#: Overrides :func:`default_runtimes_dir`.
RUNTIMES_ENV = "SCF_SNOVA_RUNTIMES"
#: The oldest interpreter the bootstrap (:mod:`.bootstrap`) runs on.
MIN_BOOTSTRAP_VERSION = (3, 6)
_PYTHON_RUNTIME = re.compile(r"^Python(\d)\.(\d{1,2})$")
_PROBE = (
    "import platform, sys; "
    "print('%d.%d %s' % (sys.version_info[0], sys.version_info[1], "
    "platform.python_implementation()))"
)


def default_runtimes_dir() -> Path:
    """Where provisioned runtimes live: ``$SCF_SNOVA_RUNTIMES``; as root
    ``/var/cache/scf-snova-emulator/runtimes`` (readable by the unprivileged user functions run
    as); otherwise ``$XDG_CACHE_HOME/scf-snova-emulator/runtimes`` (``~/.cache/...``)."""
    if os.environ.get(RUNTIMES_ENV):
        return Path(os.environ[RUNTIMES_ENV])
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/cache/scf-snova-emulator/runtimes")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "scf-snova-emulator" / "runtimes"


def runtime_version(runtime: str) -> str | None:
    """``"3.9"`` for ``Python3.9``; ``None`` for a runtime that is not Python."""
    match = _PYTHON_RUNTIME.match(runtime)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def probe_version(executable: str) -> str | None:
    """The ``major.minor`` version of a CPython interpreter, or ``None`` when it does not run
    or is not CPython."""
    try:
        out = subprocess.run(
            [executable, "-I", "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version, _, implementation = out.stdout.strip().partition(" ")
    if out.returncode != 0 or implementation != "CPython":
        return None
    return version


class Interpreters:
    """The runtime-to-interpreter map of one emulator.

    :param configured: ``{"Python3.9": "/path/to/python3.9"}``.
    :param runtimes_dir: where provisioned runtimes are looked for (default:
        :func:`default_runtimes_dir`).
    """

    def __init__(
        self, configured: Mapping[str, str] | None = None, runtimes_dir: str | Path | None = None
    ) -> None:
        self._configured = dict(configured or {})
        self._runtimes_dir = Path(runtimes_dir) if runtimes_dir else default_runtimes_dir()
        self._found: dict[str, str] = {}
        self._lock = threading.Lock()
        unknown = sorted(set(self._configured) - set(SCF_PYTHON_RUNTIMES))
        if unknown:
            raise ValueError(
                f"no SCF runtime is called {', '.join(unknown)}; SCF's Python runtimes are "
                f"{', '.join(SCF_PYTHON_RUNTIMES)}"
            )

    def _candidates(self, version: str) -> list[str]:
        candidates = [str(self._runtimes_dir / f"python{version}" / "bin" / f"python{version}")]
        if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
            candidates.append(sys.executable)
        on_path = shutil.which(f"python{version}")
        if on_path:
            candidates.append(on_path)
        return [c for c in candidates if os.access(c, os.X_OK)]

    def _find(self, runtime: str) -> tuple[str | None, str | None]:
        version = runtime_version(runtime)
        if version is None or runtime not in SCF_PYTHON_RUNTIMES:
            return None, f"runtime {runtime} is not a Python runtime the emulator can run"
        if tuple(int(p) for p in version.split(".")) < MIN_BOOTSTRAP_VERSION:
            return None, (
                f"runtime {runtime} is not run by the emulator: its bootstrap needs Python 3.6 "
                "or later"
            )
        configured = self._configured.get(runtime)
        if configured:
            found = probe_version(configured)
            if found != version:
                what = f"is CPython {found}" if found else "does not run as a CPython interpreter"
                return None, f"the interpreter configured for {runtime}, {configured}, {what}"
            return configured, None
        for candidate in self._candidates(version):
            if probe_version(candidate) == version:
                return candidate, None
        hint = "python -m scf_snova_emulator.provision, or " if version == "3.9" else ""
        return None, (
            f"no CPython {version} interpreter for runtime {runtime}: provide one with {hint}"
            f"--python {runtime}=/path/to/python{version} (EmulatorConfig.interpreters); the "
            "emulator never runs a function on another Python version"
        )

    def find(self, runtime: str) -> tuple[str | None, str | None]:
        """``(executable, None)``, or ``(None, why there is none)``. Found ones are cached."""
        with self._lock:
            if runtime in self._found:
                return self._found[runtime], None
        executable, problem = self._find(runtime)
        if executable is not None:
            with self._lock:
                self._found[runtime] = executable
        return executable, problem

    def problem(self, runtime: str) -> str | None:
        """Why functions of ``runtime`` cannot run here, or ``None``."""
        return self.find(runtime)[1]
