"""3. Sensor cost: one ``COSObjectSensor`` poke over a prefix holding 100,000 objects (time and
peak memory), against a hand-written listing with the bare SDK; and what
``COSObjectEventTrigger`` costs per new object.

The objects are seeded straight into the emulator's storage layer (``CosStorage``: a body file
and a metadata record per object) before a second emulator is started on that
directory, which is much faster than 100,000 PUTs. Their modification times are spread one second
apart over the past, as in a bucket that filled up over a day.

The sensor and the trigger run in a child process (the client side), the emulator in this one.

Run alone: ``python -m bench.sensor_cost [--objects N] [--reps N]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

from bench.common import (
    Section,
    Verdict,
    load_average,
    median,
    publish_as_asked,
    python_child,
    report,
    script_parser,
    spread,
    vm_hwm_kib,
)

PREFIX = "big/"
BODY = b"id,amount\n1,9.50\n"
FIRST = "poke: prefix (first 1,000 match)"
FULL = "poke: prefix + suffix (1 match, at the end)"
CASES = {FIRST: {"prefix": PREFIX}, FULL: {"prefix": PREFIX, "suffix": ".done"}}
BARE = "bare SDK: list every page, filter by suffix"
#: Rounds that include the bare-SDK listing (2.5x slower than the hook's since the listing fix).
BARE_RUNS = 2


# -- seeding ------------------------------------------------------------------------------------
def seed(root: Path, bucket: str, count: int, region: str) -> float:
    """Write ``bucket`` with ``count`` objects under :data:`PREFIX` (plus one ``.done`` marker
    last) into the COS storage at ``root``, before an emulator is started on it; returns the
    seconds it took (see :func:`scf_snova_devel.seeding.seed_objects`)."""
    from scf_snova_devel.seeding import seed_objects

    keys = [f"{PREFIX}part-{i:06d}.csv" for i in range(count - 1)] + [f"{PREFIX}zz-ready.done"]
    return seed_objects(root, bucket, keys, region, BODY, newest=int(time.time()) - 121)


# -- the child: sensor pokes --------------------------------------------------------------------
class _TaskInstance:
    """Where the sensor pushes its ``cos_events`` XCom (the task runner's job; kept in memory)."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def _poke(bucket: str, filters: dict[str, str]) -> int:
    from airflow.sdk import PokeReturnValue

    from airflow_scf_snova.sensors.cos import COSObjectSensor

    sensor = COSObjectSensor(task_id=f"s_{uuid.uuid4().hex[:6]}", bucket=bucket, **filters)
    result = sensor.poke({"ti": _TaskInstance()})
    return len(result.xcom_value) if isinstance(result, PokeReturnValue) else 0


def _bare(bucket: str) -> int:
    """What a hand-written check does: page through the listing with the SDK, test each key."""
    from airflow_scf_snova.hooks.cos import COSHook

    client = COSHook().conn  # the same CosS3Client an operator would build
    marker, found = "", 0
    while True:
        page = client.list_objects(Bucket=bucket, Prefix=PREFIX, Marker=marker, MaxKeys=1000)
        for entry in page.get("Contents", []):
            if entry["Key"].endswith(".done"):
                found += 1
        if page.get("IsTruncated") != "true":
            return found
        marker = page["NextMarker"]


def _child_sensor(bucket: str, reps: int) -> None:
    # First-use imports, not timed.
    import airflow_scf_snova.hooks.cos
    import airflow_scf_snova.sensors.cos  # noqa: F401

    sides = {name: (lambda f=filters: _poke(bucket, f)) for name, filters in CASES.items()}
    sides[BARE] = lambda: _bare(bucket)
    names = list(sides)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    found: dict[str, int] = {}
    _poke(bucket, CASES[FIRST])  # warm-up: connections, caches
    for round_no in range(reps):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            if name == BARE and round_no >= BARE_RUNS:
                continue  # the SDK's own listing is slow: a reference, not a goal
            started = time.perf_counter()
            found[name] = sides[name]()
            seconds[name].append(time.perf_counter() - started)
    peaks = {}
    for name in (FULL, FIRST):  # tracemalloc slows Python ~3x
        tracemalloc.start()
        sides[name]()
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    report({"seconds": seconds, "found": found, "tracemalloc_peak": peaks, "hwm": vm_hwm_kib()})


# -- the child: the event trigger ---------------------------------------------------------------
class StateStore:
    """The asset state store the triggerer injects (Airflow 3.3+), kept in memory here; ``saved``
    is set whenever the trigger writes its watermark, i.e. at the end of a poll."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.saved: asyncio.Event | None = None

    async def aget(self, key: str) -> Any:
        return self.values.get(key)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))
        if self.saved is not None:
            self.saved.set()


async def one_poll(
    bucket: str, store: StateStore, trace: bool = False, **kwargs: Any
) -> tuple[float, int, int]:
    """Start a trigger (as after a triggerer restart), run it until its first poll saved the
    watermark; returns ``(seconds, events, tracemalloc peak or 0)``.

    :param kwargs: more ``COSObjectEventTrigger`` arguments (``prefix`` defaults to
        :data:`PREFIX`).
    """
    from airflow_scf_snova.triggers.cos import COSObjectEventTrigger

    kwargs = {"prefix": PREFIX, **kwargs}
    trigger = COSObjectEventTrigger(bucket=bucket, poll_interval=3600, **kwargs)
    trigger.asset_state_store = store
    store.saved = saved = asyncio.Event()  # bound to this poll's event loop
    events = 0
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    agen = trigger.run()

    async def consume() -> None:
        nonlocal events
        async for _event in agen:
            events += 1

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(saved.wait(), timeout=600)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    await agen.aclose()
    return seconds, events, peak


def _child_trigger(bucket: str, batches: list[int], reps: int) -> None:
    from airflow_scf_snova.hooks.cos import COSHook

    hook = COSHook()
    store = StateStore()

    def upload(count: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        def put(i: int) -> None:
            hook.put_object(bucket, f"{PREFIX}zz-new-{uuid.uuid4().hex}-{i}.csv", BODY)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, range(count)))

    first, events, _ = asyncio.run(one_poll(bucket, store, trace=False))
    polls = [{"new": 0, "seconds": first, "events": events, "first": True}]
    for round_no in range(reps):
        shift = round_no % len(batches)
        for count in batches[shift:] + batches[:shift]:
            upload(count)
            seconds, events, _ = asyncio.run(one_poll(bucket, store, trace=False))
            if events != count:
                raise RuntimeError(f"the trigger announced {events} objects, {count} were new")
            polls.append({"new": count, "seconds": seconds, "events": events})
    # Memory: one more poll finding one object, under tracemalloc (which slows Python down).
    upload(1)
    _, _, peak = asyncio.run(one_poll(bucket, store, trace=True))
    state_keys = len(next(iter(store.values.values()))["seen"])
    report({"polls": polls, "peak": peak, "state_keys": state_keys})


# -- the parent ---------------------------------------------------------------------------------
def run(
    env,
    objects: int = 100_000,
    reps: int = 5,
    batches: tuple[int, ...] = (1, 300),
    trigger_reps: int = 2,
) -> Section:
    """Seed ``objects`` objects, time ``reps`` interleaved rounds of pokes, then the trigger.

    :param env: a :class:`bench.env.BenchEnv` (its temporary directory holds the seeded emulator).
    :param batches: new objects per trigger poll.
    :param trigger_reps: polls per batch size.
    """

    load_before = load_average()
    # On tmpfs when there is one: creating 200,000 small files on this machine's shared disk
    # takes minutes, and file creation is not what is measured (listings come from memory).
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="bench-sensor-", dir=shm if shm.is_dir() else env.tmp))
    try:
        return _run(env, base, objects, reps, batches, trigger_reps, load_before)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(env, base: Path, objects, reps, batches, trigger_reps, load_before) -> Section:
    from scf_snova_emulator import EmulatorConfig, EmulatorServer

    from bench.env import tencentcloud_conn

    config = EmulatorConfig(port=0, data_dir=str(base))
    bucket = f"sensor-{uuid.uuid4().hex[:8]}-{config.appid}"
    seed_seconds = seed(Path(config.data_dir) / "cos", bucket, objects, config.region)
    started = time.perf_counter()
    server = EmulatorServer(config).start()
    start_seconds = time.perf_counter() - started
    held = len(server.cos.backend.bucket(bucket).objects)
    if held != objects:
        server.stop()
        raise RuntimeError(f"the emulator loaded {held} seeded objects, expected {objects}")
    try:
        child_env = {**os.environ, "AIRFLOW_CONN_TENCENTCLOUD_DEFAULT": tencentcloud_conn(server)}
        sensor = python_child("sensor_cost", "--child", "sensor", bucket, str(reps), env=child_env)
        sensor = sensor.json()
        trig = python_child(
            "sensor_cost",
            "--child",
            "trigger",
            bucket,
            ",".join(map(str, batches)),
            str(trigger_reps),
            env=child_env,
        ).json()
    finally:
        server.stop()

    rows = []
    for name, values in sensor["seconds"].items():
        rows.append(
            [
                name,
                median(values),
                spread(values),
                sensor["found"][name],
                sensor["tracemalloc_peak"][name] / 2**20
                if name in sensor["tracemalloc_peak"]
                else "",
            ]
        )
    polls = trig["polls"]
    first = [p["seconds"] for p in polls if p.get("first")]
    rows.append(["trigger: first poll (records, announces nothing)", first[0], "1 run", 0, ""])
    for count in batches:
        values = [p["seconds"] for p in polls if not p.get("first") and p["new"] == count]
        rows.append(
            [
                f"trigger: poll finding {count:,} new object(s)",
                median(values),
                spread(values),
                count,
                "",
            ]
        )
    # T(k) = a + b*k over the polls with new objects: b is the cost of one more new object.
    pts = [(p["new"], p["seconds"]) for p in polls if not p.get("first")]
    mean_k = sum(k for k, _ in pts) / len(pts)
    mean_t = sum(t for _, t in pts) / len(pts)
    var = sum((k - mean_k) ** 2 for k, _ in pts)
    slope = sum((k - mean_k) * (t - mean_t) for k, t in pts) / var if var else float("nan")
    fixed = mean_t - slope * mean_k

    full = sensor["seconds"][FULL]
    full_peak = sensor["tracemalloc_peak"][FULL] / 2**20
    bare = sensor["seconds"][BARE]
    ratio = median(full) / median(bare)
    trigger_peak = trig["peak"] / 2**20
    verdicts = [
        Verdict(
            f"Sensor: one poke over {objects:,} objects (full listing), time and memory",
            f"{median(full):.2f} s, Python peak {full_peak:.1f} MiB; "
            f"bare SDK listing {median(bare):.2f} s",
            f"{ratio:.2f}x bare",
            None,
        ),
        Verdict(
            "Trigger: cost per new object (slope of poll time vs new objects)",
            f"{slope * 1000:.2f} ms per new object on top of {fixed:.2f} s per poll over "
            f"{objects:,} objects; Python peak {trigger_peak:.1f} MiB; watermark holds "
            f"{trig['state_keys']} keys",
            "-",
            None,
        ),
    ]

    def chart(plt, fig) -> None:
        ax1 = fig.add_subplot(1, 2, 1)
        names = list(sensor["seconds"])
        ax1.barh(
            [n.replace("poke: ", "") for n in names][::-1],
            [median(sensor["seconds"][n]) for n in names][::-1],
            color=["#0052d9"] * (len(names) - 1) + ["#55a868"],
        )
        ax1.set_xlabel(f"seconds per poke over {objects:,} objects (median)")
        ax1.tick_params(axis="y", labelsize=7)
        ax2 = fig.add_subplot(1, 2, 2)
        ax2.plot([k for k, _ in pts], [t for _, t in pts], "o", color="#0052d9")
        if slope == slope:
            ks = [min(k for k, _ in pts), max(k for k, _ in pts)]
            ax2.plot(ks, [fixed + slope * k for k in ks], "--", color="grey", label="fit")
            ax2.legend(fontsize=8)
        ax2.set_xlabel("new objects found by the poll")
        ax2.set_ylabel("trigger poll (s)")
        ax2.set_ylim(bottom=0)

    method = f"""
{objects:,} objects under `{PREFIX}` (17 bytes each; one `{PREFIX}zz-ready.done` last) were seeded
through the storage layer (on tmpfs) in {seed_seconds:.1f} s; the emulator then loaded them in
{start_seconds:.1f} s. The sensor runs in a child process: each poke builds a new `COSObjectSensor`
(its hook, from the connection) and calls `poke()`, as a worker does; {reps} rounds after one
warm-up poke, a round being one poke per case, in an order rotated every round. The hand-written
listing (every page with the bare `CosS3Client.list_objects`, which converts each XML page with
its own `eval`-based parser, keys tested with `endswith`) joins the first {BARE_RUNS} rounds only:
it is slow.
*Python peak* is `tracemalloc`'s peak during one more poke (two cases). The trigger is started
afresh
for each poll with the watermark the previous one saved (an in-memory stand-in for the asset state
store the triggerer injects), after `k` new objects were uploaded; the figure is the time until
the poll saved its watermark ({trigger_reps} polls per batch size, sizes rotated). *Cost per new
object* is the slope of a straight line fitted through (new objects, poll seconds). The child's
peak RSS, Airflow included, was {sensor["hwm"] / 1024:.0f} MiB.
"""
    notes = (
        "The issue sets no target here: the figures are recorded. A poke's cost is the "
        "listing: one `GET Bucket` per 1,000 "
        "keys, so a filter that matches early (the first row) stops after two pages, and one "
        "that matches late or never pays for every page. `prefix` is sent to COS and narrows "
        "the listing; `suffix`, `glob` and `regex` are applied by the client."
    )
    return Section(
        name="sensor_cost",
        title="3. Sensor and trigger cost",
        method=method,
        headers=["Case", "Seconds (median)", "Range (s)", "Objects returned", "Python peak (MiB)"],
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
        if argv[1] == "sensor":
            _child_sensor(argv[2], int(argv[3]))
        else:
            _child_trigger(argv[2], [int(k) for k in argv[3].split(",")], int(argv[4]))
        return
    parser = script_parser(__doc__, reps=5)
    parser.add_argument("--objects", type=int, default=100_000)
    args = parser.parse_args(argv)
    from bench.env import BenchEnv

    with BenchEnv(start_emulator=False, start_snova=False) as env:
        section = run(env, objects=args.objects, reps=args.reps)
    publish_as_asked(section, args)


if __name__ == "__main__":
    main()
