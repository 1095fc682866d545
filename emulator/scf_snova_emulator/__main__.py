"""``python -m scf_snova_emulator``: run the SCF + COS emulator until SIGTERM/SIGINT.

Prints exactly one line, ``Emulator ready at http://HOST:PORT``, once it accepts connections.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .config import EmulatorConfig, UnsafeExposureError
from .server import EmulatorServer

#: Environment variables that give the keys without putting them on the command line.
SECRET_ID_VARIABLE = "SCF_SNOVA_EMULATOR_SECRET_ID"
SECRET_KEY_VARIABLE = "SCF_SNOVA_EMULATOR_SECRET_KEY"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = EmulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m scf_snova_emulator",
        description="Offline emulator of Tencent Cloud SCF (API 3.0) and COS (XML API).",
    )
    parser.add_argument(
        "--host",
        default=defaults.host,
        help="address to listen on; beyond loopback it needs keys of its own",
    )
    parser.add_argument("--port", type=int, default=defaults.port, help="0 picks a free port")
    parser.add_argument(
        "--data-dir", default=defaults.data_dir, help="keep state here (default: a temp dir)"
    )
    parser.add_argument(
        "--secret-id",
        default=os.environ.get(SECRET_ID_VARIABLE) or defaults.secret_id,
        help=f"the only SecretId accepted (or ${SECRET_ID_VARIABLE})",
    )
    parser.add_argument(
        "--secret-key",
        default=os.environ.get(SECRET_KEY_VARIABLE) or defaults.secret_key,
        help=f"the SecretKey signatures are checked with (or ${SECRET_KEY_VARIABLE})",
    )
    parser.add_argument("--appid", default=defaults.appid)
    parser.add_argument("--region", default=defaults.region)
    parser.add_argument("--token", default=defaults.token, help="require this X-TC-Token")
    parser.add_argument(
        "--status-delay",
        type=float,
        default=defaults.status_delay,
        help="seconds functions stay Creating/Updating/Publishing/Deleting",
    )
    parser.add_argument(
        "--no-timers",
        dest="timers",
        action="store_false",
        default=defaults.timers,
        help="do not fire timer triggers on their schedule",
    )
    parser.add_argument(
        "--retry-interval",
        type=float,
        default=defaults.retry_interval,
        help="seconds before SCF retries a failed asynchronous invocation (60 on SCF)",
    )
    parser.add_argument(
        "--reject-replays",
        action="store_true",
        help="refuse an API 3.0 signature already seen within 300 s",
    )
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="RUNTIME=PATH",
        help="the interpreter of an SCF runtime, e.g. Python3.10=/usr/bin/python3.10 (repeatable)",
    )
    parser.add_argument(
        "--runtimes-dir", default=None, help="where `python -m scf_snova_emulator.provision` puts"
    )
    parser.add_argument("--log-level", default="WARNING", help="e.g. INFO, DEBUG")
    args = parser.parse_args(argv)
    interpreters = {}
    for item in args.python:
        runtime, sep, path = item.partition("=")
        if not sep or not runtime or not path:
            parser.error(f"--python takes RUNTIME=PATH (Python3.9=/usr/bin/python3.9): {item!r}")
        interpreters[runtime] = path
    args.interpreters = interpreters
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        secret_id=args.secret_id,
        secret_key=args.secret_key,
        appid=args.appid,
        region=args.region,
        token=args.token,
        status_delay=args.status_delay,
        timers=args.timers,
        interpreters=args.interpreters,
        runtimes_dir=args.runtimes_dir,
        retry_interval=args.retry_interval,
    )
    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        server = EmulatorServer(config).start()
    except UnsafeExposureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.reject_replays:
            server.control.reject_replays(True)
        print(f"Emulator ready at http://{config.host}:{server.port}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
