"""``python -m scf_snova_emulator.provision``: which Debian packages make a runtime, and the
installed interpreter (``make install`` provisions it)."""

from __future__ import annotations

import json

import pytest
from scf_snova_emulator.provision import ProvisionError, installed, provision, resolve
from scf_snova_emulator.scf.interpreters import RUNTIME_MARKER, default_runtimes_dir


def package(name: str, depends: str = "", pre: str = "") -> dict[str, str]:
    fields = {"Package": name, "Version": "1", "Depends": depends, "Pre-Depends": pre}
    return {k: v for k, v in fields.items() if v}


def test_dependencies_are_followed_except_what_the_host_provides():
    security = {"python3.9": package("python3.9", "libpython3.9 (= 1), libssl1.1", "libc6")}
    main = {
        "python3.9": package("python3.9", "old"),
        "libpython3.9": package("libpython3.9", "media-types | mime-support, libffi7 | libffi8"),
        "libssl1.1": package("libssl1.1", "libc6 (>= 2.25), debconf (>= 0.5) | debconf-2.0"),
        "libffi8": package("libffi8"),
    }
    chosen = resolve(("python3.9",), [security, main])
    assert [p["Package"] for p in chosen] == ["libffi8", "libpython3.9", "libssl1.1", "python3.9"]
    assert chosen[-1] is security["python3.9"]  # the first index that has it wins
    with pytest.raises(ProvisionError, match="no package provides libfoo"):
        resolve(("x",), [{"x": package("x", "libfoo")}])


def test_only_cpython_39_can_be_provisioned(tmp_path):
    with pytest.raises(ProvisionError, match="--python Python3.10=/path/to/python3.10"):
        provision("3.10", tmp_path)


def test_the_provisioned_interpreter_is_cpython_39():
    target = default_runtimes_dir() / "python3.9"
    if not (target / RUNTIME_MARKER).exists():
        pytest.skip("CPython 3.9 is not provisioned here (make install does it)")
    assert installed(target, "3.9")
    manifest = json.loads((target / RUNTIME_MARKER).read_text())
    assert manifest["runtime"] == "Python3.9"
    assert manifest["packages"]["python3.9"].startswith("3.9.")
    assert "libc6" not in manifest["packages"]  # the host's C library is used
