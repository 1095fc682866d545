"""``python -m scf_snova_emulator``: run the SCF + COS emulator until SIGTERM/SIGINT.

Prints exactly one line, ``Emulator ready at http://HOST:PORT``, once it accepts connections.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .config import EmulatorConfig
from .server import EmulatorServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = EmulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m scf_snova_emulator",
        description="Offline emulator of Tencent Cloud SCF (API 3.0) and COS (XML API).",
    )
    parser.add_argument("--host", default=defaults.host, help="address to listen on")
    parser.add_argument("--port", type=int, default=defaults.port, help="0 picks a free port")
    parser.add_argument(
        "--data-dir", default=defaults.data_dir, help="keep state here (default: a temp dir)"
    )
    parser.add_argument("--secret-id", default=defaults.secret_id)
    parser.add_argument("--secret-key", default=defaults.secret_key)
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
    parser.add_argument("--log-level", default="WARNING", help="e.g. INFO, DEBUG")
    return parser.parse_args(argv)


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
        retry_interval=args.retry_interval,
    )
    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server = EmulatorServer(config).start()
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
