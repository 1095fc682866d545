"""5. Emulator I/O: COS GET and PUT throughput of the emulator against reading and writing the
same bytes on local disk.

The client runs in a child process (the real COS SDK, as the hook builds it), the emulator in
this one, so they do not share a GIL. The disk sides run in the same child, interleaved with the
COS sides: read the file in 1 MiB chunks (GET's limit), copy it in 1 MiB chunks to a new file
(PUT's limit: the emulator reads the body from a socket and writes it to a file).

Run alone: ``python -m bench.emulator_io [--mb N] [--reps N]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bench.common import (
    MiB,
    Section,
    Verdict,
    load_average,
    median,
    publish_as_asked,
    python_child,
    report,
    script_parser,
    spread,
)

MB = 1_000_000
SIDES = ("COS GET", "disk read", "COS PUT", "disk write")


def _child(bucket: str, key: str, path: str, reps: int) -> None:
    from airflow_scf_snova.hooks.cos import COSHook

    client = COSHook().conn
    source = Path(path)
    copy = source.with_suffix(".copy")
    size = source.stat().st_size

    def get() -> int:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream()
        got = 0
        while chunk := body.read(MiB):
            got += len(chunk)
        body.release_conn()
        return got

    def read() -> int:
        got = 0
        with open(source, "rb") as handle:
            while chunk := handle.read(MiB):
                got += len(chunk)
        return got

    def put() -> int:
        with open(source, "rb") as handle:
            client.put_object(Bucket=bucket, Key=f"{key}.put", Body=handle)
        return size

    def write() -> int:
        with open(source, "rb") as handle, open(copy, "wb") as out:
            while chunk := handle.read(MiB):
                out.write(chunk)
        copy.unlink()
        return size

    sides = dict(zip(SIDES, (get, read, put, write), strict=True))
    seconds: dict[str, list[float]] = {name: [] for name in SIDES}
    names = list(SIDES)
    for round_no in range(reps + 1):  # round 0 warms up (connections, page cache)
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            moved = sides[name]()
            if moved != size:
                raise RuntimeError(f"{name} moved {moved} bytes, expected {size}")
            if round_no:
                seconds[name].append(time.perf_counter() - started)
    report({"seconds": seconds, "size": size})


def run(env, mb: float = 100, reps: int = 5) -> Section:
    """Move one ``mb`` MB object ``reps`` times each way, interleaved with the disk sides.

    :param env: a :class:`bench.env.BenchEnv` with the emulator.
    """
    load_before = load_average()
    workdir = env.workdir("io")
    path = workdir / "object.bin"
    bucket = env.new_bucket("io")
    key = "io/object.bin"
    try:
        with open(path, "wb") as out:  # incompressible bytes, written 1 MiB at a time
            left = int(mb * MB)
            while left > 0:
                out.write(os.urandom(min(MiB, left)))
                left -= MiB
        with open(path, "rb") as body:
            env.emulator.cos.put_object(bucket, key, body)
        result = python_child(
            "emulator_io", "--child", bucket, key, str(path), str(reps), env=dict(os.environ)
        ).json()
    finally:
        path.unlink(missing_ok=True)
        for name in (key, f"{key}.put"):
            env.emulator.cos.delete_object(bucket, name)
    size = result["size"]
    rates = {name: [size / MB / s for s in values] for name, values in result["seconds"].items()}
    rows = [[name, median(rates[name]), spread(rates[name])] for name in SIDES]
    get_ratio = median(rates["COS GET"]) / median(rates["disk read"])
    put_ratio = median(rates["COS PUT"]) / median(rates["disk write"])
    verdicts = [
        Verdict(
            f"Emulator GET of a {size / MB:g} MB object vs reading it from disk",
            f"{median(rates['COS GET']):.0f} vs {median(rates['disk read']):.0f} MB/s",
            f"{get_ratio:.2f}x",
            None,
        ),
        Verdict(
            f"Emulator PUT of a {size / MB:g} MB object vs writing it to disk",
            f"{median(rates['COS PUT']):.0f} vs {median(rates['disk write']):.0f} MB/s",
            f"{put_ratio:.2f}x",
            None,
        ),
    ]

    def chart(plt, fig) -> None:
        ax = fig.add_subplot(1, 1, 1)
        values = [median(rates[name]) for name in SIDES]
        ax.bar(SIDES, values, color=["#0052d9", "#55a868", "#0052d9", "#55a868"])
        ax.set_ylabel("MB/s (median)")
        for x, value in enumerate(values):
            ax.annotate(f"{value:.0f}", (x, value), ha="center", va="bottom")

    method = f"""
One {size / MB:g} MB object of random bytes, {reps} rounds after one warm-up round (a round is one
of each side, in an order rotated every round). The client is the real `CosS3Client` built by
`COSHook`, in a child process: GET streams the body (`get_raw_stream().read(1 MiB)`) and discards
it; PUT sends the file in one request (the emulator streams it to a temporary file while computing
its MD5 and CRC64, then renames it into place). The disk sides, in the same child: read the file in
1 MiB chunks; copy it in 1 MiB chunks to a new file. The file is in the page cache, so *disk* is
in practice memory speed: the limit for any server that keeps objects in files.
"""
    return Section(
        name="emulator_io",
        title="5. Emulator I/O",
        method=method,
        headers=["Side", "MB/s (median)", "Range (MB/s)"],
        rows=rows,
        verdicts=verdicts,
        chart=chart,
        load_before=load_before,
        load_after=load_average(),
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        _child(argv[1], argv[2], argv[3], int(argv[4]))
        return
    parser = script_parser(__doc__, reps=5)
    parser.add_argument("--mb", type=float, default=100)
    args = parser.parse_args(argv)
    from bench.env import BenchEnv

    with BenchEnv(start_snova=False) as env:
        section = run(env, mb=args.mb, reps=args.reps)
    publish_as_asked(section, args)


if __name__ == "__main__":
    main()
