"""5. Emulator I/O: COS GET and PUT throughput of the emulator against their limits on this
machine, measured in the same run.

The client runs in a child process (the real COS SDK, as the hook builds it), the emulator in
this one, so they do not share a GIL. Every other side runs in the same child, interleaved with
the COS sides (a round runs each side once, in an order rotated every round):

- *disk read*: read the file in 1 MiB chunks (the goal: GET at >= 0.35x of it);
- *GET ceiling*: the same GET as raw HTTP on a plain, kept-alive socket, ``recv_into`` one
  preallocated buffer: a client with no Python work per byte (only the kernel's copy out of the
  socket remains), so the gap between it and *COS GET* is the SDK client's (urllib3 and
  ``requests``);
- *PUT floor*: the emulator's own :meth:`CosStorage.receive` (MD5 + CRC64 of every chunk and
  the write to a file) fed from the page cache instead of a socket (the goal: PUT within 1.25x
  of its time);
- *disk write*: copy the file in 1 MiB chunks (the floor without the hashing).

After the rounds the child profiles one more SDK GET with :mod:`cProfile`; the section shows
where its time goes.

Run alone: ``python -m bench.emulator_io [--mb N] [--reps N]``.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from bench.common import (
    MiB,
    Section,
    Verdict,
    load_average,
    markdown_table,
    median,
    publish_as_asked,
    python_child,
    report,
    script_parser,
    spread,
)

MB = 1_000_000
SIDES = ("COS GET", "GET ceiling", "disk read", "COS PUT", "PUT floor", "disk write")
GET_GOAL = 0.35  # GET >= 0.35x disk read
PUT_GOAL = 1.25  # PUT time <= 1.25x the floor's
PROFILE_ROWS = 8


def _file_chunks(handle: BinaryIO, views: list[memoryview]) -> Iterator[memoryview]:
    """The file in chunks read into two buffers in turn, as the emulator reads a request body."""
    turn = 0
    while n := handle.readinto(views[turn]):
        yield views[turn][:n]
        turn = 1 - turn


def _raw_get(sock: socket.socket, request: bytes, view: memoryview) -> int:
    """Send one GET on a kept-alive socket; receive the body into ``view``, over and over; return
    its length."""
    sock.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the emulator closed the connection in the headers")
        head += data
    header, _, got = head.partition(b"\r\n\r\n")
    if not header.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(header.decode("latin-1"))
    match = re.search(rb"(?im)^content-length:\s*(\d+)", header)
    if match is None:
        raise RuntimeError("no Content-Length")
    length = int(match.group(1))
    received = len(got)
    while received < length:
        n = sock.recv_into(view, min(len(view), length - received))
        if not n:
            raise ConnectionError("the emulator closed the connection mid-body")
        received += n
    return received


def _profile(call, rows: int) -> dict:
    """Profile ``call()`` on CPU time (user + system, so the kernel's copies count and waiting
    does not): its wall and CPU seconds, and the functions with the most own CPU time as
    ``[name, calls, seconds]``."""
    profiler = cProfile.Profile(time.process_time)
    started, cpu_started = time.perf_counter(), time.process_time()
    profiler.runcall(call)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    top = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:rows]
    functions = []
    for (filename, line, function), (_cc, calls, tottime, _ct, _callers) in top:
        where = Path(filename).name if filename != "~" else ""
        name = f"{where}:{line} {function}" if where else function
        functions.append([name, calls, tottime])
    return {"wall": wall, "cpu": cpu, "functions": functions}


def _child(bucket: str, key: str, path: str, reps: int) -> None:
    from scf_snova_emulator.cos.storage import CosStorage

    from airflow_scf_snova.hooks.cos import COSHook

    client = COSHook().conn
    source = Path(path)
    copy = source.with_suffix(".copy")
    size = source.stat().st_size
    view, spare = memoryview(bytearray(MiB)), memoryview(bytearray(MiB))
    floor_storage = CosStorage(Path(tempfile.mkdtemp(prefix="floor-", dir=source.parent)))
    conf = client.get_conf()
    host = conf.get_host(Bucket=bucket)
    url = urlsplit(conf.uri(bucket=bucket, path=key))
    address = (url.hostname or "127.0.0.1", url.port or 80)

    def get() -> int:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream()
        got = 0
        while chunk := body.read(MiB):
            got += len(chunk)
        body.release_conn()
        return got

    raw = socket.create_connection(address)  # kept alive, as the SDK keeps its connections

    def ceiling() -> int:
        auth = client.get_auth(Method="GET", Bucket=bucket, Key=key, Headers={"Host": host})
        request = f"GET {url.path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n"
        return _raw_get(raw, request.encode(), view)

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

    def floor() -> int:
        with open(source, "rb") as handle:
            staged = floor_storage.receive(_file_chunks(handle, [view, spare]))
        floor_storage.discard(staged)
        return staged.size

    def write() -> int:
        with open(source, "rb") as handle, open(copy, "wb") as out:
            while chunk := handle.read(MiB):
                out.write(chunk)
        copy.unlink()
        return size

    sides = dict(zip(SIDES, (get, ceiling, read, put, floor, write), strict=True))
    seconds: dict[str, list[float]] = {name: [] for name in SIDES}
    cpu: dict[str, list[float]] = {name: [] for name in SIDES}
    names = list(SIDES)
    for round_no in range(reps + 1):  # round 0 warms up (connections, page cache)
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            started, cpu_started = time.perf_counter(), time.process_time()
            moved = sides[name]()
            if moved != size:
                raise RuntimeError(f"{name} moved {moved} bytes, expected {size}")
            if round_no:
                seconds[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - cpu_started)
    raw.close()
    profile = _profile(get, PROFILE_ROWS)
    report({"seconds": seconds, "cpu": cpu, "size": size, "profile": profile})


def run(env, mb: float = 100, reps: int = 5) -> Section:
    """Move one ``mb`` MB object ``reps`` times each way, interleaved with the other sides.

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
    seconds = result["seconds"]
    rates = {name: [size / MB / s for s in values] for name, values in seconds.items()}
    cpu = result["cpu"]
    rows = [
        [name, median(rates[name]), spread(rates[name]), median(cpu[name]) * 1000] for name in SIDES
    ]
    rate = {name: median(rates[name]) for name in SIDES}
    get_ratio = rate["COS GET"] / rate["disk read"]
    put_ratio = median(seconds["COS PUT"]) / median(seconds["PUT floor"])
    mb = f"{size / MB:g} MB"
    verdicts = [
        Verdict(
            f"Emulator GET of a {mb} object >= {GET_GOAL}x reading it from disk",
            f"{rate['COS GET']:.0f} vs {rate['disk read']:.0f} MB/s",
            f"{get_ratio:.2f}x",
            get_ratio >= GET_GOAL,
        ),
        Verdict(
            f"Emulator GET of a {mb} object, raw socket client (ceiling) vs disk read",
            f"{rate['GET ceiling']:.0f} vs {rate['disk read']:.0f} MB/s",
            f"{rate['GET ceiling'] / rate['disk read']:.2f}x",
            None,
        ),
        Verdict(
            f"Emulator PUT of a {mb} object <= {PUT_GOAL}x its floor (time)",
            f"{median(seconds['COS PUT']):.3f} vs {median(seconds['PUT floor']):.3f} s",
            f"{put_ratio:.2f}x",
            put_ratio <= PUT_GOAL,
        ),
    ]

    def chart(plt, fig) -> None:
        ax = fig.add_subplot(1, 1, 1)
        values = [rate[name] for name in SIDES]
        colors = ["#0052d9", "#7f9fe0", "#55a868", "#0052d9", "#7f9fe0", "#55a868"]
        ax.bar(SIDES, values, color=colors)
        ax.set_ylabel("MB/s (median)")
        for x, value in enumerate(values):
            ax.annotate(f"{value:.0f}", (x, value), ha="center", va="bottom")

    method = f"""
One {mb} object of random bytes, {reps} rounds after one warm-up round (a round is one of each
side, in an order rotated every round). The client is the real `CosS3Client` built by `COSHook`,
in a child process; the emulator serves it from this process. The sides:

- **COS GET** streams the body (`get_raw_stream().read(1 MiB)`) and discards it. The emulator sends
  the body with one `sendfile` after the headers.
- **GET ceiling**: the same signed GET as raw HTTP on a plain socket kept alive across rounds,
  `recv_into` one preallocated 1 MiB buffer: no Python work per byte, only the kernel's copy out
  of the socket. The gap between it and COS GET is the SDK client's.
- **disk read**: read the file in 1 MiB chunks. The file is in the page cache, so this is memory
  speed: the limit for any server that keeps objects in files.
- **COS PUT** sends the file in one request. The emulator reads the body into two reused buffers,
  computes its MD5 (the ETag) and CRC64 (`x-cos-hash-crc64ecma`) and writes it to a temporary file
  (on a worker thread, while the next chunk arrives), then renames it into place.
- **PUT floor**: the emulator's own `CosStorage.receive` (the same hashing and writing) fed from
  the page cache instead of a socket, in the child.
- **disk write**: copy the file in 1 MiB chunks to a new file (the floor without the hashing).

*Child CPU ms* is the CPU time (user + system) the child process spent on one round of a side:
for the COS sides that is the client's own cost, a limit on its speed however fast the emulator
serves; for the others it is all the work.
"""
    profile = result["profile"]
    cpu_ms = {name: median(cpu[name]) * 1000 for name in SIDES}
    notes = (
        f"**The SDK client's own limit.** The child spent {cpu_ms['COS GET']:.1f} ms of CPU per "
        f"COS GET (median), receiving the body and handing it over; the disk read of the same "
        f"bytes took {cpu_ms['disk read']:.1f} ms of CPU, the raw-socket client "
        f"{cpu_ms['GET ceiling']:.1f} ms. So with a free core for each, GET through the SDK "
        f"cannot pass {cpu_ms['disk read'] / cpu_ms['COS GET']:.2f}x the disk read however "
        "fast the emulator serves, and a client that only copies the bytes out of the socket "
        f"could not pass {cpu_ms['disk read'] / cpu_ms['GET ceiling']:.2f}x.\n\n"
        "**Where an SDK GET's time goes.** One more COS GET after the rounds, in the child, under "
        f"`cProfile` timed on CPU: {profile['wall']:.3f} s wall, {profile['cpu']:.3f} s of the "
        "client's CPU (user + system, so the kernel's socket copies count). The functions with "
        "the most own CPU time:\n\n"
        + markdown_table(
            ["Function", "Calls", "Own CPU seconds"],
            [[name, calls, f"{seconds:.4f}"] for name, calls, seconds in profile["functions"]],
        )
    )
    return Section(
        name="emulator_io",
        title="5. Emulator I/O",
        method=method,
        headers=["Side", "MB/s (median)", "Range (MB/s)", "Child CPU ms (median)"],
        rows=rows,
        verdicts=verdicts,
        notes=notes,
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
