"""Settings of one emulator instance (what the CLI flags and the in-process fixture set), and the
rule for exposing it beyond loopback."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9100
DEFAULT_SECRET_ID = "AKIDEMULATOR0000000000000000000000"
DEFAULT_SECRET_KEY = "emulator-secret-key-0000000000000"
DEFAULT_APPID = "1250000000"
DEFAULT_REGION = "ap-guangzhou"
#: The shortest SecretKey an emulator listening beyond loopback accepts.
MIN_EXPOSED_KEY_LENGTH = 16


class UnsafeExposureError(RuntimeError):
    """The emulator was asked to listen beyond loopback with keys anyone can know."""


@dataclass(frozen=True)
class EmulatorConfig:
    """Configuration of an emulator.

    :param host: address to listen on. Anything but loopback needs keys of its own (see
        :func:`check_exposure`).
    :param port: TCP port; ``0`` picks a free one (see ``EmulatorServer.port``).
    :param data_dir: where functions, code, triggers, buckets and objects live. ``None`` keeps
        them in a temporary directory that is removed on stop (nothing survives a restart).
    :param secret_id: the SecretId that signed requests must carry.
    :param secret_key: the SecretKey that signatures are verified against.
    :param appid: the account's APPID, the suffix of every bucket name (``name-appid``).
    :param region: the region served, e.g. ``ap-guangzhou``.
    :param token: when set, requests must also carry this session token.
    :param status_delay: seconds a function stays ``Creating``/``Updating``/``Publishing``/
        ``Deleting`` before it settles, so clients really have to wait for Active.
    :param timers: run timer triggers on their cron schedule (tests usually fire them by hand).
    :param interpreters: the interpreter of an SCF Python runtime, e.g.
        ``{"Python3.9": "/usr/bin/python3.9"}``; runtimes not named here use the provisioned or
        discovered one (:mod:`scf_snova_emulator.scf.interpreters`).
    :param runtimes_dir: where ``python -m scf_snova_emulator.provision`` installed runtimes
        (default: its cache directory).
    :param retry_interval: seconds between a failed asynchronous attempt and SCF's retry of it
        (60 on SCF; tests shorten it).
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: str | None = None
    secret_id: str = DEFAULT_SECRET_ID
    secret_key: str = DEFAULT_SECRET_KEY
    appid: str = DEFAULT_APPID
    region: str = DEFAULT_REGION
    token: str | None = None
    status_delay: float = 0.2
    timers: bool = True
    interpreters: Mapping[str, str] = field(default_factory=dict, hash=False)
    runtimes_dir: str | None = None
    retry_interval: float = 60.0


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``127.0.0.0/8``, ``::1``) or ``localhost``.
    Names other than ``localhost`` count as exposed: they are not resolved."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(config: EmulatorConfig) -> None:
    """Refuse to listen beyond loopback with the public default keys (or a short SecretKey).

    The emulator runs the code it is sent, so whoever can sign a request can run programs as the
    emulator's user: on a reachable address that must take keys only its owner knows.

    :raises UnsafeExposureError: a non-loopback ``host`` with the default SecretId or SecretKey,
        or a SecretKey shorter than :data:`MIN_EXPOSED_KEY_LENGTH`.
    """
    if is_loopback(config.host):
        return
    problems = []
    if config.secret_id == DEFAULT_SECRET_ID:
        problems.append("the default SecretId")
    if config.secret_key == DEFAULT_SECRET_KEY:
        problems.append("the default SecretKey")
    elif len(config.secret_key) < MIN_EXPOSED_KEY_LENGTH:
        problems.append(f"a SecretKey shorter than {MIN_EXPOSED_KEY_LENGTH} characters")
    if problems:
        raise UnsafeExposureError(
            f"refusing to listen on {config.host!r} with {' and '.join(problems)}: the emulator "
            "runs uploaded code, so anyone who can reach it and sign a request could run "
            "programs here. Listen on 127.0.0.1, or give it keys of its own (--secret-id and "
            "--secret-key, or SCF_SNOVA_EMULATOR_SECRET_ID/_KEY)."
        )
