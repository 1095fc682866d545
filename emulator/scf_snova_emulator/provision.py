"""``python -m scf_snova_emulator.provision``: install the Python interpreters SCF's runtimes need.

SCF runs ``Python3.9`` functions on CPython 3.9; the emulator runs each function on an
interpreter of its declared version (:mod:`.scf.interpreters`). This installs CPython 3.9 without
touching the system: the ``.deb`` files of Debian 11 (bullseye)'s ``python3.9`` and the shared
libraries it links to are downloaded from the Debian archive, verified, and unpacked with
``dpkg-deb -x`` into ``<runtimes dir>/python3.9/``, next to a ``bin/python3.9`` wrapper that sets
``LD_LIBRARY_PATH`` for them. The host's own C library is used (it is newer than bullseye's and
compatible with it).

Verification: each suite's ``InRelease`` is checked with ``gpgv`` against the Debian archive
keyring, the ``Packages.xz`` index against the SHA-256 that ``InRelease`` lists, and every
``.deb`` against the SHA-256 of the index. A package is taken from ``bullseye-security`` first,
then ``bullseye-updates``, then ``bullseye``.

An installed runtime is kept: running this again only checks it (no network), unless
``--refresh``. The directory is :func:`~.scf.interpreters.default_runtimes_dir` (or
``--dir`` / ``SCF_SNOVA_RUNTIMES``).

No other Python minor version that SCF offers (3.6, 3.7, 3.10) is packaged by a Debian release
this installer can reach; give one to the emulator with ``--python Python3.10=/path``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .scf.interpreters import RUNTIME_MARKER, default_runtimes_dir, probe_version

ARCHIVE = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
#: ``(archive, suite)`` in order of preference.
SUITES = (
    (SECURITY, "bullseye-security"),
    (ARCHIVE, "bullseye-updates"),
    (ARCHIVE, "bullseye"),
)
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
#: What each provisioned runtime starts from; their dependencies are added.
ROOT_PACKAGES = {"3.9": ("python3.9", "python3-distutils", "python3-gdbm")}
#: Dependencies the host provides (its C library and runtime, data packages, configuration).
HOST_PROVIDED = frozenset(
    {
        "libc6",
        "libgcc-s1",
        "libstdc++6",
        "gcc-10-base",
        "libcrypt1",
        "debconf",
        "debconf-2.0",
        "tzdata",
        "media-types",
        "mime-support",
        "readline-common",
        "libtirpc-common",
        "python3",
    }
)
_RETRIES = 3


class ProvisionError(RuntimeError):
    """The runtime could not be installed; the message says why."""


def _fetch(url: str, timeout: float = 120) -> bytes:
    for attempt in range(_RETRIES):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.read()
        except OSError as exc:
            if attempt == _RETRIES - 1:
                raise ProvisionError(f"cannot download {url}: {exc}") from exc
            time.sleep(2**attempt)
    raise AssertionError("unreachable")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verified_release(base: str, suite: str, work: Path) -> str:
    """The text of the suite's ``InRelease``, its OpenPGP signature checked with ``gpgv``."""
    data = _fetch(f"{base}/dists/{suite}/InRelease")
    path = work / f"{suite}.InRelease"
    path.write_bytes(data)
    if not KEYRING.exists() or shutil.which("gpgv") is None:
        raise ProvisionError(
            f"cannot verify the Debian archive: install gpgv and debian-archive-keyring ({KEYRING})"
        )
    check = subprocess.run(
        ["gpgv", "--keyring", str(KEYRING), str(path)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise ProvisionError(f"bad signature on {suite}'s InRelease: {check.stderr.strip()}")
    return data.decode("utf-8", "replace")


def _index(base: str, suite: str, work: Path) -> dict[str, dict[str, str]]:
    """``{package: fields}`` of the suite's amd64 ``main`` index (hash-checked)."""
    release = _verified_release(base, suite, work)
    name = "main/binary-amd64/Packages.xz"
    match = re.search(rf"^ ([0-9a-f]{{64}})\s+\d+\s+{re.escape(name)}$", release, re.MULTILINE)
    if match is None:
        raise ProvisionError(f"{suite}'s InRelease lists no SHA-256 for {name}")
    data = _fetch(f"{base}/dists/{suite}/{name}")
    if _sha256(data) != match.group(1):
        raise ProvisionError(f"{suite}'s {name} does not match its SHA-256 in InRelease")
    packages: dict[str, dict[str, str]] = {}
    for stanza in lzma.decompress(data).decode("utf-8", "replace").split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            fields["_base"] = base
            packages.setdefault(fields["Package"], fields)
    return packages


def _dependencies(fields: dict[str, str]) -> list[list[str]]:
    """``Pre-Depends`` and ``Depends`` as alternatives of package names (versions dropped)."""
    groups = []
    for relation in ("Pre-Depends", "Depends"):
        for group in filter(None, (g.strip() for g in fields.get(relation, "").split(","))):
            names = [re.split(r"[\s(:]", alt.strip(), maxsplit=1)[0] for alt in group.split("|")]
            groups.append(names)
    return groups


def resolve(roots: tuple[str, ...], indexes: list[dict[str, dict[str, str]]]) -> list[dict]:
    """The packages to unpack: ``roots`` and their dependencies, minus :data:`HOST_PROVIDED`."""

    def lookup(name: str) -> dict[str, str] | None:
        for index in indexes:
            if name in index:
                return index[name]
        return None

    chosen: dict[str, dict[str, str]] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in chosen or name in HOST_PROVIDED:
            continue
        fields = lookup(name)
        if fields is None:
            raise ProvisionError(f"package {name} is not in bullseye's index")
        chosen[name] = fields
        for alternatives in _dependencies(fields):
            if any(alt in HOST_PROVIDED or alt in chosen for alt in alternatives):
                continue
            available = [alt for alt in alternatives if lookup(alt) is not None]
            if not available:
                raise ProvisionError(f"no package provides {' | '.join(alternatives)} ({name})")
            pending.append(available[0])
    return [chosen[name] for name in sorted(chosen)]


def _wrapper(version: str) -> str:
    return (
        "#!/bin/sh\n"
        f"# CPython {version} from Debian bullseye's packages (scf_snova_emulator.provision).\n"
        'root=$(cd "${0%/*}/.." && pwd -P)\n'
        'LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu'
        '${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"\n'
        "export LD_LIBRARY_PATH\n"
        f'exec "$root/usr/bin/python{version}" "$@"\n'
    )


def installed(target: Path, version: str) -> bool:
    """Whether ``target`` holds a working CPython ``version`` installed by this module."""
    marker = target / RUNTIME_MARKER
    executable = target / "bin" / f"python{version}"
    if not marker.is_file() or not executable.is_file():
        return False
    return probe_version(str(executable)) == version


def provision(version: str, runtimes_dir: Path, refresh: bool = False, log=print) -> Path:
    """Install CPython ``version`` (``"3.9"``) under ``runtimes_dir``; returns its directory.

    :raises ProvisionError: the version cannot be provisioned, or a download or check failed.
    """
    if version not in ROOT_PACKAGES:
        raise ProvisionError(
            f"CPython {version} is not packaged by Debian bullseye; pass an interpreter to the "
            f"emulator instead (--python Python{version}=/path/to/python{version})"
        )
    if shutil.which("dpkg-deb") is None:
        raise ProvisionError("dpkg-deb is needed to unpack Debian packages")
    target = runtimes_dir / f"python{version}"
    if installed(target, version) and not refresh:
        log(f"CPython {version} is installed in {target}")
        return target
    runtimes_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(runtimes_dir, 0o755)
    cache = runtimes_dir / ".debs"
    cache.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=runtimes_dir, prefix=".provision-") as tmp:
        work = Path(tmp)
        log(f"Reading Debian bullseye's package indexes for CPython {version}")
        indexes = [_index(base, suite, work) for base, suite in SUITES]
        packages = resolve(ROOT_PACKAGES[version], indexes)
        root = work / "root"
        for fields in packages:
            deb = cache / Path(fields["Filename"]).name
            if not deb.exists() or _sha256(deb.read_bytes()) != fields["SHA256"]:
                data = _fetch(f"{fields['_base']}/{fields['Filename']}")
                if _sha256(data) != fields["SHA256"]:
                    raise ProvisionError(f"{fields['Filename']} does not match its index SHA-256")
                deb.write_bytes(data)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        (root / "bin").mkdir(exist_ok=True)
        wrapper = root / "bin" / f"python{version}"
        wrapper.write_text(_wrapper(version), "utf-8")
        wrapper.chmod(0o755)
        os.chmod(root, 0o755)
        manifest = {
            "runtime": f"Python{version}",
            "source": "Debian bullseye",
            "packages": {f["Package"]: f["Version"] for f in packages},
        }
        (root / RUNTIME_MARKER).write_text(json.dumps(manifest, indent=1), "utf-8")
        if probe_version(str(wrapper)) != version:
            raise ProvisionError(f"the unpacked interpreter {wrapper} does not run")
        old = work / "old"
        if target.exists():
            target.rename(old)
        root.rename(target)
    log(f"Installed CPython {version} in {target} ({len(packages)} Debian packages)")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scf_snova_emulator.provision",
        description="Install the CPython interpreters the emulator runs SCF functions on.",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="where runtimes live (default: %(prog)s's cache)"
    )
    parser.add_argument(
        "--version", action="append", dest="versions", help="e.g. 3.9 (default: every one)"
    )
    parser.add_argument("--refresh", action="store_true", help="download and unpack again")
    args = parser.parse_args(argv)
    runtimes_dir = args.dir or default_runtimes_dir()
    try:
        for version in args.versions or sorted(ROOT_PACKAGES):
            provision(version, runtimes_dir, args.refresh)
    except (ProvisionError, subprocess.CalledProcessError) as exc:
        print(f"provision: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
