"""Settings of one emulator instance (what the CLI flags and the in-process fixture set)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9100
DEFAULT_SECRET_ID = "AKIDEMULATOR0000000000000000000000"
DEFAULT_SECRET_KEY = "emulator-secret-key-0000000000000"
DEFAULT_APPID = "1250000000"
DEFAULT_REGION = "ap-guangzhou"


@dataclass(frozen=True)
class EmulatorConfig:
    """Configuration of an emulator.

    :param host: address to listen on; keep it on loopback.
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
    retry_interval: float = 60.0
